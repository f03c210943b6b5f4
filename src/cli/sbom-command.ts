import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { parsePylock, pylockRequirements, PylockError } from "../domain/pylock.js";
import type { Services } from "../main.js";
import { toCycloneDx } from "../services/discovery/cyclonedx-writer.js";
import { findEnvironments } from "../services/discovery/environment-finder.js";
import { governDistribution } from "../services/discovery/inventory-check.js";
import {
  buildCatalogSbom,
  buildEnvironmentSbom,
  buildRequirementsSbom,
  SbomResolutionError,
} from "../services/discovery/sbom-builder.js";
import type { SbomDocument } from "../services/discovery/sbom-document.js";
import { inventoryOf } from "../services/discovery/scan-service.js";
import { toSpdx } from "../services/discovery/spdx-writer.js";
import { parseTarget, TargetError, type TargetEnvironment } from "../services/resolver/target-environment.js";
import { collectRequirements } from "./vet-command.js";
import { CliError } from "./cli-error.js";
import { withInventoryChecker } from "./discovery-client.js";
import {
  addLocalOptions,
  addRemoteOptions,
  callGateway,
  remoteGateway,
  withLocalServices,
} from "./local-services.js";
import { inert } from "../domain/control-characters.js";

type Format = "cyclonedx" | "spdx";

async function serialise(doc: SbomDocument, format: Format): Promise<string> {
  return format === "spdx" ? JSON.stringify(toSpdx(doc), null, 2) + "\n" : (await toCycloneDx(doc)) + "\n";
}

/** Requirements of a `-r` file: a requirements.txt, or a PEP 751 pylock.toml (by its name). */
async function requirementsFromFile(file: string): Promise<{ requirements: string[]; pylock?: string }> {
  if (!/(^|[/\\])pylock\.([^/\\]+\.)?toml$/.test(file) && !file.endsWith(".toml"))
    return { requirements: collectRequirements([], [file]) };
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const { parse } = await import("smol-toml");
  try {
    return { requirements: pylockRequirements(parsePylock(parse(text))), pylock: text };
  } catch (err) {
    if (err instanceof PylockError || err instanceof Error)
      throw new CliError(`${file}: ${err.message.split("\n")[0]}`);
    throw err;
  }
}

function targetOf(flags: Record<string, unknown>): TargetEnvironment {
  try {
    return parseTarget({
      ...(flags.python ? { python: flags.python as string } : {}),
      ...(flags.platform ? { platform: flags.platform as string } : {}),
    });
  } catch (err) {
    if (err instanceof TargetError) throw new CliError(err.message);
    throw err;
  }
}

/** `portcullis sbom`: a CycloneDX 1.6 or SPDX 2.3 SBOM of an environment, requirements, or the catalog. */
export function registerSbomCommand(program: Command): void {
  const cmd = program
    .command("sbom")
    .description(
      "Write an SBOM (CycloneDX 1.6 or SPDX 2.3 JSON) to stdout: of an installed environment (--env), of requirements or a pylock.toml resolved against admitted files (-r), or of the whole catalog (--catalog). Components carry purls, sha256 hashes, licences, the dependency graph and VEX states from the gateway's decisions.",
    )
    .option("--env <dir>", "a virtual environment, conda prefix or site-packages directory")
    .option("-r, --requirement <file>", "a requirements file, or a PEP 751 pylock.toml")
    .option("--catalog", "the whole catalog the gateway has judged")
    .option("--format <format>", "cyclonedx or spdx", "cyclonedx")
    .option("--python <version>", "-r: target Python version (default 3.12)")
    .option(
      "--platform <platform>",
      "-r: target platform, e.g. linux, macos-arm64, windows (default linux-x86_64)",
    )
    .option("-o, --output <file>", "write to a file instead of stdout");
  addRemoteOptions(addLocalOptions(cmd)).action(async (flags: Record<string, unknown>) => {
    const format = flags.format as string;
    if (format !== "cyclonedx" && format !== "spdx")
      throw new CliError(`--format must be cyclonedx or spdx, not ${JSON.stringify(format)}`);
    const sources = [flags.env, flags.requirement, flags.catalog].filter((x) => x !== undefined);
    if (sources.length !== 1) throw new CliError("give exactly one of --env DIR, -r FILE or --catalog");
    const gateway = remoteGateway(flags);
    let text: string;
    if (flags.env !== undefined) {
      const dir = flags.env as string;
      const tree = await findEnvironments([dir]);
      if (!tree.environments.length)
        throw new CliError(
          `${dir}: no environment found (a pyvenv.cfg, conda-meta or site-packages with *.dist-info)`,
        );
      text = await withInventoryChecker(flags, async (check, policyVersion) => {
        const inventories = await Promise.all(tree.environments.map((e) => inventoryOf(e)));
        const dists = inventories.flatMap((i) => i.distributions);
        for (const i of inventories)
          for (const p of i.problems) process.stderr.write(inert`${p.location}: skipped: ${p.message}\n`);
        const verdicts = check
          ? await check(
              dists.map((d) => ({ name: d.name, version: d.version })),
              { records: true },
            )
          : [];
        const governed = dists.map((d, i) => governDistribution(d, verdicts[i]));
        return serialise(buildEnvironmentSbom(governed, dir, Date.now, policyVersion()), format);
      });
    } else if (flags.requirement !== undefined) {
      const file = flags.requirement as string;
      const { requirements, pylock } = await requirementsFromFile(file);
      const target = targetOf(flags);
      if (gateway) {
        const doc = await callGateway<unknown>(gateway.url, gateway.token, "api/v1/sbom", {
          method: "POST",
          body: {
            ...(pylock !== undefined ? { pylock } : { requirements }),
            format,
            name: file,
            python: target.pythonVersion,
            platform: `${target.platform}-${target.machine}`,
          },
        });
        text = JSON.stringify(doc, null, 2) + "\n";
      } else {
        text = await withLocalServices(flags, async (s: Services) => {
          try {
            const { doc } = await buildRequirementsSbom(depsOf(s), requirements, target, file, s.now);
            return await serialise(doc, format);
          } catch (err) {
            if (err instanceof SbomResolutionError) throw new CliError(err.message, 1);
            throw err;
          }
        });
      }
    } else if (gateway) {
      const doc = await callGateway<unknown>(
        gateway.url,
        gateway.token,
        `api/v1/sbom/catalog?format=${format}`,
      );
      text = JSON.stringify(doc, null, 2) + "\n";
    } else {
      text = await withLocalServices(flags, async (s) =>
        serialise(await buildCatalogSbom(depsOf(s), s.now), format),
      );
    }
    if (flags.output) writeFileSync(flags.output as string, text);
    else process.stdout.write(text);
  });
}

function depsOf(s: Services) {
  return { projects: s.projects, policy: s.policy, access: s.access, decisions: s.decisions };
}
