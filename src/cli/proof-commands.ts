import type { Command } from "commander";

/** The CLI commands of the decision attestations and upstream provenance feature; one file per command, registered here. */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export function registerProofCommands(program: Command): void {}
