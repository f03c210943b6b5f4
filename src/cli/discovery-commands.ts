import type { Command } from "commander";
import { registerLockCommand } from "./lock-command.js";
import { registerSbomCommand } from "./sbom-command.js";
import { registerScanCommand } from "./scan-command.js";

/** The CLI commands of the SBOMs, locks and environments reported by scan feature; one file per command, registered here. */
export function registerDiscoveryCommands(program: Command): void {
  registerSbomCommand(program);
  registerLockCommand(program);
  registerScanCommand(program);
}
