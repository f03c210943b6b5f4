import { statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { relative } from "node:path";
import type { Command } from "commander";
import type { ReportedDistribution } from "../adapters/db/environment-repository.js";
import { toJUnit, toSarif } from "../services/discovery/ci-report.js";
import { toCycloneDx } from "../services/discovery/cyclonedx-writer.js";
import { buildEnvironmentSbom, PORTCULLIS_VERSION } from "../services/discovery/sbom-builder.js";
import {
  formatScan,
  scan,
  scanFailed,
  scanFindings,
  type ScanResult,
} from "../services/discovery/scan-service.js";
import { toSpdx } from "../services/discovery/spdx-writer.js";
import { CliError } from "./cli-error.js";
import { withInventoryChecker } from "./discovery-client.js";
import { addLocalOptions, addRemoteOptions, callGateway, remoteGateway } from "./local-services.js";
import { escapeControlCharactersExceptLineFeeds, inert } from "../domain/control-characters.js";

/** Paths as printed and in CI reports: relative to the working directory when inside it. */
function relativePath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === "" ? "." : rel.startsWith("..") ? path : rel;
}

/** What `--report` sends for one environment. */
function reportBody(e: ScanResult["environments"][number], owner: string | undefined) {
  const distributions: ReportedDistribution[] = e.distributions.map((d) => ({
    name: d.distribution.name.slice(0, 200),
    version: d.distribution.version.slice(0, 256),
    status: d.status,
    reason: d.reason.slice(0, 2000),
    ...(d.file ? { sha256: d.file.sha256 } : {}),
  }));
  return {
    host: hostname(),
    path: e.environment.path,
    kind: e.environment.kind,
    ...(e.environment.pythonVersion ? { pythonVersion: e.environment.pythonVersion } : {}),
    ...(owner ? { owner } : {}),
    distributions,
  };
}

/** `portcullis scan`: find what is installed on a machine and what of it never went through the gate. */
export function registerScanCommand(program: Command): void {
  const cmd = program
    .command("scan")
    .argument("<paths...>", "directories to walk")
    .description(
      "Walk directories for virtual environments (pyvenv.cfg), conda environments (conda-meta), site-packages, requirements files and pyproject.toml; inventory every installed distribution and judge it against the catalog: admitted, blocked, quarantined, pending, not in catalog, or hash differs (its RECORD does not match the admitted wheel's, or its installed files' bytes no longer match RECORD). Exits 1 when anything did not pass the gate.",
    )
    .option(
      "--report",
      "send each environment's inventory to the gateway (POST /api/v1/environments; requester role)",
    )
    .option("--owner <team>", "with --report: the team that owns these environments")
    .option("--sbom <file>", "write an SBOM of everything installed")
    .option("--format <format>", "SBOM format: cyclonedx or spdx", "cyclonedx")
    .option("--sarif <file>", "write a SARIF 2.1.0 log (code-scanning dashboards)")
    .option("--junit <file>", "write JUnit XML (CI test reports)")
    .option("--json", "print the result as JSON");
  addRemoteOptions(addLocalOptions(cmd)).action(async (paths: string[], flags: Record<string, unknown>) => {
    const format = flags.format as string;
    if (format !== "cyclonedx" && format !== "spdx")
      throw new CliError(`--format must be cyclonedx or spdx, not ${JSON.stringify(format)}`);
    for (const p of paths) {
      let dir = false;
      try {
        dir = statSync(p).isDirectory();
      } catch (err) {
        throw new CliError(
          `${p}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such directory" : (err as Error).message}`,
        );
      }
      if (!dir) throw new CliError(`${p}: not a directory (scan walks directories)`);
    }
    const gateway = remoteGateway(flags);
    if (flags.report && !gateway) throw new CliError("--report needs --gateway URL (or PORTCULLIS_GATEWAY)");
    if (flags.owner && !flags.report) throw new CliError("--owner applies only with --report");
    const { result, policyVersion } = await withInventoryChecker(flags, async (check, policy) => ({
      result: await scan(paths, check),
      policyVersion: policy(),
    }));
    for (const p of result.tree.problems)
      process.stderr.write(inert`${p.path}: not readable: ${p.message}\n`);
    if (flags.json) {
      process.stdout.write(
        JSON.stringify(
          {
            checked: result.checked,
            failed: scanFailed(result),
            environments: result.environments.map((e) => ({
              ...e.environment,
              distributions: e.distributions.map((d) => ({
                name: d.distribution.name,
                version: d.distribution.version,
                status: d.status,
                reason: d.reason,
                ...(d.file ? { file: d.file } : {}),
                location: d.distribution.location,
              })),
              problems: e.problems,
            })),
            manifests: result.manifests,
          },
          null,
          2,
        ) + "\n",
      );
    }
    // Names, versions and paths come from the scanned environments' own files.
    else process.stdout.write(escapeControlCharactersExceptLineFeeds(formatScan(result, relativePath)));

    if (flags.sbom) {
      const doc = buildEnvironmentSbom(
        result.environments.flatMap((e) => e.distributions),
        paths.join(" "),
        Date.now,
        policyVersion,
      );
      writeFileSync(
        flags.sbom as string,
        format === "spdx" ? JSON.stringify(toSpdx(doc), null, 2) + "\n" : (await toCycloneDx(doc)) + "\n",
      );
    }
    const findings = scanFindings(result, relativePath);
    if (flags.sarif)
      writeFileSync(
        flags.sarif as string,
        JSON.stringify(toSarif(findings, PORTCULLIS_VERSION), null, 2) + "\n",
      );
    if (flags.junit) writeFileSync(flags.junit as string, toJUnit(findings, "portcullis scan"));
    if (flags.report && gateway) {
      for (const e of result.environments) {
        const saved = await callGateway<{ id: number; ungoverned: number }>(
          gateway.url,
          gateway.token,
          "api/v1/environments",
          {
            method: "POST",
            body: reportBody(e, flags.owner as string | undefined),
          },
        );
        process.stderr.write(`reported ${relativePath(e.environment.path)} as environment ${saved.id}\n`);
      }
    }
    if (scanFailed(result)) process.exitCode = 1;
  });
}
