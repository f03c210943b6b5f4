import assert from "node:assert/strict";
import { test } from "node:test";
import { DIALECTS, dialectSkip, openTestDatabase } from "../../../test/helpers/databases.js";
import { AttestationRepository } from "./attestation-repository.js";

for (const dialect of DIALECTS) {
  const skip = await dialectSkip(dialect);
  test(`attestations: stored, replaced on re-signing, found by digest (${dialect})`, { skip }, async () => {
    const db = await openTestDatabase(dialect);
    try {
      const repo = new AttestationRepository(db.db);
      const row = {
        sha256: "a".repeat(64),
        project: "demo",
        version: "1.0",
        filename: "demo-1.0-py3-none-any.whl",
        keyid: "k".repeat(64),
        policy_version: "p1",
        envelope_json: '{"payloadType":"x"}',
        signed_at: 1_764_000_000_000,
      };
      await repo.put(row);
      // A plain copy: node:sqlite (Node 24) returns rows without a prototype.
      assert.deepEqual({ ...(await repo.get(row.sha256)) }, row);
      await repo.put({ ...row, policy_version: "p2", signed_at: row.signed_at + 1 });
      const got = await repo.get(row.sha256);
      assert.deepEqual([got?.policy_version, Number(got?.signed_at)], ["p2", row.signed_at + 1]);
      assert.deepEqual([...(await repo.existing([row.sha256, "b".repeat(64)]))], [row.sha256]);
      assert.equal(await repo.get("b".repeat(64)), undefined);
      // A batch: new rows inserted, an existing one re-signed.
      await repo.putMany([
        { ...row, policy_version: "p3", envelope_json: '{"payloadType":"y"}' },
        { ...row, sha256: "b".repeat(64) },
      ]);
      assert.equal((await repo.get(row.sha256))?.envelope_json, '{"payloadType":"y"}');
      assert.equal((await repo.get(row.sha256))?.policy_version, "p3");
      assert.equal((await repo.existing([row.sha256, "b".repeat(64)])).size, 2);
    } finally {
      await db.cleanup();
    }
  });
}
