/**
 * in-toto attestation framework, Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md)
 * and the SLSA Verification Summary predicate v1 (https://slsa.dev/spec/v1.0/verification_summary),
 * as the gateway states its decisions. Pure data; no I/O.
 */

export const STATEMENT_V1 = "https://in-toto.io/Statement/v1";
export const VSA_V1 = "https://slsa.dev/verification_summary/v1";

/** A ResourceDescriptor as a Statement subject: a name and its digests (lower-case hex). */
export interface Subject {
  name: string;
  digest: Record<string, string>;
}

export interface Statement<P = unknown> {
  _type: typeof STATEMENT_V1;
  subject: Subject[];
  predicateType: string;
  predicate: P;
}

/** One check's part in the decision, as the summary records it. */
export interface CheckSummary {
  check: string;
  /** What the check found: pass, fail, warn, skip, error. */
  result: string;
  /** What the policy made of it: allow, warn (quarantine and block never reach an admitted file). */
  action: string;
  message: string;
  /** The exception that waived it, when one did. */
  waivedBy?: { approver: string; reason: string; ticket?: string; expiresAt: string };
}

/**
 * SLSA Verification Summary v1, with Portcullis' own facts alongside the standard fields
 * (`verifier`, `timeVerified`, `resourceUri`, `policy`, `verificationResult`,
 * `inputAttestations`). The spec allows extra fields; consumers ignore what they do not know.
 */
export interface VerificationSummary {
  verifier: { id: string; version?: Record<string, string> };
  timeVerified: string;
  resourceUri: string;
  policy: { uri: string; digest: Record<string, string> };
  inputAttestations?: { uri: string; digest: Record<string, string> }[];
  verificationResult: "PASSED" | "FAILED";
  verifiedLevels: string[];
  /** Portcullis extension: each check's result. */
  checks: CheckSummary[];
  /** Portcullis extension: the intel the checks saw (import generation and counts), or `none`. */
  intelSnapshot: string;
  /** Portcullis extension: the project and version, as the gateway's catalog names them. */
  project: string;
  version: string;
}

export interface AttestationInput {
  filename: string;
  sha256: string;
  project: string;
  version: string;
  /** The gateway's identity, e.g. its public URL + `/`. */
  verifierId: string;
  /** Where the file is served, e.g. `https://gw/files/<sha>/<name>`. */
  resourceUri: string;
  policyUri: string;
  policyDigest: string;
  intelSnapshot: string;
  timeVerified: string;
  checks: CheckSummary[];
}

/** The Statement a gateway signs for one admitted file. */
export function decisionStatement(input: AttestationInput): Statement<VerificationSummary> {
  return {
    _type: STATEMENT_V1,
    subject: [{ name: input.filename, digest: { sha256: input.sha256 } }],
    predicateType: VSA_V1,
    predicate: {
      verifier: { id: input.verifierId },
      timeVerified: input.timeVerified,
      resourceUri: input.resourceUri,
      policy: { uri: input.policyUri, digest: { sha256: input.policyDigest } },
      verificationResult: "PASSED",
      // SLSA levels are about build provenance; a policy gate attests none of them by itself.
      verifiedLevels: [],
      checks: input.checks,
      intelSnapshot: input.intelSnapshot,
      project: input.project,
      version: input.version,
    },
  };
}

/** Reads a Statement from untrusted JSON, checking the parts a verifier relies on. */
export function parseStatement(value: unknown): Statement {
  const v = value as Record<string, unknown> | null;
  if (!v || typeof v !== "object") throw new Error("statement is not a JSON object");
  if (v._type !== STATEMENT_V1)
    throw new Error(`statement _type is ${String(v._type)}, expected ${STATEMENT_V1}`);
  if (!Array.isArray(v.subject) || v.subject.length === 0) throw new Error("statement has no subject");
  const subject = v.subject.map((s: unknown): Subject => {
    const r = s as Record<string, unknown> | null;
    if (!r || typeof r.name !== "string" || !r.digest || typeof r.digest !== "object")
      throw new Error("statement subject needs a name and a digest");
    const digest: Record<string, string> = {};
    for (const [k, d] of Object.entries(r.digest as Record<string, unknown>))
      if (typeof d === "string") digest[k.toLowerCase()] = d.toLowerCase();
    return { name: r.name, digest };
  });
  if (typeof v.predicateType !== "string") throw new Error("statement has no predicateType");
  return { _type: STATEMENT_V1, subject, predicateType: v.predicateType, predicate: v.predicate };
}
