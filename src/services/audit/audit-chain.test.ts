import { test } from "node:test";
import assert from "node:assert/strict";
import { auditFields } from "../../../test/helpers/audit-fields.js";
import { canonicalRecord, chain, ChainVerifier, GENESIS_HASH, type AuditFields } from "./audit-chain.js";

function fields(i: number): AuditFields {
  return auditFields({ at: 1_000 + i, identity: `u${i}` });
}

const records = () => chain({ seq: 0, hash: GENESIS_HASH }, [0, 1, 2, 3, 4].map(fields));

function verify(rows: ReturnType<typeof records>) {
  const v = new ChainVerifier();
  for (const r of rows) if (!v.feed(r)) break;
  return v.problem;
}

test("an intact chain verifies; chaining continues from a head", () => {
  const rows = records();
  assert.equal(verify(rows), null);
  const more = chain({ seq: 5, hash: rows[4]!.hash }, [fields(5)]);
  assert.equal(verify([...rows, ...more]), null);
});

test("an edited record is named", () => {
  const rows = records();
  rows[2] = { ...rows[2]!, identity: "mallory" };
  assert.equal(verify(rows), "record 3: contents do not match its hash (edited)");
});

test("a removed record is named", () => {
  const rows = records();
  rows.splice(1, 1);
  assert.match(verify(rows)!, /^record 2 missing \(removed\)/);
});

test("reordered records are named", () => {
  const rows = records();
  // Swap the contents but keep the sequence numbers, as an UPDATE of two rows would.
  const a = rows[1]!;
  const b = rows[2]!;
  rows[1] = { ...b, seq: 2 };
  rows[2] = { ...a, seq: 3 };
  assert.match(verify(rows)!, /^record 2: does not follow record 1/);
});

test("the canonical form is exactly the JSON array of the record's fields (stored chains stay valid)", () => {
  const r = {
    ...fields(1),
    identity: 'quo"te\\back\u2028line\nnew',
    client_json: JSON.stringify({ installer: { name: "pip", version: "23.0.1" }, ua: "ünï \u0001" }),
    detail_json: '{"decision":"allow"}',
    token_id: null,
    team: null,
    status: null,
    at: 1_700_000_000_123,
  };
  const expected = JSON.stringify([
    7,
    GENESIS_HASH,
    r.at,
    r.action,
    r.identity,
    r.role,
    r.team,
    r.token_id,
    r.ip,
    r.application,
    r.client_json,
    r.project,
    r.version,
    r.filename,
    r.sha256,
    r.outcome,
    r.status,
    r.detail_json,
  ]);
  // Twice: the second answer comes from the memo of escaped strings.
  assert.equal(canonicalRecord(7, GENESIS_HASH, r), expected);
  assert.equal(canonicalRecord(7, GENESIS_HASH, r), expected);
});

test("a record's repeats are hashed with it; a record without any keeps the hash it always had", () => {
  const one = auditFields({ at: 1_000, identity: "u" });
  // The canonical form of a single access is unchanged by the repeats field (null or absent).
  assert.equal(
    canonicalRecord(1, GENESIS_HASH, { ...one, repeats_json: null }),
    canonicalRecord(1, GENESIS_HASH, one),
  );
  assert.equal(
    canonicalRecord(1, GENESIS_HASH, one),
    JSON.stringify([1, GENESIS_HASH, ...Object.values(one)]),
  );
  assert.equal(
    canonicalRecord(1, GENESIS_HASH, { ...one, repeats_json: "[2,5]" }),
    JSON.stringify([1, GENESIS_HASH, ...Object.values(one), "[2,5]"]),
  );
  const rows = chain({ seq: 0, hash: GENESIS_HASH }, [{ ...one, repeats_json: "[2,5]" }, fields(1)]);
  assert.equal(verify(rows), null);
  // Dropping a repeat (or a time moved) is an edit; so is dropping them all.
  assert.equal(
    verify([{ ...rows[0]!, repeats_json: "[2]" }, rows[1]!]),
    "record 1: contents do not match its hash (edited)",
  );
  assert.equal(
    verify([{ ...rows[0]!, repeats_json: "[2,6]" }, rows[1]!]),
    "record 1: contents do not match its hash (edited)",
  );
  assert.equal(
    verify([{ ...rows[0]!, repeats_json: null }, rows[1]!]),
    "record 1: contents do not match its hash (edited)",
  );
});
