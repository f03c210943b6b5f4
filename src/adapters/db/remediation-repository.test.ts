import { test } from "node:test";
import assert from "node:assert/strict";
import { DIALECTS, dialectSkip, withTestDatabase } from "../../../test/helpers/databases.js";
import { sql } from "kysely";
import { up as remediationHistoryMigration } from "./migrations/0014-remediation-history.js";
import { IdentityRepository } from "./identity-repository.js";
import {
  RemediationRepository,
  type NewRemediationItem,
  type RemediationEvent,
} from "./remediation-repository.js";

const DAY = 86_400_000;

function newItem(over: Partial<NewRemediationItem> = {}): NewRemediationItem {
  return {
    sha256: "a".repeat(64),
    cause: "vulnerability:PYSEC-1",
    project: "acme",
    version: "1.0",
    filename: "acme-1.0-py3-none-any.whl",
    severity: "high",
    owner: "team-a",
    summary: "vulnerability: 1 known vulnerability",
    advisoryIds: ["PYSEC-1"],
    consumers: [
      { identity: "ci", ip: "10.0.0.1", team: null, application: null, client: "pip 26", lastPulled: "t" },
    ],
    fixedVersion: "1.1",
    openedAt: 1000,
    dueAt: 1000 + 7 * DAY,
    ...over,
  };
}

/** An event as `history` returns it: an opening by the gateway, unless `over` says otherwise. */
function event(over: Partial<RemediationEvent> & { at: number }): RemediationEvent {
  return {
    from: null,
    state: "open",
    by: "portcullis",
    note: null,
    acceptedUntil: null,
    resolution: null,
    owner: null,
    ...over,
  };
}

for (const dialect of DIALECTS) {
  const skip = await dialectSkip(dialect);

  test(`one item per (file, cause), even when instances race (${dialect})`, { skip }, () =>
    withTestDatabase(dialect, async (db) => {
      const repo = new RemediationRepository(db.db);
      const results = await Promise.all(Array.from({ length: 5 }, () => repo.open(newItem())));
      assert.equal(results.filter((r) => r.opened).length, 1);
      assert.equal(new Set(results.map((r) => r.item.id)).size, 1);
      assert.equal((await repo.history(results[0]!.item.id)).length, 1, "one opening in its history");
      const other = await repo.open(newItem({ cause: "malicious:MAL-1", severity: "critical" }));
      assert.equal(other.opened, true);
      assert.equal((await repo.list()).length, 2);
      const item = results[0]!.item;
      assert.equal(item.state, "open");
      assert.deepEqual(item.consumers[0]!.identity, "ci");
      assert.equal(item.dueAt, 1000 + 7 * DAY);
    }),
  );

  test(
    `transitions are compare-and-set; a fixed item reopens for the same cause (${dialect})`,
    { skip },
    () =>
      withTestDatabase(dialect, async (db) => {
        const repo = new RemediationRepository(db.db);
        const { item } = await repo.open(newItem());
        assert.equal(
          await repo.transition(item.id, "open", { state: "acknowledged", at: 2000, by: "alice" }),
          true,
        );
        assert.equal(
          await repo.transition(item.id, "open", { state: "fixed", at: 2000, by: "bob" }),
          false,
          "stale from",
        );
        assert.equal(
          await repo.transition(item.id, "acknowledged", {
            state: "accepted-risk",
            at: 3000,
            by: "alice",
            note: "n/a",
            acceptedUntil: 5000,
          }),
          true,
        );
        assert.equal((await repo.expiredAcceptances(4999)).length, 0);
        assert.equal((await repo.expiredAcceptances(5000)).length, 1);
        assert.equal(
          await repo.transition(item.id, "accepted-risk", {
            state: "fixed",
            at: 6000,
            by: "x",
            resolution: "admitted-again",
          }),
          true,
        );
        const fixed = (await repo.get(item.id))!;
        assert.equal(fixed.resolvedAt, 6000);
        assert.equal(fixed.resolution, "admitted-again");
        assert.equal(fixed.acceptedUntil, null);
        assert.equal((await repo.unresolvedOf(item.sha256)).length, 0);
        const again = await repo.open(newItem({ openedAt: 9000, dueAt: 9000 + DAY }));
        assert.equal(again.opened, true);
        assert.equal(again.item.id, item.id);
        assert.equal(again.item.state, "open");
        assert.equal(again.item.resolvedAt, null);
      }),
  );

  test(
    `history: the opening, every change with who and why, a reopening; a lost race adds nothing (${dialect})`,
    { skip },
    () =>
      withTestDatabase(dialect, async (db) => {
        const repo = new RemediationRepository(db.db);
        const { item } = await repo.open(newItem());
        await repo.transition(item.id, "open", {
          state: "acknowledged",
          at: 2000,
          by: "alice",
          note: "on it",
        });
        // Two approvers race from the same state: one wins, and only its change is in the history.
        const raced = await Promise.all([
          repo.transition(item.id, "acknowledged", {
            state: "accepted-risk",
            at: 3000,
            by: "bob",
            note: "internal only",
            acceptedUntil: 5000,
          }),
          repo.transition(item.id, "acknowledged", { state: "fixed", at: 3001, by: "carol" }),
        ]);
        assert.deepEqual([...raced].sort(), [false, true]);
        const winner = raced[0] ? "bob" : "carol";
        if (winner === "bob")
          await repo.transition(item.id, "accepted-risk", {
            state: "fixed",
            at: 6000,
            by: "portcullis",
            resolution: "admitted-again",
          });
        // Refused again once fixed: the same item reopens, and says so.
        await repo.open(newItem({ openedAt: 9000, dueAt: 9000 + DAY }));
        // Another item's events stay its own.
        await repo.open(newItem({ sha256: "c".repeat(64) }));
        const history = await repo.history(item.id);
        const expected = [
          event({ at: 1000 }),
          event({ at: 2000, from: "open", state: "acknowledged", by: "alice", note: "on it" }),
          winner === "bob"
            ? event({
                at: 3000,
                from: "acknowledged",
                state: "accepted-risk",
                by: "bob",
                note: "internal only",
                acceptedUntil: 5000,
              })
            : event({ at: 3001, from: "acknowledged", state: "fixed", by: "carol", resolution: "manual" }),
        ];
        if (winner === "bob")
          expected.push(
            event({ at: 6000, from: "accepted-risk", state: "fixed", resolution: "admitted-again" }),
          );
        expected.push(event({ at: 9000, from: "fixed", note: "refused again" }));
        assert.deepEqual(history, expected);
        assert.deepEqual(await repo.history(item.id + 1000), []);
      }),
  );

  test(
    `a new owner moves the project's unresolved items, each with the change in its history (${dialect})`,
    { skip },
    () =>
      withTestDatabase(dialect, async (db) => {
        const repo = new RemediationRepository(db.db);
        const owners = new IdentityRepository(db.db);
        const live = (await repo.open(newItem({ owner: null }))).item;
        const acked = (await repo.open(newItem({ sha256: "d".repeat(64), owner: "team-a" }))).item;
        await repo.transition(acked.id, "open", { state: "acknowledged", at: 2000, by: "alice" });
        const fixed = (await repo.open(newItem({ sha256: "f".repeat(64), owner: "team-a" }))).item;
        await repo.transition(fixed.id, "open", { state: "fixed", at: 2500, by: "alice" });
        const elsewhere = (await repo.open(newItem({ sha256: "e".repeat(64), project: "other" }))).item;

        await owners.setOwner("acme", "team-b", "root", 3000);
        const change = (from: "open" | "acknowledged") =>
          event({
            at: 3000,
            from,
            state: from,
            by: "root",
            note: `previously ${from === "open" ? "nobody" : "team-a"}`,
            owner: "team-b",
          });
        assert.deepEqual((await repo.history(live.id)).at(-1), change("open"));
        assert.equal((await repo.get(live.id))!.owner, "team-b");
        assert.deepEqual((await repo.history(acked.id)).at(-1), change("acknowledged"));
        // A fixed item keeps the owner it had, and its history has no change; another project's too.
        assert.equal((await repo.get(fixed.id))!.owner, "team-a");
        assert.equal((await repo.history(fixed.id)).at(-1)!.state, "fixed");
        assert.equal((await repo.history(elsewhere.id)).length, 1);
        // The same owner again moves nothing, and says nothing.
        await owners.setOwner("acme", "team-b", "root", 4000);
        assert.equal((await repo.history(live.id)).length, 2);
      }),
  );

  test(
    `items opened before the history get their opening and their current state (${dialect})`,
    { skip },
    () =>
      withTestDatabase(dialect, async (db) => {
        const repo = new RemediationRepository(db.db);
        const untouched = (await repo.open(newItem())).item;
        const accepted = (await repo.open(newItem({ sha256: "d".repeat(64), openedAt: 1500 }))).item;
        await repo.transition(accepted.id, "open", { state: "acknowledged", at: 2000, by: "alice" });
        await repo.transition(accepted.id, "acknowledged", {
          state: "accepted-risk",
          at: 3000,
          by: "bob",
          note: "internal only",
          acceptedUntil: 5000,
        });
        // As a database migrated before 0014 has it: the items, no events; then the migration.
        await sql`drop table remediation_events`.execute(db.db);
        await remediationHistoryMigration(db.db, db.dialect);
        assert.deepEqual(await repo.history(untouched.id), [event({ at: 1000 })]);
        assert.deepEqual(await repo.history(accepted.id), [
          event({ at: 1500 }),
          // The acknowledgement in between is not on the item's row: only the audit trail has it.
          event({ at: 3000, state: "accepted-risk", by: "bob", note: "internal only", acceptedUntil: 5000 }),
        ]);
      }),
  );

  test(
    `notices are marked once; lists filter and page newest first; facts feed the report (${dialect})`,
    { skip },
    () =>
      withTestDatabase(dialect, async (db) => {
        const repo = new RemediationRepository(db.db);
        const a = (await repo.open(newItem({ dueAt: 10_000 }))).item;
        const b = (
          await repo.open(
            newItem({ sha256: "b".repeat(64), severity: "low", project: "other", dueAt: 50_000 }),
          )
        ).item;
        assert.deepEqual(
          (await repo.needingNotice("overdue", 20_000)).map((i) => i.id),
          [a.id],
        );
        const marks = await Promise.all([
          repo.markNotified(a.id, "overdue", 20_000),
          repo.markNotified(a.id, "overdue", 20_001),
        ]);
        assert.deepEqual(marks.sort(), [false, true]);
        assert.equal((await repo.needingNotice("overdue", 60_000)).length, 1, "only b is left");
        // An accepted risk that expires brings the item back live: its overdue notice goes out again.
        assert.equal(
          await repo.transition(a.id, "open", {
            state: "accepted-risk",
            at: 20_100,
            by: "sec",
            acceptedUntil: 30_000,
          }),
          true,
        );
        assert.equal((await repo.needingNotice("overdue", 60_000)).length, 1, "accepted: not notified");
        assert.equal(
          await repo.transition(a.id, "accepted-risk", { state: "open", at: 30_001, by: "system" }),
          true,
        );
        assert.deepEqual(
          (await repo.needingNotice("overdue", 60_000)).map((i) => i.id).sort(),
          [a.id, b.id].sort(),
        );
        assert.equal(await repo.markNotified(a.id, "overdue", 30_002), true);
        assert.deepEqual(
          (await repo.list({ severity: "low" })).map((i) => i.id),
          [b.id],
        );
        assert.deepEqual(
          (await repo.list({ project: "acme" })).map((i) => i.id),
          [a.id],
        );
        assert.deepEqual(
          (await repo.list({ limit: 1 })).map((i) => i.id),
          [b.id],
        );
        assert.deepEqual(
          (await repo.list({ beforeId: b.id })).map((i) => i.id),
          [a.id],
        );
        const facts = await repo.facts();
        assert.equal(facts.length, 2);
        assert.equal(typeof facts[0]!.openedAt, "number");
      }),
  );
}
