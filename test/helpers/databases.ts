import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import {
  connectDatabase,
  type DatabaseHandle,
  type DialectName,
} from "../../src/adapters/db/connect-database.js";

/** Where the PostgreSQL tests connect; CI and these machines run one on 127.0.0.1:5432. */
export const POSTGRES_URL =
  process.env.PORTCULLIS_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

let pgAvailable: Promise<boolean> | undefined;

/** Whether PostgreSQL answers; asked once per test process. */
export function postgresAvailable(): Promise<boolean> {
  pgAvailable ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query("select 1");
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return pgAvailable;
}

export interface TestDatabase extends DatabaseHandle {
  /** Drops what the test made (the SQLite directory or the PostgreSQL schema). */
  cleanup(): Promise<void>;
}

/** A fresh, migrated database of the given dialect, isolated from every other test. */
export async function openTestDatabase(dialect: DialectName): Promise<TestDatabase> {
  if (dialect === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "portcullis-db-"));
    const handle = await connectDatabase({ url: "", dataDir: dir });
    return {
      ...handle,
      cleanup: async () => {
        await handle.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  let handle: DatabaseHandle;
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
    // Migrations hold the lock shared (see SCHEMA_DROP_LOCK); the session's end releases it.
    await admin.query("SELECT pg_advisory_lock_shared($1)", [SCHEMA_DROP_LOCK]);
    handle = await connectDatabase({ url: POSTGRES_URL, dataDir: "", schema });
  } finally {
    await admin.end();
  }
  return {
    ...handle,
    cleanup: async () => {
      await handle.close();
      await dropTestSchema(schema);
    },
  };
}

/**
 * Serializes dropping a test's schema against migrating another's. Kysely's migrator reads the
 * tables of every schema in the database (pg_catalog, with functions called per schema), and a
 * schema dropped during that read fails it with `schema "t_…" does not exist`: with test files
 * running side by side, one file's cleanup would fail another's setup. Migrations take this
 * advisory lock shared, so they run together; a drop takes it exclusively, between them.
 */
const SCHEMA_DROP_LOCK = 0x70637473; // "pcts"

/** Drops a schema a test created (see SCHEMA_DROP_LOCK). */
export async function dropTestSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: POSTGRES_URL });
  await c.connect();
  try {
    await c.query("SELECT pg_advisory_lock($1)", [SCHEMA_DROP_LOCK]);
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await c.end();
  }
}

/**
 * The dialect matrix: each database test runs on SQLite and on PostgreSQL. Without a reachable
 * PostgreSQL the PostgreSQL half is skipped with a message saying so, and SQLite still runs.
 * @example for (const d of DIALECTS) test(`stores pages (${d})`, dialectTest(d, async (db) => { … }))
 */
export const DIALECTS: DialectName[] = ["sqlite", "postgres"];

export function dialectSkip(dialect: DialectName): Promise<string | false> {
  if (dialect === "sqlite") return Promise.resolve(false);
  return postgresAvailable().then((ok) => (ok ? false : `PostgreSQL not reachable at ${POSTGRES_URL}`));
}

/** Runs `fn` on a fresh database of the dialect and drops it afterwards, also when `fn` throws. */
export async function withTestDatabase(
  dialect: DialectName,
  fn: (db: TestDatabase) => Promise<void>,
): Promise<void> {
  const db = await openTestDatabase(dialect);
  try {
    await fn(db);
  } finally {
    await db.cleanup();
  }
}

/**
 * The database URL of a fresh database for a gateway: empty for SQLite (in its data directory),
 * else a new PostgreSQL database dropped afterwards. A whole database rather than a schema,
 * because a gateway and the CLI run their migrations without knowing of a per-test schema.
 */
export async function gatewayDatabase(dialect: DialectName): Promise<{ url: string; drop(): Promise<void> }> {
  if (dialect === "sqlite") return { url: "", drop: async () => undefined };
  const name = `t_${randomBytes(6).toString("hex")}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  // template0 takes no connections, so a concurrent suite can never hold the template busy.
  await admin(`CREATE DATABASE ${name} TEMPLATE template0`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  // No FORCE: pg's pool.end() resolves while its sockets are still closing; PostgreSQL waits (up
  // to 5 s) for them, where FORCE would terminate them into an uncaught pool error.
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name}`) };
}
