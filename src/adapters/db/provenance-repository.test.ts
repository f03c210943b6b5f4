import assert from "node:assert/strict";
import { test } from "node:test";
import { DIALECTS, dialectSkip, openTestDatabase } from "../../../test/helpers/databases.js";
import { ProvenanceRepository } from "./provenance-repository.js";

for (const dialect of DIALECTS) {
  const skip = await dialectSkip(dialect);
  test(`provenance: recorded per file, updated, read per project (${dialect})`, { skip }, async () => {
    const db = await openTestDatabase(dialect);
    try {
      const repo = new ProvenanceRepository(db.db);
      const row = {
        sha256: "a".repeat(64),
        project: "demo",
        version: "1.0",
        filename: "demo-1.0.tar.gz",
        status: "unavailable",
        publisher: null,
        publisher_json: null,
        detail: "upstream down",
        provenance_json: null,
        checked_at: 1_764_000_000_000,
      };
      await repo.put(row);
      await repo.put({
        ...row,
        status: "verified",
        publisher: "github:o/r/release.yml",
        publisher_json: '{"kind":"GitHub"}',
        detail: "1 attestation verified",
      });
      await repo.put({ ...row, sha256: "b".repeat(64), version: "1.1", status: "absent" });
      const got = await repo.get(row.sha256);
      assert.deepEqual(
        [got?.status, got?.publisher, Number(got?.checked_at)],
        ["verified", "github:o/r/release.yml", row.checked_at],
      );
      assert.deepEqual(
        [...(await repo.getMany([row.sha256, "b".repeat(64), "c".repeat(64)])).keys()].sort(),
        [row.sha256, "b".repeat(64)],
      );
      assert.equal((await repo.byProject("demo")).length, 2);
    } finally {
      await db.cleanup();
    }
  });
}
