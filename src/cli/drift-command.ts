import type { Command } from "commander";
import { ISO_TIME_HINT, parseIsoTime } from "../domain/iso-time.js";
import type { ConsumerDrift } from "../services/identity/inventory-service.js";
import { CliError } from "./cli-error.js";
import { inert } from "../domain/control-characters.js";
import {
  addLocalOptions,
  addRemoteOptions,
  callGateway,
  remoteAdminGateway,
  withLocalServices,
} from "./local-services.js";

/** `portcullis drift`: what each consumer newly pulled this week (new projects, versions, downgrades). */
export function registerDriftCommand(program: Command): void {
  addRemoteOptions(
    addLocalOptions(
      program
        .command("drift")
        .description(
          "Posture drift per consumer (an identity with its application, from any address; an anonymous caller by its application, or by its address when it names none): what it pulled since --since (default 7 days ago) that it never pulled before: new projects, new versions, downgrades.",
        )
        .option("--since <time>", "ISO 8601 time, not in the future (default: 7 days ago)")
        .option("--json", "print JSON"),
    ),
  ).action(async (flags: Record<string, string | boolean | undefined>) => {
    let since: number | undefined;
    if (flags.since !== undefined) {
      since = parseIsoTime(String(flags.since));
      if (since === undefined)
        throw new CliError(`--since must be ${ISO_TIME_HINT}, got ${JSON.stringify(flags.since)}`);
    }
    const future = () =>
      new CliError(`--since ${String(flags.since)} is in the future: nothing could have been pulled since`);
    const remote = remoteAdminGateway(flags);
    let drift: ConsumerDrift[];
    if (remote) {
      // Judged by this machine's clock: the gateway would answer "no drift" rather than refuse.
      if (since !== undefined && since > Date.now()) throw future();
      // The time as the API reads it (a calendar date alone is not an RFC 3339 date-time); without
      // one, the gateway's own 7 days ago.
      const answer = await callGateway<{ since: string; items: ConsumerDrift[] }>(
        remote.url,
        remote.token,
        `api/v1/inventory/drift${since === undefined ? "" : `?since=${encodeURIComponent(new Date(since).toISOString())}`}`,
      );
      // The local service's shape and key order, whatever order the answer's keys came in.
      drift = answer.items.map((d) => ({
        identity: d.identity,
        ip: d.ip,
        application: d.application,
        team: d.team,
        changes: d.changes.map((c) => ({
          kind: c.kind,
          project: c.project,
          version: c.version,
          previous: c.previous,
          filename: c.filename,
          firstPulled: c.firstPulled,
        })),
      }));
    } else {
      drift = await withLocalServices(flags, (s) => {
        if (since !== undefined && since > s.now()) throw future();
        return s.inventory.drift(since ?? s.now() - 7 * 86_400_000);
      });
    }
    if (flags.json) {
      process.stdout.write(JSON.stringify(drift, null, 2) + "\n");
      return;
    }
    process.stdout.write(formatDrift(drift));
  });
}

/** Plain text; every value is escaped (`inert`): applications come from a request header. */
export function formatDrift(drift: ConsumerDrift[]): string {
  if (drift.length === 0) return "no drift: nobody pulled anything new\n";
  const lines: string[] = [];
  for (const d of drift) {
    lines.push(
      inert`${d.identity ?? `anonymous@${d.ip}`}${d.application ? ` [${d.application}]` : ""}${d.team ? ` (team ${d.team})` : ""}:`,
    );
    for (const c of d.changes)
      lines.push(
        inert`  ${c.kind.padEnd(11)} ${c.project}==${c.version}${c.previous ? ` (had ${c.previous})` : ""}  first pulled ${c.firstPulled}`,
      );
  }
  return lines.join("\n") + "\n";
}
