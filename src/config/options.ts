import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseDocument } from "yaml";
import proxyaddr from "@fastify/proxy-addr";
import { z } from "zod";

/**
 * Every setting of the gateway in one place: its name, what it does, its default, its
 * environment variable and its schema. The CLI, the config file and `PORTCULLIS_*` variables all
 * land here; precedence is flag > environment > config file > default.
 */
export interface OptionSpec<T> {
  /** Dotted path in the config file, e.g. `upstream.url`. */
  key: string;
  /** The environment variable (always `PORTCULLIS_` + upper-snake of the key). */
  env: string;
  description: string;
  default: T;
  schema: z.ZodType<T, z.ZodTypeDef, unknown>;
}

const envName = (key: string) => "PORTCULLIS_" + key.replace(/[.-]/g, "_").toUpperCase();

function option<T>(
  key: string,
  description: string,
  def: T,
  schema: z.ZodType<T, z.ZodTypeDef, unknown>,
  env?: string,
): OptionSpec<T> {
  return { key, env: env ?? envName(key), description, default: def, schema };
}

const bool = z.union([
  z.boolean(),
  z
    .string()
    .toLowerCase()
    .refine((s) => ["true", "false", "1", "0", "yes", "no", "on", "off"].includes(s), "expected a boolean")
    .transform((s) => ["true", "1", "yes", "on"].includes(s)),
]);
/** A list from a config file, or comma-separated from a flag or the environment. */
const list = z.union([
  z.array(z.string()),
  z.string().transform((s) =>
    s
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean),
  ),
]);
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const seconds = int(0, 365 * 24 * 3600);

export const OPTIONS = {
  host: option("host", "Address to listen on.", "127.0.0.1", z.string().min(1)),
  port: option("port", "TCP port to listen on (0 picks a free one).", 8080, int(0, 65535)),
  data: option("data", "Directory for the embedded database, blobs and keys.", "./data", z.string().min(1)),
  upstream: option(
    "upstream",
    "Upstream index: an http(s) simple-API URL (PEP 691/503), a file:// simple tree, or a local directory of distribution files.",
    "https://pypi.org/simple/",
    z.string().min(1),
  ),
  upstreamFileHosts: option(
    "upstream-file-hosts",
    "Extra origins (comma-separated) the upstream may serve files from; its own origin is always allowed. files.pythonhosted.org is added for pypi.org.",
    [] as string[],
    list,
  ),
  upstreamTtl: option(
    "upstream-ttl",
    "Seconds a cached project page is fresh before revalidation.",
    600,
    seconds,
  ),
  upstreamTimeout: option(
    "upstream-timeout",
    "Seconds to wait for the upstream before it counts as down.",
    20,
    int(1, 600),
  ),
  upstreamMtimeUploadTime: option(
    "upstream-mtime-upload-time",
    "With a directory upstream, take each file's modification time as its upload time (PEP 700), so cooldowns apply.",
    false,
    bool,
  ),
  database: option(
    "database",
    "Database URL: empty for embedded SQLite in the data directory, or postgres://user@host/db.",
    "",
    z.string(),
    "PORTCULLIS_DATABASE_URL",
  ),
  publicUrl: option(
    "public-url",
    "The URL users reach the gateway at (for printed pip commands); defaults to http://host:port.",
    "",
    z
      .string()
      .refine(
        (s) => s === "" || isHttpUrl(s),
        "expected an http:// or https:// URL, e.g. https://pypi.corp.example",
      ),
  ),
  trustProxy: option(
    "trust-proxy",
    "Reverse proxies or load balancers to see through (comma-separated addresses, CIDR ranges, or loopback, linklocal, uniquelocal): the client is then the last X-Forwarded-For address not among them. Empty: the connecting address is the client, and X-Forwarded-For is ignored.",
    [] as string[],
    list.superRefine((entries, ctx) => {
      for (const entry of entries) {
        try {
          proxyaddr.compile(entry);
        } catch (err) {
          const why = `${JSON.stringify(entry)} is not an address or range (${(err as Error).message})`;
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: why });
        }
      }
    }),
  ),
  logLevel: option(
    "log-level",
    "Log level: fatal, error, warn, info, debug, trace, silent.",
    "info",
    z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
  ),
  policy: option(
    "policy",
    "Policy file (YAML, see policy.default.yaml); empty for the shipped default policy.",
    "",
    z.string(),
  ),
  intelPoll: option(
    "intel-poll",
    "Seconds between checks for intel, exceptions or policy changed by another process (re-judges the catalog).",
    2,
    z.coerce.number().min(0.05).max(3600),
  ),
  intelSync: option(
    "intel-sync",
    "Intel sources (comma-separated URLs or paths) the gateway re-imports on a schedule, with ETag revalidation; empty to disable (air-gapped sites import by hand).",
    ["https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"] as string[],
    list,
  ),
  intelSyncInterval: option(
    "intel-sync-interval",
    "Seconds between scheduled intel syncs (0 disables).",
    6 * 3600,
    z.coerce
      .number()
      .int()
      .min(0)
      .max(30 * 24 * 3600),
  ),
  authAnonymous: option(
    "auth.anonymous",
    "Anonymous access: `read` lets callers without a token install (attributed to their address only); `off` requires a token everywhere but health checks.",
    "read" as "read" | "off",
    z.enum(["read", "off"]),
  ),
  auditSinks: option(
    "audit.sinks",
    "Where audit records are also sent for a SIEM (comma-separated): syslog://host:port (UDP, RFC 5424) or http(s):// URLs (JSON lines POSTed in batches).",
    [] as string[],
    list,
  ),
  auditSpoolMaxMb: option(
    "audit.spool-max-mb",
    "MiB the audit spool (<data>/audit-spool) may hold while the database refuses writes; past it, audited requests get 503 until the database is back.",
    1024,
    int(1, 1024 * 1024),
  ),
  auditWriterPriority: option(
    "audit.writer-priority",
    "CPU priority of the thread that writes a busy gateway's audit trail (Linux): `idle` runs it only on CPU time nothing else wants, back to normal when it falls a second behind; `normal` as any thread.",
    "idle" as "idle" | "normal",
    z.enum(["idle", "normal"]),
  ),
  auditStorage: option(
    "audit.storage",
    "How the audit trail is stored: `rows`, a row and a hash per record (`audit verify` names an edited record itself); `batches`, one block and one hash per batch the trail writes, a fraction of the cost per record for gateways serving thousands of requests a second (`audit verify` names an edited record's block).",
    "rows" as "rows" | "batches",
    z.enum(["rows", "batches"]),
  ),
  signingKey: option(
    "signing-key",
    "An Ed25519 private key (PKCS#8 PEM) supplied from outside; empty: generated at first start under <data>/keys (mode 0600).",
    "",
    z.string(),
  ),
  sigstoreTrustedRoot: option(
    "sigstore.trusted-root",
    "Sigstore trusted root (JSON) for verifying upstream PEP 740 provenance offline; empty: the one shipped with Portcullis.",
    "",
    z.string(),
  ),
  shutdownGrace: option(
    "shutdown-grace",
    "Seconds to let in-flight downloads and webhook sends finish on shutdown.",
    30,
    seconds,
  ),
} as const;

export type OptionName = keyof typeof OPTIONS;
export type Config = { [K in OptionName]: z.output<(typeof OPTIONS)[K]["schema"]> } & { configFile?: string };

export class ConfigError extends Error {
  readonly code = "CONFIG_INVALID";
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

function getPath(obj: unknown, key: string): unknown {
  let cur: unknown = obj;
  for (const part of key.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Reads a YAML config file; errors carry the line and column. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    throw new ConfigError(`${path}:${pos?.line ?? "?"}:${pos?.col ?? "?"}: ${e.message.split("\n")[0]}`);
  }
  const value = doc.toJS() as unknown;
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value))
    throw new ConfigError(`${path}: expected a mapping at the top level`);
  const known = new Set(Object.values(OPTIONS).map((o) => o.key.split(".")[0]!));
  for (const k of Object.keys(value)) {
    if (!known.has(k) && !EXTRA_TOP_LEVEL_KEYS.has(k)) {
      const pos = doc.contents && "items" in doc.contents ? findKeyLine(text, k) : undefined;
      throw new ConfigError(`${path}${pos ? `:${pos}` : ""}: unknown setting "${k}"`);
    }
  }
  return value as Record<string, unknown>;
}

/** Sections owned by other modules (policy, auth, …) that the core passes through untouched. */
export const EXTRA_TOP_LEVEL_KEYS = new Set<string>(["auth", "intel"]);

function findKeyLine(text: string, key: string): string | undefined {
  const lines = text.split("\n");
  const i = lines.findIndex((l) => l.startsWith(key + ":"));
  return i >= 0 ? `${i + 1}:1` : undefined;
}

/**
 * Builds the effective configuration.
 * @example loadConfig({ flags: { port: "9000" }, env: process.env })
 */
export function loadConfig(input: {
  flags?: Partial<Record<OptionName, unknown>>;
  env?: NodeJS.ProcessEnv;
  configFile?: string;
}): Config {
  const env = input.env ?? {};
  const configFile = input.configFile ?? env.PORTCULLIS_CONFIG;
  const fileValues = configFile ? readConfigFile(configFile) : {};
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(OPTIONS) as [OptionName, OptionSpec<unknown>][]) {
    const flag = input.flags?.[name];
    const envValue = env[spec.env];
    const fileValue = getPath(fileValues, spec.key);
    const [raw, source] =
      flag !== undefined
        ? // The flag as typed: `audit.spool-max-mb` is `--audit-spool-max-mb`.
          [flag, `--${spec.key.replace(/\./g, "-")}`]
        : envValue !== undefined && envValue !== ""
          ? [envValue, spec.env]
          : fileValue !== undefined
            ? [fileValue, `${configFile}: ${spec.key}`]
            : [spec.default, "default"];
    const parsed = spec.schema.safeParse(raw);
    if (!parsed.success) {
      throw new ConfigError(`invalid ${source} (${JSON.stringify(raw)}): ${parsed.error.issues[0]?.message}`);
    }
    out[name] = parsed.data;
  }
  const config = out as Config;
  if (configFile) config.configFile = resolve(configFile);
  return config;
}

/** The raw sections other modules read from the config file (policy, auth, intel). */
export function readExtraSections(configFile: string | undefined): Record<string, unknown> {
  if (!configFile) return {};
  const values = readConfigFile(configFile);
  return Object.fromEntries(Object.entries(values).filter(([k]) => EXTRA_TOP_LEVEL_KEYS.has(k)));
}

/** Whether `s` is an absolute http(s) URL (what `public-url` must be: links are built on it). */
function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === "http:" || u.protocol === "https:") && !u.username && !u.password;
  } catch {
    return false;
  }
}
