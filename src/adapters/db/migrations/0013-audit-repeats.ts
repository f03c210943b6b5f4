import type { Kysely } from "kysely";
import type { DialectName } from "../connect-database.js";

/**
 * `audit_log.repeats_json`: a record that stands for the same access repeated within a second
 * (every field equal but the time), with the times of the repeats (see AuditFields.repeats_json).
 * A busy gateway stores one row per distinct access of each batch instead of one per request.
 * Additive: earlier rows have null (one access each) and keep their hashes.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, _dialect: DialectName): Promise<void> {
  await db.schema.alterTable("audit_log").addColumn("repeats_json", "text").execute();
}
