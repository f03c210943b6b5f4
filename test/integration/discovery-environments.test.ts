/**
 * Reported environments on SQLite and PostgreSQL: a report creates an environment, a later report
 * of the same host and path replaces its inventory and keeps its owner, pages run newest first.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { EnvironmentRepository } from "../../src/adapters/db/environment-repository.js";
import { DIALECTS, dialectSkip, openTestDatabase } from "../helpers/databases.js";

function stored<T extends object>(r: T | { refused: string }): T {
  assert.ok(!("refused" in r), JSON.stringify(r));
  return r as T;
}

const report = (path: string, statuses: string[], owner?: string) => ({
  host: "laptop-7",
  path,
  kind: "venv",
  pythonVersion: "3.11",
  ...(owner ? { owner } : {}),
  reportedBy: "alice",
  distributions: statuses.map((status, i) => ({ name: `pkg${i}`, version: "1.0", status, reason: status })),
  ungoverned: statuses.filter((s) => s !== "admitted").length,
});

for (const dialect of DIALECTS) {
  const skip = await dialectSkip(dialect);
  describe(`environment repository (${dialect})`, { skip }, () => {
    test("report, re-report, assign an owner, page through", async () => {
      const db = await openTestDatabase(dialect);
      try {
        const repo = new EnvironmentRepository(db.db);
        const first = stored(await repo.upsert(report("/home/a/venv", ["admitted", "not-in-catalog"]), 1000));
        assert.equal(first.created, true);
        const other = stored(await repo.upsert(report("/home/a/other", ["admitted"], "web"), 2000));
        assert.ok(await repo.setOwner(first.id, "data-science"));
        assert.equal(await repo.setOwner(9999, "nobody"), false);

        const again = await repo.upsert(
          report("/home/a/venv", ["admitted", "admitted", "hash-differs"]),
          3000,
        );
        assert.deepEqual(again, { id: first.id, created: false });
        const intruder = { ...report("/home/a/venv", [], "attackers"), reportedBy: "mallory" };
        assert.match(
          JSON.stringify(await repo.upsert(intruder, 3500)),
          /reported by alice/,
          "someone else's report never replaces an inventory",
        );
        const env = (await repo.get(first.id))!;
        assert.equal(env.owner, "data-science", "a new report keeps the assigned owner");
        assert.equal(env.firstReportedAt, 1000);
        assert.equal(env.reportedAt, 3000);
        assert.equal(env.total, 3);
        assert.equal(env.ungoverned, 1);
        assert.deepEqual(env.counts, { admitted: 2, "hash-differs": 1 });
        assert.equal(env.distributions[2]!.status, "hash-differs");

        const page1 = await repo.list(1);
        assert.deepEqual(
          page1.map((e) => e.id),
          [first.id],
        );
        const page2 = await repo.list(1, { reportedAt: page1[0]!.reportedAt, id: page1[0]!.id });
        assert.deepEqual(
          page2.map((e) => e.id),
          [other.id],
        );
        assert.deepEqual(await repo.list(10, undefined, { owner: null }), []);
        assert.equal(await repo.get(9999), undefined);
        // An approver may replace anyone's report.
        const byApprover = { ...report("/home/a/venv", ["admitted"]), reportedBy: "sec" };
        assert.deepEqual(await repo.upsert(byApprover, 4000, { replaceOthers: true }), {
          id: first.id,
          created: false,
        });
      } finally {
        await db.cleanup();
      }
    });
  });
}
