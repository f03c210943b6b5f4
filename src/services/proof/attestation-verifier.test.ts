import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { KeyRing } from "../../crypto/key-ring.js";
import { VSA_V1 } from "../../domain/in-toto.js";
import type { Decision } from "../../policy/decision.js";
import { signDecision } from "./attestation-service.js";
import { parseKeysDocument, verifyDecisionAttestation } from "./attestation-verifier.js";

const SHA = "a".repeat(64);
function decision(overrides: Partial<Decision> = {}): Decision {
  return {
    sha256: SHA,
    filename: "demo-1.0-py3-none-any.whl",
    project: "demo",
    version: "1.0",
    outcome: "admitted",
    score: 0,
    reasons: [
      {
        check: "vulnerability",
        outcome: "pass",
        action: "allow",
        mode: "enforce",
        message: "none",
        evidence: [],
      },
      {
        check: "cooldown",
        outcome: "fail",
        action: "allow",
        mode: "enforce",
        message: "uploaded 1 day ago",
        evidence: [],
        waivedBy: { reason: "hotfix", approver: "ana", expiresAt: "2027-01-01T00:00:00.000Z" },
      },
    ],
    policyVersion: "b".repeat(64),
    intelSnapshot: "gen-3",
    decidedAt: "2026-11-27T12:00:00.000Z",
    stage: "full",
    ...overrides,
  };
}

function ring(): KeyRing {
  return KeyRing.open(mkdtempSync(join(tmpdir(), "proof-keys-")));
}
const published = (keys: KeyRing) => parseKeysDocument({ keys: keys.publicKeys() });
const expected = { filename: "demo-1.0-py3-none-any.whl", sha256: SHA };

test("sign and verify round trip: an in-toto Statement v1 with a SLSA verification summary", () => {
  const keys = ring();
  const envelope = signDecision(decision(), keys, "https://gw.example");
  assert.equal(envelope.payloadType, "application/vnd.in-toto+json");
  assert.equal(envelope.signatures[0]!.keyid, keys.keyid);
  const result = verifyDecisionAttestation(envelope, published(keys), expected);
  assert.ok(result.ok, result.ok ? "" : result.reason);
  const { statement } = result;
  assert.deepEqual(statement.subject, [{ name: expected.filename, digest: { sha256: SHA } }]);
  assert.equal(statement.predicateType, VSA_V1);
  assert.equal(statement.predicate.verifier.id, "https://gw.example/");
  assert.equal(statement.predicate.resourceUri, `https://gw.example/files/${SHA}/demo-1.0-py3-none-any.whl`);
  assert.deepEqual(statement.predicate.policy.digest, { sha256: "b".repeat(64) });
  assert.equal(statement.predicate.verificationResult, "PASSED");
  assert.equal(statement.predicate.intelSnapshot, "gen-3");
  assert.equal(statement.predicate.timeVerified, "2026-11-27T12:00:00.000Z");
  assert.deepEqual(
    statement.predicate.checks.map((c) => [c.check, c.result, c.action, c.waivedBy?.approver]),
    [
      ["vulnerability", "pass", "allow", undefined],
      ["cooldown", "fail", "allow", "ana"],
    ],
  );
});

test("one flipped byte in the payload or the signature fails with a clear reason", () => {
  const keys = ring();
  const envelope = signDecision(decision(), keys, "https://gw.example");
  const payload = Buffer.from(envelope.payload, "base64");
  payload[10] = payload[10]! ^ 0x01;
  const tampered = { ...envelope, payload: payload.toString("base64") };
  const r1 = verifyDecisionAttestation(tampered, published(keys), expected);
  assert.deepEqual(r1, {
    ok: false,
    reason: "bad signature: the attestation was altered or signed by another key",
  });
  const sig = Buffer.from(envelope.signatures[0]!.sig, "base64");
  sig[0] = sig[0]! ^ 0x80;
  const r2 = verifyDecisionAttestation(
    { ...envelope, signatures: [{ keyid: keys.keyid, sig: sig.toString("base64") }] },
    published(keys),
    expected,
  );
  assert.equal(r2.ok, false);
});

test("a renamed file or another digest fails: the subject names exactly one file", () => {
  const keys = ring();
  const envelope = signDecision(decision(), keys, "https://gw.example");
  const renamed = verifyDecisionAttestation(envelope, published(keys), {
    ...expected,
    filename: "demo-1.0-py2.py3-none-any.whl",
  });
  assert.deepEqual(renamed, {
    ok: false,
    reason:
      "name mismatch: the file is demo-1.0-py2.py3-none-any.whl, the attestation is for demo-1.0-py3-none-any.whl",
  });
  const other = verifyDecisionAttestation(envelope, published(keys), { ...expected, sha256: "c".repeat(64) });
  assert.ok(!other.ok && other.reason.startsWith("digest mismatch"));
});

test("a key that is not published fails; a retired key still verifies after rotation", () => {
  const keys = ring();
  const stranger = ring();
  const envelope = signDecision(decision(), stranger, "https://gw.example");
  const r = verifyDecisionAttestation(envelope, published(keys), expected);
  assert.deepEqual(r, {
    ok: false,
    reason: `signed by a key that is not published (keyid ${stranger.keyid})`,
  });
  const before = signDecision(decision(), keys, "https://gw.example");
  keys.rotate();
  const doc = published(keys);
  assert.equal(doc.get(before.signatures[0]!.keyid)?.status, "retired");
  assert.ok(verifyDecisionAttestation(before, doc, expected).ok);
});

test("keys document: a keyid that is not the sha256 of the key's SPKI DER is refused", () => {
  const keys = ring();
  const [key] = keys.publicKeys();
  assert.throws(
    () => parseKeysDocument({ keys: [{ ...key, keyid: "0".repeat(64) }] }),
    /has keyid [0-9a-f]{64} \(sha256 of its SPKI DER\)/,
  );
  assert.throws(() => parseKeysDocument({ nope: 1 }), /not a keys document/);
});
