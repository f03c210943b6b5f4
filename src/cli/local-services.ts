import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { destination, pino } from "pino";
import { loadConfig, OPTIONS, type OptionName } from "../config/options.js";
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
    .option("--policy <file>", `${OPTIONS.policy.description} [env ${OPTIONS.policy.env}]`);
}

/** The options every command talking to a running gateway takes. */
export function addRemoteOptions(cmd: Command): Command {
  return cmd
    .option("--gateway <url>", "a running gateway's URL, instead of --data [env PORTCULLIS_GATEWAY]")
    .option("--token <token>", "API token for --gateway [env PORTCULLIS_TOKEN]");
}

/**
 * The running gateway a command should talk to, and its token: `--gateway`, else
 * `PORTCULLIS_GATEWAY` unless the command line names local state (`--data`, `--database`,
 * `--config`): an explicit option always wins over an environment variable.
 */
export function remoteGateway(
  flags: Record<string, unknown>,
): { url: string; token: string | undefined } | undefined {
  const explicitLocal =
    flags.data !== undefined || flags.database !== undefined || flags.config !== undefined;
  const url =
    (flags.gateway as string | undefined) ?? (explicitLocal ? undefined : process.env.PORTCULLIS_GATEWAY);
  if (!url) return undefined;
  return { url, token: (flags.token as string | undefined) ?? process.env.PORTCULLIS_TOKEN };
}

/** How a command opens local state. */
export interface LocalServicesOptions {
  /**
   * May the command start a new data directory? Commands that only read (audit verify, who-has,
   * lists) must not: on a mistyped `--data` they would report an empty, "intact" world.
   */
  create?: boolean;
}

/** Runs `fn` with the services over the local data directory, closing them afterwards. */
export async function withLocalServices<T>(
  flags: Record<string, unknown>,
  fn: (services: Services) => Promise<T>,
  options: LocalServicesOptions = {},
): Promise<T> {
  const picked: Partial<Record<OptionName, unknown>> = { logLevel: "warn" };
  for (const name of ["data", "database", "upstream", "policy"] as const) {
    if (flags[name] !== undefined) picked[name] = flags[name];
  }
  const config = loadConfig({
    flags: picked,
    env: process.env,
    configFile: flags.config as string | undefined,
  });
  const sqliteFile =
    config.database === ""
      ? join(config.data, "portcullis.db")
      : config.database.startsWith("sqlite:")
        ? config.database.slice("sqlite:".length)
        : undefined;
  if (!options.create && sqliteFile !== undefined && sqliteFile !== ":memory:" && !existsSync(sqliteFile)) {
    throw new CliError(
      `no Portcullis database at ${sqliteFile}: check --data (or --database), or start the gateway there first (portcullis serve --data ${config.data})`,
      2,
    );
  }
  let services: Services;
  try {
    services = await buildServices(config, {
      logger: pino({ level: "warn" }, destination(2)),
      preVet: false,
    });
  } catch (err) {
    throw new CliError(`cannot open ${config.data}: ${(err as Error).message}`, 1);
  }
  try {
    return await fn(services);
  } finally {
    await services.close();
  }
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
    throw new CliError(`${url.pathname}: HTTP ${res.status}: ${message}`, 1);
  }
  return JSON.parse(text) as T;
}
