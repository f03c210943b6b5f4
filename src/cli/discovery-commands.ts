import type { Command } from "commander";

/** The CLI commands of the SBOMs, locks and environments reported by scan feature; one file per command, registered here. */
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export function registerDiscoveryCommands(program: Command): void {}
