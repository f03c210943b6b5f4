import type { Kysely } from "kysely";
import type { DialectName } from "../connect-database.js";

/**
 * Each distinct client (the parsed User-Agent as JSON, the same few hundred bytes on nearly every
 * record) stored once in `audit_clients`; new audit_log rows name it by `client_id` and leave
 * `client_json` NULL. Rows written before keep their `client_json` (and no `client_id`); reads
 * take `coalesce(audit_log.client_json, audit_clients.json)`, so the records and their hashes
 * are unchanged, and editing a shared client breaks the chain at the first record using it.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  const table = db.schema.createTable("audit_clients");
  await (
    dialect === "postgres"
      ? table.addColumn("id", "bigserial", (c) => c.primaryKey())
      : table.addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
  )
    .addColumn("json", "text", (c) => c.notNull().unique())
    .execute();
  await db.schema
    .alterTable("audit_log")
    .addColumn("client_id", dialect === "postgres" ? "bigint" : "integer")
    .execute();
}
