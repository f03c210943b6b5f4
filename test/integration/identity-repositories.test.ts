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
import { keyIdOf } from "../../src/crypto/key-ring.js";
import { CLI_ACTOR, type Actor } from "../../src/domain/identity.js";
import { inlineAuditWriter } from "../../src/services/audit/audit-writer.js";
import { AuditTrail } from "../../src/services/audit/audit-trail.js";
import { verifyAuditLog } from "../../src/services/audit/audit-verifier.js";
import { IdentityService } from "../../src/services/identity/identity-service.js";
import { InventoryService } from "../../src/services/identity/inventory-service.js";
import { DIALECTS, dialectSkip, withTestDatabase } from "../helpers/databases.js";
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

function actor(user: string | null, ip = "10.0.0.1", application: string | null = null): Actor {
  return { user, role: "reader", team: user ? "web" : null, tokenId: null, ip, application, client: null };
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
        assert.deepEqual(await other.authenticate(token), { ok: false, reason: "revoked", tokenId: info.id });
        assert.equal(await identity.bootstrapAdmin(CLI_ACTOR), null, "identities exist: no bootstrap");
        await trail.close();
        const verified = await verifyAuditLog(new AuditRepository(db.db, db.dialect), new Set([keyid]));
        assert.equal(verified.ok, true);
        assert.equal(verified.records, 2, "token.create and token.revoke are audited");
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
        for (let i = 0; i < 120; i++) pull(i % 2 ? a : b, actor(`u${i % 5}`), "acme", `1.${i % 3}`);
        await Promise.all([a.flush(), b.flush(), a.flush()]);
        for (let i = 0; i < 30; i++) pull(i % 2 ? b : a, actor(null, `10.0.0.${i % 4}`), "acme", "2.0");
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
        assert.match(
          (await verifyAuditLog(repo, new Set(["f".repeat(64)]))).problem ?? "",
          /signed by key .*not one of this gateway's keys/,
          "a checkpoint signed by a key the gateway does not hold proves nothing",
        );

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
        await db.db.deleteFrom("audit_log").where("seq", ">=", 77).execute();
        assert.match(
          (await verifyAuditLog(repo, new Set([keyid]))).problem!,
          /^record 77\.\.150 missing \(removed from the end/,
        );
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
        const inventory = new InventoryService({
          repo: new InventoryRepository(db.db),
          advisory: () => undefined,
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
        await trail.close();
      }),
  );
}
