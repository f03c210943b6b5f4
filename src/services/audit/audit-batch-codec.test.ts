import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AuditBatchBuilder,
  auditBatchLength,
  decodeAuditBatch,
  encodeAuditBatch,
} from "./audit-batch-codec.js";
import type { AuditFields } from "./audit-chain.js";

const base: AuditFields = {
  at: 1_795_823_661_529,
  action: "file.download",
  identity: "ci-nightly",
  role: "reader",
  team: "build",
  token_id: "0123456789ab",
  ip: "10.1.2.3",
  application: "nightly",
  client_json: '{"installer":{"name":"pip","version":"23.0.1"}}',
  project: "requests",
  version: "2.32.3",
  filename: "requests-2.32.3-py3-none-any.whl",
  sha256: "a".repeat(64),
  outcome: "ok",
  status: 200,
  detail_json: '{"decision":"admitted"}',
};

test("a batch survives encoding exactly, nulls, empty strings and unicode included", () => {
  const records: AuditFields[] = [
    base,
    {
      ...base,
      identity: null,
      team: null,
      token_id: null,
      application: null,
      client_json: null,
      status: null,
    },
    {
      ...base,
      action: "simple.page",
      project: "",
      version: null,
      filename: null,
      sha256: null,
      detail_json: null,
    },
    { ...base, at: 0, status: 0, identity: "zoë ☃", ip: "::1" },
  ];
  const encoded = encodeAuditBatch(records);
  assert.deepEqual(decodeAuditBatch(encoded), records);
});

test("repeated strings are carried once", () => {
  const records = Array.from({ length: 500 }, (_, i) => ({ ...base, at: base.at + i }));
  const encoded = encodeAuditBatch(records);
  // Every distinct string once: action, identity, role, team, token id, ip, application, client,
  // project, version, filename, sha256, outcome, detail.
  assert.equal(encoded.strings.length, 14);
  assert.equal(encoded.cells.length, 500 * 16);
  assert.equal(decodeAuditBatch(encoded)[499]!.at, base.at + 499);
});

test("an empty batch and a torn one", () => {
  assert.deepEqual(decodeAuditBatch(encodeAuditBatch([])), []);
  assert.throws(() => decodeAuditBatch({ strings: [], cells: new Float64Array(5) }), /not whole records/);
});

test("a builder encodes record by record, copies on finish and refuses to overflow", () => {
  const builder = new AuditBatchBuilder(3);
  builder.add(base);
  builder.add({ ...base, identity: null, at: base.at + 1 });
  const first = builder.finish();
  assert.equal(auditBatchLength(first), 2);
  assert.deepEqual(decodeAuditBatch(first), [base, { ...base, identity: null, at: base.at + 1 }]);
  builder.add({ ...base, project: "flask" });
  assert.ok(builder.full);
  assert.throws(() => builder.add(base), /full/);
  // The first batch is unchanged by what came after it (its cells were copied out).
  assert.equal(auditBatchLength(first), 2);
  assert.deepEqual(
    decodeAuditBatch(builder.finish()).map((r) => r.project),
    ["requests", "requests", "flask"],
  );
});
