import { sql, type Kysely } from "kysely";
import type { DialectName } from "../connect-database.js";

/**
 * At most one pending request per (project, version, requester): a partial unique index, so that
 * two identical requests posted at the same moment (each finding none pending before it inserts)
 * cannot both be created; the insert that loses answers the one that won
 * (`RequestRepository.createOrFindPending`). A request without a version is keyed by `''`: NULLs
 * never compare equal in a unique index. Both SQLite (3.9+) and PostgreSQL take an expression in a
 * partial index.
 *
 * Duplicates the race already made would stop the index from being built: all but the oldest of
 * each are closed first as `denied`, naming the request kept. The exceptions they list stay in
 * force (an approver granted them); they are not audited or announced (a migration has no actor).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  const now =
    dialect === "postgres"
      ? sql`(extract(epoch from now()) * 1000)::bigint`
      : sql`(CAST(strftime('%s', 'now') AS INTEGER) * 1000)`;
  const older = sql`FROM package_requests older
    WHERE older.state = 'pending'
      AND older.project = package_requests.project
      AND COALESCE(older.version, '') = COALESCE(package_requests.version, '')
      AND older.requester = package_requests.requester
      AND older.id < package_requests.id`;
  await sql`UPDATE package_requests
    SET state = 'denied',
        decided_by = 'portcullis',
        decision_reason = 'a duplicate of request ' || (SELECT MIN(older.id) ${older})
          || ', asked at the same moment; closed when one pending request per project, version and requester became the rule',
        updated_at = ${now}
    WHERE state = 'pending' AND EXISTS (SELECT 1 ${older})`.execute(db);
  await sql`CREATE UNIQUE INDEX package_requests_one_pending
    ON package_requests (project, (COALESCE(version, '')), requester)
    WHERE state = 'pending'`.execute(db);
}
