import { createPublicKey, verify as edVerify, type KeyObject } from "node:crypto";
import { keyIdOf, type PublishedKey } from "../../crypto/key-ring.js";
import { IN_TOTO_PAYLOAD_TYPE, pae, parseDsseEnvelope } from "../../domain/dsse.js";
import { parseStatement, VSA_V1, type Statement, type VerificationSummary } from "../../domain/in-toto.js";

/** A published key, checked: its keyid is recomputed from the key itself, never taken on trust. */
export interface TrustedKey {
  keyid: string;
  status: "active" | "retired";
  key: KeyObject;
}

/**
 * Reads the document of `GET /.well-known/portcullis/keys`. A key whose stated keyid is not the
 * sha256 of its SPKI DER is refused: a keyid must name exactly one key.
 */
export function parseKeysDocument(value: unknown): Map<string, TrustedKey> {
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error('not a keys document (expected {"keys": [...]})');
  const out = new Map<string, TrustedKey>();
  for (const entry of keys as Partial<PublishedKey>[]) {
    if (entry?.algorithm !== "ed25519" || typeof entry.pem !== "string" || typeof entry.keyid !== "string")
      throw new Error("keys document entry needs keyid, algorithm ed25519 and pem");
    let key: KeyObject;
    try {
      key = createPublicKey(entry.pem);
    } catch (err) {
      throw new Error(`key ${entry.keyid} does not parse: ${(err as Error).message}`, { cause: err });
    }
    if (key.asymmetricKeyType !== "ed25519") throw new Error(`key ${entry.keyid} is not ed25519`);
    const keyid = keyIdOf(key);
    if (keyid !== entry.keyid)
      throw new Error(`key ${entry.keyid} has keyid ${keyid} (sha256 of its SPKI DER)`);
    out.set(keyid, { keyid, status: entry.status === "retired" ? "retired" : "active", key });
  }
  return out;
}

export type AttestationCheck =
  { ok: true; keyid: string; statement: Statement<VerificationSummary> } | { ok: false; reason: string };

/**
 * Verifies a decision attestation for one file: the DSSE signature (over the PAE) by a published
 * key, an in-toto Statement v1 whose only subject is exactly this file name and sha256, and a
 * PASSED verification summary. Returns why it fails, in words a user can act on.
 */
export function verifyDecisionAttestation(
  envelopeJson: unknown,
  keys: ReadonlyMap<string, TrustedKey>,
  expected: { filename: string; sha256: string },
): AttestationCheck {
  let envelope;
  try {
    envelope = parseDsseEnvelope(envelopeJson);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE)
    return { ok: false, reason: `payloadType is ${envelope.payloadType}, expected ${IN_TOTO_PAYLOAD_TYPE}` };
  const payload = Buffer.from(envelope.payload, "base64");
  const signed = pae(envelope.payloadType, payload);
  let verifiedBy: string | undefined;
  const unknown: string[] = [];
  for (const s of envelope.signatures) {
    const key = keys.get(s.keyid);
    if (!key) {
      unknown.push(s.keyid);
      continue;
    }
    let good = false;
    try {
      good = edVerify(null, signed, key.key, Buffer.from(s.sig, "base64"));
    } catch {
      good = false;
    }
    if (good) {
      verifiedBy = s.keyid;
      break;
    }
  }
  if (!verifiedBy) {
    return {
      ok: false,
      reason:
        unknown.length === envelope.signatures.length
          ? `signed by a key that is not published (keyid ${unknown.join(", ")})`
          : "bad signature: the attestation was altered or signed by another key",
    };
  }
  let statement: Statement;
  try {
    statement = parseStatement(JSON.parse(payload.toString("utf8")));
  } catch (err) {
    return { ok: false, reason: `payload is not an in-toto Statement v1: ${(err as Error).message}` };
  }
  if (statement.predicateType !== VSA_V1)
    return { ok: false, reason: `predicateType is ${statement.predicateType}, expected ${VSA_V1}` };
  if (statement.subject.length !== 1) return { ok: false, reason: "attestation names more than one subject" };
  const subject = statement.subject[0]!;
  if (subject.digest.sha256 !== expected.sha256.toLowerCase())
    return {
      ok: false,
      reason: `digest mismatch: the file's sha256 is ${expected.sha256}, the attestation is for ${subject.digest.sha256 ?? "no sha256"}`,
    };
  if (subject.name !== expected.filename)
    return {
      ok: false,
      reason: `name mismatch: the file is ${expected.filename}, the attestation is for ${subject.name}`,
    };
  const predicate = statement.predicate as Partial<VerificationSummary> | null;
  if (predicate?.verificationResult !== "PASSED")
    return { ok: false, reason: "the verification summary does not say PASSED" };
  return { ok: true, keyid: verifiedBy, statement: statement as Statement<VerificationSummary> };
}
