import { threadId } from "node:worker_threads";
import {
  CompiledQuery,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type SqliteDialectConfig,
  type TransactionSettings,
} from "kysely";

interface AtomicsWaitAsync {
  waitAsync(cell: Int32Array, index: number, value: number): { async: boolean; value: unknown };
}

/**
 * One lock over a SQLite database, shared by this process's connections to it (the gateway's
 * and the audit writer thread's) through a SharedArrayBuffer. SQLite's own locking between two
 * connections is a busy wait: a connection that finds the file locked sleeps in its busy handler
 * (on the gateway's event loop, for up to busy_timeout), and a transaction that read before the
 * other connection committed fails at once with SQLITE_BUSY (its snapshot is stale). Here each
 * connection takes the lock for every use (a statement, or a transaction from BEGIN to COMMIT)
 * and waits for it asynchronously (`Atomics.waitAsync`), so neither happens between them.
 * Other processes (CLI commands) still meet SQLite's locking, as before.
 */
export class SqliteConnectionLock {
  private readonly cell: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(4)) {
    this.cell = new Int32Array(buffer);
  }

  async acquire(): Promise<void> {
    const me = threadId + 1;
    for (;;) {
      const holder = Atomics.compareExchange(this.cell, 0, 0, me);
      if (holder === 0) return;
      const waited = (Atomics as unknown as AtomicsWaitAsync).waitAsync(this.cell, 0, holder);
      if (waited.async) await waited.value;
    }
  }

  release(): void {
    Atomics.store(this.cell, 0, 0);
    Atomics.notify(this.cell, 0, 1);
  }

  /** Lets go of the lock if the thread `id` (a worker that exited) still holds it; true if it did. */
  releaseIfHeldBy(id: number): boolean {
    if (Atomics.compareExchange(this.cell, 0, id + 1, 0) !== id + 1) return false;
    Atomics.notify(this.cell, 0, 1);
    return true;
  }
}

/** Kysely's SQLite dialect whose single connection is used only while holding `lock`. */
export class LockedSqliteDialect extends SqliteDialect {
  constructor(
    private readonly dialectConfig: SqliteDialectConfig,
    private readonly lock: SqliteConnectionLock,
  ) {
    super(dialectConfig);
  }

  override createDriver(): Driver {
    const lock = this.lock;
    return new (class extends SqliteDriver {
      override async acquireConnection(): Promise<DatabaseConnection> {
        const connection = await super.acquireConnection();
        try {
          await lock.acquire();
        } catch (err) {
          await super.releaseConnection();
          throw err;
        }
        return connection;
      }

      override async releaseConnection(): Promise<void> {
        lock.release();
        await super.releaseConnection();
      }

      /**
       * Kysely's SQLite driver ignores the isolation level and always says `BEGIN` (deferred):
       * two processes (a CLI command and a gateway) that both read and then write fail with
       * "database is locked" (the second's snapshot is stale, and SQLite does not wait for that).
       * A serializable transaction takes the write lock at its start instead (`BEGIN IMMEDIATE`):
       * the second waits for the first (busy_timeout) and then reads what it committed.
       */
      override async beginTransaction(
        connection: DatabaseConnection,
        settings?: TransactionSettings,
      ): Promise<void> {
        if (settings?.isolationLevel === "serializable") {
          await connection.executeQuery(CompiledQuery.raw("begin immediate"));
        } else await super.beginTransaction(connection);
      }
    })(this.dialectConfig);
  }
}
