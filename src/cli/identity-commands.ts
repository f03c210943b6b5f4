import type { Command } from "commander";

/** The CLI commands of the identity, tokens, the audit trail and inventory feature; one file per command, registered here. */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export function registerIdentityCommands(program: Command): void {}
