import type { Command } from "commander";
import { isValidProjectName, normalizeProjectName } from "../domain/project-name.js";
import { normalizeVersion } from "../domain/version.js";
import type { Decision } from "../policy/decision.js";
import { decisionsFor, formatExplanation, nearestAdmittedVersion } from "../services/explain.js";
import { GatewayError } from "../services/gateway-error.js";
import { escapeControlCharactersExceptLineFeeds } from "../domain/control-characters.js";
import { CliError } from "./cli-error.js";
import {
  addLocalOptions,
  addRemoteOptions,
  callGateway,
  withLocalServices,
  remoteGateway,
} from "./local-services.js";

/** Splits `name==version`, refusing anything else; both come back normalised (PEP 503, PEP 440). */
export function parsePin(text: string): { project: string; version: string } {
  const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;,]+)\s*$/.exec(text);
  if (!m || !isValidProjectName(m[1]!))
    throw new CliError(`expected NAME==VERSION, got ${JSON.stringify(text)}`);
  return { project: normalizeProjectName(m[1]!), version: pep440Version(m[2]!) };
}

/**
 * The PEP 440 normal form of a version given on the command line (`1.0-RC1` → `1.0rc1`,
 * `v1.0` → `1.0`).
 *
 * @throws {CliError} (exit 2) when it is not a PEP 440 version
 */
export function pep440Version(text: string): string {
  const normalized = normalizeVersion(text);
  if (normalized === null)
    throw new CliError(`${JSON.stringify(text)} is not a valid version (PEP 440), e.g. 2.31.0 or 1.0rc1`);
  return normalized;
}

/** `portcullis explain NAME==VERSION`: why a version is admitted or refused, with evidence. */
export function registerExplainCommand(program: Command): void {
  const cmd = program
    .command("explain")
    .argument("<pin>", "NAME==VERSION (a PEP 440 version; matched as PEP 440 does: 2.19.0.0 is 2.19.0)")
    .description(
      "Explain in plain words why a version is admitted or refused: the checks, the advisories, the evidence, and what to use instead.",
    )
    .option("--json", "print the decision records as JSON");
  addRemoteOptions(addLocalOptions(cmd)).action(
    async (pin: string, flags: Record<string, string | boolean | undefined>) => {
      const { project, version } = parsePin(pin);
      const gateway = remoteGateway(flags);
      let decisions: Decision[];
      let alternative: string | undefined;
      if (gateway) {
        const body = await callGateway<{ decisions: Decision[]; alternative?: string }>(
          gateway.url,
          gateway.token,
          `api/v1/decisions?project=${encodeURIComponent(project)}&version=${encodeURIComponent(version)}`,
        );
        decisions = body.decisions;
        alternative = body.alternative;
      } else {
        const result = await withLocalServices(flags, async (s) => {
          const found = await decisionsFor(
            { decisions: s.decisions, projects: s.projects, policy: s.policy },
            project,
            version,
          ).catch(unreachableUpstream);
          if (found === null) throw new CliError(`no project named ${project} on the upstream`, 1);
          const view = await s.projects.getRawProject(project).catch(unreachableUpstream);
          const stored = new Map((await s.decisions.byProject(project)).map((d) => [d.sha256, d]));
          return { found, alt: view ? nearestAdmittedVersion(view, version, s.policy, stored) : undefined };
        });
        decisions = result.found;
        alternative = result.alt;
      }
      if (flags.json) {
        process.stdout.write(JSON.stringify({ project, version, decisions, alternative }, null, 2) + "\n");
        return;
      }
      // Advisory summaries and upstream text are quoted: nothing in them may repaint the terminal.
      process.stdout.write(
        escapeControlCharactersExceptLineFeeds(formatExplanation(project, version, decisions, alternative)),
      );
      if (decisions.length === 0) process.exitCode = 1;
    },
  );
}

/** The upstream could not be asked (exit 1, no stack trace): say so, and how to name another. */
function unreachableUpstream(err: unknown): never {
  if (err instanceof GatewayError && err.code === "UPSTREAM_UNAVAILABLE")
    throw new CliError(
      `${err.message} (name the upstream with --upstream or PORTCULLIS_UPSTREAM, or ask a running gateway with --gateway)`,
      1,
    );
  throw err;
}
