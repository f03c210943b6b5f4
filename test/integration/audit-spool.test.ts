/**
 * The audit spool wired into a running gateway (src/adapters/audit-spool): batches an earlier run
 * left on disk (the database was down when it stopped) are written at the next start, before
 * anything newer, into the same verified chain; the spool's size is in the metrics. And when the
 * database refuses audit writes and the spool is at its cap, the gateway fails closed (503) until
 * the database takes them again, losing no record of what it served (SQLite and PostgreSQL).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql, type Kysely } from "kysely";
import { FileAuditSpool } from "../../src/adapters/audit-spool/file-audit-spool.js";
import { connectDatabase, type DialectName } from "../../src/adapters/db/connect-database.js";
import type { Database } from "../../src/adapters/db/schema.js";
import { accessCount } from "../../src/services/audit/audit-batch-codec.js";
import { verifyAuditLog } from "../../src/services/audit/audit-verifier.js";
import { auditFields } from "../helpers/audit-fields.js";
import { DIALECTS, dialectSkip, gatewayDatabase } from "../helpers/databases.js";
import { flushAudit } from "../helpers/identity.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { buildWheel } from "../helpers/wheel-builder.js";

let upstream: JsonIndexServer;
let gw: TestGateway;
let data: string;

before(async () => {
  upstream = await startJsonIndexServer({ projects: {} });
  data = mkdtempSync(join(tmpdir(), "audit-spool-gw-"));
  // What a gateway stopped during a database outage leaves behind.
  mkdirSync(join(data, "audit-spool"));
  const earlier = new FileAuditSpool(join(data, "audit-spool"));
  earlier.append([
    auditFields({ at: 1_000, identity: "nightly-etl", ip: "10.0.0.8" }),
    auditFields({ at: 1_001, identity: "nightly-etl", ip: "10.0.0.8", filename: "acme-1.0.tar.gz" }),
  ]);
  gw = await startTestGateway({ upstream: upstream.simpleUrl, data });
});
after(async () => {
  await gw?.close();
  await upstream?.close();
  rmSync(data, { recursive: true, force: true });
});

test("batches spooled by an earlier run are written first at the next start, in a chain that verifies", async () => {
  // Written by the flush timer alone, without waiting for new records.
  const spoolDir = join(data, "audit-spool");
  for (let i = 0; i < 100 && readdirSync(spoolDir).length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.deepEqual(readdirSync(spoolDir), [], "the spool is written back at start");
  assert.equal(gw.gateway.services.audit.written, 2);
  const res = await fetch(`${gw.url}/simple/`);
  await res.arrayBuffer();
  await flushAudit(gw);
  const log = gw.gateway.services.auditLog;
  const rows = await log.query({ limit: 10, order: "asc" });
  assert.deepEqual(
    rows.slice(0, 2).map((r) => [r.seq, r.identity, r.ip, r.filename]),
    [
      [1, "nightly-etl", "10.0.0.8", "acme-1.0-py3-none-any.whl"],
      [2, "nightly-etl", "10.0.0.8", "acme-1.0.tar.gz"],
    ],
  );
  assert.ok(
    rows.some((r) => r.seq > 2 && r.action.startsWith("simple.")),
    "newer records after them",
  );
  const keyids = new Set((await log.checkpoints()).map((c) => c.keyid));
  const verdict = await verifyAuditLog(log, keyids);
  assert.equal(verdict.ok, true, verdict.problem ?? "");
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  assert.match(metrics, /^portcullis_audit_spooled_batches 0$/m);
  assert.match(metrics, /^portcullis_audit_queued_records \d+$/m);
  assert.match(metrics, /^portcullis_audit_writer_boosts 0$/m);
});

/** Makes the database itself refuse audit rows (a trigger), or take them again. */
async function refuseAuditWrites(db: Kysely<Database>, dialect: DialectName, refuse: boolean): Promise<void> {
  if (dialect === "sqlite") {
    await (
      refuse
        ? sql`CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit writes refused'); END`
        : sql`DROP TRIGGER refuse_audit`
    ).execute(db);
  } else if (refuse) {
    await sql`CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit writes refused'; END $$`.execute(
      db,
    );
    await sql`CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit()`.execute(
      db,
    );
  } else await sql`DROP TRIGGER refuse_audit ON audit_log`.execute(db);
}

/** Accesses the matching records stand for (a record with repeats is several). */
const count = async (db: Kysely<Database>, where: ReturnType<typeof sql>) =>
  (
    await sql<{ repeats_json: string | null }>`SELECT repeats_json FROM audit_log WHERE ${where}`.execute(db)
  ).rows.reduce((n, r) => n + accessCount(r), 0);

for (const dialect of DIALECTS) {
  describe(
    `a gateway that cannot record fails closed (${dialect})`,
    { skip: await dialectSkip(dialect) },
    () => {
      let up: JsonIndexServer;
      let gw: TestGateway | undefined;
      let database: Awaited<ReturnType<typeof gatewayDatabase>>;
      let dir: string;
      let others = 0;

      before(async () => {
        const wheel = await buildWheel({ name: "acme", version: "1.0" });
        up = await startJsonIndexServer({
          projects: { acme: { files: [{ filename: wheel.filename, bytes: wheel.bytes }] } },
        });
        database = await gatewayDatabase(dialect);
        dir = mkdtempSync(join(tmpdir(), "audit-closed-"));
        // A first run makes the schema; then the database starts refusing audit rows while the
        // gateway is stopped, and an earlier run left the spool nearly at its 1 MiB cap.
        const first = await startTestGateway({ upstream: up.simpleUrl, database: database.url, data: dir });
        await first.close();
        const handle = await connectDatabase({ url: database.url, dataDir: dir });
        await refuseAuditWrites(handle.db, dialect, true);
        await handle.close();
        const records = [];
        let bytes = 2;
        while (bytes < 1024 * 1024 - 64 * 1024) {
          const r = auditFields({ at: 1_000 + records.length, identity: "earlier-run" });
          bytes += Buffer.byteLength(JSON.stringify(r)) + 1;
          records.push(r);
        }
        others = records.length;
        mkdirSync(join(dir, "audit-spool"), { recursive: true });
        writeFileSync(join(dir, "audit-spool", "5000000000000.json"), JSON.stringify(records));
        gw = await startTestGateway(
          { upstream: up.simpleUrl, database: database.url, data: dir, auditSpoolMaxMb: 1 },
          { auditQueueRecords: 100 },
        );
      });
      after(async () => {
        await gw?.close();
        await up?.close();
        await database?.drop();
        rmSync(dir, { recursive: true, force: true });
      });

      test("503 with a reason while nothing can record, nothing lost, serving again once the database is back", async () => {
        const g = gw!;
        let served = 0;
        let refused: Response | undefined;
        // A project page: once warm, the fast lane answers it (src/http/fast-lane.ts), and it too
        // must refuse.
        // Each from its own application: the same access repeated is one record with the times of
        // its repeats (a few bytes each), which would take far longer to fill the spool.
        for (let k = 0; k < 5_000 && !refused; k++) {
          const res = await fetch(`${g.url}/simple/acme/`, {
            headers: { "x-portcullis-project": `app-${k}` },
          });
          if (res.status === 503) refused = res;
          else {
            assert.equal(res.status, 200);
            served++;
          }
          await res.arrayBuffer();
        }
        assert.ok(refused, `refused after ${served} requests`);
        assert.ok(served >= 100, `served ${served} before refusing`);
        assert.equal(refused.headers.get("retry-after"), "30");
        const api = await fetch(`${g.url}/api/v1/me`);
        assert.equal(api.status, 503);
        const body = (await api.json()) as { error: { code: string; message: string } };
        assert.equal(body.error.code, "UNAVAILABLE");
        assert.match(body.error.message, /audit trail cannot record/);
        const ready = await fetch(`${g.url}/readyz`);
        assert.equal(ready.status, 503);
        assert.equal(((await ready.json()) as { audit: { ok: boolean } }).audit.ok, false);
        assert.equal((await fetch(`${g.url}/healthz`)).status, 200, "the process itself is alive");
        assert.match(await (await fetch(`${g.url}/metrics`)).text(), /^portcullis_audit_accepting 0$/m);

        const db = g.gateway.services.db.db;
        await refuseAuditWrites(db, dialect, false);
        let readyAgain = false;
        for (let t = 0; t < 200 && !readyAgain; t++) {
          const res = await fetch(`${g.url}/readyz`);
          readyAgain = res.status === 200;
          await res.arrayBuffer();
          if (!readyAgain) await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.equal(readyAgain, true, "ready again once the database takes records");
        const res = await fetch(`${g.url}/simple/acme/`);
        assert.equal(res.status, 200);
        await res.arrayBuffer();
        served++;
        await flushAudit(g);

        assert.equal(
          await count(db, sql`identity = 'earlier-run'`),
          others,
          "the earlier run's spooled records",
        );
        assert.equal(
          await count(db, sql`action = 'simple.page' AND status = 200`),
          served,
          "every answer served is recorded",
        );
        assert.equal(await count(db, sql`status = 503`), 0, "refusals are counted in metrics, not recorded");
        assert.deepEqual(
          readdirSync(join(dir, "audit-spool")).filter((n) => n.endsWith(".json")),
          [],
          "the spool written back",
        );
        const log = g.gateway.services.auditLog;
        const verdict = await verifyAuditLog(log, new Set((await log.checkpoints()).map((c) => c.keyid)));
        assert.equal(verdict.ok, true, verdict.problem ?? "");
      });
    },
  );
}
