import { Command, CommanderError } from "commander";
import { ConfigError, OPTIONS } from "../config/options.js";
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
import {
  escapeControlCharactersExceptLineFeeds,
  hasControlCharacters,
} from "../domain/control-characters.js";

/**
 * An option given an empty value (`--port ""`, `--python ""`) is a mistake, not "the default":
 * coerced, it would become port 0 or no target at all. Only the configuration options whose
 * default is empty (`--database ""`: the embedded SQLite) and list options (`--intel-sync ""`: no
 * scheduled sync) take one. Nor does any option take control characters.
 */
function refuseEmptyOptions(command: Command): void {
  const values = command.opts<Record<string, unknown>>();
  for (const option of command.options) {
    const name = option.attributeName();
    const value = values[name];
    if (typeof value !== "string") continue;
    // Labels, reasons and names are stored and printed back in lists: an escape sequence or a
    // line break there would repaint the terminal or forge a line of output.
    if (hasControlCharacters(value))
      throw new CliError(
        `${option.long ?? option.flags} must not contain control characters (escape sequences, tabs or line breaks), got ${JSON.stringify(value)}`,
      );
    if (value.trim() !== "") continue;
    const spec = (OPTIONS as Record<string, { default: unknown } | undefined>)[name];
    // A list option takes "" for "none" (`--intel-sync ""`: no scheduled sync).
    const emptyAllowed = spec !== undefined && (spec.default === "" || Array.isArray(spec.default));
    if (emptyAllowed) continue;
    throw new CliError(`${option.long ?? option.flags} must not be empty`);
  }
}

/** Builds the `portcullis` command tree; each command lives in its own file. */
export function buildProgram(): Command {
  const program = new Command("portcullis")
    .description("A governed Python package gateway: a PyPI-compatible index that vets what it serves.")
    .version("0.1.0")
    // Its options only before a command: `requests exception 2 --version 2.31.0` is the
    // command's own --version, not the program's (which printed 0.1.0 and granted nothing).
    .enablePositionalOptions()
    .showHelpAfterError("(add --help for usage)")
    .exitOverride()
    .hook("preAction", (_program, action) => refuseEmptyOptions(action));
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
    // Messages quote what came from outside (a gateway's error, a file's line, a stored value):
    // nothing in them may repaint the terminal. Their own line breaks stay.
    const say = (text: string) =>
      process.stderr.write(`portcullis: ${escapeControlCharactersExceptLineFeeds(text)}\n`);
    if (err instanceof CliError || err instanceof ConfigError) {
      say(err.message);
      return err instanceof CliError ? err.exitCode : 2;
    }
    const database = explainDatabaseError(err);
    if (database) {
      say(database);
      return 1;
    }
    say(`unexpected error: ${(err as Error).stack ?? String(err)}`);
    return 1;
  }
}
