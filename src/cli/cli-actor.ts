import { userInfo } from "node:os";
import { CLI_ACTOR, type Actor } from "../domain/identity.js";
import { IdentityError } from "../services/identity/identity-service.js";
import { CliError } from "./cli-error.js";

/** The actor of a local command: an admin by holding the data directory, named after the OS user for the audit trail. */
export function cliActor(): Actor {
  let name = "cli";
  try {
    name = `cli:${userInfo().username}`;
  } catch {
    // No passwd entry (some containers): the generic name still says it came from the CLI.
  }
  return { ...CLI_ACTOR, user: name };
}

/** Turns an identity refusal into a CLI error (usage errors exit 2, the rest 1). */
export function asCliError(err: unknown): never {
  if (err instanceof IdentityError) throw new CliError(err.message, err.code === "VALIDATION" ? 2 : 1);
  throw err;
}
