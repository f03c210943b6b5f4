import type { Command } from "commander";
import { ROLES } from "../domain/identity.js";
import { isRole } from "../services/identity/identity-service.js";
import { asCliError, cliActor } from "./cli-actor.js";
import { CliError } from "./cli-error.js";
import { addLocalOptions, withLocalServices } from "./local-services.js";
import { escapeControlCharacters } from "../domain/control-characters.js";

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

  addLocalOptions(
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
    let moved: { from: string | null; others: number } | undefined;
    const created = await withLocalServices(
      flags,
      async (s) => {
        const before = (await s.identity.listUsers()).find((u) => u.name === String(flags.user));
        const made = await s.identity
          .createToken(
            {
              user: String(flags.user),
              role,
              team,
              label: (flags.label as string | undefined) ?? null,
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
    const i = created.info;
    process.stderr.write(
      `Created token ${i.id} for ${i.user} (role ${i.role}${i.team ? `, team ${i.team}` : ""}${i.expiresAt ? `, expires ${i.expiresAt}` : ""}).\n` +
        "It is shown once and stored only as a hash. pip: --index-url https://__token__:TOKEN@HOST/simple/\n",
    );
    if (moved)
      process.stderr.write(
        `Note: ${i.user} moved ${moved.from ? `from team ${moved.from} ` : ""}to team ${team}: its ${moved.others} other active token(s) now pull for team ${team} too (inventory, drift and ownership follow).\n`,
      );
    process.stdout.write(`${created.token}\n`);
  });

  addLocalOptions(
    token
      .command("list")
      .description("List tokens (ids, owners, roles, expiry, revocation; never the secrets).")
      .option("--user <name>", "only this identity's tokens")
      .option("--json", "print JSON"),
  ).action(async (flags: Record<string, string | boolean | undefined>) => {
    const user = flags.user as string | undefined;
    const tokens = await withLocalServices(flags, async (s) => {
      // A mistyped name must not read as "this identity holds no tokens".
      if (user !== undefined && !(await s.identity.listUsers()).some((u) => u.name === user))
        throw new CliError(
          `no user or service account ${JSON.stringify(user)} (see portcullis user list)`,
          1,
        );
      return s.identity.listTokens(user);
    });
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
        `${t.id}  ${t.user.padEnd(20)} ${t.role.padEnd(9)} ${(t.team ?? "-").padEnd(12)} ${printable(t.label ?? "-").padEnd(16)} ${state}\n`,
      );
    }
  });

  addLocalOptions(
    token
      .command("revoke")
      .argument("<id>", "the token id (the 12 hex digits after pcl_, either case)")
      .description("Revoke a token; every gateway instance refuses it within seconds."),
  ).action(async (id: string, flags: Record<string, string | boolean | undefined>) => {
    // Ids are hex, printed in lower case: an id copied in upper case is the same id.
    const m = /^(?:pcl_)?([0-9a-f]{12})(?:_.*)?$/i.exec(id.trim());
    if (!m) throw new CliError(`expected a token id (12 hex digits), got ${JSON.stringify(id.slice(0, 40))}`);
    const info = await withLocalServices(flags, (s) =>
      s.identity.revokeToken(m[1]!.toLowerCase(), cliActor()).catch(asCliError),
    );
    process.stdout.write(`revoked token ${info.id} of ${info.user}\n`);
  });
}
