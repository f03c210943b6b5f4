import assert from "node:assert/strict";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { KeyRing } from "./key-ring.js";

test("key ring: generated once with mode 0600, signs and verifies, rotation keeps the old key", () => {
  const dir = mkdtempSync(join(tmpdir(), "keys-"));
  const ring = KeyRing.open(dir);
  assert.equal(statSync(join(dir, "active.pem")).mode & 0o777, 0o600);
  assert.equal(KeyRing.open(dir).keyid, ring.keyid, "reopening keeps the key");
  const data = Buffer.from("statement");
  const { keyid, sig } = ring.sign(data);
  assert.match(keyid, /^[0-9a-f]{64}$/);
  assert.ok(ring.verify(keyid, data, sig));
  assert.ok(!ring.verify(keyid, Buffer.from("statemenT"), sig));
  const next = ring.rotate();
  assert.notEqual(next, keyid);
  assert.ok(ring.verify(keyid, data, sig), "old signatures still verify after rotation");
  const reopened = KeyRing.open(dir);
  assert.equal(reopened.keyid, next);
  assert.deepEqual(
    reopened.publicKeys().map((k) => [k.keyid, k.status]),
    [
      [next, "active"],
      [keyid, "retired"],
    ],
  );
  assert.ok(!reopened.verify("0".repeat(64), data, sig), "unknown keyids never verify");
});
