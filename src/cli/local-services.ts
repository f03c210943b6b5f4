import { resolve } from "node:path";
import type { Command } from "commander";
import { destination, pino } from "pino";
import {
  connectDatabase,
  inspectDatabase,
  type DatabaseHandle,
  type DatabaseState,
} from "../adapters/db/connect-database.js";
import { loadConfig, OPTIONS, type Config, type OptionName } from "../config/options.js";
import { buildServices, type Services } from "../main.js";
import { CliError } from "./cli-error.js";

/** The options every command working on local state takes. */
export function addLocalOptions(cmd: Command): Command {
  return cmd
    .option(
      "--data <dir>",
      `${OPTIONS.data.description} [env ${OPTIONS.data.env}] (default ${OPTIONS.data.default})`,
    )
    .option("--config <file>", "YAML config file [env PORTCULLIS_CONFIG]")
    .option("--database <url>", `${OPTIONS.database.description} [env ${OPTIONS.database.env}]`)
    .option("--upstream <url|dir>", `${OPTIONS.upstream.description} [env ${OPTIONS.upstream.env}]`)
    .option("--policy <file>", `${OPTIONS.policy.description} [env ${OPTIONS.policy.env}]`)
    .option(
      "--signing-key <file>",
      `the gateway's Ed25519 key (PKCS#8 PEM), to sign this command's audit records or verify checkpoints with; without it or <data>/keys/active.pem, records are written unsigned for the gateway's next checkpoint [env ${OPTIONS.signingKey.env}]`,
    );
}

/** The options every command talking to a running gateway takes. */
export function addRemoteOptions(cmd: Command): Command {
  return cmd
    .option(
      "--gateway <url>",
      "a running gateway's URL, instead of --data/--database/--config (not with them) [env PORTCULLIS_GATEWAY]",
    )
    .option("--token <token>", "API token for --gateway [env PORTCULLIS_TOKEN]");
}

/**
 * The running gateway a command should talk to, and its token: `--gateway`, else
 * `PORTCULLIS_GATEWAY` unless the command line names local state (`--data`, `--database`,
 * `--config`): an explicit option always wins over an environment variable. `--gateway` together
 * with one of those names two places to work on, and is refused rather than one silently ignored.
 */
export function remoteGateway(flags: Record<string, unknown>): GatewayTarget | undefined {
  const local = (["data", "database", "config"] as const).filter((name) => flags[name] !== undefined);
  const explicitLocal = local.length > 0;
  if (flags.gateway !== undefined && explicitLocal) {
    throw new CliError(
      `give one of --gateway (a running gateway) or ${local.map((n) => `--${n}`).join(", ")} (local state), not both`,
      2,
    );
  }
  const url =
    (flags.gateway as string | undefined) ?? (explicitLocal ? undefined : process.env.PORTCULLIS_GATEWAY);
  if (!url) return undefined;
  return { url, token: (flags.token as string | undefined) ?? process.env.PORTCULLIS_TOKEN };
}

/** A running gateway to call: its URL and the token to call it with. */
export interface GatewayTarget {
  url: string;
  token: string | undefined;
}

/** Options that configure local state, which a running gateway does not take from the CLI. */
const LOCAL_ONLY = [
  ["upstream", "--upstream"],
  ["policy", "--policy"],
  ["signingKey", "--signing-key"],
] as const;

/**
 * The running gateway an administration command (token, user, team, owner, webhook, drift) calls
 * (see remoteGateway), or undefined to work on local state. With a gateway, the options that only
 * configure local state are refused (exit 2): the gateway uses its own upstream, policy and key,
 * and one silently ignored would have the user believe otherwise.
 */
export function remoteAdminGateway(flags: Record<string, unknown>): GatewayTarget | undefined {
  const remote = remoteGateway(flags);
  if (!remote) return undefined;
  const given = LOCAL_ONLY.filter(([name]) => flags[name] !== undefined).map(([, option]) => option);
  if (given.length > 0)
    throw new CliError(
      `${given.join(", ")} ${given.length > 1 ? "apply" : "applies"} to local state only: over --gateway, the running gateway uses its own (leave ${given.length > 1 ? "them" : "it"} out)`,
      2,
    );
  return remote;
}

/** The largest page the API's lists give (`limit` in src/http/api-conventions.ts): the fewest calls. */
const PAGE_LIMIT = 500;

/**
 * Every item of a paged API list (`{items, next}`), following `next` until the last page, so a
 * remote listing shows all that the local one does. `path` is under the gateway's URL, without a
 * query; `query` is added to each page's.
 */
export async function allPages<T>(
  gateway: GatewayTarget,
  path: string,
  query: Record<string, string> = {},
): Promise<T[]> {
  const items: T[] = [];
  const seen = new Set<string>();
  let cursor: string | null = null;
  for (;;) {
    const params = new URLSearchParams({ ...query, limit: String(PAGE_LIMIT) });
    if (cursor !== null) params.set("cursor", cursor);
    const page: { items: T[]; next?: string | null } = await callGateway(
      gateway.url,
      gateway.token,
      `${path}?${params.toString()}`,
    );
    items.push(...page.items);
    if (page.next === null || page.next === undefined) return items;
    // A gateway handing back a cursor it gave before would page forever.
    if (seen.has(page.next)) throw new CliError(`${path}: the gateway repeated a page cursor`, 1);
    seen.add(page.next);
    cursor = page.next;
  }
}

/** How a command opens local state. */
export interface LocalServicesOptions {
  /**
   * May the command start a new data directory? Commands that only read (audit verify, who-has,
   * lists) must not: on a mistyped `--data` they would report an empty, "intact" world.
   */
  create?: boolean;
}

/**
 * The check every command that only reads local state makes first: the database `config` names
 * must already be a Portcullis database. A missing SQLite file, an empty PostgreSQL schema or
 * someone else's database is a bad `--data`/`--database` (exit 2), and is left untouched: opening
 * it through the services would create or migrate it.
 */
export async function requirePortcullisDatabase(config: Config): Promise<void> {
  const where =
    config.database === ""
      ? resolve(config.data)
      : config.database.startsWith("sqlite:")
        ? config.database.slice("sqlite:".length)
        : databaseDescription(config.database);
  let state: DatabaseState;
  try {
    state = await inspectDatabase({ url: config.database, dataDir: resolve(config.data) });
  } catch (err) {
    throw new CliError(`cannot open ${where}: ${(err as Error).message}`, 1);
  }
  const hint =
    config.database === ""
      ? `check --data, or start the gateway there first (portcullis serve --data ${config.data})`
      : "check --database, or start the gateway on it first (portcullis serve --database …)";
  if (state === "missing" || state === "empty") {
    throw new CliError(`no Portcullis database in ${where}: ${hint}`, 2);
  }
  if (state === "foreign") {
    throw new CliError(`${where} is not a Portcullis database (left untouched): ${hint}`, 2);
  }
  // A command that only reads never migrates: a newer CLI must not change the schema under a
  // fleet of older gateways, nor rewrite rows as a migration may.
  if (state === "outdated") {
    throw new CliError(
      `the database in ${where} is from an older Portcullis (left untouched): start this version's gateway on it first, which migrates it (portcullis serve)`,
      2,
    );
  }
  if (state === "newer") {
    throw new CliError(
      `the database in ${where} was migrated by a newer Portcullis (left untouched): use that version's CLI`,
      2,
    );
  }
}

/** A database URL without credentials, for messages. */
function databaseDescription(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return url.split("@").pop() ?? url;
  }
}

/** The configuration a local command works with: its options over the environment and config file. */
export function localConfig(flags: Record<string, unknown>): Config {
  const picked: Partial<Record<OptionName, unknown>> = { logLevel: "warn" };
  for (const name of ["data", "database", "upstream", "policy", "signingKey"] as const) {
    if (flags[name] !== undefined) picked[name] = flags[name];
  }
  return loadConfig({
    flags: picked,
    env: process.env,
    configFile: flags.config as string | undefined,
  });
}

/**
 * Runs `fn` over the existing Portcullis database alone, without the services: nothing is
 * started, recorded or signed (the services' audit trail signs a checkpoint when it closes), so a
 * command that must not write (audit verify) reads the database as it is.
 */
export async function withExistingDatabase<T>(
  flags: Record<string, unknown>,
  fn: (handle: DatabaseHandle, config: Config) => Promise<T>,
): Promise<T> {
  const config = localConfig(flags);
  await requirePortcullisDatabase(config);
  let handle: DatabaseHandle;
  try {
    handle = await connectDatabase({ url: config.database, dataDir: resolve(config.data), migrate: false });
  } catch (err) {
    throw new CliError(`cannot open ${config.data}: ${(err as Error).message}`, 1);
  }
  try {
    return await fn(handle, config);
  } finally {
    await handle.close();
  }
}

/** Runs `fn` with the services over the local data directory, closing them afterwards. */
export async function withLocalServices<T>(
  flags: Record<string, unknown>,
  fn: (services: Services) => Promise<T>,
  options: LocalServicesOptions = {},
): Promise<T> {
  const config = localConfig(flags);
  if (!options.create) await requirePortcullisDatabase(config);
  let services: Services;
  try {
    services = await buildServices(config, {
      logger: pino({ level: "warn" }, destination(2)),
      preVet: false,
      // Never a key of its own just to sign the audit chain: one the gateways do not know would
      // make every later `audit verify` fail. Without the gateway's key the records go unsigned.
      createSigningKey: false,
    });
  } catch (err) {
    throw new CliError(`cannot open ${config.data}: ${(err as Error).message}`, 1);
  }
  const outcome = await fn(services).then(
    (value) => ({ ok: true as const, value }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  // The command's own audit records first: the services' close only logs a failure, and a
  // command whose records did not reach the trail must not exit 0 as if all were well.
  const unrecorded = await services.audit.close().then(
    () => undefined,
    (err: Error) => err,
  );
  await services.close();
  if (unrecorded)
    throw new CliError(
      `the audit trail did not take this command's records (${unrecorded.message}); what the command did is not in the trail`,
      1,
    );
  if (!outcome.ok) throw outcome.err;
  return outcome.value;
}

/** A small JSON client for the gateway's API, with the token as a bearer credential. */
export async function callGateway<T>(
  gateway: string,
  token: string | undefined,
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<T> {
  let url: URL;
  try {
    url = new URL(path, gateway.endsWith("/") ? gateway : gateway + "/");
  } catch {
    throw new CliError(`--gateway must be a URL, got ${JSON.stringify(gateway)}`);
  }
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method ?? "GET",
      headers: {
        accept: "application/json",
        ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      signal: AbortSignal.timeout(600_000),
    });
  } catch (err) {
    throw new CliError(`cannot reach ${url.origin}: ${(err as Error).message}`, 1);
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text.trim();
    try {
      const body = JSON.parse(text) as { error?: { message?: string } };
      message = body.error?.message ?? message;
    } catch {
      // plain-text error
    }
    // The gateway refusing what was sent as malformed is bad input, as it is locally (exit 2).
    throw new CliError(
      `${url.pathname}: HTTP ${res.status}: ${message}`,
      res.status === 400 || res.status === 422 ? 2 : 1,
    );
  }
  return JSON.parse(text) as T;
}
