import { test } from "node:test";
import assert from "node:assert/strict";
import { auditFields } from "../../../test/helpers/audit-fields.js";
import {
  ANONYMOUS_KEY,
  blockHash,
  blockIndex,
  blockRecordCount,
  blockRecords,
  blockRecordsWhere,
  decodeBlockBody,
  encodeBlockBody,
  type BlockKeyField,
} from "./audit-batch-block.js";
import { decodeStorableAuditBatch, encodeAuditBatch } from "./audit-batch-codec.js";
import type { AuditFields } from "./audit-chain.js";

const records: AuditFields[] = [
  auditFields({ at: 1_000, identity: "alice", detail_json: '{"route":"/x"}' }),
  auditFields({ at: 1_001, identity: null, project: "p".repeat(250), status: null, client_json: '{"a":1}' }),
  auditFields({ at: 1_002, identity: "bob", action: "simple.page", sha256: null, outcome: "refused" }),
  // A repeat of the first (same fields, another time).
  auditFields({ at: 1_400, identity: "alice", detail_json: '{"route":"/x"}' }),
  // Text no database stores as is (NUL, a lone surrogate), stored storable as the rows are.
  auditFields({ at: 1_003, identity: "eve\u0000", filename: "x\uD800.whl" }),
];

test("a block body decodes to the batch it was encoded from, repeats included", () => {
  const batch = encodeAuditBatch(records);
  const body = encodeBlockBody(batch);
  const back = decodeBlockBody(body);
  assert.deepEqual(back.strings, batch.strings);
  assert.deepEqual([...back.cells], [...batch.cells]);
  assert.deepEqual([...(back.repeatAt ?? [])], [...(batch.repeatAt ?? [])]);
  assert.deepEqual([...(back.repeatOf ?? [])], [...(batch.repeatOf ?? [])]);
  assert.equal(blockRecordCount(back), 4);
  // The records read from it are those the rows storage stores for the same batch.
  const head = { firstSeq: 11, lastSeq: 14, prevHash: "p".repeat(64), hash: "h".repeat(64) };
  const read = blockRecords(head, back);
  assert.deepEqual(
    read.map(({ seq: _s, prev_hash: _p, hash: _h, ...r }) => r),
    decodeStorableAuditBatch(batch),
  );
  assert.deepEqual(
    read.map((r) => [r.seq, r.prev_hash, r.hash]),
    [11, 12, 13, 14].map((seq) => [seq, head.prevHash, head.hash]),
  );
  assert.equal(read[0]!.repeats_json, "[400]");
  assert.equal(read[1]!.project!.length, 200);
  assert.equal(read[3]!.identity, "eve\uFFFD");
});

test("a body that is not a block's is refused with a reason, never read as records", () => {
  const body = encodeBlockBody(encodeAuditBatch(records));
  const cases: [string, Buffer, RegExp][] = [
    ["cut short", body.subarray(0, body.length - 3), /cut short/],
    ["another format", Buffer.concat([Buffer.from("XXXX"), body.subarray(4)]), /unknown format/],
    ["bytes after its end", Buffer.concat([body, Buffer.from([0])]), /after its end/],
  ];
  // A record naming a string past the end of the list: the action cell of the first record.
  const badIndex = Buffer.from(body);
  const stringsLength = badIndex.readUInt32LE(4);
  const cellsAt = 4 + 4 + stringsLength;
  assert.equal(badIndex.readUInt8(cellsAt + 4), 2, "2-byte cells");
  badIndex.writeUInt16LE(9_999, cellsAt + 5 + badIndex.readUInt32LE(cellsAt) * 8);
  cases.push(["a string it does not hold", badIndex, /names a string it does not hold/]);
  for (const [what, bytes, reason] of cases) {
    assert.throws(() => decodeBlockBody(bytes), reason, what);
  }
});

test("a block's hash covers its body and its place in the chain", () => {
  const body = encodeBlockBody(encodeAuditBatch(records));
  const h = blockHash(11, 14, "0".repeat(64), body);
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.equal(blockHash(11, 14, "0".repeat(64), Buffer.from(body)), h);
  const edited = Buffer.from(body);
  edited[10] = edited[10]! ^ 1;
  for (const other of [
    blockHash(11, 14, "0".repeat(64), edited),
    blockHash(12, 15, "0".repeat(64), body),
    blockHash(11, 13, "0".repeat(64), body),
    blockHash(11, 14, "1".repeat(64), body),
  ])
    assert.notEqual(other, h);
});

test("a block's keys are the distinct values its records are filtered by, as the records hold them", () => {
  const { keys, firstAt, lastAt } = blockIndex(encodeAuditBatch(records));
  const of = (field: string) =>
    keys
      .filter((k) => k.field === field)
      .map((k) => k.value)
      .sort();
  assert.deepEqual(of("identity"), [ANONYMOUS_KEY, "alice", "bob", "eve\uFFFD"].sort());
  assert.deepEqual(of("project"), ["acme", "p".repeat(200)].sort());
  assert.deepEqual(of("action"), ["file.download", "simple.page"]);
  assert.deepEqual(of("outcome"), ["ok", "refused"]);
  assert.deepEqual(of("ip"), ["127.0.0.1"]);
  // A record without a file adds no key: only a missing identity is looked for.
  assert.deepEqual(of("sha256"), ["a".repeat(64)]);
  // Times of the records' first accesses (the repeat at 1,400 is part of the record at 1,000).
  assert.equal(firstAt, 1_000);
  assert.equal(lastAt, 1_003);
});

test("a block's records filtered on its cells are those a full decode would keep, numbered as in the block", () => {
  const batch = encodeAuditBatch(records);
  const head = { firstSeq: 11, lastSeq: 14, prevHash: "p".repeat(64), hash: "h".repeat(64) };
  const all = blockRecords(head, batch);
  const cases: [string, BlockKeyField, string | null][] = [
    ["named", "identity", "alice"],
    ["anonymous", "identity", null],
    ["made storable", "identity", "eve\uFFFD"],
    ["cut to width", "project", "p".repeat(200)],
    ["absent", "identity", "mallory"],
  ];
  for (const [what, field, value] of cases) {
    assert.deepEqual(
      blockRecordsWhere(head, batch, [[field, value]]),
      all.filter((r) => r[field] === value),
      what,
    );
  }
  const both = blockRecordsWhere(head, batch, [
    ["action", "file.download"],
    ["identity", "alice"],
  ]);
  assert.deepEqual(
    both.map((r) => [r.seq, r.repeats_json]),
    [[11, "[400]"]],
    "the repeat stays with its record",
  );
});
