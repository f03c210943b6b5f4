import type { Kysely } from "kysely";
import type { DialectName } from "../connect-database.js";

/**
 * Why and by whom an identity was disabled (`portcullis user disable`, `POST
 * /api/v1/users/{name}/disable`), beside the `disabled_at` it always had: `user list` and `GET
 * /api/v1/users` show them, so whoever finds a disabled account knows why before enabling it.
 * Additive: identities disabled before have neither (null). Enabling clears all three; the audit
 * trail keeps every change (`user.disable`, `user.enable`).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, _dialect: DialectName): Promise<void> {
  await db.schema.alterTable("identities").addColumn("disabled_reason", "text").execute();
  await db.schema.alterTable("identities").addColumn("disabled_by", "varchar(200)").execute();
}
