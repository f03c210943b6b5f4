import assert from "node:assert/strict";
import { test } from "node:test";
import { getHeapSpaceStatistics } from "node:v8";
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

test("heap compactor: the collection compacts, so a fragmented old space is given back", () => {
  const oldSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === "old_space")!;
  let now = 0;
  const c = new HeapCompactor({ now: () => now, idleMs: 0, growthBytes: 0 });
  // Survivors spread over many pages: allocate, let them reach old space, then drop four in five.
  const kept: ({ id: number; tags: number[] } | null)[] = [];
  for (let i = 0; i < 300_000; i++) kept.push({ id: i, tags: [i, i + 1, i + 2] });
  c.check();
  for (let i = 0; i < kept.length; i++) if (i % 5 !== 0) kept[i] = null;
  const fragmented = oldSpace().space_size;
  now = 1;
  assert.equal(c.check(), true);
  assert.ok(
    oldSpace().space_size < fragmented * 0.75,
    `old space ${oldSpace().space_size} bytes committed after compaction, ${fragmented} before`,
  );
  assert.equal(kept.filter(Boolean).length, 60_000, "survivors survive");
});
