import type { Command } from "commander";
import {
  WhoHasNotFound,
  parseWhoHasQuery,
  type WhoHasResult,
} from "../services/identity/inventory-service.js";
import { CliError } from "./cli-error.js";
import { inert } from "../domain/control-characters.js";
import {
  addLocalOptions,
  addRemoteOptions,
  callGateway,
  withLocalServices,
  remoteGateway,
} from "./local-services.js";

/** `portcullis who-has ID|NAME==VERSION|NAME`: who pulled it, when last, and who owns it. */
export function registerWhoHasCommand(program: Command): void {
  const cmd = program
    .command("who-has")
    .argument("<query>", "an advisory id (PYSEC-…, GHSA-…, CVE-…, MAL-…), NAME==VERSION, or NAME")
    .description(
      "Who pulled the files an advisory affects, a release, or a project: identities, addresses, applications, clients, last-pulled time and the project's owning team.",
    )
    .option("--json", "print JSON");
  addRemoteOptions(addLocalOptions(cmd)).action(
    async (query: string, flags: Record<string, string | boolean | undefined>) => {
      try {
        parseWhoHasQuery(query);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      const gateway = remoteGateway(flags);
      let result: WhoHasResult;
      if (gateway) {
        result = await callGateway<WhoHasResult>(
          gateway.url,
          gateway.token,
          `api/v1/who-has?q=${encodeURIComponent(query)}`,
        );
      } else {
        result = await withLocalServices(flags, (s) =>
          s.inventory.whoHas(query).catch((err: Error) => {
            throw new CliError(err.message, err instanceof WhoHasNotFound ? 1 : 2);
          }),
        );
      }
      if (flags.json) {
        process.stdout.write(JSON.stringify(result, null, 2) + "\n");
        return;
      }
      process.stdout.write(formatWhoHas(result));
    },
  );
}

/** Plain text; every value is escaped (`inert`): client labels, applications and summaries come from outside. */
export function formatWhoHas(r: WhoHasResult): string {
  const lines: string[] = [];
  if (r.advisory) {
    // `ids` is absent from a gateway older than this CLI.
    const also = (r.advisory.ids ?? []).filter((id) => id !== r.advisory!.id);
    lines.push(
      inert`${r.advisory.id}${also.length ? ` (${also.join(", ")})` : ""}${r.advisory.summary ? `: ${r.advisory.summary}` : ""}`,
    );
    for (const a of r.advisory.affected)
      lines.push(
        inert`  affects ${a.project} ${a.versions.length ? a.versions.join(", ") : "(no pulled version affected)"}`,
      );
  }
  if (r.consumers.length === 0) {
    lines.push(inert`nobody pulled ${r.advisory ? "an affected file" : r.query} through this gateway`);
    return lines.join("\n") + "\n";
  }
  lines.push(`${r.consumers.length} consumer(s):`);
  for (const c of r.consumers) {
    const who = c.identity ?? `anonymous@${c.ip}`;
    lines.push(
      inert`  ${who}${c.team ? ` (team ${c.team})` : ""}  ${c.project}==${c.version}  last pulled ${c.lastPulled}  ×${c.pulls}` +
        inert`  from ${c.ip}${c.application ? `  app ${c.application}` : ""}${c.client ? `  ${c.client}` : ""}` +
        inert`  owner ${c.owner ?? "(none)"}`,
    );
  }
  return lines.join("\n") + "\n";
}
