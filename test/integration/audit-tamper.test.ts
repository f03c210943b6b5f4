/**
 * Tampering with the audit trail's database, as someone with write access to it would, against a
 * trail a real gateway wrote (SQLite and PostgreSQL): a row stored outside the chain (before
 * record 1, past the head) is named by `audit verify`, and one in the next record's place stops a
 * running gateway visibly (503, /readyz, the accepting gauge, one error naming the row) instead
 * of retrying unseen for ever; a rewritten tail hidden by deleting the newest checkpoints is
 * refused, while the unsigned tail a crash legitimately leaves is not; and one damaged record
 * costs `audit export` no line.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { Kysely } from "kysely";
import { pino } from "pino";
import { AuditRepository, type CheckpointSigner } from "../../src/adapters/db/audit-repository.js";
import { connectDatabase } from "../../src/adapters/db/connect-database.js";
import type { Database } from "../../src/adapters/db/schema.js";
import { loadConfig } from "../../src/config/options.js";
import { KeyRing } from "../../src/crypto/key-ring.js";
import { CLI_ACTOR } from "../../src/domain/identity.js";
import { createGateway, type Gateway } from "../../src/main.js";
import { recordHash, type AuditFields } from "../../src/services/audit/audit-chain.js";
import { verifyAuditLog } from "../../src/services/audit/audit-verifier.js";
import { auditFields } from "../helpers/audit-fields.js";
import { DIALECTS, dialectSkip, gatewayDatabase } from "../helpers/databases.js";
import { eventually } from "../helpers/eventually.js";
import { cli } from "../helpers/run-cli.js";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { buildWheel } from "../helpers/wheel-builder.js";

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 50 ms until it holds or `ms` pass; whether it held. */
for (const dialect of DIALECTS) {
  describe(`audit tampering is found and refused (${dialect})`, { skip: await dialectSkip(dialect) }, () => {
    let up: JsonIndexServer;
    let database: Awaited<ReturnType<typeof gatewayDatabase>>;
    let dir: string;
    /** The options every local command takes here: the data directory and database. */
    let local: string[];

    /** A real gateway on the test's data and database, its log lines kept in `lines`. */
    async function startGateway(lines: LogLine[] = []): Promise<{ gateway: Gateway; url: string }> {
      const config = loadConfig({
        env: {},
        flags: {
          host: "127.0.0.1",
          port: 0,
          logLevel: "info",
          shutdownGrace: 5,
          intelSync: "",
          upstream: up.simpleUrl,
          data: dir,
          database: database.url,
        },
      });
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const line of chunk.toString().split("\n"))
            if (line.trim()) lines.push(JSON.parse(line) as LogLine);
          done();
        },
      });
      const gateway = await createGateway(config, { logger: pino({ level: "info" }, sink) });
      return { gateway, url: await gateway.listen() };
    }

    /** Runs `fn` on a connection of its own to the test's database (no gateway running). */
    async function withDb<T>(fn: (db: Kysely<Database>, repo: AuditRepository) => Promise<T>): Promise<T> {
      const handle = await connectDatabase({ url: database.url, dataDir: dir, migrate: false });
      try {
        return await fn(handle.db, new AuditRepository(handle.db, handle.dialect));
      } finally {
        await handle.close();
      }
    }

    /** Stores a copy of record `from` as record `seq` (a row the audit trail never wrote). */
    async function copyRow(db: Kysely<Database>, from: number, seq: number): Promise<void> {
      const row = await db
        .selectFrom("audit_log")
        .selectAll()
        .where("seq", "=", from)
        .executeTakeFirstOrThrow();
      await db
        .insertInto("audit_log")
        .values({ ...row, seq })
        .execute();
    }

    const headSeq = async (db: Kysely<Database>) =>
      Number((await db.selectFrom("audit_head").select("seq").executeTakeFirstOrThrow()).seq);

    before(async () => {
      const wheel = await buildWheel({ name: "acme", version: "1.0" });
      up = await startJsonIndexServer({
        projects: { acme: { files: [{ filename: wheel.filename, bytes: wheel.bytes }] } },
      });
      database = await gatewayDatabase(dialect);
      dir = mkdtempSync(join(tmpdir(), "audit-tamper-"));
      local = ["--data", dir, ...(database.url ? ["--database", database.url] : [])];
      // A trail as a gateway writes it: some pages served, then 2,500 records through the trail's
      // public API (signed every 1,000 records), the head signed at the clean stop.
      const { gateway, url } = await startGateway();
      for (let i = 0; i < 12; i++) await (await fetch(`${url}/simple/acme/`)).arrayBuffer();
      for (let i = 0; i < 2_500; i++)
        gateway.services.audit.record({
          action: "test.filler",
          // Records of clients' requests (a CLI's own are held to no count: see unsignedTailProblem).
          actor: { ...CLI_ACTOR, user: "filler", ip: "127.0.0.1" },
          outcome: "ok",
          detail: { i },
        });
      await gateway.services.audit.flush();
      await gateway.close();
      const intact = await cli("audit", "verify", ...local);
      assert.equal(intact.code, 0, intact.stderr);
    });
    after(async () => {
      await up?.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    test("verify names a row stored before record 1 or past the chain head", async () => {
      const head = await withDb(headSeq);
      for (const seq of [head + 1, head + 84, 0, -5]) {
        await withDb((db) => copyRow(db, 10, seq));
        const run = await cli("audit", "verify", ...local);
        assert.equal(run.code, 1, `record ${seq}: ${run.stdout}`);
        assert.match(
          run.stderr,
          seq > head
            ? new RegExp(`NOT intact: record ${seq} is stored past the chain head \\(record ${head}\\)`)
            : new RegExp(`NOT intact: record ${seq} is stored before record 1`),
        );
        await withDb((db) => db.deleteFrom("audit_log").where("seq", "=", seq).execute());
      }
      const restored = await cli("audit", "verify", ...local);
      assert.equal(restored.code, 0, restored.stderr);
    });

    test("a rewritten tail hidden by deleting the newest checkpoints is refused; a crash's unsigned tail is not", async () => {
      await withDb(async (db, repo) => {
        const head = (await repo.head())!;
        const checkpoints = await repo.checkpoints();
        // The newest checkpoint with more than 1,000 records after it: kept, the later ones deleted.
        const kept = checkpoints.filter((c) => head.seq - c.seq > 1_000).at(-1)!;
        assert.ok(
          kept,
          `a checkpoint 1,000 records before the head (${checkpoints.map((c) => c.seq).join(",")})`,
        );
        const savedHead = await db.selectFrom("audit_head").selectAll().execute();
        const savedCheckpoints = await db.selectFrom("audit_checkpoints").selectAll().execute();
        const edited = kept.seq + 5;
        const savedRows = await db
          .selectFrom("audit_log")
          .select(["seq", "identity", "prev_hash", "hash"])
          .where("seq", ">=", edited)
          .execute();

        // Record `edited` rewritten and every record after it chained again (rewrite2.ts of the review).
        await db.updateTable("audit_log").set({ identity: "mallory" }).where("seq", "=", edited).execute();
        let prev = (
          await db
            .selectFrom("audit_log")
            .select("hash")
            .where("seq", "=", edited - 1)
            .executeTakeFirstOrThrow()
        ).hash;
        for await (const r of repo.scan(edited - 1)) {
          const hash = recordHash(r.seq, prev, r);
          await db.updateTable("audit_log").set({ prev_hash: prev, hash }).where("seq", "=", r.seq).execute();
          prev = hash;
        }
        await db.deleteFrom("audit_checkpoints").where("seq", ">", kept.seq).execute();
        await db
          .updateTable("audit_head")
          .set({ hash: prev, checkpoint_seq: kept.seq, checkpoint_at: kept.at })
          .execute();
        const run = await cli("audit", "verify", ...local);
        assert.equal(run.code, 1, run.stdout);
        assert.match(
          run.stderr,
          new RegExp(
            `NOT intact: records ${kept.seq + 1}\\.\\.${head.seq}: [\\d,]+ records of clients' requests after the last signed checkpoint \\(record ${kept.seq}\\), but a gateway signs at least every 1,000: the newest checkpoints may have been deleted`,
          ),
        );

        // Put back as the gateway left it.
        for (const r of savedRows)
          await db
            .updateTable("audit_log")
            .set({ identity: r.identity, prev_hash: r.prev_hash, hash: r.hash })
            .where("seq", "=", r.seq)
            .execute();
        await db.deleteFrom("audit_head").execute();
        await db.insertInto("audit_head").values(savedHead).execute();
        await db.deleteFrom("audit_checkpoints").execute();
        await db.insertInto("audit_checkpoints").values(savedCheckpoints).execute();
        const restored = await cli("audit", "verify", ...local);
        assert.equal(restored.code, 0, restored.stderr);

        // A gateway that crashed leaves up to 999 records unsigned, written within 60 s of the last
        // checkpoint: intact. (Its writer signs as soon as either bound is reached.)
        const keys = KeyRing.open(join(dir, "keys"));
        const signer: CheckpointSigner = {
          sign(message) {
            const { keyid, sig } = keys.sign(message);
            const pem = keys.publicKeys().find((k) => k.keyid === keyid)!.pem;
            return { keyid, publicKeyPem: pem, signature: sig.toString("base64") };
          },
        };
        const last = (await repo.checkpoints()).at(-1)!;
        const now = last.at + 59_000;
        const batch = (n: number): AuditFields[] =>
          Array.from({ length: n }, (_, i) => auditFields({ at: now - n + i, identity: "crashed" }));
        await repo.append(batch(999), [], { signer, everyRecords: 1_000, everyMs: 60_000, now });
        const keyids = new Set(keys.publicKeys().map((k) => k.keyid));
        const crashed = await verifyAuditLog(repo, keyids);
        assert.deepEqual(
          { ok: crashed.ok, unsigned: crashed.unsigned, problem: crashed.problem },
          { ok: true, unsigned: 999, problem: null },
        );
        await repo.append(batch(1), [], { signer, everyRecords: 1_000, everyMs: 60_000, now });
        assert.equal((await verifyAuditLog(repo, keyids)).unsigned, 0, "the 1,000th record is signed");
        // Stamped 2 min after the last checkpoint yet unsigned: only a deleted checkpoint does that.
        const late = last.at + 181_000;
        await repo.append([auditFields({ at: late, identity: "late" })], [], {
          signer,
          everyRecords: 1_000,
          everyMs: 60_000,
          now: late,
        });
        const newest = (await repo.checkpoints()).at(-1)!;
        await db.deleteFrom("audit_checkpoints").where("seq", "=", newest.seq).execute();
        await db
          .updateTable("audit_head")
          .set({ checkpoint_seq: last.seq + 999 + 1 })
          .execute();
        const hidden = await verifyAuditLog(repo, keyids);
        assert.match(
          hidden.problem ?? "",
          new RegExp(
            `^records ${newest.seq}\\.\\.${newest.seq}: stamped up to 2 min after the last signed checkpoint`,
          ),
        );
        await db.insertInto("audit_checkpoints").values(newest).execute();
        await db.updateTable("audit_head").set({ checkpoint_seq: newest.seq }).execute();
        assert.equal((await verifyAuditLog(repo, keyids)).problem, null, "restored");
      });
    });

    test("audit export writes every record when one is damaged, names it, and exits 1", async () => {
      const head = await withDb(headSeq);
      // A recent record: the API's answer (newest first, one page) holds it.
      const damaged = head - 1;
      const original = await withDb((db) =>
        db.selectFrom("audit_log").select("detail_json").where("seq", "=", damaged).executeTakeFirstOrThrow(),
      );
      await withDb((db) =>
        db.updateTable("audit_log").set({ detail_json: "{not json" }).where("seq", "=", damaged).execute(),
      );
      try {
        const run = await cli("audit", "export", ...local);
        assert.equal(run.code, 1, run.stderr);
        const lines = run.stdout
          .trimEnd()
          .split("\n")
          .map(
            (l) =>
              JSON.parse(l) as {
                seq: number;
                action: string;
                detail: unknown;
                unparseable?: Record<string, string>;
              },
          );
        assert.deepEqual(
          lines.map((l) => l.seq),
          Array.from({ length: head }, (_, i) => i + 1),
          "every record, in order",
        );
        assert.deepEqual(
          [lines[damaged - 1]!.detail, lines[damaged - 1]!.unparseable],
          [null, { detail: "{not json" }],
        );
        assert.equal(lines[damaged - 2]!.unparseable, undefined, "only the damaged record is marked");
        assert.match(run.stderr, new RegExp(`record ${damaged}: detail not valid JSON`));
        assert.match(
          run.stderr,
          new RegExp(`1 record\\(s\\) exported with fields that are not valid JSON \\(${damaged}\\)`),
        );
        assert.doesNotMatch(run.stderr, /unexpected error|SyntaxError|\n\s+at /);
        // The API's JSON answer marks it too (its response schema used to drop the field).
        const { gateway, url } = await startGateway();
        try {
          const { token } = await gateway.services.identity.createToken(
            { user: "auditor", role: "approver" },
            CLI_ACTOR,
          );
          const res = await fetch(
            `${url}/api/v1/audit?action=${encodeURIComponent(lines[damaged - 1]!.action)}&limit=500`,
            {
              headers: { authorization: `Bearer ${token}` },
            },
          );
          assert.equal(res.status, 200);
          const items = ((await res.json()) as { items: { seq: number; unparseable?: unknown }[] }).items;
          assert.deepEqual(
            items.find((r) => r.seq === damaged)?.unparseable,
            { detail: "{not json" },
            "the API marks the damaged record",
          );
        } finally {
          await gateway.close();
        }
      } finally {
        await withDb((db) =>
          db
            .updateTable("audit_log")
            .set({ detail_json: original.detail_json })
            .where("seq", "=", damaged)
            .execute(),
        );
      }
    });

    test("a gateway whose next record's place is taken fails closed, names the row once, and resumes once it is gone", async () => {
      const lines: LogLine[] = [];
      const { gateway, url } = await startGateway(lines);
      try {
        const db = gateway.services.db.db;
        const head = await headSeq(db);
        await copyRow(db, 10, head + 1);
        const served = await fetch(`${url}/simple/acme/`);
        assert.equal(served.status, 200, "accepting until a write fails");
        await served.arrayBuffer();

        const ready = async () => {
          const res = await fetch(`${url}/readyz`);
          await res.arrayBuffer();
          return res.status;
        };
        assert.equal(await eventually(async () => (await ready()) === 503, 5_000), true, "/readyz unready");
        assert.match(await (await fetch(`${url}/metrics`)).text(), /^portcullis_audit_accepting 0$/m);
        const refused = await fetch(`${url}/simple/acme/`);
        assert.equal(refused.status, 503, "audited requests refused");
        await refused.arrayBuffer();
        // Several timer ticks (250 ms) later: said once, not on every retry.
        await sleep(1_000);
        const named = lines.filter(
          (l) =>
            l.level === 50 &&
            l.msg.includes(`record ${head + 1} is already stored past the chain head (record ${head})`),
        );
        assert.equal(named.length, 1, JSON.stringify(lines.map((l) => l.msg)));
        assert.equal(
          lines.filter((l) => l.msg.startsWith("audit write failed")).length,
          0,
          "no retry loop in the log",
        );

        // A CLI command that records (token create) cannot either: one line naming the row, exit 1.
        const cliRun = await cli("token", "create", "--user", "blocked-cli", "--role", "reader", ...local);
        assert.equal(cliRun.code, 1, cliRun.stderr);
        assert.match(cliRun.stderr, new RegExp(`record ${head + 1} is already stored past the chain head`));
        assert.doesNotMatch(cliRun.stderr, /unexpected error|\n\s+at /, "no stack trace");

        await db
          .deleteFrom("audit_log")
          .where("seq", "=", head + 1)
          .execute();
        assert.equal(await eventually(async () => (await ready()) !== 503, 10_000), true, "ready again");
        const again = await fetch(`${url}/simple/acme/`);
        assert.equal(again.status, 200);
        await again.arrayBuffer();
        await gateway.services.audit.flush();
        const pages = await db
          .selectFrom("audit_log")
          .select(["seq", "action", "status"])
          .where("seq", ">", head)
          .orderBy("seq")
          .execute();
        assert.deepEqual(
          pages.map((p) => [Number(p.seq), p.action, p.status]),
          [
            [head + 1, "simple.page", 200],
            [head + 2, "simple.page", 200],
          ],
          "what was served while blocked is recorded, in place",
        );
      } finally {
        await gateway.close();
      }
      const run = await cli("audit", "verify", ...local);
      assert.equal(run.code, 0, run.stderr);
    });
  });
}
