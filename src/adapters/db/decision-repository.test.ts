import { test } from "node:test";
import assert from "node:assert/strict";
import { DIALECTS, dialectSkip, openTestDatabase } from "../../../test/helpers/databases.js";
import { testDecision } from "../../../test/helpers/decisions.js";
import { DecisionRepository } from "./decision-repository.js";

for (const dialect of DIALECTS) {
  test(
    `instances re-judging one file at once record one change, not one each; changes wait unhandled until marked (${dialect})`,
    { skip: await dialectSkip(dialect) },
    async () => {
      const db = await openTestDatabase(dialect);
      try {
        const repo = new DecisionRepository(db.db);
        assert.equal((await repo.put(testDecision("admitted", "2026-11-01T00:00:00.000Z")))?.to, "admitted");
        // On PostgreSQL each put runs on its own pooled connection, concurrently.
        const events = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            repo.put(testDecision("blocked", `2026-11-02T00:00:0${i}.000Z`)),
          ),
        );
        assert.equal(events.filter(Boolean).length, 1, "one admitted → blocked change");
        const unhandled = await repo.unhandledEvents(10);
        assert.deepEqual(
          unhandled.map((e) => [e.from, e.to]),
          [
            [null, "admitted"],
            ["admitted", "blocked"],
          ],
        );
        await repo.markHandled([unhandled[0]!.id], 5);
        assert.deepEqual(
          (await repo.unhandledEvents(10)).map((e) => e.id),
          [unhandled[1]!.id],
        );
        await repo.markHandled([unhandled[1]!.id], 6);
        assert.deepEqual(await repo.unhandledEvents(10), []);
      } finally {
        await db.cleanup();
      }
    },
  );
}

for (const dialect of DIALECTS) {
  test(
    `instances judging a new file at the same moment record one change from nothing, not one each (${dialect})`,
    { skip: await dialectSkip(dialect) },
    async () => {
      const db = await openTestDatabase(dialect);
      try {
        const repo = new DecisionRepository(db.db);
        // 30 rounds, as a reviewer saw it with two gateways on one PostgreSQL: each round a new
        // file judged by four instances at once (each its own decision time). On PostgreSQL each
        // put runs on its own pooled connection, concurrently; SQLite serialises them.
        for (let round = 0; round < 30; round++) {
          const sha256 = round.toString(16).padStart(64, "e");
          const outcome = round % 2 ? "blocked" : "admitted";
          const told = await Promise.all(
            Array.from({ length: 4 }, (_, i) =>
              repo.put({
                ...testDecision(outcome, `2026-11-03T00:00:${String(round).padStart(2, "0")}.00${i}Z`),
                sha256,
              }),
            ),
          );
          assert.equal(told.filter(Boolean).length, 1, `round ${round}: one put tells the change`);
          const recorded = await db.db
            .selectFrom("decision_events")
            .select(["from_outcome", "to_outcome", "at"])
            .where("sha256", "=", sha256)
            .execute();
          assert.deepEqual(
            recorded.map((e) => [e.from_outcome, e.to_outcome]),
            [[null, outcome]],
            `round ${round}: one decision_events row, from nothing`,
          );
          const event = told.find(Boolean)!;
          assert.equal(event.at, recorded[0]!.at, "the change told is the one stored");
        }
      } finally {
        await db.cleanup();
      }
    },
  );
}
