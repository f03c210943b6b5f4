import type { Command } from "commander";
import { addLocalOptions, withLocalServices } from "./local-services.js";
import { asCliError, cliActor } from "./cli-actor.js";
import { inert } from "../domain/control-characters.js";
import { DISABLE_REASON_MAX, TOKEN_CACHE_MS, type UserView } from "../services/identity/identity-service.js";

/** How a running gateway's cache delays a change made here, in words. */
const WITHIN = `within ${TOKEN_CACHE_MS / 1000} s`;

/** "user alice" or "service account ci-nightly". */
function described(u: Pick<UserView, "kind" | "name">): string {
  return `${u.kind === "service" ? "service account" : "user"} ${u.name}`;
}

/** One line of `user list`: a disabled identity says since when, by whom and why. */
function listLine(u: UserView): string {
  const disabled = u.disabled
    ? `  (disabled ${u.disabledAt}${u.disabledBy ? ` by ${u.disabledBy}` : ""}${u.disabledReason ? `: ${u.disabledReason}` : ""})`
    : "";
  return inert`${u.name.padEnd(24)} ${u.kind.padEnd(8)} ${u.role.padEnd(9)} ${u.team ?? "-"}${disabled}\n`;
}

/** `portcullis user list|disable|enable`: users and service accounts. */
export function registerUserCommand(program: Command): void {
  const user = program
    .command("user")
    .description(
      "Users and service accounts (created by `portcullis token create`); disable and enable them.",
    );
  addLocalOptions(
    user.command("list").description("List users and service accounts.").option("--json", "print JSON"),
  ).action(async (flags: Record<string, string | boolean | undefined>) => {
    const users = await withLocalServices(flags, (s) => s.identity.listUsers());
    if (flags.json) {
      process.stdout.write(JSON.stringify(users, null, 2) + "\n");
      return;
    }
    if (users.length === 0) process.stdout.write("no users\n");
    for (const u of users) process.stdout.write(listLine(u));
  });

  addLocalOptions(
    user
      .command("disable")
      .argument("<name>", "the user or service account")
      .description(
        `Disable a user or service account (offboarding, a leaked token): every token it holds is refused by every gateway instance ${WITHIN}, until \`user enable\`. Its tokens are kept.`,
      )
      .option(
        "--reason <text>",
        `why, kept with the identity (user list) and in the audit trail (1-${DISABLE_REASON_MAX} characters, no control characters)`,
      ),
  ).action(async (name: string, flags: Record<string, string | boolean | undefined>) => {
    const reason = (flags.reason as string | undefined) ?? null;
    const { disabled, active, adminsLeft } = await withLocalServices(flags, async (s) => {
      const view = await s.identity.disableIdentity(name, reason, cliActor()).catch(asCliError);
      const tokens = (await s.identity.listTokens(name)).filter((t) => t.state === "disabled").length;
      const admins = (await s.identity.listUsers()).filter((u) => u.role === "admin" && !u.disabled).length;
      return { disabled: view, active: tokens, adminsLeft: admins };
    });
    process.stdout.write(
      inert`disabled ${described(disabled)}: its ${active} active token(s) are refused by every gateway ${WITHIN}\n`,
    );
    // Not refused: offboarding the only admin must not wait, and this command (on the database
    // itself) is the way back in. Said, so nobody is surprised that the API has no admin left.
    if (disabled.role === "admin" && adminsLeft === 0)
      process.stderr.write(
        "Note: no enabled admin remains for the API; enable one (portcullis user enable NAME) or make one (portcullis token create --user NAME --role admin).\n",
      );
  });

  addLocalOptions(
    user
      .command("enable")
      .argument("<name>", "the user or service account")
      .description(
        `Enable a disabled user or service account: its tokens that are neither revoked nor expired work again ${WITHIN}.`,
      ),
  ).action(async (name: string, flags: Record<string, string | boolean | undefined>) => {
    const { enabled, active } = await withLocalServices(flags, async (s) => {
      const view = await s.identity.enableIdentity(name, cliActor()).catch(asCliError);
      const tokens = (await s.identity.listTokens(name)).filter((t) => t.state === "active").length;
      return { enabled: view, active: tokens };
    });
    process.stdout.write(
      inert`enabled ${described(enabled)}: its ${active} active token(s) work again ${WITHIN}\n`,
    );
  });
}
