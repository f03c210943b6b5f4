import type { Command } from "commander";
import { ROLES } from "../domain/identity.js";
import {
  checkTeamName,
  checkTokenLabel,
  checkUserName,
  isRole,
  type CreatedToken,
  type TokenInfo,
} from "../services/identity/identity-service.js";
import { asCliError, cliActor } from "./cli-actor.js";
import { CliError } from "./cli-error.js";
import {
  addLocalOptions,
  addRemoteOptions,
  allPages,
  callGateway,
  remoteAdminGateway,
  withLocalServices,
} from "./local-services.js";
import { escapeControlCharacters, inert } from "../domain/control-characters.js";

/**
 * A stored label as one inert line: labels stored before the CLI and the API refused control
 * characters must not repaint the terminal when listed.
 */
const printable = escapeControlCharacters;

/** `portcullis token create|list|revoke`: API tokens, shown once, stored as a keyed hash. */
export function registerTokenCommand(program: Command): void {
  const token = program
    .command("token")
    .description(
      "Create, list and revoke API tokens (pip/uv: https://__token__:TOKEN@host/simple/; API: Authorization: Bearer TOKEN).",
    );
  const options = (cmd: Command) => addRemoteOptions(addLocalOptions(cmd));

  options(
    token
      .command("create")
      .description(
        "Create a token for a user or service account (created if new). The token is printed once, as the last line.",
      )
      .requiredOption("--user <name>", "user or service-account name")
      .requiredOption("--role <role>", `least role: ${ROLES.join("|")}`)
      .option(
        "--team <team>",
        "the identity's team (created if new); naming another team moves the identity and all its tokens (a notice says so)",
      )
      .option(
        "--label <label>",
        "the application this token pulls for (inventory), e.g. a CI pipeline (no control characters)",
      )
      .option("--service", "a service account (CI job, scheduled script) rather than a person")
      .option("--expires-days <days>", "expire after this many days (default: never)"),
  ).action(async (flags: Record<string, string | boolean | undefined>) => {
    const role = String(flags.role);
    if (!isRole(role))
      throw new CliError(`--role must be one of ${ROLES.join(", ")}, got ${JSON.stringify(role)}`);
    let expiresDays: number | undefined;
    if (flags.expiresDays !== undefined) {
      expiresDays = Number(flags.expiresDays);
      if (!/^\s*\d{1,4}\s*$/.test(String(flags.expiresDays)) || expiresDays < 1 || expiresDays > 3650)
        throw new CliError(
          `--expires-days must be a whole number of days from 1 to 3650, got ${JSON.stringify(flags.expiresDays)}`,
        );
    }
    const team = (flags.team as string | undefined) ?? null;
    const label = (flags.label as string | undefined) ?? null;
    let moved: { from: string | null; others: number } | undefined;
    let created: CreatedToken;
    const remote = remoteAdminGateway(flags);
    if (remote) {
      // The service's checks, with its messages, before anything is sent.
      try {
        checkUserName(String(flags.user));
        if (team !== null) checkTeamName(team);
        if (label !== null) checkTokenLabel(label);
      } catch (err) {
        asCliError(err);
      }
      // The identity's tokens before: they all pull for its team (a move takes them along), so
      // they name the team it leaves, and the active ones are those the move carries over. An
      // identity holding no token is new (identities are made with their first token).
      const before =
        team !== null ? await allPages<TokenInfo>(remote, "api/v1/tokens", { user: String(flags.user) }) : [];
      created = await callGateway<CreatedToken>(remote.url, remote.token, "api/v1/tokens", {
        method: "POST",
        body: {
          user: String(flags.user),
          role,
          ...(team !== null ? { team } : {}),
          ...(label !== null ? { label } : {}),
          ...(flags.service ? { kind: "service" } : {}),
          ...(expiresDays ? { expiresInDays: expiresDays } : {}),
        },
      });
      const was = before[0];
      if (was && team !== null && was.team !== team)
        moved = { from: was.team, others: before.filter((t) => t.state === "active").length };
    } else {
      created = await withLocalServices(
        flags,
        async (s) => {
          const before = (await s.identity.listUsers()).find((u) => u.name === String(flags.user));
          const made = await s.identity
            .createToken(
              {
                user: String(flags.user),
                role,
                team,
                label,
                ...(flags.service ? { kind: "service" as const } : {}),
                expiresAt: expiresDays ? s.now() + expiresDays * 86_400_000 : null,
              },
              cliActor(),
            )
            .catch(asCliError);
          // Naming another team moves the identity, and every token it holds pulls for the new team.
          if (before && team !== null && before.team !== team) {
            const others = (await s.identity.listTokens(before.name)).filter(
              (t) => t.id !== made.info.id && t.state === "active",
            ).length;
            moved = { from: before.team, others };
          }
          return made;
        },
        { create: true },
      );
    }
    const i = created.info;
    process.stderr.write(
      inert`Created token ${i.id} for ${i.user} (role ${i.role}${i.team ? inert`, team ${i.team}` : ""}${i.expiresAt ? inert`, expires ${i.expiresAt}` : ""}).\n` +
        "It is shown once and stored only as a hash. pip: --index-url https://__token__:TOKEN@HOST/simple/\n",
    );
    if (moved)
      process.stderr.write(
        inert`Note: ${i.user} moved ${moved.from ? inert`from team ${moved.from} ` : ""}to team ${team}: its ${moved.others} other active token(s) now pull for team ${team} too (inventory, drift and ownership follow).\n`,
      );
    process.stdout.write(inert`${created.token}\n`);
  });

  options(
    token
      .command("list")
      .description("List tokens (ids, owners, roles, expiry, revocation; never the secrets).")
      .option("--user <name>", "only this identity's tokens")
      .option("--json", "print JSON"),
  ).action(async (flags: Record<string, string | boolean | undefined>) => {
    const user = flags.user as string | undefined;
    const unknownUser = () =>
      new CliError(`no user or service account ${JSON.stringify(user)} (see portcullis user list)`, 1);
    const remote = remoteAdminGateway(flags);
    let tokens: TokenInfo[];
    if (remote) {
      tokens = await allPages<TokenInfo>(remote, "api/v1/tokens", user !== undefined ? { user } : {});
      // The API lists no tokens for a name it does not know: asked only then, whether it does.
      if (
        user !== undefined &&
        tokens.length === 0 &&
        !(await allPages<{ name: string }>(remote, "api/v1/users")).some((u) => u.name === user)
      )
        throw unknownUser();
    } else {
      tokens = await withLocalServices(flags, async (s) => {
        // A mistyped name must not read as "this identity holds no tokens".
        if (user !== undefined && !(await s.identity.listUsers()).some((u) => u.name === user))
          throw unknownUser();
        return s.identity.listTokens(user);
      });
    }
    if (flags.json) {
      process.stdout.write(JSON.stringify(tokens, null, 2) + "\n");
      return;
    }
    if (tokens.length === 0) {
      process.stdout.write("no tokens\n");
      return;
    }
    for (const t of tokens) {
      const state =
        t.state === "revoked"
          ? `revoked ${t.revokedAt}`
          : t.state === "expired"
            ? `expired ${t.expiresAt}`
            : t.state === "disabled"
              ? "disabled (its user is disabled)"
              : t.expiresAt
                ? `expires ${t.expiresAt}`
                : "active";
      process.stdout.write(
        `${printable(t.id)}  ${printable(t.user).padEnd(20)} ${printable(t.role).padEnd(9)} ${printable(t.team ?? "-").padEnd(12)} ${printable(t.label ?? "-").padEnd(16)} ${printable(state)}\n`,
      );
    }
  });

  options(
    token
      .command("revoke")
      .argument("<id>", "the token id (the 12 hex digits after pcl_, either case)")
      .description("Revoke a token; every gateway instance refuses it within seconds."),
  ).action(async (id: string, flags: Record<string, string | boolean | undefined>) => {
    // Ids are hex, printed in lower case: an id copied in upper case is the same id.
    const m = /^(?:pcl_)?([0-9a-f]{12})(?:_.*)?$/i.exec(id.trim());
    if (!m) throw new CliError(`expected a token id (12 hex digits), got ${JSON.stringify(id.slice(0, 40))}`);
    const tokenId = m[1]!.toLowerCase();
    const remote = remoteAdminGateway(flags);
    const info = remote
      ? await callGateway<TokenInfo>(remote.url, remote.token, `api/v1/tokens/${tokenId}`, {
          method: "DELETE",
        })
      : await withLocalServices(flags, (s) => s.identity.revokeToken(tokenId, cliActor()).catch(asCliError));
    process.stdout.write(inert`revoked token ${info.id} of ${info.user}\n`);
  });
}
