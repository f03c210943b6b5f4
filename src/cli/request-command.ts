import type { Command } from "commander";
import { isValidProjectName } from "../domain/project-name.js";
import { CliError } from "./cli-error.js";
import { pep440Version } from "./explain-command.js";
import { addLocalOptions, addRemoteOptions } from "./local-services.js";
import { formatRequest, onGatewayOrLocal, viewOf, type RequestView } from "./request-client.js";

/** `NAME` or `NAME==VERSION`, the version in its PEP 440 normal form. */
export function parseRequestTarget(spec: string): { project: string; version?: string } {
  const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==\s*([^\s=]+))?\s*$/.exec(spec);
  if (!m || !isValidProjectName(m[1]!))
    throw new CliError(`expected NAME or NAME==VERSION, got ${JSON.stringify(spec)}`);
  return { project: m[1]!, ...(m[2] ? { version: pep440Version(m[2]) } : {}) };
}

/** `portcullis request NAME[==VERSION] --reason "..."`: ask for a package to enter the catalog. */
export function registerRequestCommand(program: Command): void {
  addLocalOptions(
    addRemoteOptions(
      program
        .command("request")
        .argument("<package>", "NAME or NAME==VERSION (a PEP 440 version, normalised: 1.0-RC1 is 1.0rc1)")
        .requiredOption("--reason <text>", "why you need it (shown to the approvers)")
        .option("--json", "print the request as JSON")
        .description(
          "Request a package: it is vetted at once with its whole dependency tree; approved when policy admits everything, else it waits for an approver (exit code 3 while pending).",
        )
        .addHelpText(
          "after",
          `
Examples:
  portcullis request httpx==0.28.1 --reason "HTTP/2 client for the ingest job" --gateway https://pypi.corp --token $T
  portcullis requests list --state pending --gateway https://pypi.corp --token $T`,
        ),
    ),
  ).action(async (spec: string, flags: Record<string, string | boolean | undefined>) => {
    const target = parseRequestTarget(spec);
    const reason = String(flags.reason ?? "").trim();
    if (!reason) throw new CliError("--reason must not be empty");
    const body = { ...target, reason };
    const r = await onGatewayOrLocal<RequestView>(
      flags,
      (call) => call("api/v1/requests", { method: "POST", body }),
      async (s, actor) => viewOf(await s.requests.create(actor, body)),
    );
    process.stdout.write(flags.json ? JSON.stringify(r, null, 2) + "\n" : formatRequest(r));
    if (r.state === "pending") process.exitCode = 3;
  });
}
