import type { Command } from "commander";
import {
  addLocalOptions,
  addRemoteOptions,
  allPages,
  callGateway,
  type GatewayTarget,
  remoteAdminGateway,
  withLocalServices,
} from "./local-services.js";
import { asCliError, cliActor } from "./cli-actor.js";
import { inert } from "../domain/control-characters.js";
import {
  checkDisableReason,
  checkUserName,
  DISABLE_REASON_MAX,
  TOKEN_CACHE_MS,
  type TokenInfo,
  type UserView,
} from "../services/identity/identity-service.js";

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

/** How many of an identity's tokens are in `state`, as the gateway lists them. */
async function remoteTokensIn(
  remote: GatewayTarget,
  name: string,
  state: TokenInfo["state"],
): Promise<number> {
  return (await allPages<TokenInfo>(remote, "api/v1/tokens", { user: name })).filter((t) => t.state === state)
    .length;
}

/** `portcullis user list|disable|enable`: users and service accounts. */
export function registerUserCommand(program: Command): void {
  const user = program
    .command("user")
    .description(
      "Users and service accounts (created by `portcullis token create`); disable and enable them.",
    );
  const options = (cmd: Command) => addRemoteOptions(addLocalOptions(cmd));
  options(
    user.command("list").description("List users and service accounts.").option("--json", "print JSON"),
  ).action(async (flags: Record<string, string | boolean | undefined>) => {
    const remote = remoteAdminGateway(flags);
    const users = remote
      ? await allPages<UserView>(remote, "api/v1/users")
      : await withLocalServices(flags, (s) => s.identity.listUsers());
    if (flags.json) {
      process.stdout.write(JSON.stringify(users, null, 2) + "\n");
      return;
    }
    if (users.length === 0) process.stdout.write("no users\n");
    for (const u of users) process.stdout.write(listLine(u));
  });

  options(
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
    const remote = remoteAdminGateway(flags);
    let outcome: { disabled: UserView; active: number; adminsLeft: number | undefined };
    if (remote) {
      // The service's checks, with its messages, before anything is sent (control characters and
      // an empty reason are refused for every option before the command runs).
      try {
        checkUserName(name);
        if (reason !== null) checkDisableReason(reason);
      } catch (err) {
        asCliError(err);
      }
      const disabled = await callGateway<UserView>(
        remote.url,
        remote.token,
        `api/v1/users/${encodeURIComponent(name)}/disable`,
        { method: "POST", body: reason !== null ? { reason } : {} },
      );
      // No count of the admins left: the API refuses an admin disabling itself, so the caller,
      // an enabled admin, always remains and the note below cannot apply.
      outcome = { disabled, active: await remoteTokensIn(remote, name, "disabled"), adminsLeft: undefined };
    } else {
      outcome = await withLocalServices(flags, async (s) => {
        const view = await s.identity.disableIdentity(name, reason, cliActor()).catch(asCliError);
        const tokens = (await s.identity.listTokens(name)).filter((t) => t.state === "disabled").length;
        const admins = (await s.identity.listUsers()).filter((u) => u.role === "admin" && !u.disabled).length;
        return { disabled: view, active: tokens, adminsLeft: admins };
      });
    }
    const { disabled, active, adminsLeft } = outcome;
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

  options(
    user
      .command("enable")
      .argument("<name>", "the user or service account")
      .description(
        `Enable a disabled user or service account: its tokens that are neither revoked nor expired work again ${WITHIN}.`,
      ),
  ).action(async (name: string, flags: Record<string, string | boolean | undefined>) => {
    const remote = remoteAdminGateway(flags);
    let outcome: { enabled: UserView; active: number };
    if (remote) {
      try {
        checkUserName(name);
      } catch (err) {
        asCliError(err);
      }
      const enabled = await callGateway<UserView>(
        remote.url,
        remote.token,
        `api/v1/users/${encodeURIComponent(name)}/enable`,
        { method: "POST" },
      );
      outcome = { enabled, active: await remoteTokensIn(remote, name, "active") };
    } else {
      outcome = await withLocalServices(flags, async (s) => {
        const view = await s.identity.enableIdentity(name, cliActor()).catch(asCliError);
        const tokens = (await s.identity.listTokens(name)).filter((t) => t.state === "active").length;
        return { enabled: view, active: tokens };
      });
    }
    const { enabled, active } = outcome;
    process.stdout.write(
      inert`enabled ${described(enabled)}: its ${active} active token(s) work again ${WITHIN}\n`,
    );
  });
}
