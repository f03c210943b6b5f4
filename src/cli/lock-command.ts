import { realpathSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import type { LockResult } from "../services/discovery/lock-builder.js";
import { parseTarget, TargetError } from "../services/resolver/target-environment.js";
import { formatVetReport } from "../services/vet.js";
import { CliError } from "./cli-error.js";
import { addRemoteOptions, callGateway, remoteGateway } from "./local-services.js";
import { collectRequirements } from "./vet-command.js";
import { escapeControlCharactersExceptLineFeeds } from "../domain/control-characters.js";

/** The real path of `path`, or of its directory joined with its name when it does not exist yet. */
function realPathOf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(resolve(path))), basename(path));
    } catch {
      return resolve(path);
    }
  }
}

/** `-o` naming the input itself (or a link to it) would replace the requirements with the lock. */
function refuseOverwritingInput(input: string, output: string): void {
  if (output.trim() === "") throw new CliError("-o/--output must name a file");
  if (realPathOf(input) === realPathOf(output))
    throw new CliError(
      `-o ${output} is the input file ${input}: writing the lock there would replace your requirements; give another file (e.g. requirements.txt for requirements.in)`,
    );
}

/** `portcullis lock`: a fully pinned, hash-checked requirements.txt of admitted files only. */
export function registerLockCommand(program: Command): void {
  const cmd = program
    .command("lock")
    .argument("<file>", "a requirements.in (loose requirements)")
    .description(
      "Resolve requirements against the gateway's admitted files for one target environment and write a fully pinned requirements.txt with a --hash for every admitted file of each pinned version that fits the target; exits 1 when something cannot be admitted.",
    )
    .requiredOption(
      "-o, --output <file>",
      "where to write the pinned requirements.txt (not the input file itself)",
    )
    .option("--python <version>", "target Python version (default 3.12)")
    .option(
      "--platform <platform>",
      "target platform: linux, macos or windows, optionally -x86_64/-arm64 (default linux-x86_64)",
    );
  addRemoteOptions(cmd).action(async (file: string, flags: Record<string, unknown>) => {
    const gateway = remoteGateway(flags);
    if (!gateway) throw new CliError("lock needs --gateway URL (or PORTCULLIS_GATEWAY)");
    refuseOverwritingInput(file, flags.output as string);
    const requirements = collectRequirements([], [file]);
    let target;
    try {
      target = parseTarget({
        ...(flags.python ? { python: flags.python as string } : {}),
        ...(flags.platform ? { platform: flags.platform as string } : {}),
      });
    } catch (err) {
      if (err instanceof TargetError) throw new CliError(err.message);
      throw err;
    }
    const lock = await callGateway<LockResult>(gateway.url, gateway.token, "api/v1/lock", {
      method: "POST",
      body: { requirements, python: target.pythonVersion, platform: `${target.platform}-${target.machine}` },
    });
    if (!lock.ok) {
      process.stderr.write(escapeControlCharactersExceptLineFeeds(formatVetReport(lock.report)));
      throw new CliError(
        `${file}: not locked: ${lock.report.error ?? "some requirements are not admitted"}`,
        1,
      );
    }
    writeFileSync(flags.output as string, lock.text);
    process.stderr.write(
      `Locked ${lock.packages.length} packages (${lock.packages.reduce((n, p) => n + p.files.length, 0)} hashes) for ${lock.target} into ${flags.output as string}\n`,
    );
  });
}
