import type { Command } from "commander";

/** The CLI commands of the requests and approvals feature; one file per command, registered here. */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export function registerConsoleCommands(program: Command): void {}
