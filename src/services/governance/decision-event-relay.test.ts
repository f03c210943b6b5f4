import { test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import type { DecisionEvent } from "../../adapters/db/decision-repository.js";
import { DecisionEventRelay, type DecisionEventSource } from "./decision-event-relay.js";

const log = pino({ level: "silent" });

function event(id: number): DecisionEvent {
  return {
    id,
    sha256: String(id).padStart(64, "0"),
    project: "acme",
    version: `1.${id}`,
    filename: `acme-1.${id}-py3-none-any.whl`,
    from: "admitted",
    to: "blocked",
    reasons: [],
    at: "2026-11-28T00:00:00.000Z",
  };
}

/** An in-memory decision_events table. */
function source(ids: number[]): DecisionEventSource & { handled: Map<number, number> } {
  const handled = new Map<number, number>();
  return {
    handled,
    unhandledEvents: async (limit) =>
      ids
        .filter((id) => !handled.has(id))
        .slice(0, limit)
        .map(event),
    markHandled: async (marked, at) => {
      for (const id of marked) if (!handled.has(id)) handled.set(id, at);
    },
  };
}

test("every stored change is taken in, in order, and marked only after it was handled", async () => {
  const src = source([1, 2, 3, 4, 5]);
  const seen: number[] = [];
  const relay = new DecisionEventRelay({
    source: src,
    handle: async (events) => {
      // Not yet marked while being handled: a crash here leaves it for the next kick.
      for (const e of events) assert.equal(src.handled.has(e.id), false);
      seen.push(...events.map((e) => e.id));
    },
    log,
    now: () => 7,
  });
  relay.kick();
  relay.kick(); // while running: once more after
  await relay.flush();
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  assert.deepEqual([...src.handled.values()], [7, 7, 7, 7, 7]);
});

test("one change that cannot be handled does not hold up the others, and is given up after 5 tries", async () => {
  const ids = [1, 2, 3];
  const src = source(ids);
  const seen: number[] = [];
  let triesOf2 = 0;
  const relay = new DecisionEventRelay({
    source: src,
    handle: async (events) => {
      if (events.some((e) => e.id === 2)) {
        if (events.length === 1) triesOf2++;
        throw new Error("poison");
      }
      seen.push(...events.map((e) => e.id));
    },
    log,
    now: () => 1,
  });
  relay.kick();
  await relay.flush();
  assert.deepEqual(seen, [1, 3]);
  assert.deepEqual([...src.handled.keys()].sort(), [1, 3]);
  // Alone it is retried at each kick without being counted (it might be the database)...
  const before = triesOf2;
  relay.kick();
  await relay.flush();
  assert.equal(triesOf2, before + 1);
  // ...and counted when others get through beside it: after 5 such failures it is left alone.
  const kickWithNew = async (id: number) => {
    ids.push(id);
    relay.kick();
    await relay.flush();
  };
  for (let next = 4; next < 8; next++) await kickWithNew(next);
  const givenUp = triesOf2;
  for (let next = 8; next < 12; next++) await kickWithNew(next);
  assert.equal(triesOf2, givenUp, "no longer tried");
  assert.deepEqual(seen, [1, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.equal(src.handled.has(2), false, "never marked: it was not handled");
});

test("a database that is down fails every change: none is given up, all go through once it is back", async () => {
  const src = source([1, 2, 3]);
  let down = true;
  const seen: number[] = [];
  const relay = new DecisionEventRelay({
    source: src,
    handle: async (events) => {
      if (down) throw new Error("connection refused");
      seen.push(...events.map((e) => e.id));
    },
    log,
    now: () => 1,
  });
  for (let i = 0; i < 10; i++) {
    relay.kick();
    await relay.flush();
  }
  assert.deepEqual(seen, []);
  down = false;
  relay.kick();
  await relay.flush();
  assert.deepEqual(seen, [1, 2, 3]);
});
