import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CatalogRepository } from "../adapters/db/catalog-repository.js";
import { createUpstream } from "../adapters/upstream/create-upstream.js";
import { MemoryPageCache } from "../adapters/upstream/memory-page-cache.js";
import { DIALECTS, dialectSkip, openTestDatabase, type TestDatabase } from "../../test/helpers/databases.js";
import { startJsonIndexServer, type JsonIndexServer } from "../../test/helpers/upstream-server.js";
import { ProjectIndexService } from "./project-index.js";

const NOW = Date.UTC(2026, 0, 1);

function twoFiles(project: string) {
  return {
    files: [
      {
        filename: `${project}-1.0.0-py3-none-any.whl`,
        bytes: Buffer.from(`${project} wheel`),
        requiresPython: ">=3.8",
      },
      {
        filename: `${project}-1.0.0.tar.gz`,
        bytes: Buffer.from(`${project} sdist`),
        requiresPython: ">=3.8",
      },
    ],
  };
}

for (const dialect of DIALECTS) {
  describe(`ProjectIndexService memo (${dialect})`, async () => {
    const skip = await dialectSkip(dialect);
    let server: JsonIndexServer;
    let db: TestDatabase;

    before(async () => {
      if (skip) return;
      server = await startJsonIndexServer({
        projects: { alpha: twoFiles("alpha"), beta: twoFiles("beta"), gamma: twoFiles("gamma") },
      });
      db = await openTestDatabase(dialect);
    });
    after(async () => {
      if (skip) return;
      await server.close();
      await db.cleanup();
    });

    async function service(maxMemoFiles: number) {
      const upstream = await createUpstream(server.simpleUrl, {
        cache: new MemoryPageCache(),
        ttlMs: 60_000,
        now: () => NOW,
      });
      const repo = new CatalogRepository(db.db);
      return { repo, projects: new ProjectIndexService({ upstream, repo, now: () => NOW, maxMemoFiles }) };
    }

    test(
      "views are bounded by the files they list; a view served since its insertion stays",
      { skip },
      async () => {
        const { repo, projects } = await service(4);
        const alpha = await projects.getProject("alpha");
        const beta = await projects.getProject("beta");
        assert.ok(alpha && beta);
        // Within the bound a warm page is the memoised object itself.
        assert.equal(await projects.getProject("alpha"), alpha);
        const betaSerial = await repo.projectSerial("beta");

        // Six files > 4: beta (never served again) goes, alpha (served since) gets a second chance.
        await projects.getProject("gamma");
        assert.equal(await projects.getProject("alpha"), alpha);
        const rebuilt = await projects.getProject("beta");
        assert.ok(rebuilt);
        assert.notEqual(rebuilt, beta, "an evicted view is rebuilt");
        assert.deepEqual(rebuilt.files, beta.files);
        // The page did not change, so rebuilding it records nothing new.
        assert.equal(rebuilt.lastSerial, beta.lastSerial);
        assert.equal(await repo.projectSerial("beta"), betaSerial);
      },
    );
  });
}
