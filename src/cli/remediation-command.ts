import type { Command } from "commander";
import type { RemediationEvent, RemediationItem } from "../adapters/db/remediation-repository.js";
import { ISO_TIME_HINT, parseIsoTime } from "../domain/iso-time.js";
import { normalizeProjectName } from "../domain/project-name.js";
import type { Severity } from "../policy/check.js";
import { SEVERITIES } from "../policy/policy-schema.js";
import {
  itemToJson,
  MAX_ACCEPTANCE_DAYS,
  REMEDIATION_STATES,
  RemediationTransitionError,
  type RemediationState,
  type StateChange,
} from "../services/governance/remediation-rules.js";
import type { RemediationReport } from "../services/governance/remediation-rules.js";
import { cliActor } from "./cli-actor.js";
import { CliError } from "./cli-error.js";
import { inert } from "../domain/control-characters.js";
import {
  addLocalOptions,
  addRemoteOptions,
  callGateway,
  withLocalServices,
  remoteGateway,
} from "./local-services.js";

const BY_HELP =
  "on whose behalf (local only): the audit trail keeps the CLI user as the actor and this name in detail.by";

const day = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString().slice(0, 10));

function parseId(text: string): number {
  if (!/^[1-9][0-9]{0,14}$/.test(text))
    throw new CliError(`expected an item id (a number), got ${JSON.stringify(text)}`);
  return Number(text);
}

/**
 * Several lines about one item, for `show` and after a change. Every value is escaped (`inert`):
 * summaries come from advisories, notes and reasons from whoever changed the state, consumers'
 * applications and clients from request headers.
 */
export function formatItem(i: RemediationItem): string {
  const lines = [
    inert`#${i.id}  ${i.state.toUpperCase()}  ${i.severity}  ${i.project} ${i.version}  (${i.filename})`,
    inert`  why:       ${i.summary}`,
    inert`  owner:     ${i.owner ?? "unassigned"}`,
    inert`  opened:    ${new Date(i.openedAt).toISOString()}   due: ${new Date(i.dueAt).toISOString()}`,
    inert`  move to:   ${i.fixedVersion ?? "no fixed or admitted version known"}`,
    inert`  advisory:  ${i.advisoryIds.join(", ") || "-"}`,
    inert`  sha256:    ${i.sha256}`,
  ];
  if (i.state === "accepted-risk")
    lines.push(
      inert`  accepted until ${new Date(i.acceptedUntil!).toISOString()} by ${i.stateChangedBy}: ${i.note}`,
    );
  else if (i.note) lines.push(inert`  note:      ${i.note} (${i.stateChangedBy ?? "-"})`);
  if (i.resolvedAt !== null)
    lines.push(inert`  fixed:     ${new Date(i.resolvedAt).toISOString()} (${i.resolution})`);
  if (i.history && i.history.length > 0) {
    lines.push("  history:");
    for (const e of i.history) {
      const moved =
        e.owner !== null && e.owner !== undefined
          ? `owner -> ${e.owner}`
          : e.from === null
            ? e.state
            : `${e.from} -> ${e.state}`;
      const until = e.acceptedUntil === null ? "" : ` until ${new Date(e.acceptedUntil).toISOString()}`;
      const why = [e.note, e.resolution].filter(Boolean).join("; ");
      lines.push(
        inert`    ${new Date(e.at).toISOString()}  ${moved}${until}  by ${e.by ?? "-"}${why ? `: ${why}` : ""}`,
      );
    }
  }
  lines.push(inert`  consumers: ${i.consumers.length || "none recorded"}`);
  for (const c of i.consumers.slice(0, 50))
    lines.push(
      inert`    ${c.identity ?? "anonymous"}  ${c.ip}${c.team ? `  team ${c.team}` : ""}${c.application ? `  app ${c.application}` : ""}${c.client ? `  ${c.client}` : ""}  last pulled ${c.lastPulled}`,
    );
  return lines.join("\n") + "\n";
}

/** `--gateway` (or PORTCULLIS_GATEWAY) and its token, when the command talks to a running gateway. */
function remoteOf(
  flags: Record<string, unknown>,
): { gateway: string; token: string | undefined } | undefined {
  const remote = remoteGateway(flags);
  return remote && { gateway: remote.url, token: remote.token };
}

/** An item as the API sends it (ISO times) back into the shape the CLI prints. */
export function itemFromJson(j: Record<string, unknown>): RemediationItem {
  const ms = (v: unknown) => (typeof v === "string" ? Date.parse(v) : null);
  return {
    ...(j as unknown as RemediationItem),
    openedAt: ms(j.openedAt)!,
    dueAt: ms(j.dueAt)!,
    stateChangedAt: ms(j.stateChangedAt)!,
    acceptedUntil: ms(j.acceptedUntil),
    resolvedAt: ms(j.resolvedAt),
    ...(Array.isArray(j.history)
      ? {
          history: (j.history as Record<string, unknown>[]).map((e) => ({
            ...(e as unknown as RemediationEvent),
            at: ms(e.at)!,
            acceptedUntil: ms(e.acceptedUntil),
          })),
        }
      : {}),
  };
}

async function change(
  flags: Record<string, unknown>,
  id: string,
  make: (now: number) => StateChange,
): Promise<void> {
  const n = parseId(id);
  const remote = remoteOf(flags);
  if (remote && flags.by !== undefined)
    throw new CliError("--by applies to local changes only: over --gateway, the token names who acts");
  if (remote) {
    const c = make(Date.now());
    const body =
      c.state === "accepted-risk"
        ? { state: c.state, reason: c.reason, until: new Date(c.until).toISOString() }
        : { state: c.state, ...(c.note ? { note: c.note } : {}) };
    const item = await callGateway<Record<string, unknown>>(
      remote.gateway,
      remote.token,
      `api/v1/remediation/${n}/state`,
      {
        method: "POST",
        body,
      },
    );
    process.stdout.write(formatItem(itemFromJson(item)));
    return;
  }
  await withLocalServices(flags, async (s) => {
    try {
      // The CLI actor acts; `--by` names whom for, a claim kept in the audit record's detail.by.
      const by = typeof flags.by === "string" ? flags.by : undefined;
      const item = await s.remediation.changeState(n, make(s.now()), cliActor(), by);
      if (!item) throw new CliError(`no remediation item ${n}`, 1);
      process.stdout.write(formatItem(item));
    } catch (err) {
      if (err instanceof RemediationTransitionError) throw new CliError(err.message, 1);
      throw err;
    }
  });
}

/** `portcullis remediation list|show|ack|accept|fix|report`: items opened when admitted files get refused. */
export function registerRemediationCommand(program: Command): void {
  const local = (cmd: Command) => addRemoteOptions(addLocalOptions(cmd));
  const rem = program
    .command("remediation")
    .description(
      "Remediation items: opened when re-evaluation refuses a file that was admitted (new advisory, malicious report, policy change), with severity, consumers, the version to move to and a due date from the policy's remediation.sla-days.",
    );

  local(
    rem
      .command("list")
      .description("List items, newest first.")
      .option("--state <state>", `one of ${REMEDIATION_STATES.join(", ")}`)
      .option("--severity <severity>", `one of ${SEVERITIES.join(", ")}`)
      .option("--project <name>", "one project")
      .option("--owner <team>", "one owning team")
      .option("--limit <n>", "how many", "50")
      .option("--json", "print JSON"),
  ).action(async (flags: Record<string, string | boolean | undefined>) => {
    const state = flags.state as RemediationState | undefined;
    const severity = flags.severity as Severity | undefined;
    if (state && !REMEDIATION_STATES.includes(state))
      throw new CliError(`--state must be one of ${REMEDIATION_STATES.join(", ")}`);
    if (severity && !SEVERITIES.includes(severity))
      throw new CliError(`--severity must be one of ${SEVERITIES.join(", ")}`);
    const limit = Number(flags.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new CliError("--limit must be 1 to 500");
    const filter = {
      ...(state ? { state } : {}),
      ...(severity ? { severity } : {}),
      ...(typeof flags.project === "string" ? { project: normalizeProjectName(flags.project) } : {}),
      ...(typeof flags.owner === "string" ? { owner: flags.owner } : {}),
      limit,
    };
    const remote = remoteOf(flags);
    const { items, now } = remote
      ? {
          items: (
            await callGateway<{ items: Record<string, unknown>[] }>(
              remote.gateway,
              remote.token,
              `api/v1/remediation?${new URLSearchParams(Object.entries(filter).map(([k, v]): [string, string] => [k, String(v)])).toString()}`,
            )
          ).items.map(itemFromJson),
          now: Date.now(),
        }
      : await withLocalServices(flags, async (s) => ({
          items: await s.remediation.list(filter),
          now: s.now(),
        }));
    if (flags.json) {
      // The shape GET /api/v1/remediation answers with (ISO times), local or remote alike.
      process.stdout.write(JSON.stringify(items.map(itemToJson), null, 2) + "\n");
      return;
    }
    if (!items.length) process.stdout.write("no remediation items\n");
    for (const i of items) {
      const overdue = (i.state === "open" || i.state === "acknowledged") && now >= i.dueAt ? " OVERDUE" : "";
      process.stdout.write(
        inert`#${i.id}\t${i.state}\t${i.severity}\t${i.project}==${i.version}\tdue ${day(i.dueAt)}${overdue}\towner ${i.owner ?? "-"}\tconsumers ${i.consumers.length}\tmove to ${i.fixedVersion ?? "-"}\n`,
      );
    }
  });

  local(
    rem
      .command("show")
      .argument("<id>", "item id")
      .description("Show one item with its history (each state, who moved it and why) and its consumers.")
      .option("--json", "print JSON"),
  ).action(async (id: string, flags: Record<string, string | boolean | undefined>) => {
    const n = parseId(id);
    const remote = remoteOf(flags);
    const item = remote
      ? itemFromJson(
          await callGateway<Record<string, unknown>>(remote.gateway, remote.token, `api/v1/remediation/${n}`),
        )
      : await withLocalServices(flags, (s) => s.remediation.get(n));
    if (!item) throw new CliError(`no remediation item ${n}`, 1);
    process.stdout.write(flags.json ? JSON.stringify(itemToJson(item), null, 2) + "\n" : formatItem(item));
  });

  local(
    rem
      .command("ack")
      .argument("<id>", "item id")
      .option("--note <text>", "what is being done")
      .option("--by <name>", BY_HELP)
      .description("Acknowledge an item: the owner is on it."),
  ).action((id: string, flags: Record<string, string | undefined>) =>
    change(flags, id, () => ({ state: "acknowledged", ...(flags.note ? { note: flags.note } : {}) })),
  );

  local(
    rem
      .command("accept")
      .argument("<id>", "item id")
      .requiredOption("--reason <text>", "why the risk is accepted")
      .option("--until <date>", "expiry (ISO 8601 date); the item reopens then")
      .option("--days <n>", "expiry in days from now, instead of --until")
      .option("--by <name>", BY_HELP)
      .description("Accept the risk until an expiry; when it expires the item reopens."),
  ).action((id: string, flags: Record<string, string | undefined>) =>
    change(flags, id, (now) => {
      let until: number | undefined;
      if (flags.until !== undefined && flags.days !== undefined)
        throw new CliError("give --until or --days, not both");
      if (flags.until !== undefined) {
        until = parseIsoTime(flags.until);
        if (until === undefined)
          throw new CliError(`--until must be ${ISO_TIME_HINT}, got ${JSON.stringify(flags.until)}`);
      } else if (flags.days !== undefined) {
        if (
          !/^\d{1,4}$/.test(flags.days.trim()) ||
          Number(flags.days) < 1 ||
          Number(flags.days) > MAX_ACCEPTANCE_DAYS
        )
          throw new CliError(
            `--days must be a whole number of days from 1 to ${MAX_ACCEPTANCE_DAYS}, got ${JSON.stringify(flags.days)}`,
          );
        until = now + Number(flags.days) * 86_400_000;
      } else throw new CliError("accepting a risk needs an expiry: --until DATE or --days N");
      return { state: "accepted-risk", reason: flags.reason ?? "", until };
    }),
  );

  local(
    rem
      .command("fix")
      .argument("<id>", "item id")
      .option("--note <text>", "what was done (consumers moved to …)")
      .option("--by <name>", BY_HELP)
      .description(
        "Close an item as fixed (items also close by themselves when the file is admitted again).",
      ),
  ).action((id: string, flags: Record<string, string | undefined>) =>
    change(flags, id, () => ({ state: "fixed", ...(flags.note ? { note: flags.note } : {}) })),
  );

  local(
    rem
      .command("report")
      .description("Open items by age and severity, overdue items, mean time to remediate.")
      .option("--json", "print JSON"),
  ).action(async (flags: Record<string, string | boolean | undefined>) => {
    const remote = remoteOf(flags);
    const r = remote
      ? await callGateway<RemediationReport>(remote.gateway, remote.token, "api/v1/remediation/report")
      : await withLocalServices(flags, (s) => s.remediation.report());
    if (flags.json) {
      process.stdout.write(JSON.stringify(r, null, 2) + "\n");
      return;
    }
    const out = [
      inert`remediation report at ${r.at}`,
      inert`  open: ${r.openTotal} (${r.overdue} overdue)   accepted risk: ${r.acceptedRisk}   fixed: ${r.fixed}`,
      inert`  mean time to remediate: ${r.meanTimeToRemediateHours === null ? "-" : `${r.meanTimeToRemediateHours} h`}`,
    ];
    if (r.open.length) out.push("  open by age and severity:");
    // From --gateway: the report is the remote's word, printed as inert as the rest.
    for (const b of r.open) out.push(inert`    ${b.bucket.padEnd(7)} ${b.severity.padEnd(9)} ${b.count}`);
    process.stdout.write(out.join("\n") + "\n");
  });
}
