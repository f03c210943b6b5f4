import type { Kysely } from "kysely";
import type { DialectName } from "../connect-database.js";

/** Environments reported by `portcullis scan --report`, with their inventory and owner. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  const table = db.schema.createTable("environments");
  await (
    dialect === "postgres"
      ? table.addColumn("id", "bigserial", (c) => c.primaryKey())
      : table.addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
  )
    .addColumn("host", "varchar(255)", (c) => c.notNull())
    .addColumn("path", "text", (c) => c.notNull())
    .addColumn("kind", "varchar(20)", (c) => c.notNull())
    .addColumn("python_version", "varchar(20)")
    .addColumn("owner", "varchar(200)")
    .addColumn("reported_by", "varchar(200)", (c) => c.notNull())
    .addColumn("first_reported_at", "bigint", (c) => c.notNull())
    .addColumn("reported_at", "bigint", (c) => c.notNull())
    .addColumn("total", "integer", (c) => c.notNull())
    .addColumn("ungoverned", "integer", (c) => c.notNull())
    .addColumn("counts_json", "text", (c) => c.notNull())
    .addColumn("inventory_json", "text", (c) => c.notNull())
    .execute();
  // Paths can be long (a PostgreSQL btree entry stops at ~2.7 kB), so the index is on the host
  // alone and the repository matches the path among that host's few environments.
  await db.schema.createIndex("environments_host").on("environments").column("host").execute();
  await db.schema.createIndex("environments_reported_at").on("environments").column("reported_at").execute();
}
