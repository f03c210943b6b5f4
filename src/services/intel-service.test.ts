import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { IntelRepository } from "../adapters/db/intel-repository.js";
import { DIALECTS, dialectSkip, openTestDatabase } from "../../test/helpers/databases.js";
import { sharedDataDir } from "../../test/helpers/shared-data.js";
import { IntelImportError, IntelService } from "./intel-service.js";

for (const dialect of DIALECTS) {
  const skip = await dialectSkip(dialect);

  test(
    `imports the real OSV zips, names and popular list, and loads them (${dialect})`,
    { skip },
    async () => {
      const db = await openTestDatabase(dialect);
      try {
        const intel = new IntelService({
          repo: new IntelRepository(db.db),
          now: () => Date.UTC(2026, 10, 27),
        });
        const empty = await intel.load();
        assert.equal(empty.missing, true);
        const data = sharedDataDir();
        const pysec = await intel.importSource(join(data, "osv/pypa-advisory-database.zip"));
        assert.equal(pysec.kind, "osv");
        assert.equal(pysec.added, 2661);
        assert.equal(pysec.skipped, 0);
        const mal = await intel.importSource(join(data, "osv/ossf-malicious-pypi.zip"));
        assert.equal(mal.added, 24);
        const names = await intel.importSource(join(data, "osv/ossf-malicious-pypi-names.jsonl"));
        assert.equal(names.kind, "malicious-names");
        assert.equal(names.added, 11154);
        const popular = await intel.importSource(join(data, "top-pypi-packages.json"));
        assert.equal(popular.kind, "popular");
        assert.equal(popular.added, 15000);
        const state = await intel.load();
        assert.equal(state.missing, false);
        assert.equal(state.generation, popular.generation);
        assert.ok(state.index.match("django", "1.0.1").some((a) => a.id === "PYSEC-2007-1"));
        assert.ok(!state.index.match("django", "1.1").some((a) => a.id === "PYSEC-2007-1"));
        assert.ok(state.index.match("litellm", "1.82.8").some((a) => a.id === "MAL-2026-2144"));
        assert.equal(state.index.match("fastapi", "0.136.3").length, 0, "withdrawn reports never count");
        assert.deepEqual(state.popular[0], { name: "boto3", downloads: 1880218825 });
        await assert.rejects(intel.importSource("/nonexistent/intel.zip"), IntelImportError);
        // An empty or garbled list would switch a check off: refused, and the lists kept.
        const dir = mkdtempSync(join(tmpdir(), "intel-empty-"));
        try {
          writeFileSync(join(dir, "names.jsonl"), "");
          writeFileSync(join(dir, "garbled.jsonl"), "not json\n");
          writeFileSync(join(dir, "top.json"), '{"rows":[]}');
          for (const f of ["names.jsonl", "garbled.jsonl", "top.json"])
            await assert.rejects(intel.importSource(join(dir, f)), /the current list is kept/, f);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        const kept = await intel.load();
        assert.equal(kept.stats.maliciousNames, 11154);
        assert.equal(kept.stats.popular, 15000);
      } finally {
        await db.cleanup();
      }
    },
  );
}

test("imports from a URL with ETag revalidation: an unchanged source costs one 304", async () => {
  const zip = readFileSync(join(sharedDataDir(), "osv/ossf-malicious-pypi.zip"));
  const etag = `"${createHash("sha256").update(zip).digest("hex").slice(0, 16)}"`;
  const seen: (string | undefined)[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers["if-none-match"] as string | undefined);
    if (req.url === "/moved.zip") return res.writeHead(302, { location: "/PyPI/all.zip" }).end();
    if (req.url !== "/PyPI/all.zip") return res.writeHead(404).end();
    if (req.headers["if-none-match"] === etag) return res.writeHead(304).end();
    res.writeHead(200, { etag, "content-type": "application/zip" }).end(zip);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const db = await openTestDatabase("sqlite");
  try {
    const intel = new IntelService({ repo: new IntelRepository(db.db), now: Date.now });
    const first = await intel.importSource(`${url}/PyPI/all.zip`);
    assert.equal(first.added, 24);
    const second = await intel.importSource(`${url}/PyPI/all.zip`);
    assert.equal(second.unchanged, true);
    assert.deepEqual(seen, [undefined, etag]);
    const viaRedirect = await intel.importSource(`${url}/moved.zip`);
    assert.equal(viaRedirect.added, 24, "redirects are followed");
    await assert.rejects(intel.importSource(`${url}/missing.zip`), /HTTP 404/);
  } finally {
    await db.cleanup();
    server.close();
  }
});

for (const dialect of DIALECTS) {
  const skip = await dialectSkip(dialect);
  test(
    `an advisory is kept at its newest: duplicates in one source, an older copy imported later (${dialect})`,
    { skip },
    async () => {
      const db = await openTestDatabase(dialect);
      const dir = mkdtempSync(join(tmpdir(), "intel-modified-"));
      const record = (modified: string, fixed: string) => ({
        schema_version: "1.6.0",
        id: "PYSEC-2099-1",
        modified,
        summary: `fixed in ${fixed}`,
        affected: [
          {
            package: { ecosystem: "PyPI", name: "acme-widget" },
            ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed }] }],
          },
        ],
      });
      try {
        const intel = new IntelService({
          repo: new IntelRepository(db.db),
          now: () => Date.UTC(2026, 10, 27),
        });
        const newer = join(dir, "newer");
        const older = join(dir, "older");
        for (const d of [newer, older]) mkdirSync(d);
        // One source holding the same id twice: it used to crash the import on a unique constraint.
        writeFileSync(join(newer, "a.json"), JSON.stringify(record("2026-06-01T00:00:00Z", "3.0")));
        writeFileSync(join(newer, "b.json"), JSON.stringify(record("2025-01-01T00:00:00Z", "1.0")));
        const first = await intel.importSource(newer);
        assert.equal(first.added, 1, "one advisory, stored once");
        writeFileSync(join(older, "a.json"), JSON.stringify(record("2024-01-01T00:00:00Z", "1.0")));
        const second = await intel.importSource(older);
        assert.equal(second.added, 0, "an older copy is not stored over the newer");
        const state = await intel.load();
        assert.equal(
          state.index
            .match("acme-widget", "2.0")
            .map((a) => a.id)
            .join(),
          "PYSEC-2099-1",
          "2.0 is affected as the newest record says (fixed in 3.0), not as the older ones",
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
        await db.cleanup();
      }
    },
  );
}
