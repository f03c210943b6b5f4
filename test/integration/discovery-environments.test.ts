/**
 * Reported environments on SQLite and PostgreSQL: a report creates an environment, a later report
 * of the same host and path replaces its inventory and keeps its owner, pages run newest first.
 * Over the API, the gateway judges each reported distribution against its catalog.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EnvironmentRepository } from "../../src/adapters/db/environment-repository.js";
import { DIALECTS, dialectSkip, openTestDatabase } from "../helpers/databases.js";
import { bearer, createToken } from "../helpers/identity.js";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { buildWheel, type BuiltArtifact } from "../helpers/wheel-builder.js";

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const OLD = "2025-01-01T00:00:00Z";

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

describe("environment reports over the API: the gateway judges, the client only claims", () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  let token = "";
  const w: Record<string, BuiltArtifact> = {};

  before(async () => {
    w.good = await buildWheel({ name: "envy-good", version: "1.0" });
    w.bad = await buildWheel({ name: "envy-bad", version: "1.0" });
    upstream = await startJsonIndexServer({
      projects: {
        "envy-good": { files: [{ filename: w.good.filename, bytes: w.good.bytes, uploadTime: OLD }] },
        "envy-bad": { files: [{ filename: w.bad.filename, bytes: w.bad.bytes, uploadTime: OLD }] },
      },
    });
    gw = await startTestGateway({ upstream: upstream.simpleUrl, authAnonymous: "off" }, { now: () => T0 });
    for (const [project, a] of [
      ["envy-good", w.good],
      ["envy-bad", w.bad],
    ] as const) {
      await gw.gateway.projects.getRawProject(project);
      await gw.gateway.services.access.open(a.sha256, a.filename).catch(() => undefined);
    }
    const dir = mkdtempSync(join(tmpdir(), "osv-"));
    writeFileSync(
      join(dir, "PYSEC-2099-9.json"),
      JSON.stringify({
        id: "PYSEC-2099-9",
        modified: "2026-01-01T00:00:00Z",
        summary: "made-up flaw in envy-bad 1.0",
        affected: [{ package: { ecosystem: "PyPI", name: "envy-bad" }, versions: ["1.0"] }],
      }),
    );
    await gw.gateway.intel.importSource(dir);
    await gw.gateway.policy.refresh();
    token = await createToken(gw, { user: "dev", role: "requester" });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test("a blocked package reported as admitted is stored, listed and counted as blocked", async () => {
    const claim = (name: string, sha256?: string) => ({
      name,
      version: "1.0",
      status: "admitted",
      reason: "trust me",
      ...(sha256 ? { sha256 } : {}),
    });
    const res = await fetch(`${gw.url}/api/v1/environments`, {
      method: "POST",
      headers: { ...bearer(token), "content-type": "application/json" },
      body: JSON.stringify({
        host: "build-3",
        path: "/srv/venv",
        kind: "venv",
        distributions: [
          claim("envy-bad", w.bad!.sha256),
          claim("envy-good", w.good!.sha256),
          claim("envy-good", w.bad!.sha256),
          claim("Envy_Good"),
          claim("never-seen"),
          { name: "envy-good", version: "1.0", status: "hash-differs", reason: "RECORD differs" },
        ],
      }),
    });
    const summary = (await res.json()) as { id: number; ungoverned: number; counts: Record<string, number> };
    assert.equal(res.status, 201, JSON.stringify(summary));
    assert.equal(summary.ungoverned, 4, JSON.stringify(summary));
    assert.deepEqual(summary.counts, { blocked: 1, admitted: 2, "hash-differs": 2, "not-in-catalog": 1 });
    const env = gw.gateway.services.environments;
    const stored = (await env.get(summary.id))!;
    assert.deepEqual(
      stored.distributions.map((d) => [d.name, d.status, d.reportedStatus ?? null]),
      [
        ["envy-bad", "blocked", "admitted"],
        ["envy-good", "admitted", null],
        ["envy-good", "hash-differs", "admitted"],
        ["Envy_Good", "admitted", null],
        ["never-seen", "not-in-catalog", "admitted"],
        ["envy-good", "hash-differs", null],
      ],
    );
    assert.match(stored.distributions[0]!.reason, /PYSEC-2099-9|vulnerab/i);
    assert.equal(stored.distributions[0]!.reportedReason, "trust me");
    const listed = (await env.list(10))[0]!;
    assert.equal(listed.ungoverned, 4, "the dashboard's count is the gateway's");
  });
});
