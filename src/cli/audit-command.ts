import type { Command } from "commander";
import { ISO_TIME_HINT, parseIsoTime } from "../domain/iso-time.js";
import { recordJson } from "../services/audit/audit-sinks.js";
import { verifyAuditLog } from "../services/audit/audit-verifier.js";
import { CliError } from "./cli-error.js";
import { addLocalOptions, withLocalServices } from "./local-services.js";

/** What the signatures do not cover yet (the newest records, until the next checkpoint). */
function unsignedNote(r: { signedThrough: number; unsigned: number }): string {
  if (r.unsigned === 0) return "";
  if (r.signedThrough === 0) return "; none signed yet (hash-chained only until the first checkpoint)";
  return `; signed through record ${r.signedThrough}, the last ${r.unsigned} hash-chained only until the next checkpoint`;
}

/** `portcullis audit verify|export`: the tamper-evident audit trail. */
export function registerAuditCommand(program: Command): void {
  const audit = program
    .command("audit")
    .description(
      "The audit trail: every index, file and API access, decision and admin action, hash-chained and signed.",
    );

  addLocalOptions(
    audit
      .command("verify")
      .description(
        "Check the whole chain: each record's hash and link, no gaps, the head, and the signed checkpoints. Exits 0 when intact, 1 naming the first bad record.",
      )
      .option("--json", "print the result as JSON"),
  ).action(async (flags: Record<string, string | boolean | undefined>) => {
    const result = await withLocalServices(flags, (s) =>
      verifyAuditLog(s.auditLog, new Set(s.keys.publicKeys().map((k) => k.keyid))),
    );
    if (flags.json) process.stdout.write(JSON.stringify(result, null, 2) + "\n");
    if (!result.ok) {
      if (flags.json) process.exitCode = 1;
      else throw new CliError(`audit trail NOT intact: ${result.problem}`, 1);
      return;
    }
    if (!flags.json)
      process.stdout.write(
        `audit trail intact: ${result.records} records, ${result.checkpoints} signed checkpoint(s)${unsignedNote(result)}\n`,
      );
  });

  addLocalOptions(
    audit
      .command("export")
      .description("Write audit records as JSON lines (oldest first) to stdout, for a SIEM or an archive.")
      .option("--since <time>", "only records at or after this ISO 8601 time")
      .option("--until <time>", "only records before this ISO 8601 time")
      .option("--format <format>", "jsonl (the only format)", "jsonl"),
  ).action(async (flags: Record<string, string | boolean | undefined>) => {
    if (flags.format !== "jsonl")
      throw new CliError(`--format must be jsonl, got ${JSON.stringify(flags.format)}`);
    const since = parseTime(flags.since, "--since");
    const until = parseTime(flags.until, "--until");
    await withLocalServices(flags, async (s) => {
      let after = 0;
      for (;;) {
        const rows = await s.auditLog.query({
          afterSeq: after,
          ...(since !== undefined ? { since } : {}),
          ...(until !== undefined ? { until } : {}),
          limit: 5_000,
          order: "asc",
        });
        if (rows.length === 0) break;
        const chunk = rows.map((r) => JSON.stringify(recordJson(r))).join("\n") + "\n";
        if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once("drain", r));
        after = rows[rows.length - 1]!.seq;
      }
    });
  });
}

function parseTime(v: string | boolean | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const t = parseIsoTime(String(v));
  if (t === undefined) throw new CliError(`${flag} must be ${ISO_TIME_HINT}, got ${JSON.stringify(v)}`);
  return t;
}
