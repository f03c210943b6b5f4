import { Command } from "commander";
import { registerGovernanceCommands } from "../../src/cli/governance-commands.js";

/**
 * Runs `portcullis ARGS` (the governance commands: remediation, webhook, …) in-process and returns
 * what it printed on stdout; a failure rejects with the command's CliError.
 */
export async function governanceCli(...args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerGovernanceCommands(program);
  let out = "";
  const write = process.stdout.write.bind(process.stdout);
  // The test runner reports to its parent over stdout in Buffers; the commands print strings.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    if (typeof chunk !== "string") return write(chunk, ...rest);
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(["node", "portcullis", ...args]);
  } finally {
    process.stdout.write = write;
  }
  return out;
}
