import { closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import {
  Kysely,
  Migrator,
  PostgresDialect,
  type Migration,
  type MigrationProvider,
  type SqliteDialectConfig,
} from "kysely";
import type { Database } from "./schema.js";
import { LockedSqliteDialect, SqliteConnectionLock } from "./sqlite-connection-lock.js";
import * as m0001 from "./migrations/0001-initial.js";
import * as m0002 from "./migrations/0002-policy.js";
import * as m0003 from "./migrations/0003-advisory-digest.js";
import * as m0004 from "./migrations/0004-identity.js";
import * as m0005 from "./migrations/0005-governance.js";
import * as m0006 from "./migrations/0006-proof.js";
import * as m0007 from "./migrations/0007-discovery.js";
import * as m0008 from "./migrations/0008-console.js";
import * as m0009 from "./migrations/0009-audit-clients.js";
import * as m0010 from "./migrations/0010-decision-events-handled.js";
import * as m0011 from "./migrations/0011-pending-request-once.js";
import * as m0012 from "./migrations/0012-identity-disabled-reason.js";
import * as m0013 from "./migrations/0013-audit-repeats.js";
import * as m0014 from "./migrations/0014-remediation-history.js";
import * as m0015 from "./migrations/0015-audit-blocks.js";

/**
 * Numbered migrations, in order. A static list, so bundling and type checking see them all; each
 * may take the dialect where SQL types differ (auto-increment keys).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type DialectMigration = { up(db: Kysely<any>, dialect: DialectName): Promise<void> };
const MIGRATIONS: [string, DialectMigration][] = [
  ["0001-initial", m0001],
  ["0002-policy", m0002],
  ["0003-advisory-digest", m0003],
  ["0004-identity", m0004],
  ["0005-governance", m0005],
  ["0006-proof", m0006],
  ["0007-discovery", m0007],
  ["0008-console", m0008],
  ["0009-audit-clients", m0009],
  ["0010-decision-events-handled", m0010],
  ["0011-pending-request-once", m0011],
  ["0012-identity-disabled-reason", m0012],
  ["0013-audit-repeats", m0013],
  ["0014-remediation-history", m0014],
  ["0015-audit-blocks", m0015],
];

class StaticMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: DialectName) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return Object.fromEntries(MIGRATIONS.map(([name, m]) => [name, { up: (db) => m.up(db, this.dialect) }]));
  }
}

export type DialectName = "sqlite" | "postgres";

export interface DatabaseHandle {
  db: Kysely<Database>;
  dialect: DialectName;
  /** A human description without credentials. */
  description: string;
  /**
   * How another connection (a writer thread) opens the same database; absent for an in-memory
   * SQLite database, which no other connection can see.
   */
  reopen?: DatabaseLocation;
  close(): Promise<void>;
}

/** What `connectDatabase` is given: a URL (empty: SQLite under `dataDir`) and an optional PostgreSQL schema. */
export interface DatabaseLocation {
  url: string;
  dataDir: string;
  schema?: string;
  /** SQLite: the lock this process's connections to the file share (see sqlite-connection-lock.ts). */
  sqliteLock?: SharedArrayBuffer;
}

/**
 * Opens the database named by `url` (empty: embedded SQLite under `dataDir`) and runs pending
 * migrations.
 * @example const { db } = await connectDatabase({ url: "", dataDir: "./data" })
 */
export async function connectDatabase(
  opts: DatabaseLocation & {
    /** Run pending migrations (default); a second connection to a migrated database skips them. */
    migrate?: boolean;
  },
): Promise<DatabaseHandle> {
  const location: DatabaseLocation = {
    url: opts.url,
    dataDir: opts.dataDir,
    ...(opts.schema ? { schema: opts.schema } : {}),
  };
  let handle: DatabaseHandle;
  if (!opts.url || opts.url.startsWith("sqlite:")) {
    const file = opts.url.startsWith("sqlite:")
      ? opts.url.slice("sqlite:".length)
      : join(opts.dataDir, "portcullis.db");
    if (file !== ":memory:") {
      mkdirSync(join(file, ".."), { recursive: true });
      // A new database is readable by its owner only (it holds the audit trail, token hashes and
      // the key they are hashed under); SQLite gives its -wal and -shm files the same mode. An
      // existing file keeps the mode its owner chose.
      if (!existsSync(file)) closeSync(openSync(file, "a", 0o600));
    }
    const sqlite = await openSqlite(file);
    // WAL lets CLI commands write while a gateway serves from the same file.
    sqlite.exec("PRAGMA journal_mode = WAL");
    sqlite.exec("PRAGMA synchronous = NORMAL");
    sqlite.exec("PRAGMA busy_timeout = 5000");
    sqlite.exec("PRAGMA foreign_keys = ON");
    const lock = new SqliteConnectionLock(opts.sqliteLock);
    const db = new Kysely<Database>({ dialect: new LockedSqliteDialect({ database: sqlite.kysely }, lock) });
    handle = {
      db,
      dialect: "sqlite",
      description: `sqlite:${file}`,
      ...(file === ":memory:" ? {} : { reopen: { ...location, sqliteLock: lock.buffer } }),
      close: () => db.destroy(),
    };
  } else if (/^postgres(ql)?:\/\//.test(opts.url)) {
    // Loaded only when asked for: a SQLite gateway starts without the PostgreSQL driver.
    const { default: pg } = await import("pg");
    // PostgreSQL's int8 arrives as a string by default; our BIGINT columns hold epoch milliseconds
    // and counters, well inside Number.MAX_SAFE_INTEGER.
    pg.types.setTypeParser(20, (v: string) => Number(v));
    const pool = new pg.Pool({
      connectionString: opts.url,
      max: 10,
      // A schema per test run keeps parallel suites apart; production uses the URL's default.
      ...(opts.schema ? { options: `-c search_path=${opts.schema.replace(/[^a-z0-9_]/gi, "")}` } : {}),
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const u = new URL(opts.url);
    handle = {
      db,
      dialect: "postgres",
      description: `postgres://${u.host}${u.pathname}`,
      reopen: location,
      close: () => db.destroy(),
    };
  } else {
    throw new Error(
      `unsupported database URL (use postgres://… or leave empty for SQLite): ${opts.url.split("@").pop()}`,
    );
  }
  if (opts.migrate !== false) await migrate(handle.db, handle.dialect, opts.schema);
  return handle;
}

/**
 * What a database location holds, found without changing it: `missing` (no SQLite file), `empty`
 * (a database or schema with no tables), `foreign` (tables, but not Portcullis's migration
 * bookkeeping) or `portcullis`. Commands that only read use it to refuse a mistyped `--data` or
 * `--database` instead of migrating (and so creating) a database there.
 */
export type DatabaseState = "missing" | "empty" | "foreign" | "outdated" | "newer" | "portcullis";

/**
 * `portcullis` when every migration this build knows ran and no other; `outdated` when some have
 * not run yet (the gateway of this version migrates it at start); `newer` when a later version
 * migrated it.
 */
function schemaState(ran: readonly string[]): DatabaseState {
  if (!ran.includes(MIGRATIONS[0]![0])) return "foreign";
  const known = new Set(MIGRATIONS.map(([name]) => name));
  if (ran.some((name) => !known.has(name))) return "newer";
  return ran.length < known.size ? "outdated" : "portcullis";
}

/** Kysely's migration bookkeeping table, which every Portcullis database has once migrated. */
const MIGRATION_TABLE = "kysely_migration";

/**
 * Looks at the database `location` names without creating, migrating or switching it to WAL:
 * SQLite is opened read-only; PostgreSQL is only queried.
 */
export async function inspectDatabase(location: DatabaseLocation): Promise<DatabaseState> {
  if (!location.url || location.url.startsWith("sqlite:")) {
    const file = location.url.startsWith("sqlite:")
      ? location.url.slice("sqlite:".length)
      : join(location.dataDir, "portcullis.db");
    if (file === ":memory:") return "empty";
    if (!existsSync(file)) return "missing";
    let db: ReadOnlySqlite;
    try {
      db = await openSqliteReadOnly(file);
    } catch (err) {
      if (notADatabase(err)) return "foreign";
      throw err;
    }
    try {
      const tables = db.all("SELECT name FROM sqlite_master WHERE type = 'table'").map((r) => r.name);
      if (tables.length === 0) return "empty";
      if (!tables.includes(MIGRATION_TABLE)) return "foreign";
      return schemaState(db.all(`SELECT name FROM ${MIGRATION_TABLE}`).map((r) => r.name));
    } catch (err) {
      // Not a SQLite database at all (a text file, say): not ours either. Anything else (a lock,
      // a permission) is a failure to report, not a verdict on the file.
      if (notADatabase(err)) return "foreign";
      throw err;
    } finally {
      db.close();
    }
  }
  if (/^postgres(ql)?:\/\//.test(location.url)) {
    const { default: pg } = await import("pg");
    const client = new pg.Client({ connectionString: location.url, connectionTimeoutMillis: 10_000 });
    await client.connect();
    try {
      const schema = location.schema?.replace(/[^a-z0-9_]/gi, "");
      // Without a schema, the first one on the search path is where migrations would create tables.
      const where = schema ? "$1::text" : "current_schema()";
      const tables = await client.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = ${where}`,
        schema ? [schema] : [],
      );
      const names = tables.rows.map((r) => r.table_name);
      if (names.length === 0) return "empty";
      if (!names.includes(MIGRATION_TABLE)) return "foreign";
      const ran = await client.query<{ name: string }>(
        `SELECT name FROM ${schema ? `"${schema}".` : ""}${MIGRATION_TABLE}`,
      );
      return schemaState(ran.rows.map((r) => r.name));
    } finally {
      await client.end();
    }
  }
  throw new Error(
    `unsupported database URL (use postgres://… or leave empty for SQLite): ${location.url.split("@").pop()}`,
  );
}

export async function migrate(db: Kysely<Database>, dialect: DialectName, schema?: string): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: new StaticMigrationProvider(dialect),
    // Kysely looks for its bookkeeping tables in every schema unless told which one: with a schema
    // per test run, another run's tables would be found and the lock taken in the wrong place.
    ...(schema ? { migrationTableSchema: schema.replace(/[^a-z0-9_]/gi, "") } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    // Kysely calls a migration it does not know "corrupted"; here it means a later version ran it.
    const unknown = /previously executed migration (\S+) is missing/.exec((error as Error).message)?.[1];
    if (unknown) {
      throw new Error(
        `the database was migrated by a newer Portcullis (its migration ${unknown} is not one this version knows): run that version or a later one; every instance on one database runs the same version`,
        { cause: error },
      );
    }
    const failed = results?.find((r) => r.status === "Error");
    throw new Error(
      `database migration${failed ? ` ${failed.migrationName}` : ""} failed: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/** SQLITE_NOTADB (26): the file is not a SQLite database. */
function notADatabase(err: unknown): boolean {
  const e = err as { code?: unknown; errcode?: unknown; message?: unknown } | null;
  return (
    e?.code === "SQLITE_NOTADB" ||
    (typeof e?.errcode === "number" && (e.errcode & 0xff) === 26) ||
    (typeof e?.message === "string" && /file is not a database/i.test(e.message))
  );
}

interface ReadOnlySqlite {
  all(sql: string, ...params: unknown[]): { name: string }[];
  close(): void;
}

/** A read-only connection that never creates the file (same driver choice as `openSqlite`). */
async function openSqliteReadOnly(file: string): Promise<ReadOnlySqlite> {
  const builtIn = await import("node:sqlite" as string).catch(() => undefined);
  const DatabaseSync = builtIn?.DatabaseSync as
    (new (path: string, opts?: { readOnly?: boolean }) => NodeSqliteDatabase) | undefined;
  if (DatabaseSync && typeof DatabaseSync.prototype.prepare === "function" && supportsColumns(DatabaseSync)) {
    const db = new DatabaseSync(file, { readOnly: true });
    return {
      all: (sql, ...params) => db.prepare(sql).all(...params) as { name: string }[],
      close: () => db.close(),
    };
  }
  const { default: BetterSqlite } = await import("better-sqlite3");
  const db = new BetterSqlite(file, { readonly: true, fileMustExist: true });
  return {
    all: (sql, ...params) => db.prepare(sql).all(...params) as { name: string }[],
    close: () => db.close(),
  };
}

/** What Kysely's SQLite dialect needs from a driver, plus `exec` for pragmas. */
interface SqliteDriver {
  exec(sql: string): void;
  kysely: SqliteDialectConfig["database"];
}

/**
 * Node 24 ships SQLite (`node:sqlite`), and better-sqlite3 below 13 aborts the process there
 * (its statements are finalised by an idle GC outside any V8 context: WiseLibs/better-sqlite3#1515),
 * while 13 needs Node 22. So: the built-in driver where it exists with what Kysely needs
 * (`StatementSync#columns`), better-sqlite3 12 on Node 20. The adapter is hand-written because
 * Kysely has no `node:sqlite` dialect; it only maps `reader` and spreads parameters.
 */
async function openSqlite(file: string): Promise<SqliteDriver> {
  const builtIn = await import("node:sqlite" as string).catch(() => undefined);
  const DatabaseSync = builtIn?.DatabaseSync as (new (path: string) => NodeSqliteDatabase) | undefined;
  if (DatabaseSync && typeof DatabaseSync.prototype.prepare === "function" && supportsColumns(DatabaseSync)) {
    const db = new DatabaseSync(file);
    const prepare = statementCache((sql: string) => {
      const stmt = db.prepare(sql);
      const wrapped = {
        busy: false,
        reader: stmt.columns().length > 0,
        all: (params: readonly unknown[]) => stmt.all(...params),
        run: (params: readonly unknown[]) => {
          const r = stmt.run(...params);
          return { changes: Number(r.changes), lastInsertRowid: r.lastInsertRowid };
        },
        // Busy until the iteration ends, as better-sqlite3 reports its own statements.
        iterate: function* (params: readonly unknown[]) {
          wrapped.busy = true;
          try {
            yield* stmt.iterate(...params);
          } finally {
            wrapped.busy = false;
          }
        },
      };
      return wrapped;
    });
    return {
      exec: (sql) => db.exec(sql),
      kysely: { close: () => db.close(), prepare } as unknown as SqliteDialectConfig["database"],
    };
  }
  const { default: BetterSqlite } = await import("better-sqlite3");
  const db = new BetterSqlite(file);
  const prepare = statementCache((sql: string) => db.prepare(sql));
  return {
    exec: (sql) => void db.exec(sql),
    kysely: { close: () => db.close(), prepare } as unknown as SqliteDialectConfig["database"],
  };
}

/**
 * Kysely prepares every query it runs, and SQLite's prepare (parsing and planning the SQL) cost
 * more than running most of the gateway's statements: the audit trail's batch INSERTs and the
 * warm paths' lookups repeat a few hundred distinct SQL texts. Prepared statements are kept by
 * text (at most 128 of up to 4,000 characters, least recently used dropped); one still being
 * iterated is not handed out twice (a fresh one is prepared instead, as before).
 */
const MAX_CACHED_SQL = 4_000;
function statementCache<S extends { busy: boolean }>(prepare: (sql: string) => S): (sql: string) => S {
  const cache = new Map<string, S>();
  return (sql) => {
    // A long text is a multi-row INSERT of some odd length: cheap to prepare again for its size,
    // and a prepared one holds its program in memory (hundreds of those cost tens of MB).
    if (sql.length > MAX_CACHED_SQL) return prepare(sql);
    const hit = cache.get(sql);
    if (hit) {
      if (hit.busy) return prepare(sql);
      cache.delete(sql);
      cache.set(sql, hit);
      return hit;
    }
    const stmt = prepare(sql);
    cache.set(sql, stmt);
    if (cache.size > 128) cache.delete(cache.keys().next().value!);
    return stmt;
  };
}

interface NodeSqliteStatement {
  columns(): unknown[];
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  iterate(...params: unknown[]): IterableIterator<unknown>;
}
interface NodeSqliteDatabase {
  exec(sql: string): void;
  prepare(sql: string): NodeSqliteStatement;
  close(): void;
}

function supportsColumns(DatabaseSync: new (path: string) => NodeSqliteDatabase): boolean {
  try {
    const probe = new DatabaseSync(":memory:");
    const ok = typeof probe.prepare("select 1").columns === "function";
    probe.close();
    return ok;
  } catch {
    return false;
  }
}
