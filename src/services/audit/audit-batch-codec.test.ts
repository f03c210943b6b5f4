import { test } from "node:test";
import assert from "node:assert/strict";
import {
  accessCount,
  ACCESSES_PER_RECORD_SLOT,
  AuditBatchBuilder,
  auditBatchLength,
  repeatOffsets,
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
  const records = Array.from({ length: 500 }, (_, i) => ({ ...base, ip: `10.0.${i >> 8}.${i & 255}` }));
  const encoded = encodeAuditBatch(records);
  // Every distinct string once: action, identity, role, team, token id, the 500 addresses,
  // application, client, project, version, filename, sha256, outcome, detail.
  assert.equal(encoded.strings.length, 13 + 500);
  assert.equal(encoded.cells.length, 500 * 16);
  assert.equal(decodeAuditBatch(encoded)[499]!.ip, "10.0.1.243");
});

test("the same access repeated is one record carrying the times of the repeats", () => {
  const records = Array.from({ length: 500 }, (_, i) => ({ ...base, at: base.at + i * 2 }));
  const encoded = encodeAuditBatch(records);
  assert.equal(encoded.cells.length, 16, "one record");
  assert.equal(auditBatchLength(encoded), 500, "500 accesses");
  const [only, ...rest] = decodeAuditBatch(encoded);
  assert.deepEqual(rest, []);
  assert.deepEqual(
    { ...only!, repeats_json: undefined },
    { ...base, repeats_json: undefined },
    "the first access's fields and time",
  );
  assert.deepEqual(
    JSON.parse(only!.repeats_json!),
    Array.from({ length: 499 }, (_, i) => (i + 1) * 2),
    "each repeat's time, as ms after the first",
  );
  assert.equal(accessCount(only!), 500);
});

test("repeats are matched on every field but the time, and within a second of the first", () => {
  const t = base.at;
  const other = { ...base, status: 304 };
  const batch = decodeAuditBatch(
    encodeAuditBatch([
      { ...base, at: t },
      { ...other, at: t + 1 },
      { ...base, at: t + 2 },
      { ...base, identity: null, at: t + 3 },
      { ...base, at: t + 1_000 },
      // Over a second after the first: a record of its own (which a later access then repeats).
      { ...base, at: t + 1_001 },
      { ...base, at: t + 1_500 },
      { ...other, at: t + 4 },
    ]),
  );
  assert.deepEqual(
    batch.map((r) => [r.at - t, r.status, r.identity, r.repeats_json]),
    [
      [0, 200, "ci-nightly", "[2,1000]"],
      [1, 304, "ci-nightly", "[3]"],
      [3, 200, null, undefined],
      [1_001, 200, "ci-nightly", "[499]"],
    ],
  );
});

test("a record that already carries repeats (read back from the spool) keeps them exactly", () => {
  const records = decodeAuditBatch(
    encodeAuditBatch([
      { ...base, at: base.at },
      { ...base, project: "flask", at: base.at + 5 },
      { ...base, at: base.at + 7 },
      { ...base, at: base.at + 9 },
    ]),
  );
  assert.equal(records[0]!.repeats_json, "[7,9]");
  const again = decodeAuditBatch(encodeAuditBatch(records));
  assert.deepEqual(again, records);
  assert.equal(auditBatchLength(encodeAuditBatch(records)), 4);
});

test("records read back with more repeats than a builder's default share are encoded whole", () => {
  // A busy batch spilled to the spool: one access repeated 100 times, then another.
  const heavy = decodeAuditBatch(
    encodeAuditBatch([
      ...Array.from({ length: 100 }, (_, i) => ({ ...base, at: base.at + i })),
      { ...base, project: "flask" },
    ]),
  );
  assert.equal(accessCount(heavy[0]!), 100);
  const again = encodeAuditBatch(JSON.parse(JSON.stringify(heavy)) as AuditFields[]);
  assert.equal(auditBatchLength(again), 101);
  assert.deepEqual(decodeAuditBatch(again), heavy);
});

test("a builder is full at its distinct records, or at its share of repeats", () => {
  const builder = new AuditBatchBuilder(2);
  for (let i = 0; i < 2 * ACCESSES_PER_RECORD_SLOT; i++) {
    assert.equal(builder.full, false);
    builder.add({ ...base, at: base.at + (i % 100) });
  }
  assert.ok(builder.full, "full of one access repeated");
  assert.equal(builder.records, 1);
  assert.equal(builder.length, 2 * ACCESSES_PER_RECORD_SLOT);
  assert.throws(() => builder.add(base), /full/);
});

test("a torn repeat list is refused", () => {
  const encoded = encodeAuditBatch([base, { ...base, at: base.at + 1 }]);
  assert.throws(() => decodeAuditBatch({ ...encoded, repeatOf: new Uint32Array(0) }), /torn/);
  assert.throws(() => decodeAuditBatch({ ...encoded, repeatOf: Uint32Array.of(3) }), /does not hold/);
  assert.throws(() => repeatOffsets('{"a":1}'), /not a list/);
  assert.throws(() => repeatOffsets('[1,"2"]'), /not a list/);
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

test("a builder grows to its capacity as records come, and still finds repeats of its first records", () => {
  const builder = new AuditBatchBuilder(2_000);
  const distinct = Array.from({ length: 2_000 }, (_, i) => ({
    ...base,
    at: base.at + (i % 500),
    application: `app-${i}`,
  }));
  distinct.slice(0, 1_000).forEach((r) => builder.add(r));
  // The same access as the third record, after the builder has grown past its first room.
  builder.add({ ...distinct[2]!, at: distinct[2]!.at + 700 });
  distinct.slice(1_000).forEach((r) => builder.add(r));
  assert.equal(builder.records, 2_000);
  assert.equal(builder.length, 2_001);
  assert.equal(builder.full, true);
  const decoded = decodeAuditBatch(builder.finish());
  assert.equal(decoded.length, 2_000);
  assert.deepEqual(
    decoded.map(({ repeats_json: _r, ...r }) => r),
    distinct,
  );
  assert.equal(decoded[2]!.repeats_json, "[700]");
});
