import type { Command } from "commander";

/** The CLI commands of the owners, remediation items and webhooks feature; one file per command, registered here. */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export function registerGovernanceCommands(program: Command): void {}
