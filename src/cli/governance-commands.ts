import type { Command } from "commander";
import { registerRemediationCommand } from "./remediation-command.js";
import { registerWebhookCommand } from "./webhook-command.js";

/** The CLI commands of the remediation items and webhooks feature; one file per command, registered here. */
export function registerGovernanceCommands(program: Command): void {
  registerRemediationCommand(program);
  registerWebhookCommand(program);
}
