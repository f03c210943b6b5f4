/**
 * One gateway for bench/audit/run.ts, in a process of its own so that its CPU time can be read
 * from /proc. `--no-audit` makes its audit recorder drop what it is given (the baseline: same
 * hooks, same auth, no audit work); `--queue-only` builds and queues every record as in
 * production but drops each batch where it would be chained and written (what auditing costs the
 * serving thread alone). Only this benchmark does either; nothing in the product can.
 * Prints `{"url": …}` on stdout once listening; closes (flushing the trail) on SIGTERM. A line
 * `drain` on stdin writes everything its audit trail has queued and answers `{"drainedMs": …}`:
 * how long the trail took to catch up after a run, so that work deferred past the run (a writer
 * behind) is counted against it, not done during the next gateway's run.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { loadConfig } from "../../src/config/options.js";
import { createGateway } from "../../src/main.js";

const { values } = parseArgs({
  options: {
    upstream: { type: "string" },
    "no-audit": { type: "boolean", default: false },
    "queue-only": { type: "boolean", default: false },
    "writer-priority": { type: "string", default: "idle" },
    storage: { type: "string", default: "rows" },
  },
});
const data = mkdtempSync(join(tmpdir(), "bench-audit-gw-"));
const config = loadConfig({
  env: {},
  flags: {
    host: "127.0.0.1",
    port: 0,
    logLevel: "silent",
    intelSync: "",
    upstream: values.upstream!,
    data,
    auditWriterPriority: values["writer-priority"],
    auditStorage: values.storage,
  },
});
const gateway = await createGateway(config, { logger: pino({ level: "warn" }) });
if (values["no-audit"]) gateway.services.audit.push = () => {};
if (values["queue-only"]) {
  // The trail's one write step (private): the batch is taken from the queue and dropped.
  const trail = gateway.services.audit as unknown as { writeBatch?: () => Promise<void> };
  if (typeof trail.writeBatch !== "function") throw new Error("AuditTrail has no writeBatch to stub");
  trail.writeBatch = async () => undefined;
}
const url = await gateway.listen();
process.stdout.write(`${JSON.stringify({ url, data })}\n`);
createInterface({ input: process.stdin }).on("line", (line) => {
  if (line !== "drain") return;
  const t0 = performance.now();
  void gateway.services.audit.flush().then(() => {
    process.stdout.write(`${JSON.stringify({ drainedMs: performance.now() - t0 })}\n`);
  });
});
process.once("SIGTERM", () => {
  void gateway.close().then(() => {
    process.stdout.write(
      `${JSON.stringify({ written: gateway.services.audit.written, writer: gateway.services.audit.lastWriter })}\n`,
    );
    process.exit(0);
  });
});
