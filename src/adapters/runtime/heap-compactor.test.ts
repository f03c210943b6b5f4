import assert from "node:assert/strict";
import { test } from "node:test";
import { HeapCompactor } from "./heap-compactor.js";

test("heap compactor: collects only when idle after enough growth, once per growth step", () => {
  let now = 0;
  let heap = 100;
  const c = new HeapCompactor({ now: () => now, idleMs: 1000, growthBytes: 50, heapTotal: () => heap });
  assert.ok(c.available, "the collector is reachable at run time");
  assert.equal(c.check(), false, "no growth");
  heap = 200;
  c.noteActivity();
  now = 500;
  assert.equal(c.check(), false, "still busy learning pages");
  now = 1500;
  assert.equal(c.check(), true, "idle after growth: collect");
  assert.equal(c.check(), false, "the new heap size is the baseline");
  heap = 240;
  now = 5000;
  assert.equal(c.check(), false, "growth below the threshold");
  assert.equal(c.compactions, 1);
});
