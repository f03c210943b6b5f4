import type { Generated } from "kysely";

/**
 * Tables for requests and approvals (migration 0008-console). Merged into `Database` in `schema.ts`.
 */
export interface ConsoleTables {
  package_requests: PackageRequestsTable;
  policy_dry_runs: PolicyDryRunsTable;
}

/** A dry run of a draft policy against the catalog, run in the background. */
export interface PolicyDryRunsTable {
  id: Generated<number>;
  /** `running`, `done`, `failed`. */
  state: string;
  /** sha256 of the draft's text. */
  digest: string;
  requested_by: string;
  requested_at: number;
  finished_at: number | null;
  /** `DryRunResult` when done. */
  result_json: string | null;
  error: string | null;
}

/** A request for a package (and its dependency tree) to enter the catalog. */
export interface PackageRequestsTable {
  id: Generated<number>;
  /** PEP 503 normalised name. */
  project: string;
  /** Exact version asked for; null: whatever the resolver picks (the newest admissible). */
  version: string | null;
  reason: string;
  /** `approved`, `pending`, `denied`. */
  state: string;
  requester: string;
  requester_team: string | null;
  /** The vetting report at request time (`RequestReport`). */
  report_json: string;
  /** 1 when the report admits the whole tree. */
  report_ok: number;
  tree_score: number;
  decided_by: string | null;
  decision_reason: string | null;
  /** Exceptions granted for this request: `GrantedException[]`. */
  exceptions_json: string | null;
  created_at: number;
  updated_at: number;
}
