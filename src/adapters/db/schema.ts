/**
 * The database schema as Kysely sees it. Times are milliseconds since the epoch stored as
 * BIGINT (PostgreSQL's int8 is parsed to a JS number in `connect-database.ts`).
 */
export interface Database {
  meta: MetaTable;
  projects: ProjectsTable;
  upstream_pages: UpstreamPagesTable;
  dist_files: DistFilesTable;
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
