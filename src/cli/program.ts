import { Command, CommanderError } from "commander";
import { ConfigError } from "../config/options.js";
import { CliError, explainDatabaseError } from "./cli-error.js";
import { registerClientConfigCommand } from "./client-config-command.js";
import { registerDemoCommand } from "./demo-command.js";
import { registerExplainCommand } from "./explain-command.js";
import { registerIntelCommand } from "./intel-command.js";
import { registerServeCommand } from "./serve-command.js";
import { registerVetCommand } from "./vet-command.js";
import { registerIdentityCommands } from "./identity-commands.js";
import { registerGovernanceCommands } from "./governance-commands.js";
import { registerProofCommands } from "./proof-commands.js";
import { registerDiscoveryCommands } from "./discovery-commands.js";
import { registerConsoleCommands } from "./console-commands.js";

/** Builds the `portcullis` command tree; each command lives in its own file. */
export function buildProgram(): Command {
  const program = new Command("portcullis")
    .description("A governed Python package gateway: a PyPI-compatible index that vets what it serves.")
    .version("0.1.0")
    // Its options only before a command: `requests exception 2 --version 2.31.0` is the
    // command's own --version, not the program's (which printed 0.1.0 and granted nothing).
    .enablePositionalOptions()
    .showHelpAfterError("(add --help for usage)")
    .exitOverride();
  registerServeCommand(program);
  registerClientConfigCommand(program);
  registerIntelCommand(program);
  registerExplainCommand(program);
  registerDemoCommand(program);
  registerVetCommand(program);
  registerIdentityCommands(program);
  registerGovernanceCommands(program);
  registerProofCommands(program);
  registerDiscoveryCommands(program);
  registerConsoleCommands(program);
  return program;
}

export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    // Commander has printed its message: a bad command line is a usage error (2), never the 1
    // that means "refused" or "not intact" (e.g. `audit verify`), so scripts can tell them apart.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof CliError || err instanceof ConfigError) {
      process.stderr.write(`portcullis: ${err.message}\n`);
      return err instanceof CliError ? err.exitCode : 2;
    }
    const database = explainDatabaseError(err);
    if (database) {
      process.stderr.write(`portcullis: ${database}\n`);
      return 1;
    }
    process.stderr.write(`portcullis: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}
