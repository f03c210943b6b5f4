import { parseWheelFilename } from "../../domain/wheel-filename.js";

/**
 * PEP 740 (index-hosted attestations) verified offline: each attestation becomes a Sigstore
 * bundle (v0.3, DSSE), is verified against a trusted root with sigstore-js (certificate chain to
 * Fulcio, SCT, Rekor inclusion, the signature over the DSSE PAE), then its in-toto statement must
 * name exactly this distribution (file name and sha256), and its signing certificate must belong to
 * the Trusted Publisher the provenance object names. This follows the reference implementation,
 * pypi-attestations (`Attestation.verify`, `GitHubPublisher`, `GitLabPublisher`).
 */

/** PEP 740 publisher object (GitHub, GitLab, Google, ...), as the provenance object carries it. */
export interface Pep740Publisher {
  kind: string;
  repository?: string;
  workflow?: string;
  workflow_filepath?: string;
  environment?: string | null;
  email?: string;
  [key: string]: unknown;
}

export type ProvenanceVerdict =
  | { ok: true; publisher: Pep740Publisher; identity: string; attestations: number; predicateTypes: string[] }
  | { ok: false; reason: string };

/** PEP 740: the predicate types an index accepts for a distribution. */
const PREDICATES = new Set([
  "https://docs.pypi.org/attestations/publish/v1",
  "https://slsa.dev/provenance/v1",
]);
const BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json";

// Fulcio certificate extensions (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md).
const OID_SOURCE_REPOSITORY_URI = "1.3.6.1.4.1.57264.1.12";
const OID_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8";

/** Something that verifies Sigstore bundles against one trusted root. */
export interface SigstoreTrust {
  verifyBundle(bundle: unknown): { san: string | undefined; extensions: Map<string, string> };
}

/**
 * Loads a Sigstore trusted root (`application/vnd.dev.sigstore.trustedroot+json`) into a verifier.
 * The sigstore libraries load lazily: only files with provenance pay for them.
 */
export async function loadSigstoreTrust(trustedRootJson: unknown): Promise<SigstoreTrust> {
  const [{ TrustedRoot }, { Verifier, toTrustMaterial, toSignedEntity }, { bundleFromJSON }] =
    await Promise.all([
      import("@sigstore/protobuf-specs"),
      import("@sigstore/verify"),
      import("@sigstore/bundle"),
    ]);
  const root = TrustedRoot.fromJSON(trustedRootJson);
  if (root.tlogs.length === 0 || root.certificateAuthorities.length === 0)
    throw new Error("not a Sigstore trusted root: it names no transparency log or certificate authority");
  const verifier = new Verifier(toTrustMaterial(root), { tlogThreshold: 1, ctlogThreshold: 1 });
  return {
    verifyBundle(json) {
      const signer = verifier.verify(toSignedEntity(bundleFromJSON(json)));
      const extensions = new Map<string, string>();
      for (const { oid, value } of signer.identity?.oids ?? []) {
        extensions.set(oid?.id.join(".") ?? "", derString(value));
      }
      return { san: signer.identity?.subjectAlternativeName, extensions };
    },
  };
}

/** Fulcio v2 extensions hold a DER UTF8String; v1 ones the raw text. */
function derString(value: Buffer): string {
  if (value.length >= 2 && value[0] === 0x0c) {
    let len = value[1]!;
    let start = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = (len << 8) | value[2 + i]!;
      start = 2 + n;
    }
    if (start + len === value.length) return value.subarray(start).toString("utf8");
  }
  return value.toString("utf8");
}

/** A stable identity string for a publisher, what release-drift compares. */
export function publisherIdentity(p: Pep740Publisher): string {
  const kind = p.kind.toLowerCase();
  if (kind === "github") return `github:${p.repository ?? "?"}/${p.workflow ?? "?"}`;
  if (kind === "gitlab") return `gitlab:${p.repository ?? "?"}/${p.workflow_filepath ?? "?"}`;
  if (kind === "google") return `google:${p.email ?? "?"}`;
  return `${kind}:${JSON.stringify(p)}`;
}

/** Converts a PEP 740 attestation object to the Sigstore bundle it was made from. */
export function attestationToBundle(attestation: unknown): unknown {
  const a = attestation as {
    version?: unknown;
    verification_material?: { certificate?: unknown; transparency_entries?: unknown };
    envelope?: { statement?: unknown; signature?: unknown };
  } | null;
  if (!a || a.version !== 1) throw new Error("not a PEP 740 attestation (version 1)");
  const vm = a.verification_material;
  if (typeof vm?.certificate !== "string" || !Array.isArray(vm.transparency_entries))
    throw new Error("attestation has no certificate or transparency entries");
  if (typeof a.envelope?.statement !== "string" || typeof a.envelope.signature !== "string")
    throw new Error("attestation has no envelope");
  return {
    mediaType: BUNDLE_V03,
    verificationMaterial: {
      certificate: { rawBytes: vm.certificate },
      tlogEntries: vm.transparency_entries,
    },
    dsseEnvelope: {
      payload: a.envelope.statement,
      payloadType: "application/vnd.in-toto+json",
      signatures: [{ sig: a.envelope.signature, keyid: "" }],
    },
  };
}

/**
 * Whether an attestation subject names this distribution. Wheel names compare by their parts, so
 * compressed tag sets in another order still match (pypi-attestations normalises the same way).
 */
export function sameDistribution(subjectName: string, filename: string): boolean {
  if (subjectName === filename) return true;
  const a = parseWheelFilename(subjectName);
  const b = parseWheelFilename(filename);
  if (!a || !b) return false;
  const set = (tags: readonly string[]) => [...tags].sort().join(".");
  return (
    a.project === b.project &&
    a.version === b.version &&
    (a.buildTag ?? "") === (b.buildTag ?? "") &&
    set(a.pythonTags) === set(b.pythonTags) &&
    set(a.abiTags) === set(b.abiTags) &&
    set(a.platformTags) === set(b.platformTags)
  );
}

/** Verifies one PEP 740 attestation for a distribution and a publisher. Throws with the reason. */
export function verifyAttestation(
  trust: SigstoreTrust,
  attestation: unknown,
  dist: { filename: string; sha256: string },
  publisher: Pep740Publisher,
): { predicateType: string } {
  const bundle = attestationToBundle(attestation);
  let signer: ReturnType<SigstoreTrust["verifyBundle"]>;
  try {
    signer = trust.verifyBundle(bundle);
  } catch (err) {
    throw new Error(`Sigstore verification failed: ${(err as Error).message}`, { cause: err });
  }
  const statementB64 = (attestation as { envelope: { statement: string } }).envelope.statement;
  let statement: { _type?: unknown; subject?: unknown; predicateType?: unknown };
  try {
    statement = JSON.parse(Buffer.from(statementB64, "base64").toString("utf8")) as typeof statement;
  } catch {
    throw new Error("the attestation statement is not JSON");
  }
  if (statement._type !== "https://in-toto.io/Statement/v1")
    throw new Error(`statement _type ${String(statement._type)} is not in-toto Statement v1`);
  const subjects = Array.isArray(statement.subject)
    ? (statement.subject as { name?: unknown; digest?: { sha256?: unknown } }[])
    : [];
  if (subjects.length !== 1) throw new Error("the statement must name exactly one subject");
  const subject = subjects[0]!;
  if (typeof subject.name !== "string" || !sameDistribution(subject.name, dist.filename))
    throw new Error(`the statement is for ${String(subject.name)}, not ${dist.filename}`);
  if (String(subject.digest?.sha256 ?? "").toLowerCase() !== dist.sha256.toLowerCase())
    throw new Error(
      `the statement digest ${String(subject.digest?.sha256)} is not the file's sha256 ${dist.sha256}`,
    );
  if (typeof statement.predicateType !== "string" || !PREDICATES.has(statement.predicateType))
    throw new Error(`predicate type ${String(statement.predicateType)} is not one PEP 740 accepts`);
  checkPublisher(signer, publisher);
  return { predicateType: statement.predicateType };
}

/** The signing certificate must belong to the publisher (pypi-attestations' publisher policies). */
function checkPublisher(signer: ReturnType<SigstoreTrust["verifyBundle"]>, p: Pep740Publisher): void {
  const san = signer.san ?? "";
  const issuer = signer.extensions.get(OID_ISSUER_V2);
  const sourceRepo = signer.extensions.get(OID_SOURCE_REPOSITORY_URI);
  const kind = p.kind.toLowerCase();
  if (kind === "github") {
    if (!p.repository || !p.workflow) throw new Error("GitHub publisher without repository or workflow");
    const prefix = `https://github.com/${p.repository}/.github/workflows/${p.workflow}@`;
    if (issuer !== "https://token.actions.githubusercontent.com")
      throw new Error(`certificate issuer ${issuer ?? "(none)"} is not GitHub Actions`);
    if (!san.toLowerCase().startsWith(prefix.toLowerCase()))
      throw new Error(`certificate identity ${san} is not workflow ${p.workflow} of ${p.repository}`);
    if (sourceRepo && sourceRepo.toLowerCase() !== `https://github.com/${p.repository}`.toLowerCase())
      throw new Error(`certificate source repository ${sourceRepo} is not ${p.repository}`);
    return;
  }
  if (kind === "gitlab") {
    if (!p.repository || !p.workflow_filepath)
      throw new Error("GitLab publisher without repository or workflow_filepath");
    const prefix = `https://gitlab.com/${p.repository}//${p.workflow_filepath}@`;
    if (issuer !== "https://gitlab.com")
      throw new Error(`certificate issuer ${issuer ?? "(none)"} is not GitLab`);
    if (!san.startsWith(prefix))
      throw new Error(`certificate identity ${san} is not ${p.workflow_filepath} of ${p.repository}`);
    return;
  }
  if (kind === "google") {
    if (!p.email || san !== p.email)
      throw new Error(`certificate identity ${san} is not ${p.email ?? "(none)"}`);
    return;
  }
  // Fail closed: a publisher kind we cannot check is not verified.
  throw new Error(`publisher kind ${p.kind} is not supported`);
}

/**
 * Verifies a PEP 740 provenance object (`{version: 1, attestation_bundles: [{publisher,
 * attestations}]}`, as PyPI's Integrity API serves it) for one distribution. Every attestation
 * of every bundle must verify; `expected` overrides the publisher (to pin one).
 */
export function verifyProvenance(
  trust: SigstoreTrust,
  provenance: unknown,
  dist: { filename: string; sha256: string },
  expected?: Pep740Publisher,
): ProvenanceVerdict {
  const p = provenance as { version?: unknown; attestation_bundles?: unknown } | null;
  if (!p || p.version !== 1 || !Array.isArray(p.attestation_bundles) || p.attestation_bundles.length === 0)
    return { ok: false, reason: "not a PEP 740 provenance object (version 1 with attestation bundles)" };
  let publisher: Pep740Publisher | undefined;
  let count = 0;
  const predicateTypes = new Set<string>();
  for (const raw of p.attestation_bundles as { publisher?: Pep740Publisher; attestations?: unknown }[]) {
    const named = raw?.publisher;
    if (!named || typeof named.kind !== "string")
      return { ok: false, reason: "attestation bundle without a publisher" };
    const use = expected ?? named;
    if (publisher && publisherIdentity(publisher) !== publisherIdentity(use))
      return { ok: false, reason: "attestation bundles name different publishers" };
    publisher = use;
    if (!Array.isArray(raw.attestations) || raw.attestations.length === 0)
      return { ok: false, reason: "attestation bundle without attestations" };
    for (const attestation of raw.attestations) {
      try {
        predicateTypes.add(verifyAttestation(trust, attestation, dist, use).predicateType);
      } catch (err) {
        return { ok: false, reason: (err as Error).message };
      }
      count++;
    }
  }
  return {
    ok: true,
    publisher: publisher!,
    identity: publisherIdentity(publisher!),
    attestations: count,
    predicateTypes: [...predicateTypes],
  };
}
