import { join, resolve } from "node:path";
import type { Command } from "commander";
import { AuditRepository } from "../adapters/db/audit-repository.js";
import type { Config } from "../config/options.js";
import { KeyRing } from "../crypto/key-ring.js";
import { ISO_TIME_HINT, parseIsoTime } from "../domain/iso-time.js";
import { recordJson } from "../services/audit/audit-sinks.js";
import { verifyAuditLog } from "../services/audit/audit-verifier.js";
import { CliError } from "./cli-error.js";
import { addLocalOptions, withExistingDatabase } from "./local-services.js";

/** Damaged records `audit export` names one line each; the rest only in the final count. */
const MAX_DAMAGE_LINES = 20;

/** What the signatures do not cover yet (the newest records, until the next checkpoint). */
function unsignedNote(r: { signedThrough: number; unsigned: number }): string {
  if (r.unsigned === 0) return "";
  if (r.signedThrough === 0) return "; none signed yet (hash-chained only until the first checkpoint)";
  return `; signed through record ${r.signedThrough}, the last ${r.unsigned} hash-chained only until the next checkpoint`;
}

/**
 * The keys checkpoints must be signed with (their ids): `--signing-key` (or
 * PORTCULLIS_SIGNING_KEY) and the keys under `<data>/keys` (active.pem, and retired/<keyid>.pem:
 * public keys, which are all verifying needs). Opened without generating one: none there is
 * none trusted.
 */
function trustedKeyIds(config: Config): Set<string> {
  try {
    return new Set(
      KeyRing.open(join(resolve(config.data), "keys"), config.signingKey, { create: false })
        .publicKeys()
        .map((k) => k.keyid),
    );
  } catch (err) {
    // A key file that is missing or not a key is bad input (2): a script must not read it as
    // "NOT intact" (1).
    throw new CliError(
      `cannot open the key ring in ${config.data}${config.signingKey ? ` or the key ${config.signingKey}` : ""}: ${(err as Error).message}`,
      2,
    );
  }
}

/**
 * Without any trusted key, signed checkpoints cannot be checked: that is a usage error (exit 2)
 * saying how to give the keys, not a chain "NOT intact" because of keys it was never given. A
 * chain with no checkpoint yet (a data directory before the gateway's first start) needs none.
 */
async function requireTrustedKeys(repo: AuditRepository, keyids: Set<string>, config: Config): Promise<void> {
  if (keyids.size > 0) return;
  const signed = ((await repo.head())?.checkpointSeq ?? 0) > 0 || (await repo.checkpoints()).length > 0;
  if (!signed) return;
  const keys = join(resolve(config.data), "keys");
  throw new CliError(
    `no trusted signing keys to check the audit checkpoints with (none in ${keys}): give the gateway's key with --signing-key FILE (or PORTCULLIS_SIGNING_KEY), or --data DIR whose keys/ holds its keys (active.pem, or only their public keys as keys/retired/<keyid>.pem, from \`portcullis keys list --json\` or /.well-known/portcullis/keys)`,
    2,
  );
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
    // Read-only: the database as found, no services (their audit trail signs the head on close,
    // which would vouch for a chain nobody has verified yet).
    const result = await withExistingDatabase(flags, async (handle, config) => {
      const repo = new AuditRepository(handle.db, handle.dialect);
      const keyids = trustedKeyIds(config);
      await requireTrustedKeys(repo, keyids, config);
      return verifyAuditLog(repo, keyids);
    });
    if (flags.json) process.stdout.write(JSON.stringify(result, null, 2) + "\n");
    if (!result.ok) {
      if (flags.json) process.exitCode = 1;
      else throw new CliError(`audit trail NOT intact: ${result.problem}`, 1);
      return;
    }
    if (!flags.json)
      process.stdout.write(
        `audit trail intact: ${result.records} records${result.accesses !== result.records ? ` (${result.accesses} accesses)` : ""}, ${result.checkpoints} signed checkpoint(s)${unsignedNote(result)}\n`,
      );
  });

  addLocalOptions(
    audit
      .command("export")
      .description("Write audit records as JSON lines (oldest first) to stdout, for a SIEM or an archive.")
      .option("--since <time>", "only records at or after this ISO 8601 time (not after --until)")
      .option("--until <time>", "only records before this ISO 8601 time")
      .option("--format <format>", "jsonl (the only format)", "jsonl"),
  ).action(async (flags: Record<string, string | boolean | undefined>) => {
    if (flags.format !== "jsonl")
      throw new CliError(`--format must be jsonl, got ${JSON.stringify(flags.format)}`);
    const since = parseTime(flags.since, "--since");
    const until = parseTime(flags.until, "--until");
    if (since !== undefined && until !== undefined && since > until)
      throw new CliError(
        `--since ${String(flags.since)} is after --until ${String(flags.until)}: nothing could match`,
      );
    // Records whose client or detail JSON does not parse: exported anyway (see recordJson), each
    // named on stderr, and the exit code says the export is not of an intact trail.
    const damaged: number[] = [];
    // Blocks (audit.storage batches) whose records cannot be read at all: named, left out.
    const unreadable = new Set<string>();
    await withExistingDatabase(flags, async (handle) => {
      const auditLog = new AuditRepository(handle.db, handle.dialect);
      let after = 0;
      for (;;) {
        const rows = await auditLog.query({
          afterSeq: after,
          ...(since !== undefined ? { since } : {}),
          ...(until !== undefined ? { until } : {}),
          limit: 5_000,
          order: "asc",
          onUnreadableBlock: (err) => {
            const range = `${err.firstSeq}..${err.lastSeq}`;
            if (unreadable.has(range)) return;
            unreadable.add(range);
            process.stderr.write(`portcullis: ${err.message}; not exported\n`);
          },
        });
        if (rows.length === 0) break;
        const lines: string[] = [];
        for (const r of rows) {
          const json = recordJson(r);
          if (json.unparseable) {
            damaged.push(r.seq);
            if (damaged.length <= MAX_DAMAGE_LINES) {
              const fields = Object.keys(json.unparseable as Record<string, string>).join(" and ");
              process.stderr.write(
                `portcullis: record ${r.seq}: ${fields} not valid JSON (damaged or edited); exported as stored text under "unparseable"\n`,
              );
            }
          }
          lines.push(JSON.stringify(json));
        }
        const chunk = lines.join("\n") + "\n";
        if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once("drain", r));
        after = rows[rows.length - 1]!.seq;
      }
    });
    if (unreadable.size > 0)
      throw new CliError(
        `records ${[...unreadable].join(", ")} not exported: their blocks cannot be read (damaged or edited); run \`portcullis audit verify\``,
        1,
      );
    if (damaged.length > 0)
      throw new CliError(
        `${damaged.length} record(s) exported with fields that are not valid JSON (${damaged.length > MAX_DAMAGE_LINES ? `first: ${damaged.slice(0, MAX_DAMAGE_LINES).join(", ")}, …` : damaged.join(", ")}): the trail is damaged; run \`portcullis audit verify\``,
        1,
      );
  });
}

function parseTime(v: string | boolean | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const t = parseIsoTime(String(v));
  if (t === undefined) throw new CliError(`${flag} must be ${ISO_TIME_HINT}, got ${JSON.stringify(v)}`);
  return t;
}
