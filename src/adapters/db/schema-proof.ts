/**
 * Tables for attestations and upstream provenance (migration 0006-proof). Merged into `Database` in `schema.ts`.
 */
export interface ProofTables {
  attestations: AttestationsTable;
  provenance: ProvenanceTable;
}

/** The gateway's signed decision attestation of one admitted file (a DSSE envelope). */
export interface AttestationsTable {
  sha256: string;
  project: string;
  version: string;
  filename: string;
  /** The signing key (hex sha256 of its SPKI DER). */
  keyid: string;
  /** The policy digest the attested decision was made under. */
  policy_version: string;
  envelope_json: string;
  signed_at: number;
}

/** What the upstream's PEP 740 provenance said about one file, once fetched and verified. */
export interface ProvenanceTable {
  sha256: string;
  project: string;
  version: string;
  filename: string;
  /** `verified`, `absent` (the upstream has none), `invalid` (it failed verification), `unavailable`. */
  status: string;
  /** Stable publisher identity for release-drift, e.g. `github:owner/repo/release.yml`; null unless verified. */
  publisher: string | null;
  /** The PEP 740 publisher object of the verified bundle. */
  publisher_json: string | null;
  detail: string;
  /** The verified provenance object, served onward. */
  provenance_json: string | null;
  checked_at: number;
}
