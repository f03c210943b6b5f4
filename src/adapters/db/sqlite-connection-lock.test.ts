import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { sql } from "kysely";
import { openTestDatabase } from "../../../test/helpers/databases.js";
import { connectDatabase } from "./connect-database.js";
import { SqliteConnectionLock } from "./sqlite-connection-lock.js";

/** A thread that takes the lock as a connection would, holds it `holdMs`, then releases it or not. */
function holder(buffer: SharedArrayBuffer, holdMs: number, release: boolean): Promise<Worker> {
  const worker = new Worker(
    `const { workerData, parentPort, threadId } = require("node:worker_threads");
     const cell = new Int32Array(workerData.buffer);
     while (Atomics.compareExchange(cell, 0, 0, threadId + 1) !== 0) Atomics.wait(cell, 0, Atomics.load(cell, 0), 10);
     parentPort.postMessage("held");
     setTimeout(() => {
       if (workerData.release) { Atomics.store(cell, 0, 0); Atomics.notify(cell, 0, 1); }
       process.exit(0);
     }, workerData.holdMs);`,
    { eval: true, workerData: { buffer, holdMs, release } },
  );
  return new Promise((resolve) => worker.once("message", () => resolve(worker)));
}

test("a connection waits for the lock without blocking the event loop, and gets it once released", async () => {
  const lock = new SqliteConnectionLock();
  await holder(lock.buffer, 60, true);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const t0 = performance.now();
  await lock.acquire();
  clearInterval(timer);
  assert.ok(performance.now() - t0 >= 40, "it waited for the other thread");
  assert.ok(ticks >= 3, `timers ran while it waited (${ticks})`);
  lock.release();
  await lock.acquire();
  lock.release();
});

test("a thread that exits holding the lock is let go of; another thread's lock is not", async () => {
  const lock = new SqliteConnectionLock();
  const worker = await holder(lock.buffer, 0, false);
  const thread = worker.threadId;
  await new Promise((r) => worker.once("exit", r));
  assert.equal(lock.releaseIfHeldBy(thread + 1), false, "held by another thread: left alone");
  assert.equal(lock.releaseIfHeldBy(thread), true);
  await lock.acquire();
  assert.equal(lock.releaseIfHeldBy(thread), false, "now held by this thread");
  lock.release();
});

test("a serializable transaction takes SQLite's write lock at its start: another process cannot write in between", async () => {
  const a = await openTestDatabase("sqlite");
  // A second connection with a lock of its own: another process (a CLI command beside a gateway).
  const b = await connectDatabase({ url: a.description, dataDir: "" });
  try {
    await sql`PRAGMA busy_timeout = 0`.execute(b.db);
    await a.db
      .transaction()
      .setIsolationLevel("serializable")
      .execute(async (trx) => {
        await trx.selectFrom("webhooks").selectAll().execute();
        // With a deferred BEGIN this write would pass, and `a`'s insert below would then fail
        // with "database is locked" (its snapshot stale): the race two `webhook add`s lost.
        await assert.rejects(
          sql`INSERT INTO teams (name, created_at) VALUES ('from-b', 1)`.execute(b.db),
          /locked|busy/i,
        );
        await sql`INSERT INTO teams (name, created_at) VALUES ('from-a', 1)`.execute(trx);
      });
    const names = await sql<{ name: string }>`SELECT name FROM teams ORDER BY name`.execute(b.db);
    assert.deepEqual(
      names.rows.map((r) => r.name),
      ["from-a"],
    );
  } finally {
    await b.close();
    await a.cleanup();
  }
});
