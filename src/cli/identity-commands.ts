import type { Command } from "commander";
import { registerAuditCommand } from "./audit-command.js";
import { registerDriftCommand } from "./drift-command.js";
import { registerOwnerCommand } from "./owner-command.js";
import { registerTokenCommand } from "./token-command.js";
import { registerTeamCommand } from "./team-command.js";
import { registerUserCommand } from "./user-command.js";
import { registerWhoHasCommand } from "./who-has-command.js";

/** The CLI commands of the identity, tokens, the audit trail and inventory feature; one file per command, registered here. */
export function registerIdentityCommands(program: Command): void {
  registerTokenCommand(program);
  registerUserCommand(program);
  registerTeamCommand(program);
  registerOwnerCommand(program);
  registerAuditCommand(program);
  registerWhoHasCommand(program);
  registerDriftCommand(program);
}
