/**
 * Identity, audit and inventory storage over the dialect matrix (SQLite and PostgreSQL): tokens
 * stored as keyed hashes, the audit chain appended by two writers (as two instances on one
 * database would) and verified, tampering found and named, inventory aggregated and drift read.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { pino } from "pino";
import { AuditRepository, type CheckpointSigner } from "../../src/adapters/db/audit-repository.js";
import { IdentityRepository } from "../../src/adapters/db/identity-repository.js";
import { InventoryRepository } from "../../src/adapters/db/inventory-repository.js";
import { connectDatabase } from "../../src/adapters/db/connect-database.js";
import { keyIdOf } from "../../src/crypto/key-ring.js";
import { CLI_ACTOR, type Actor, type ClientInfo } from "../../src/domain/identity.js";
import type { AuditFields, ChainedRecord } from "../../src/services/audit/audit-chain.js";
import { inlineAuditWriter } from "../../src/services/audit/audit-writer.js";
import { AuditTrail } from "../../src/services/audit/audit-trail.js";
import { verifyAuditLog, type AuditVerification } from "../../src/services/audit/audit-verifier.js";
import { IdentityService } from "../../src/services/identity/identity-service.js";
import { InventoryService } from "../../src/services/identity/inventory-service.js";
import { OsvIndex } from "../../src/intel/osv-index.js";
import { parseOsvRecord, toAdvisory } from "../../src/intel/osv-record.js";
import { DIALECTS, dialectSkip, withTestDatabase } from "../helpers/databases.js";
import { auditFields } from "../helpers/audit-fields.js";
import { sign } from "node:crypto";

const log = pino({ level: "silent" });
const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const keyid = keyIdOf(publicKey);
const signer: CheckpointSigner = {
  sign: (m) => ({
    keyid,
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    signature: sign(null, m, privateKey).toString("base64"),
  }),
};

function actor(
  user: string | null,
  ip = "10.0.0.1",
  application: string | null = null,
  client: ClientInfo | null = null,
): Actor {
  return { user, role: "reader", team: user ? "web" : null, tokenId: null, ip, application, client };
}

/** A parsed pip User-Agent, as the gateway records it. */
function pipClient(version: string, python = "3.12.1"): ClientInfo {
  return {
    installer: "pip",
    installerVersion: version,
    python,
    os: "Linux",
    cpu: "x86_64",
    userAgent: `pip/${version}`,
  };
}

function record(at: number, identity: string, client: ClientInfo | null): AuditFields {
  return auditFields({ at, identity, ip: "10.0.0.1", client_json: client ? JSON.stringify(client) : null });
}

async function readAll(repo: AuditRepository): Promise<ChainedRecord[]> {
  const out: ChainedRecord[] = [];
  for await (const r of repo.scan(0, 7)) out.push(r);
  return out;
}

function pull(trail: AuditTrail, who: Actor, project: string, version: string): void {
  const filename = `${project.replace(/-/g, "_")}-${version}-py3-none-any.whl`;
  trail.record({
    action: "file.download",
    actor: who,
    outcome: "ok",
    project,
    version,
    filename,
    sha256: `${project}-${version}`.padEnd(64, "0").slice(0, 64),
    detail: { status: 200 },
  });
}

for (const dialect of DIALECTS) {
  test(
    `tokens are stored as keyed hashes and checked in constant time (${dialect})`,
    { skip: await dialectSkip(dialect) },
    () =>
      withTestDatabase(dialect, async (db) => {
        let now = 1_000_000;
        const repo = new IdentityRepository(db.db);
        const trail = new AuditTrail({
          writer: inlineAuditWriter(new AuditRepository(db.db, db.dialect), signer),
          now: () => now,
          log,
        });
        const identity = new IdentityService({ repo, now: () => now, audit: trail });
        const { token, info } = await identity.createToken(
          { user: "ci", role: "requester", team: "build", label: "nightly" },
          CLI_ACTOR,
        );
        const row = await repo.getToken(info.id);
        assert.ok(row && !row.hash.includes(token) && row.hash.length === 64);
        const rows = JSON.stringify(await db.db.selectFrom("api_tokens").selectAll().execute());
        assert.ok(
          !rows.includes(token.slice("pcl_0123456789ab_".length)),
          "the secret is nowhere in the table",
        );
        const ok = await identity.authenticate(token);
        assert.deepEqual(ok, {
          ok: true,
          principal: { tokenId: info.id, user: "ci", role: "requester", team: "build", label: "nightly" },
        });
        // A second service on the same database (another instance) agrees on the key.
        const other = new IdentityService({
          repo: new IdentityRepository(db.db),
          now: () => now,
          audit: trail,
        });
        assert.equal((await other.authenticate(token)).ok, true);
        assert.deepEqual(await other.authenticate(token.slice(0, -1) + (token.endsWith("A") ? "B" : "A")), {
          ok: false,
          reason: "unknown",
          tokenId: info.id,
        });
        await identity.revokeToken(info.id, CLI_ACTOR);
        assert.equal((await identity.authenticate(token)).ok, false, "revoked at once here");
        now += 2_001;
        // The secret matched: the refusal names the holder (for the audit record of the attempt).
        assert.deepEqual(await other.authenticate(token), {
          ok: false,
          reason: "revoked",
          tokenId: info.id,
          holder: { user: "ci", role: "requester" },
        });
        assert.equal(await identity.bootstrapAdmin(CLI_ACTOR), null, "identities exist: no bootstrap");

        // A check that read the token before a revocation on this instance does not cache its
        // success afterwards.
        const second = await identity.createToken({ user: "ci", role: "reader" }, CLI_ACTOR);
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const slowRepo = new IdentityRepository(db.db);
        const racing = new IdentityService({ repo: slowRepo, now: () => now, audit: trail });
        const getIdentity = slowRepo.getIdentity.bind(slowRepo);
        slowRepo.getIdentity = async (name: string) => {
          const row = await getIdentity(name);
          await gate; // the token row is read (not revoked yet); the revocation lands now
          return row;
        };
        const check = racing.authenticate(second.token);
        await new Promise((r) => setTimeout(r, 20));
        await racing.revokeToken(second.info.id, CLI_ACTOR);
        release();
        assert.equal((await check).ok, true, "the check in flight answers from what it read");
        assert.deepEqual(await racing.authenticate(second.token), {
          ok: false,
          reason: "revoked",
          tokenId: second.info.id,
          holder: { user: "ci", role: "reader" },
        });

        // A token for an existing identity: a higher role raises the identity's (what `user list`
        // shows), another team moves the identity and all its tokens, another kind is refused.
        const reader = await identity.createToken({ user: "ci", role: "reader" }, CLI_ACTOR);
        const admin = await identity.createToken({ user: "ci", role: "admin" }, CLI_ACTOR);
        const ci = async () => (await identity.listUsers()).find((u) => u.name === "ci")!;
        assert.equal((await ci()).role, "admin");
        await identity.createToken({ user: "ci", role: "reader" }, CLI_ACTOR);
        assert.equal((await ci()).role, "admin", "a lower role leaves the identity's as it was");
        // Checked (so cached) before the move: the move must reach the cached check too.
        assert.ok((await identity.authenticate(reader.token)).ok);
        await identity.createToken({ user: "ci", role: "reader", team: "data" }, CLI_ACTOR);
        assert.equal((await ci()).team, "data");
        for (const t of [reader, admin]) {
          const who = await identity.authenticate(t.token);
          assert.ok(who.ok);
          assert.equal(who.principal.team, "data", "older tokens moved with the identity");
        }
        await assert.rejects(
          identity.createToken({ user: "ci", role: "reader", kind: "service" }, CLI_ACTOR),
          /identity ci is a user, not a service account/,
        );
        // Listings say which tokens still authenticate.
        const brief = await identity.createToken(
          { user: "ci", role: "reader", expiresAt: now + 1_000 },
          CLI_ACTOR,
        );
        const states = async () =>
          new Map((await identity.listTokens("ci")).map((t) => [t.id, t.state] as const));
        assert.equal((await states()).get(brief.info.id), "active");
        now += 1_000;
        assert.equal((await states()).get(brief.info.id), "expired");
        assert.equal((await states()).get(info.id), "revoked");
        assert.equal((await states()).get(admin.info.id), "active");
        await trail.close();
        const verified = await verifyAuditLog(new AuditRepository(db.db, db.dialect), new Set([keyid]));
        assert.equal(verified.ok, true);
        assert.equal(verified.records, 9, "token.create and token.revoke are audited");
      }),
  );

  test(
    `token creates racing on one identity never leave a token in a team it left, nor lower its role (${dialect})`,
    { skip: await dialectSkip(dialect) },
    () =>
      withTestDatabase(dialect, async (db) => {
        // Two instances: on PostgreSQL each with its own connections, so their statements interleave.
        const second = db.dialect === "postgres" ? await connectDatabase(db.reopen!) : undefined;
        try {
          const trail = new AuditTrail({
            writer: inlineAuditWriter(new AuditRepository(db.db, db.dialect), signer),
            now: () => 1_000,
            log,
          });
          const a = new IdentityService({
            repo: new IdentityRepository(db.db),
            now: () => 1_000,
            audit: trail,
          });
          const b = new IdentityService({
            repo: new IdentityRepository((second ?? db).db),
            now: () => 1_000,
            audit: trail,
          });
          for (let round = 0; round < 8; round++) {
            const user = `svc${round}`;
            await a.createToken({ user, role: "reader", team: "start" }, CLI_ACTOR);
            await Promise.all([
              a.createToken({ user, role: "approver", team: "x" }, CLI_ACTOR),
              b.createToken({ user, role: "admin", team: "y" }, CLI_ACTOR),
              a.createToken({ user, role: "requester" }, CLI_ACTOR),
            ]);
            const who = (await a.listUsers()).find((u) => u.name === user)!;
            assert.equal(who.role, "admin", `round ${round}: the highest role stays`);
            const teams = (await a.listTokens(user)).map((t) => t.team);
            assert.deepEqual(
              teams,
              teams.map(() => who.team),
              `round ${round}: every token pulls for the identity's team ${who.team}`,
            );
          }
          await trail.close();
        } finally {
          await second?.close();
        }
      }),
  );

  test(
    `two writers extend one chain; verify names an edited, a removed and a reordered record (${dialect})`,
    { skip: await dialectSkip(dialect) },
    () =>
      withTestDatabase(dialect, async (db) => {
        const now = () => 5_000_000;
        const a = new AuditTrail({
          writer: inlineAuditWriter(new AuditRepository(db.db, db.dialect), signer),
          now,
          log,
          checkpointEveryRecords: 50,
        });
        const b = new AuditTrail({
          writer: inlineAuditWriter(new AuditRepository(db.db, db.dialect), signer),
          now,
          log,
          checkpointEveryRecords: 50,
        });
        // Two clients, each stored once in audit_clients; pip 23 first from the 8th record.
        const client = (i: number) => (i % 8 === 7 ? pipClient("23.0.1") : pipClient("24.0"));
        // A version each: every access a record of its own (the same one repeated would be one).
        for (let i = 0; i < 120; i++) {
          pull(i % 2 ? a : b, actor(`u${i % 5}`, "10.0.0.1", null, client(i)), "acme", `1.${i}`);
        }
        await Promise.all([a.flush(), b.flush(), a.flush()]);
        for (let i = 0; i < 30; i++) pull(i % 2 ? b : a, actor(null, `10.0.0.${i % 4}`), "acme", `2.${i}`);
        await Promise.all([a.close(), b.close()]);
        const repo = new AuditRepository(db.db, db.dialect);
        const intact = await verifyAuditLog(repo, new Set([keyid]));
        assert.deepEqual({ ok: intact.ok, records: intact.records }, { ok: true, records: 150 });
        assert.ok(intact.checkpoints >= 2);

        const original = await db.db
          .selectFrom("audit_log")
          .select("identity")
          .where("seq", "=", 42)
          .executeTakeFirstOrThrow();
        await db.db.updateTable("audit_log").set({ identity: "mallory" }).where("seq", "=", 42).execute();
        assert.equal(
          (await verifyAuditLog(repo, new Set([keyid]))).problem,
          "record 42: contents do not match its hash (edited)",
        );
        await db.db
          .updateTable("audit_log")
          .set({ identity: original.identity })
          .where("seq", "=", 42)
          .execute();
        assert.equal((await verifyAuditLog(repo, new Set([keyid]))).ok, true, "restored");

        // A shared client is part of every record naming it: editing it breaks the chain at the
        // first of them.
        const clients = await db.db.selectFrom("audit_clients").selectAll().orderBy("id").execute();
        assert.equal(clients.length, 2, "each distinct client once");
        const pip23 = clients.find((c) => c.json === JSON.stringify(pipClient("23.0.1")))!;
        const firstUse = await db.db
          .selectFrom("audit_log")
          .select((eb) => eb.fn.min("seq").as("seq"))
          .where("client_id", "=", pip23.id)
          .executeTakeFirstOrThrow();
        assert.ok(Number(firstUse.seq) > 1);
        await db.db
          .updateTable("audit_clients")
          .set({ json: JSON.stringify(pipClient("23.0.1", "3.13.0")) })
          .where("id", "=", pip23.id)
          .execute();
        assert.equal(
          (await verifyAuditLog(repo, new Set([keyid]))).problem,
          `record ${Number(firstUse.seq)}: contents do not match its hash (edited)`,
        );
        await db.db
          .updateTable("audit_clients")
          .set({ json: pip23.json })
          .where("id", "=", pip23.id)
          .execute();
        assert.equal((await verifyAuditLog(repo, new Set([keyid]))).ok, true, "restored");
        assert.match(
          (await verifyAuditLog(repo, new Set(["f".repeat(64)]))).problem ?? "",
          /signed by key .*not one of this gateway's keys/,
          "a checkpoint signed by a key the gateway does not hold proves nothing",
        );

        // Checkpoints removed (all of them: nothing left to check a signature against), or the
        // head row itself: found and said, not "intact" or a crash.
        const savedCheckpoints = await db.db.selectFrom("audit_checkpoints").selectAll().execute();
        await db.db.deleteFrom("audit_checkpoints").execute();
        assert.match(
          (await verifyAuditLog(repo, new Set([keyid]))).problem ?? "",
          /signed checkpoint at record \d+ is missing/,
        );
        await db.db.insertInto("audit_checkpoints").values(savedCheckpoints).execute();
        const savedHead = await db.db.selectFrom("audit_head").selectAll().execute();
        await db.db.deleteFrom("audit_head").execute();
        assert.match(
          (await verifyAuditLog(repo, new Set([keyid]))).problem ?? "",
          /chain head \(the audit_head row\) is missing/,
        );
        await db.db.insertInto("audit_head").values(savedHead).execute();
        assert.equal((await verifyAuditLog(repo, new Set([keyid]))).ok, true, "restored");

        // Reordered: records 60 and 61 swap their contents (sequence numbers stay).
        const r60 = await db.db
          .selectFrom("audit_log")
          .selectAll()
          .where("seq", "=", 60)
          .executeTakeFirstOrThrow();
        const r61 = await db.db
          .selectFrom("audit_log")
          .selectAll()
          .where("seq", "=", 61)
          .executeTakeFirstOrThrow();
        const { seq: _s60, ...c60 } = r60;
        const { seq: _s61, ...c61 } = r61;
        await db.db.updateTable("audit_log").set(c61).where("seq", "=", 60).execute();
        await db.db.updateTable("audit_log").set(c60).where("seq", "=", 61).execute();
        assert.match(
          (await verifyAuditLog(repo, new Set([keyid]))).problem!,
          /^record 60: does not follow record 59/,
        );
        await db.db.updateTable("audit_log").set(c60).where("seq", "=", 60).execute();
        await db.db.updateTable("audit_log").set(c61).where("seq", "=", 61).execute();

        await db.db.deleteFrom("audit_log").where("seq", "=", 77).execute();
        assert.match(
          (await verifyAuditLog(repo, new Set([keyid]))).problem!,
          /^record 77 missing \(removed\)/,
        );
        const r76 = await db.db
          .selectFrom("audit_log")
          .select("hash")
          .where("seq", "=", 76)
          .executeTakeFirstOrThrow();
        await db.db.deleteFrom("audit_log").where("seq", ">=", 77).execute();
        assert.match(
          (await verifyAuditLog(repo, new Set([keyid]))).problem!,
          /^record 77\.\.150 missing \(removed from the end/,
        );
        // Cutting the end and rewinding the head to match is still seen while a signed
        // checkpoint reaches past the head.
        await db.db.updateTable("audit_head").set({ seq: 76, hash: r76.hash }).execute();
        assert.match(
          (await verifyAuditLog(repo, new Set([keyid]))).problem!,
          /^checkpoint at record 150 is past the chain head \(record 76\): records 77\.\.150 removed from the end/,
        );
      }),
  );

  test(
    `over-long values from outside (a forwarded address, a version, a client) are stored clamped, never stall the trail (${dialect})`,
    { skip: await dialectSkip(dialect) },
    () =>
      withTestDatabase(dialect, async (db) => {
        const repo = new AuditRepository(db.db, db.dialect);
        const writer = inlineAuditWriter(repo, signer);
        const long = (c: string, n: number) => c.repeat(n);
        const client = { installer: long("p", 100), installerVersion: long("9", 100), userAgent: "x" };
        const r = auditFields({
          at: 1,
          ip: long("1", 5_000),
          identity: long("i", 300),
          team: long("t", 300),
          application: long("a", 300),
          project: long("n", 300),
          version: long("7", 300),
          action: long("x", 150),
          outcome: "ok",
          client_json: JSON.stringify(client),
        });
        const { encodeAuditBatch } = await import("../../src/services/audit/audit-batch-codec.js");
        const out = await writer.write(encodeAuditBatch([r]), { everyRecords: 1, everyMs: 0, now: 1 }, false);
        assert.equal(out.written, 1);
        const [row] = await repo.query({ limit: 1, order: "desc" });
        assert.deepEqual(
          [
            row!.ip.length,
            row!.identity!.length,
            row!.application!.length,
            row!.version!.length,
            row!.action.length,
          ],
          [100, 200, 200, 200, 100],
        );
        assert.equal(
          (await verifyAuditLog(repo, new Set([keyid]))).ok,
          true,
          "the chain covers the stored values",
        );
        // A NUL (PostgreSQL refuses it) and half an emoji (a file name cut at 255 characters; a
        // driver would store U+FFFD and break the hash) are made storable before hashing.
        const odd = auditFields({
          at: 3,
          action: "simple.page",
          project: "x\u0000y",
          filename: `${"a".repeat(254)}\uD83D`,
          version: `${"1".repeat(199)}\uD83D\uDE00`,
        });
        await writer.write(encodeAuditBatch([odd]), { everyRecords: 1, everyMs: 0, now: 3 }, false);
        const [stored] = await repo.query({ limit: 1, order: "desc" });
        assert.equal(stored!.project, "x\uFFFDy");
        assert.equal(stored!.filename, `${"a".repeat(254)}\uFFFD`);
        assert.equal(stored!.version, "1".repeat(199), "not cut inside the emoji");
        assert.equal((await verifyAuditLog(repo, new Set([keyid]))).ok, true, "stored as hashed");
        const inv = await db.db.selectFrom("inventory").selectAll().execute();
        assert.equal(inv.length, 0, "not a project download of a known file: no inventory row");
        // A real download's inventory row is clamped the same way (its client label too).
        const dl = auditFields({
          at: 2,
          ip: long("2", 500),
          identity: long("j", 300),
          version: long("8", 300),
          client_json: JSON.stringify(client),
        });
        await writer.write(encodeAuditBatch([dl]), { everyRecords: 1, everyMs: 0, now: 2 }, false);
        const [item] = await db.db.selectFrom("inventory").selectAll().execute();
        assert.deepEqual(
          [item!.ip.length, item!.identity.length, item!.version.length, item!.client!.length],
          [100, 200, 200, 200],
        );
      }),
  );

  test(
    `verify says how far the signatures reach: records after the last checkpoint are chained only (${dialect})`,
    { skip: await dialectSkip(dialect) },
    () =>
      withTestDatabase(dialect, async (db) => {
        const repo = new AuditRepository(db.db, db.dialect);
        const batch = (from: number, n: number) =>
          Array.from({ length: n }, (_, i) => record(from + i, "alice", null));
        assert.deepEqual(
          pick(await verifyAuditLog(repo, new Set([keyid]))),
          { ok: true, records: 0, signedThrough: 0, unsigned: 0 },
          "an empty trail",
        );
        await repo.append(batch(1, 4), [], null);
        assert.deepEqual(pick(await verifyAuditLog(repo, new Set([keyid]))), {
          ok: true,
          records: 4,
          signedThrough: 0,
          unsigned: 4,
        });
        await repo.append(batch(5, 3), [], { signer, everyRecords: 1_000, everyMs: 0, now: 10 });
        await repo.append(batch(8, 2), [], null);
        assert.deepEqual(pick(await verifyAuditLog(repo, new Set([keyid]))), {
          ok: true,
          records: 9,
          signedThrough: 7,
          unsigned: 2,
        });
        // A trail that stops cleanly signs the head, also after an idle spell with nothing queued.
        const trail = new AuditTrail({
          writer: inlineAuditWriter(repo, signer),
          now: () => 20,
          log,
          checkpointEveryMs: 3_600_000,
        });
        trail.record({ action: "test.filler", actor: CLI_ACTOR, outcome: "ok" });
        await trail.flush();
        assert.equal((await verifyAuditLog(repo, new Set([keyid]))).unsigned, 3);
        await trail.close();
        assert.deepEqual(pick(await verifyAuditLog(repo, new Set([keyid]))), {
          ok: true,
          records: 10,
          signedThrough: 10,
          unsigned: 0,
        });
      }),
  );

  test(
    `each distinct client is stored once; records read back exactly, also those stored inline before (${dialect})`,
    { skip: await dialectSkip(dialect) },
    () =>
      withTestDatabase(dialect, async (db) => {
        const [pip23, pip24, uv, curl] = [
          pipClient("23.0.1"),
          pipClient("24.0"),
          { installer: "uv", installerVersion: "0.4.1", python: "3.12.1", userAgent: "uv/0.4.1" },
          { installer: "curl", installerVersion: "8.5.0", userAgent: "curl/8.5.0" },
        ];
        const clientRows = () => db.db.selectFrom("audit_clients").selectAll().orderBy("id").execute();

        // Rows as written before 0009-audit-clients: client_json inline, no client_id, no
        // audit_clients rows.
        const early = await new AuditRepository(db.db, db.dialect).append(
          [record(1_000, "old", pip23), record(1_001, "old", null), record(1_002, "old", pip24)],
          [],
          null,
        );
        await db.db
          .updateTable("audit_log")
          .set((eb) => ({
            client_json: eb
              .selectFrom("audit_clients")
              .select("json")
              .whereRef("audit_clients.id", "=", "audit_log.client_id"),
            client_id: null,
          }))
          .execute();
        await db.db.deleteFrom("audit_clients").execute();

        // One batch, three distinct clients (one also used inline before), some records none.
        const repo = new AuditRepository(db.db, db.dialect);
        const batch = Array.from({ length: 60 }, (_, i) =>
          record(2_000 + i, `u${i % 4}`, i % 5 === 4 ? null : [pip23, uv, curl][i % 3]!),
        );
        const written = await repo.append(batch, [], null);
        const stored = await clientRows();
        assert.deepEqual(
          stored.map((c) => c.json).sort(),
          [pip23, uv, curl].map((c) => JSON.stringify(c)).sort(),
        );
        const raw = await db.db
          .selectFrom("audit_log")
          .select(["seq", "client_json", "client_id"])
          .orderBy("seq")
          .execute();
        assert.deepEqual(
          raw.slice(0, 3).map((r) => [r.client_json, r.client_id]),
          [
            [JSON.stringify(pip23), null],
            [null, null],
            [JSON.stringify(pip24), null],
          ],
          "the early rows keep their client inline",
        );
        for (const [k, r] of raw.slice(3).entries()) {
          const id = stored.find((c) => c.json === batch[k]!.client_json)?.id ?? null;
          assert.deepEqual([r.client_json, r.client_id === null ? null : Number(r.client_id)], [null, id]);
        }

        // Read back (scan, and both paths of query) exactly as chained, and verified.
        const all = [...early, ...written];
        assert.deepEqual(await readAll(repo), all);
        assert.deepEqual(
          await repo.query({ identity: "u1", limit: 100, order: "desc" }),
          all.filter((r) => r.identity === "u1").reverse(),
        );
        assert.deepEqual(
          await repo.query({ since: 1_001, until: 2_010, limit: 8, order: "desc" }),
          all
            .filter((r) => r.at >= 1_001 && r.at < 2_010)
            .reverse()
            .slice(0, 8),
        );
        assert.deepEqual(
          await repo.query({ since: 0, limit: 5, order: "asc", afterSeq: 1 }),
          all.slice(1, 6),
          "the oldest, inline rows included",
        );
        const verified = await verifyAuditLog(repo, new Set([keyid]));
        assert.deepEqual([verified.ok, verified.records], [true, 63]);

        // Another instance (nothing cached) and this one store a new client at once: one row, one id.
        const other = new AuditRepository(db.db, db.dialect);
        await Promise.all([
          repo.append([record(3_000, "a", pip24), record(3_001, "a", uv)], [], null),
          other.append([record(3_002, "b", pip24), record(3_003, "b", pip23)], [], null),
        ]);
        assert.equal((await clientRows()).length, 4);
        const ids = await db.db
          .selectFrom("audit_log")
          .select("client_id")
          .where("seq", ">", 63)
          .orderBy("seq")
          .execute();
        const pip24Id = (await clientRows()).find((c) => c.json === JSON.stringify(pip24))!.id;
        assert.equal(ids.filter((r) => Number(r.client_id) === Number(pip24Id)).length, 2);

        // A batch that rolls back leaves no id behind in the cache: its client's row was never
        // committed, and the id it had may be taken by another client first.
        const failing: CheckpointSigner = {
          sign: () => {
            throw new Error("signing failed");
          },
        };
        const python2 = {
          installer: "pip",
          installerVersion: "20.3.4",
          python: "2.7.18",
          userAgent: "pip/20.3.4",
        };
        const pypy = { installer: "pip", installerVersion: "24.0", python: "3.10.14", userAgent: "pip/24.0" };
        await assert.rejects(
          repo.append([record(4_000, "c", python2)], [], {
            signer: failing,
            everyRecords: 1,
            everyMs: 0,
            now: 4_000,
          }),
          /signing failed/,
        );
        assert.equal((await clientRows()).length, 4, "rolled back");
        await other.append([record(4_001, "d", pypy)], [], null);
        await repo.append([record(4_002, "c", python2)], [], null);
        const tail = (await readAll(repo)).slice(-2);
        assert.deepEqual(
          tail.map((r) => r.client_json),
          [JSON.stringify(pypy), JSON.stringify(python2)],
        );
        assert.deepEqual((await verifyAuditLog(repo, new Set([keyid]))).ok, true);

        // A client too long to index stays inline in its row: 3,000 bytes that do not compress
        // are more than a PostgreSQL B-tree entry holds (2,704), which would fail every batch.
        const noise = Array.from({ length: 1_500 }, (_, i) =>
          String.fromCharCode(0x100 + ((i * 419) % 1_500)),
        );
        const long = { installer: "pip", userAgent: noise.join("") };
        const [longRecord] = await repo.append([record(5_000, "e", long)], [], null);
        const longRow = await db.db
          .selectFrom("audit_log")
          .select(["client_json", "client_id"])
          .where("seq", "=", longRecord!.seq)
          .executeTakeFirstOrThrow();
        // Spread: node:sqlite (Node 24) returns rows with a null prototype.
        assert.deepEqual({ ...longRow }, { client_json: JSON.stringify(long), client_id: null });
        assert.deepEqual((await readAll(repo)).at(-1), longRecord);
        assert.equal((await verifyAuditLog(repo, new Set([keyid]))).ok, true);
      }),
  );

  test(
    `the inventory aggregates pulls; who-has and drift read it (${dialect})`,
    { skip: await dialectSkip(dialect) },
    () =>
      withTestDatabase(dialect, async (db) => {
        const day = 86_400_000;
        let now = Date.parse("2026-11-01T00:00:00Z");
        const trail = new AuditTrail({
          writer: inlineAuditWriter(new AuditRepository(db.db, db.dialect), signer),
          now: () => now,
          log,
        });
        const identity = new IdentityService({
          repo: new IdentityRepository(db.db),
          now: () => now,
          audit: trail,
        });
        // One CVE that two advisories (for two projects) name as an alias.
        const intel = new OsvIndex();
        for (const [id, name, fixed] of [
          ["PYSEC-2026-1", "acme", "2.1"],
          ["GHSA-aaaa-bbbb-cccc", "left-pad", "1.1"],
        ] as const) {
          const parsed = parseOsvRecord({
            id,
            modified: "2026-10-01T00:00:00Z",
            aliases: ["CVE-2026-0042"],
            summary: `${name} flaw`,
            affected: [
              {
                package: { ecosystem: "PyPI", name },
                ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed }] }],
              },
            ],
          });
          assert.ok(parsed.ok);
          intel.add(toAdvisory(parsed.record));
        }
        const inventory = new InventoryService({
          repo: new InventoryRepository(db.db),
          advisories: (id) => intel.lookup(id),
          owners: (p) => identity.ownersOf(p),
          now: () => now,
        });
        const ci = actor("ci", "10.0.0.9", "nightly");
        pull(trail, ci, "acme", "2.0");
        pull(trail, ci, "acme", "2.0");
        pull(trail, ci, "left-pad", "1.0");
        pull(trail, actor(null, "10.0.0.7"), "acme", "2.0");
        await trail.flush();
        now += 10 * day;
        pull(trail, ci, "acme", "2.0");
        pull(trail, ci, "acme", "1.5");
        pull(trail, ci, "left-pad", "1.1");
        pull(trail, ci, "brand-new", "0.1");
        await trail.flush();
        await identity.setOwner("Acme", "platform", CLI_ACTOR);

        const who = await inventory.whoHas("acme==2.0");
        assert.deepEqual(
          who.consumers.map((c) => [c.identity, c.ip, c.application, c.pulls, c.owner]),
          [
            ["ci", "10.0.0.9", "nightly", 3, "platform"],
            [null, "10.0.0.7", null, 1, "platform"],
          ],
        );
        assert.equal(who.consumers[0]!.lastPulled, new Date(now).toISOString());
        assert.equal((await inventory.whoHas("acme==2.0.0")).consumers.length, 2, "PEP 440 equality");
        assert.equal((await inventory.consumersOfFiles([who.consumers[0]!.sha256])).length, 2);
        await assert.rejects(inventory.whoHas("not a query!"), /expected an advisory id/);

        const drift = await inventory.drift(now - 7 * day);
        assert.equal(drift.length, 1);
        assert.deepEqual(
          drift[0]!.changes.map((c) => [c.kind, c.project, c.version, c.previous]),
          [
            ["downgrade", "acme", "1.5", "2.0"],
            ["new-project", "brand-new", "0.1", null],
            ["new-version", "left-pad", "1.1", "1.0"],
          ],
        );

        // `==` without a local label names local builds too (PEP 440); with one, only that build.
        pull(trail, ci, "torch", "2.1.0+cu118");
        pull(trail, actor("web", "10.0.0.8"), "torch", "2.1.0");
        // A project whose name reads like an advisory id is answered as the project.
        pull(trail, ci, "cve-bin-tool", "3.2");
        await trail.flush();
        const ids = async (q: string) => (await inventory.whoHas(q)).consumers.map((c) => c.identity).sort();
        assert.deepEqual(await ids("torch==2.1.0"), ["ci", "web"]);
        assert.deepEqual(await ids("torch==2.1.0+cu118"), ["ci"]);
        assert.deepEqual(await ids("torch==2.1.0+cu117"), []);
        assert.deepEqual(await ids("cve-bin-tool"), ["ci"]);
        assert.deepEqual(await ids("CVE_Bin.Tool==3.2"), ["ci"]);
        await assert.rejects(inventory.whoHas("CVE-2099-0001"), /no advisory CVE-2099-0001/);

        // A CVE shared by two advisories answers for both; an advisory id only for itself.
        const cve = await inventory.whoHas("cve-2026-0042");
        assert.deepEqual(cve.advisory?.ids, ["PYSEC-2026-1", "GHSA-aaaa-bbbb-cccc"]);
        assert.equal(cve.advisory?.id, "CVE-2026-0042");
        assert.deepEqual(cve.advisory?.affected, [
          { project: "acme", versions: ["1.5", "2.0"] },
          { project: "left-pad", versions: ["1.0"] },
        ]);
        assert.deepEqual(
          cve.consumers.map((c) => `${c.identity ?? c.ip} ${c.project}==${c.version}`).sort(),
          ["10.0.0.7 acme==2.0", "ci acme==1.5", "ci acme==2.0", "ci left-pad==1.0"],
        );
        const one = await inventory.whoHas("PYSEC-2026-1");
        assert.equal(one.advisory?.id, "PYSEC-2026-1");
        assert.equal(one.advisory?.summary, "acme flaw");
        assert.deepEqual(one.advisory?.affected, [{ project: "acme", versions: ["1.5", "2.0"] }]);
        await trail.close();
      }),
  );
}

function pick(
  v: AuditVerification,
): Pick<AuditVerification, "ok" | "records" | "signedThrough" | "unsigned"> {
  return { ok: v.ok, records: v.records, signedThrough: v.signedThrough, unsigned: v.unsigned };
}
