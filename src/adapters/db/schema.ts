import type { ColumnType, Generated } from "kysely";
import type { ConsoleTables } from "./schema-console.js";
import type { DiscoveryTables } from "./schema-discovery.js";
import type { GovernanceTables } from "./schema-governance.js";
import type { IdentityTables } from "./schema-identity.js";
import type { ProofTables } from "./schema-proof.js";

/**
 * The database schema as Kysely sees it. Times are milliseconds since the epoch stored as
 * BIGINT (PostgreSQL's int8 is parsed to a JS number in `connect-database.ts`).
 */
export interface Database
  extends IdentityTables, GovernanceTables, ProofTables, DiscoveryTables, ConsoleTables {
  meta: MetaTable;
  projects: ProjectsTable;
  upstream_pages: UpstreamPagesTable;
  dist_files: DistFilesTable;
  decisions: DecisionsTable;
  decision_events: DecisionEventsTable;
  artifact_reports: ArtifactReportsTable;
  advisories: AdvisoriesTable;
  advisory_packages: AdvisoryPackagesTable;
  popular_projects: PopularProjectsTable;
  malicious_names: MaliciousNamesTable;
  intel_imports: IntelImportsTable;
  exceptions: ExceptionsTable;
  policy_versions: PolicyVersionsTable;
}

export interface MetaTable {
  key: string;
  value: string;
}

/** Every project the gateway knows (its catalog and cache), keyed by PEP 503 normalised name. */
export interface ProjectsTable {
  name: string;
  display_name: string;
  /** Change counter, `X-PyPI-Last-Serial`: bumped whenever the served page changes. */
  last_serial: number;
  created_at: number;
  updated_at: number;
}

/** The raw upstream cache: the last good page exactly as parsed from the upstream. */
export interface UpstreamPagesTable {
  name: string;
  page_json: string;
  /** sha256 of page_json, to tell a changed page from a revalidated one. */
  digest: string;
  etag: string | null;
  last_modified: string | null;
  fetched_at: number;
}

/** Every distribution file seen on an upstream page, keyed by the sha256 the upstream declared. */
export interface DistFilesTable {
  sha256: string;
  project: string;
  filename: string;
  version: string;
  url: string;
  size: number | null;
  upload_time: string | null;
  /** Set once the bytes are in the blob store and verified. */
  stored_at: number | null;
  /** sha256 of the extracted core metadata (PEP 658), once extracted. */
  metadata_sha256: string | null;
  first_seen: number;
}

/** The decision for one distribution file (see `policy/decision.ts`). */
export interface DecisionsTable {
  sha256: string;
  project: string;
  version: string;
  filename: string;
  outcome: string;
  score: number;
  reasons_json: string;
  policy_version: string;
  intel_snapshot: string;
  decided_at: string;
  stage: string;
}

/** `decision.changed`: what audit, inventory, remediation and webhooks consume. */
export interface DecisionEventsTable {
  id: Generated<number>;
  sha256: string;
  project: string;
  version: string;
  filename: string;
  from_outcome: string | null;
  to_outcome: string;
  reasons_json: string;
  at: string;
  /** When remediation and notifications took it in (epoch ms); NULL until then. */
  handled_at: ColumnType<number | null, number | null | undefined, number | null>;
}

/** What static analysis found in a file's bytes, kept so re-judging needs no re-download. */
export interface ArtifactReportsTable {
  sha256: string;
  project: string;
  version: string;
  report_json: string;
  analyzed_at: string;
}

export interface AdvisoriesTable {
  id: string;
  kind: string;
  modified: string | null;
  withdrawn: string | null;
  /** The OSV record as imported. */
  record_json: string;
  /** The validated, digested `Advisory` the index is built from (null for rows from before 0003). */
  advisory_json: string | null;
}

export interface AdvisoryPackagesTable {
  advisory_id: string;
  project: string;
}

export interface PopularProjectsTable {
  name: string;
  rank: number;
  downloads: number | null;
}

export interface MaliciousNamesTable {
  name: string;
  report_id: string;
}

export interface IntelImportsTable {
  id: Generated<number>;
  source: string;
  kind: string;
  imported_at: string;
  added: number;
  skipped: number;
  etag: string | null;
}

export interface ExceptionsTable {
  id: Generated<number>;
  project: string;
  version: string | null;
  sha256: string | null;
  checks_json: string | null;
  reason: string;
  approver: string;
  ticket: string | null;
  expires_at: string;
  created_at: string;
}

export interface PolicyVersionsTable {
  digest: string;
  source: string;
  activated_at: string;
}
