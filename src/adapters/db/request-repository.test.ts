import { test } from "node:test";
import assert from "node:assert/strict";
import { DIALECTS, dialectSkip, openTestDatabase } from "../../../test/helpers/databases.js";
import { ConsoleRepository } from "./console-repository.js";
import { DecisionRepository } from "./decision-repository.js";
import { RequestRepository } from "./request-repository.js";

const T0 = Date.UTC(2026, 10, 27, 12);

for (const dialect of DIALECTS) {
  const skip = await dialectSkip(dialect);

  test(
    `requests are stored, listed by state and requester, and decided once (${dialect})`,
    { skip },
    async () => {
      const db = await openTestDatabase(dialect);
      try {
        const repo = new RequestRepository(db.db);
        const base = {
          reason: "need it",
          requesterTeam: "data",
          report: { ok: false, treeScore: 60, files: [] },
          now: T0,
        };
        const a = await repo.create({
          ...base,
          project: "alpha",
          version: "1.0",
          state: "pending",
          requester: "ana",
        });
        const b = await repo.create({
          ...base,
          project: "beta",
          version: null,
          state: "approved",
          requester: "bo",
        });
        const c = await repo.create({
          ...base,
          project: "gamma",
          version: null,
          state: "pending",
          requester: "ana",
        });
        assert.ok(a < b && b < c, `ids in creation order: ${a}, ${b}, ${c}`);

        const got = await repo.get<{ ok: boolean }>(a);
        assert.equal(got?.project, "alpha");
        assert.equal(got?.createdAt, T0);
        assert.deepEqual(got?.report, { ok: false, treeScore: 60, files: [] });
        assert.deepEqual(got?.exceptions, []);
        assert.equal(await repo.get(9999), undefined);

        const pending = await repo.list({ state: "pending", limit: 10 });
        assert.deepEqual(
          pending.map((r) => r.id),
          [c, a],
        );
        assert.equal(pending[0]!.ok, false);
        assert.equal(pending[0]!.treeScore, 60);
        assert.equal("report" in pending[0]!, false);
        assert.deepEqual(
          (await repo.list({ requester: "ana", limit: 1 })).map((r) => r.id),
          [c],
        );
        assert.deepEqual(
          (await repo.list({ requester: "ana", beforeId: c, limit: 10 })).map((r) => r.id),
          [a],
        );
        assert.equal(await repo.countByState("pending"), 2);

        const exceptions = [
          { id: 7, project: "alpha", version: "1.0", reason: "ok", expiresAt: "2027-01-01T00:00:00.000Z" },
        ];
        assert.equal(
          await repo.transition(a, "pending", {
            state: "approved",
            decidedBy: "sec",
            decisionReason: "fine",
            exceptions,
            now: T0 + 5,
          }),
          true,
        );
        // Compare-and-set: a second approver loses.
        assert.equal(
          await repo.transition(a, "pending", {
            state: "denied",
            decidedBy: "other",
            decisionReason: "no",
            now: T0 + 6,
          }),
          false,
        );
        const decided = await repo.get(a);
        assert.equal(decided?.state, "approved");
        assert.equal(decided?.decidedBy, "sec");
        assert.equal(decided?.updatedAt, T0 + 5);
        assert.deepEqual(decided?.exceptions, exceptions);
        assert.equal(await repo.countByState("pending"), 1);
      } finally {
        await db.cleanup();
      }
    },
  );

  test(
    `a decision and the exceptions it grants are one: the loser of a race grants nothing (${dialect})`,
    { skip },
    async () => {
      const db = await openTestDatabase(dialect);
      try {
        const repo = new RequestRepository(db.db);
        const decisions = new DecisionRepository(db.db);
        const expiresAt = "2027-01-01T00:00:00.000Z";
        const grant = (sha: string, checks?: string[]) => ({
          exception: {
            project: "alpha",
            sha256: sha.repeat(64),
            ...(checks ? { checks } : {}),
            reason: "request: vendor",
            approver: "sec",
            "expires-at": expiresAt,
          },
          granted: {
            project: "alpha",
            sha256: sha.repeat(64),
            ...(checks ? { checks } : {}),
            reason: "vendor",
            expiresAt,
          },
        });
        const pending = () =>
          repo.create({
            project: "alpha",
            version: "1.0",
            reason: "need it",
            state: "pending",
            requester: "ana",
            requesterTeam: null,
            report: { ok: false, treeScore: 60 },
            now: T0,
          });
        const approve = { state: "approved" as const, decidedBy: "sec", decisionReason: "ok", now: T0 + 1 };
        const deny = { state: "denied" as const, decidedBy: "other", decisionReason: "no", now: T0 + 1 };

        const lost = await pending();
        assert.equal(await repo.transition(lost, "pending", deny), true);
        assert.equal(await repo.decide(lost, "pending", approve, [grant("a")]), undefined);
        assert.deepEqual(await decisions.exceptions(), [], "a decision that lost inserts no exception");
        assert.deepEqual((await repo.get(lost))?.exceptions, []);

        // Many rounds of an approval racing a denial: whoever wins, a denied request has no
        // exception in force, and an approved one has exactly its own.
        for (let round = 0; round < 8; round++) {
          const id = await pending();
          const sha = String.fromCharCode(98 + round);
          const [granted, denied] = await Promise.all([
            repo.decide(id, "pending", approve, [grant(sha, ["typosquat"])]),
            repo.transition(id, "pending", deny),
          ]);
          assert.equal(granted === undefined, denied, `exactly one decision wins (round ${round})`);
          const inForce = (await decisions.exceptions()).filter((e) => e.sha256 === sha.repeat(64));
          const request = await repo.get(id);
          assert.equal(request?.state, denied ? "denied" : "approved");
          assert.equal(inForce.length, denied ? 0 : 1, `exceptions in force after round ${round}`);
          assert.deepEqual(
            request?.exceptions.map((e) => e.id),
            inForce.map((e) => e.id),
          );
        }

        // A grant an exception in force already covers reuses it: no duplicate, no new row.
        const first = await pending();
        const [once] = (await repo.decide(first, "pending", { ...approve, state: "pending" }, [grant("z")]))!;
        assert.equal(once!.created, true);
        const again = await repo.decide(first, "pending", { ...approve, state: "pending" }, [
          grant("z", ["typosquat"]),
        ]);
        assert.deepEqual(
          again?.map((g) => [g.exception.id, g.created]),
          [[once!.exception.id, false]],
          "an all-checks exception covers a grant for one check",
        );
        assert.equal((await decisions.exceptions()).filter((e) => e.sha256 === "z".repeat(64)).length, 1);
        assert.deepEqual(
          (await repo.get(first))?.exceptions.map((e) => e.id),
          [once!.exception.id],
          "the request lists it once",
        );
        const longer = grant("z");
        longer.exception["expires-at"] = "2027-06-01T00:00:00.000Z";
        const [extended] = (await repo.decide(first, "pending", { ...approve, state: "pending" }, [longer]))!;
        assert.equal(extended!.created, true, "a grant lasting longer is a new exception");
      } finally {
        await db.cleanup();
      }
    },
  );

  test(
    `the console's read queries: counts, history by day, recent refusals, project search (${dialect})`,
    { skip },
    async () => {
      const db = await openTestDatabase(dialect);
      try {
        const decisions = new DecisionRepository(db.db);
        const consoleRepo = new ConsoleRepository(db.db);
        const decision = (sha: string, project: string, outcome: "admitted" | "blocked", at: string) => ({
          sha256: sha.repeat(64),
          filename: `${project}-1.0-py3-none-any.whl`,
          project,
          version: "1.0",
          outcome,
          score: outcome === "blocked" ? 45 : 0,
          reasons:
            outcome === "blocked"
              ? [
                  {
                    check: "vulnerability",
                    outcome: "fail" as const,
                    action: "block" as const,
                    mode: "enforce" as const,
                    message: "PYSEC-1",
                    evidence: [],
                  },
                ]
              : [],
          policyVersion: "p",
          intelSnapshot: "i",
          decidedAt: at,
          stage: "full" as const,
        });
        await decisions.put(decision("a", "alpha", "admitted", "2026-11-25T10:00:00.000Z"));
        await decisions.put(decision("b", "beta", "blocked", "2026-11-26T10:00:00.000Z"));
        await decisions.put(decision("c", "beta-two", "blocked", "2026-11-26T11:00:00.000Z"));
        assert.deepEqual(await consoleRepo.outcomeCounts(), {
          admitted: 1,
          quarantined: 0,
          blocked: 2,
          pending: 0,
        });
        const history = await consoleRepo.historySince("2026-11-26T00:00:00.000Z");
        assert.deepEqual(history, [{ day: "2026-11-26", outcome: "blocked", n: 2 }]);
        const recent = await consoleRepo.recentRefusals(1);
        assert.equal(recent[0]?.project, "beta-two");
        assert.equal(recent[0]?.reasons[0]?.check, "vulnerability");
        assert.equal((await consoleRepo.refusedReasons(10)).length, 2);

        for (const [name, t] of [
          ["alpha", 1],
          ["beta", 2],
          ["beta-two", 3],
          ["gamma-x", 4],
        ] as const) {
          await db.db
            .insertInto("projects")
            .values({ name, display_name: name, last_serial: t, created_at: t, updated_at: t })
            .execute();
        }
        assert.deepEqual(
          (await consoleRepo.listProjects({ q: "beta", limit: 10 })).map((p) => p.name),
          ["beta", "beta-two"],
        );
        assert.deepEqual(
          (await consoleRepo.listProjects({ after: "beta", limit: 1 })).map((p) => p.name),
          ["beta-two"],
        );
        // `_` is not a wildcard: it never matches a normalised name's `-`.
        assert.deepEqual(
          (await consoleRepo.listProjects({ q: "a_x", limit: 10 })).map((p) => p.name),
          [],
        );
        const stats = await consoleRepo.projectStats(["beta", "alpha"]);
        assert.deepEqual(stats.get("beta")?.outcomes, { blocked: 1 });
        assert.deepEqual(stats.get("alpha")?.outcomes, { admitted: 1 });
      } finally {
        await db.cleanup();
      }
    },
  );
}
