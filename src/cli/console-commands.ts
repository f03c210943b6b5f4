import type { Command } from "commander";
import { registerRequestCommand } from "./request-command.js";
import { registerRequestsCommand } from "./requests-command.js";

/** The CLI commands of the requests and approvals feature; one file per command, registered here. */
export function registerConsoleCommands(program: Command): void {
  registerRequestCommand(program);
  registerRequestsCommand(program);
}
