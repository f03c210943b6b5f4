import type { Kysely } from "kysely";

/**
 * Advisories keep, beside the OSV record as imported, the digested form the index is built from,
 * so that a gateway start (or a reload after a sync) skips re-validating every record.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("advisories").addColumn("advisory_json", "text").execute();
}
