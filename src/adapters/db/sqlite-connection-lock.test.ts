import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
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
