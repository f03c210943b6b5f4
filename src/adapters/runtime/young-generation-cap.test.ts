import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { Worker } from "node:worker_threads";
import { YoungGenerationCap } from "./young-generation-cap.js";

const MiB = 1024 * 1024;

test("young generation cap: growth allowed below the cap, frozen at it, given back on stop", () => {
  let young = 2 * MiB;
  const flags: string[] = [];
  const cap = new YoungGenerationCap({
    maxBytes: 8 * MiB,
    youngBytes: () => young,
    setFlags: (f) => flags.push(f),
  });
  assert.equal(cap.check(), true, "below the cap");
  assert.deepEqual(flags, [], "V8's default growth is left alone");
  young = 8 * MiB;
  assert.equal(cap.check(), false, "at the cap");
  assert.equal(cap.check(), false);
  assert.deepEqual(
    flags,
    ["--semi-space-growth-factor=1", "--semi-space-growth-factor=1"],
    "frozen, every time",
  );
  young = 1 * MiB;
  assert.equal(cap.check(), true, "V8 shrank it while idle");
  assert.equal(cap.check(), true);
  assert.deepEqual(flags.slice(2), ["--semi-space-growth-factor=2"], "it may grow back");
  cap.start();
  young = 16 * MiB;
  cap.check();
  cap.stop();
  assert.deepEqual(flags.slice(-2), ["--semi-space-growth-factor=1", "--semi-space-growth-factor=2"]);
});

test("young generation cap: the freeze is set again once a worker thread is online", async () => {
  const flags: string[] = [];
  const cap = new YoungGenerationCap({ maxBytes: 1, youngBytes: () => 2, setFlags: (f) => flags.push(f) });
  cap.start();
  try {
    const worker = new Worker("setTimeout(() => {}, 50)", { eval: true });
    const before = flags.length;
    await once(worker, "online");
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(flags.length > before, "checked when the worker came online");
    assert.equal(flags.at(-1), "--semi-space-growth-factor=1");
    await once(worker, "exit");
  } finally {
    cap.stop();
  }
});

test("young generation cap: runs on the real V8 and restores its default growth", () => {
  const cap = new YoungGenerationCap({ maxBytes: 1 });
  cap.start();
  cap.start();
  assert.equal(cap.check(), false, "any young generation is at a 1-byte cap");
  cap.stop();
  cap.stop();
});
