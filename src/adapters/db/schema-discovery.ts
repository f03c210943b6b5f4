import type { Generated } from "kysely";

/**
 * Tables for reported environments (scan) (migration 0007-discovery). Merged into `Database` in `schema.ts`.
 */
export interface DiscoveryTables {
  environments: EnvironmentsTable;
}

/**
 * One environment `portcullis scan --report` found (a venv, a conda prefix, a site-packages
 * directory), keyed by host and path: a later report of the same place replaces the inventory.
 */
export interface EnvironmentsTable {
  id: Generated<number>;
  host: string;
  path: string;
  kind: string;
  python_version: string | null;
  /** Team that owns it; null until someone assigns it. */
  owner: string | null;
  /** Who sent the last report (user name or "anonymous"). */
  reported_by: string;
  first_reported_at: number;
  reported_at: number;
  total: number;
  /** Distributions that did not pass the gate (blocked, quarantined, not in catalog, hash differs). */
  ungoverned: number;
  /** Counts by status, JSON. */
  counts_json: string;
  /** The inventory, JSON: [{name, version, status, reason, sha256?}]. */
  inventory_json: string;
}
