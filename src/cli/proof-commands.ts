import type { Command } from "commander";
import { registerKeysCommand } from "./keys-command.js";
import { registerProvenanceCommand } from "./provenance-command.js";
import { registerVerifyCommand } from "./verify-command.js";

/** Where the proof commands print (stdout; tests pass their own). */
export interface CommandOutput {
  write(text: string): unknown;
}

/** The CLI commands of the decision attestations and upstream provenance feature; one file per command, registered here. */
export function registerProofCommands(program: Command, out: CommandOutput = process.stdout): void {
  registerVerifyCommand(program, out);
  registerKeysCommand(program, out);
  registerProvenanceCommand(program, out);
}
