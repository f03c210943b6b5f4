import type { Kysely } from "kysely";

/** Core tables: projects, the raw upstream page cache and the distribution files seen. */
// Migrations take Kysely<any> on purpose: they run against whatever the schema was before them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("meta")
    .addColumn("key", "varchar(200)", (c) => c.primaryKey())
    .addColumn("value", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("projects")
    .addColumn("name", "varchar(200)", (c) => c.primaryKey())
    .addColumn("display_name", "varchar(200)", (c) => c.notNull())
    .addColumn("last_serial", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("upstream_pages")
    .addColumn("name", "varchar(200)", (c) => c.primaryKey())
    .addColumn("page_json", "text", (c) => c.notNull())
    .addColumn("digest", "varchar(64)", (c) => c.notNull())
    .addColumn("etag", "text")
    .addColumn("last_modified", "text")
    .addColumn("fetched_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("dist_files")
    .addColumn("sha256", "varchar(64)", (c) => c.primaryKey())
    .addColumn("project", "varchar(200)", (c) => c.notNull())
    .addColumn("filename", "text", (c) => c.notNull())
    .addColumn("version", "varchar(200)", (c) => c.notNull())
    .addColumn("url", "text", (c) => c.notNull())
    .addColumn("size", "bigint")
    .addColumn("upload_time", "varchar(64)")
    .addColumn("stored_at", "bigint")
    .addColumn("metadata_sha256", "varchar(64)")
    .addColumn("first_seen", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("dist_files_project")
    .on("dist_files")
    .columns(["project", "version"])
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ["dist_files", "upstream_pages", "projects", "meta"])
    await db.schema.dropTable(t).execute();
}
