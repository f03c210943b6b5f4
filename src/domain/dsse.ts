/**
 * DSSE (Dead Simple Signing Envelope), pure encoding. Spec:
 * https://github.com/secure-systems-lab/dsse/blob/v1.0.0/protocol.md and envelope.md.
 */

/** The in-toto payload type (in-toto attestation framework, Statement v1). */
export const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";

/** A DSSE envelope as JSON: `payload` and `sig` are standard base64. */
export interface DsseEnvelope {
  payloadType: string;
  payload: string;
  signatures: { keyid: string; sig: string }[];
}

const PREFIX = Buffer.from("DSSEv1 ");
const SPACE = Buffer.from(" ");

/**
 * The Pre-Authentication Encoding that DSSE signs (protocol.md):
 * `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths as ASCII decimal byte counts.
 * Signing the PAE, never the bare payload, binds the payload type to the signature.
 *
 * @example pae("application/vnd.in-toto+json", Buffer.from("{}"))
 */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, "utf8");
  return Buffer.concat([
    PREFIX,
    Buffer.from(String(type.length)),
    SPACE,
    type,
    SPACE,
    Buffer.from(String(payload.length)),
    SPACE,
    payload,
  ]);
}

/** Why an envelope is not even well formed; signature checks come after this. */
export class DsseFormatError extends Error {
  readonly code = "DSSE_FORMAT";
  constructor(message: string) {
    super(message);
    this.name = "DsseFormatError";
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Checks the shape of an untrusted envelope (strict: it is ours, or claims to be). */
export function parseDsseEnvelope(value: unknown): DsseEnvelope {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new DsseFormatError("not a DSSE envelope (expected a JSON object)");
  const v = value as Record<string, unknown>;
  if (typeof v.payloadType !== "string" || v.payloadType === "")
    throw new DsseFormatError("DSSE envelope has no payloadType");
  if (typeof v.payload !== "string" || !BASE64.test(v.payload))
    throw new DsseFormatError("DSSE envelope payload is not base64");
  if (!Array.isArray(v.signatures) || v.signatures.length === 0)
    throw new DsseFormatError("DSSE envelope has no signatures");
  const signatures = v.signatures.map((s: unknown) => {
    const sig = s as Record<string, unknown> | null;
    if (!sig || typeof sig.sig !== "string" || !BASE64.test(sig.sig) || typeof sig.keyid !== "string")
      throw new DsseFormatError("DSSE signature needs a keyid and a base64 sig");
    return { keyid: sig.keyid, sig: sig.sig };
  });
  return { payloadType: v.payloadType, payload: v.payload, signatures };
}
