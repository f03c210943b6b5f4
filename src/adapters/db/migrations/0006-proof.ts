import type { Kysely } from "kysely";
import type { DialectName } from "../connect-database.js";

/**
 * Proof: the gateway's signed decision attestations (one DSSE envelope per admitted file) and
 * the upstream PEP 740 provenance it fetched and verified (one row per file digest).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, _dialect: DialectName): Promise<void> {
  await db.schema
    .createTable("attestations")
    .addColumn("sha256", "varchar(64)", (c) => c.primaryKey())
    .addColumn("project", "varchar(200)", (c) => c.notNull())
    .addColumn("version", "varchar(200)", (c) => c.notNull())
    .addColumn("filename", "text", (c) => c.notNull())
    .addColumn("keyid", "varchar(64)", (c) => c.notNull())
    .addColumn("policy_version", "varchar(64)", (c) => c.notNull())
    .addColumn("envelope_json", "text", (c) => c.notNull())
    .addColumn("signed_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("provenance")
    .addColumn("sha256", "varchar(64)", (c) => c.primaryKey())
    .addColumn("project", "varchar(200)", (c) => c.notNull())
    .addColumn("version", "varchar(200)", (c) => c.notNull())
    .addColumn("filename", "text", (c) => c.notNull())
    .addColumn("status", "varchar(20)", (c) => c.notNull())
    .addColumn("publisher", "text")
    .addColumn("publisher_json", "text")
    .addColumn("detail", "text", (c) => c.notNull())
    .addColumn("provenance_json", "text")
    .addColumn("checked_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("provenance_project")
    .on("provenance")
    .columns(["project", "version"])
    .execute();
}
