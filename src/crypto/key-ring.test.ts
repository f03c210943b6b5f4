import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { KeyRing, SigningKeyMissing } from "./key-ring.js";

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

test("opened without create, a directory without a key makes none: it verifies with the public keys it holds and signs nothing", () => {
  const dir = mkdtempSync(join(tmpdir(), "keys-"));
  const missing = join(dir, "nowhere");
  const none = KeyRing.open(missing, "", { create: false });
  assert.equal(existsSync(missing), false, "no directory made");
  assert.deepEqual([none.canSign, none.publicKeys()], [false, []]);
  assert.throws(() => none.sign(Buffer.from("x")), SigningKeyMissing);
  assert.throws(() => none.rotate(), SigningKeyMissing, "nothing to rotate");

  // The gateway's public key alone (as /.well-known/portcullis/keys publishes it), under retired/.
  const gateway = KeyRing.open(join(dir, "gateway"));
  const data = Buffer.from("checkpoint");
  const { keyid, sig } = gateway.sign(data);
  const [published] = gateway.publicKeys();
  const publicOnly = join(dir, "public");
  mkdirSync(join(publicOnly, "retired"), { recursive: true });
  writeFileSync(join(publicOnly, "retired", `${keyid}.pem`), published!.pem);
  const ring = KeyRing.open(publicOnly, "", { create: false });
  assert.equal(ring.canSign, false);
  assert.deepEqual(
    ring.publicKeys().map((k) => [k.keyid, k.status]),
    [[keyid, "retired"]],
  );
  assert.equal(ring.verify(keyid, data, sig), true, "verifies with the public key alone");
  assert.deepEqual(readdirSync(publicOnly), ["retired"], "no key generated");
  // A key that is there is used as before.
  assert.equal(KeyRing.open(join(dir, "gateway"), "", { create: false }).keyid, keyid);
});
