import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { ownThreadId, setThreadPolicy, threadPolicy } from "./thread-priority.js";

const linux =
  process.platform === "linux" ? false : "thread policies are read and set through Linux's /proc and chrt";
const root = process.getuid?.() === 0 ? false : "raising a thread out of SCHED_IDLE needs root";

/** A worker thread that says its kernel thread id and then waits until terminated. */
async function idleWorker(): Promise<{ tid: number; worker: Worker }> {
  const worker = new Worker(
    `const { readlinkSync } = require("node:fs");
     const { parentPort } = require("node:worker_threads");
     parentPort.postMessage(Number(readlinkSync("/proc/thread-self").split("/").pop()));
     setInterval(() => {}, 1000);`,
    { eval: true },
  );
  const tid = await new Promise<number>((resolve) => worker.once("message", resolve));
  return { tid, worker };
}

test("the main thread's kernel id is the process id", { skip: linux }, () => {
  assert.equal(ownThreadId(), process.pid);
  assert.equal(threadPolicy(process.pid), "normal");
});

test(
  "a thread is set to SCHED_IDLE and back to normal, as /proc reads it",
  { skip: linux || root },
  async () => {
    const { tid, worker } = await idleWorker();
    try {
      assert.notEqual(tid, process.pid);
      assert.equal(threadPolicy(tid), "normal");
      assert.equal(await setThreadPolicy(tid, "idle"), undefined);
      assert.equal(threadPolicy(tid), "idle");
      assert.equal(threadPolicy(process.pid), "normal", "only that thread");
      assert.equal(await setThreadPolicy(tid, "normal"), undefined);
      assert.equal(threadPolicy(tid), "normal");
    } finally {
      await worker.terminate();
    }
  },
);

test("what cannot be set says why instead of throwing", { skip: linux }, async () => {
  assert.match((await setThreadPolicy(0, "idle")) ?? "", /not a thread id/);
  assert.match((await setThreadPolicy(-5, "idle")) ?? "", /not a thread id/);
  assert.match((await setThreadPolicy(process.pid, "idle", "/nonexistent/chrt")) ?? "", /ENOENT/);
  // A thread that is gone: chrt names the failure.
  assert.ok((await setThreadPolicy(2 ** 22 + 7, "idle")) !== undefined);
  assert.equal(threadPolicy(2 ** 22 + 7), undefined);
  assert.equal(threadPolicy(process.pid), "normal", "nothing changed");
});
