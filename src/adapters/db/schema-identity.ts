import type { Generated } from "kysely";

/**
 * Tables for identity, audit and inventory (migrations 0004-identity, 0009-audit-clients,
 * 0012-identity-disabled-reason, 0013-audit-repeats, 0015-audit-blocks). Merged into `Database` in `schema.ts`.
 */
export interface IdentityTables {
  teams: TeamsTable;
  identities: IdentitiesTable;
  api_tokens: ApiTokensTable;
  project_owners: ProjectOwnersTable;
  audit_log: AuditLogTable;
  audit_clients: AuditClientsTable;
  audit_head: AuditHeadTable;
  audit_blocks: AuditBlocksTable;
  audit_block_keys: AuditBlockKeysTable;
  audit_checkpoints: AuditCheckpointsTable;
  inventory: InventoryTable;
}

export interface TeamsTable {
  name: string;
  created_at: number;
}

/** A user or a service account (CI job, scheduled script). */
export interface IdentitiesTable {
  name: string;
  /** `user` or `service`. */
  kind: string;
  role: string;
  team: string | null;
  created_at: number;
  /** When it was disabled (its tokens are refused while it is); null while enabled. */
  disabled_at: number | null;
  /** Why, as the admin who disabled it gave it (one line, no control characters); null when none was given. */
  disabled_reason: string | null;
  /** Who disabled it (a user name, or `cli:<os user>`); null while enabled or for older rows. */
  disabled_by: string | null;
}

/**
 * An API token. The secret is never stored: `hash` is HMAC-SHA256 of the whole token under the
 * server key (`meta` row `identity.token-hmac-key`), so every instance on one database agrees.
 */
export interface ApiTokensTable {
  /** Public token id, also the token's visible prefix (rate limits, listings, audit). */
  id: string;
  identity: string;
  role: string;
  team: string | null;
  /** The application this token pulls for (inventory), e.g. a CI pipeline's name. */
  label: string | null;
  hash: string;
  created_at: number;
  created_by: string;
  expires_at: number | null;
  revoked_at: number | null;
}

export interface ProjectOwnersTable {
  project: string;
  team: string;
  set_by: string;
  set_at: number;
}

/**
 * One audit record; `hash` chains it to the record before (`prev_hash`). Append-only. Its client
 * is `client_json` on rows written before migration 0009, else the `audit_clients` row
 * `client_id` names; the record's `client_json` is `coalesce(client_json, audit_clients.json)`.
 */
export interface AuditLogTable {
  seq: number;
  at: number;
  action: string;
  identity: string | null;
  role: string;
  team: string | null;
  token_id: string | null;
  ip: string;
  application: string | null;
  /** The parsed client (ClientInfo) as JSON: rows written before 0009, and clients too long to share. */
  client_json: string | null;
  project: string | null;
  version: string | null;
  filename: string | null;
  sha256: string | null;
  outcome: string;
  status: number | null;
  detail_json: string | null;
  prev_hash: string;
  hash: string;
  /** The record's client in `audit_clients` (0009-audit-clients); null when `client_json` holds it or there is none. */
  client_id: number | null;
  /** The times of the same access repeated, as ms after `at` (0013-audit-repeats; see AuditFields.repeats_json); null: one access. */
  repeats_json: string | null;
}

/** Each distinct client (ClientInfo as JSON) the audit log names by id; part of the records' hashed contents. */
export interface AuditClientsTable {
  id: Generated<number>;
  json: string;
}

/**
 * One block of records (0015-audit-blocks, `audit.storage batches`): records first_seq..last_seq
 * encoded in `body` (see audit-batch-block.ts), chained as a whole by `hash` after `prev_hash`.
 */
export interface AuditBlocksTable {
  first_seq: number;
  last_seq: number;
  /** The earliest and latest record time (each record's first access) in the block. */
  first_at: number;
  last_at: number;
  /** Accesses it holds (its records and their repeats). */
  accesses: number;
  prev_hash: string;
  hash: string;
  body: Uint8Array;
}

/** A distinct value of a key field (BLOCK_KEY_FIELDS) in a block: how the queries find blocks. */
export interface AuditBlockKeysTable {
  field: string;
  value: string;
  first_seq: number;
}

/** The single row (id 1) holding the end of the chain; appends lock it, which serialises writers. */
export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
  checkpoint_seq: number;
  checkpoint_at: number;
}

/** A signed statement "the chain up to `seq` ends in `hash`" (Ed25519, the gateway key). */
export interface AuditCheckpointsTable {
  seq: number;
  hash: string;
  at: number;
  keyid: string;
  public_key_pem: string;
  signature: string;
}

/** Who pulled which file: one row per (identity, ip, application, file), from the audit batches. */
export interface InventoryTable {
  /** '' for anonymous pulls (a unique key cannot hold NULLs that compare equal). */
  identity: string;
  team: string | null;
  ip: string;
  /** '' when no application was named. */
  application: string;
  client: string | null;
  sha256: string;
  project: string;
  version: string;
  filename: string;
  first_pulled: number;
  last_pulled: number;
  pulls: number;
}
