import { test } from "node:test";
import assert from "node:assert/strict";
import { DIALECTS, dialectSkip, openTestDatabase } from "../../../test/helpers/databases.js";
import { CatalogRepository, DbPageCache } from "./catalog-repository.js";

const sha = (c: string) => c.repeat(64);

for (const dialect of DIALECTS) {
  const skip = await dialectSkip(dialect);

  test(`records pages, bumps serials only on change, finds files (${dialect})`, { skip }, async () => {
    const db = await openTestDatabase(dialect);
    try {
      const repo = new CatalogRepository(db.db);
      const files = [
        {
          sha256: sha("a"),
          filename: "demo-1.0-py3-none-any.whl",
          version: "1.0",
          url: "https://u/demo-1.0.whl",
          size: 10,
        },
        { sha256: sha("b"), filename: "demo-1.0.tar.gz", version: "1.0", url: "https://u/demo-1.0.tar.gz" },
      ];
      const s1 = await repo.recordPage("demo", "Demo", "d1", files, 1000);
      assert.equal(
        await repo.recordPage("demo", "Demo", "d1", files, 2000),
        s1,
        "same page keeps the serial",
      );
      const s2 = await repo.recordPage("demo", "Demo", "d2", files.slice(0, 1), 3000);
      assert.ok(s2 > s1);
      const s3 = await repo.recordPage("other", "other", "x", [], 3000);
      assert.ok(s3 > s2);
      assert.equal(await repo.lastSerial(), s3);
      assert.equal(await repo.projectSerial("demo"), s2);

      const f = await repo.findFile(sha("a"));
      assert.equal(f?.filename, "demo-1.0-py3-none-any.whl");
      assert.equal(f?.size, 10);
      assert.equal(f?.storedAt, null);
      await repo.markStored(sha("a"), 12, 5000);
      await repo.setMetadataDigest(sha("a"), sha("c"));
      const g = await repo.findFile(sha("a"));
      assert.equal(g?.storedAt, 5000);
      assert.equal(g?.size, 12);
      assert.equal(g?.metadataSha256, sha("c"));
      assert.equal(await repo.findFile(sha("f")), undefined);
      assert.deepEqual(
        (await repo.listProjects()).map((p) => p.name),
        ["demo", "other"],
      );
      assert.equal(await repo.countFiles(), 2);
    } finally {
      await db.cleanup();
    }
  });

  test(`records a page with hundreds of files in one transaction (${dialect})`, { skip }, async () => {
    const db = await openTestDatabase(dialect);
    try {
      const repo = new CatalogRepository(db.db);
      const files = Array.from({ length: 700 }, (_, i) => ({
        sha256: i.toString(16).padStart(64, "0"),
        filename: `big-${i}.0-py3-none-any.whl`,
        version: `${i}.0`,
        url: `https://u/big-${i}.whl`,
      }));
      await repo.recordPage("big", "big", "d", files, 1);
      assert.equal(await repo.countFiles(), 700);
    } finally {
      await db.cleanup();
    }
  });

  test(`page cache round-trips the raw upstream page (${dialect})`, { skip }, async () => {
    const db = await openTestDatabase(dialect);
    try {
      const cache = new DbPageCache(db.db);
      assert.equal(await cache.get("x"), undefined);
      const page = { name: "x", files: [], versions: ["1.0"] };
      await cache.put("x", { page, fetchedAt: 42, etag: '"e1"' });
      await cache.put("x", {
        page,
        fetchedAt: 43,
        etag: '"e2"',
        lastModified: "Tue, 01 Jan 2030 00:00:00 GMT",
      });
      const got = await cache.get("x");
      assert.deepEqual(got, {
        page,
        fetchedAt: 43,
        etag: '"e2"',
        lastModified: "Tue, 01 Jan 2030 00:00:00 GMT",
      });
    } finally {
      await db.cleanup();
    }
  });
}
