import { test } from "node:test";
import assert from "node:assert/strict";
import type { Decision } from "../../policy/decision.js";
import { DIALECTS, dialectSkip, withTestDatabase } from "../../../test/helpers/databases.js";
import { testDecision } from "../../../test/helpers/decisions.js";
import { ConsoleRepository } from "./console-repository.js";
import { DecisionRepository } from "./decision-repository.js";

/** A decision on `name` 1.0's file. */
function decision(name: string, outcome: Decision["outcome"], decidedAt: string): Decision {
  return testDecision(outcome, decidedAt, {
    sha256: name[0]!.repeat(64),
    filename: `${name}-1.0-py3-none-any.whl`,
    project: name,
  });
}

for (const dialect of DIALECTS) {
  test(
    `recent refusals say what each file's decision is now: a refusal lifted since shows (${dialect})`,
    { skip: await dialectSkip(dialect) },
    async () => {
      await withTestDatabase(dialect, async (db) => {
        const decisions = new DecisionRepository(db.db);
        await decisions.put(decision("triton", "quarantined", "2026-11-30T00:00:00.000Z"));
        await decisions.put(decision("widgets", "blocked", "2026-11-30T00:00:01.000Z"));
        // Read again by a newer analyser: admitted.
        await decisions.put(decision("triton", "admitted", "2026-11-30T00:00:02.000Z"));
        const recent = await new ConsoleRepository(db.db).recentRefusals(10);
        assert.deepEqual(
          recent.map((r) => [r.project, r.outcome, r.now]),
          [
            ["widgets", "blocked", "blocked"],
            ["triton", "quarantined", "admitted"],
          ],
        );
      });
    },
  );
}
