/**
 * The audit spool wired into a running gateway (src/adapters/audit-spool): batches an earlier run
 * left on disk (the database was down when it stopped) are written at the next start, before
 * anything newer, into the same verified chain; the spool's size is in the metrics.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileAuditSpool } from "../../src/adapters/audit-spool/file-audit-spool.js";
import { verifyAuditLog } from "../../src/services/audit/audit-verifier.js";
import { auditFields } from "../helpers/audit-fields.js";
import { flushAudit } from "../helpers/identity.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";

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
});
