import type { Kysely } from "kysely";
import type { DialectName } from "../connect-database.js";

/**
 * Policy state: decisions (stuck to a file's sha256), their change events, the artifact reports
 * that let re-judging skip a re-download, the intel store, exceptions and policy versions.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  const serial = (t: ReturnType<Kysely<unknown>["schema"]["createTable"]>) =>
    dialect === "postgres"
      ? t.addColumn("id", "bigserial", (c) => c.primaryKey())
      : t.addColumn("id", "integer", (c) => c.primaryKey().autoIncrement());

  await db.schema
    .createTable("decisions")
    .addColumn("sha256", "varchar(64)", (c) => c.primaryKey())
    .addColumn("project", "varchar(200)", (c) => c.notNull())
    .addColumn("version", "varchar(200)", (c) => c.notNull())
    .addColumn("filename", "text", (c) => c.notNull())
    .addColumn("outcome", "varchar(20)", (c) => c.notNull())
    .addColumn("score", "integer", (c) => c.notNull())
    .addColumn("reasons_json", "text", (c) => c.notNull())
    .addColumn("policy_version", "varchar(64)", (c) => c.notNull())
    .addColumn("intel_snapshot", "varchar(100)", (c) => c.notNull())
    .addColumn("decided_at", "varchar(40)", (c) => c.notNull())
    .addColumn("stage", "varchar(10)", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("decisions_project").on("decisions").columns(["project", "version"]).execute();
  await db.schema.createIndex("decisions_outcome").on("decisions").column("outcome").execute();

  await serial(db.schema.createTable("decision_events"))
    .addColumn("sha256", "varchar(64)", (c) => c.notNull())
    .addColumn("project", "varchar(200)", (c) => c.notNull())
    .addColumn("version", "varchar(200)", (c) => c.notNull())
    .addColumn("filename", "text", (c) => c.notNull())
    .addColumn("from_outcome", "varchar(20)")
    .addColumn("to_outcome", "varchar(20)", (c) => c.notNull())
    .addColumn("reasons_json", "text", (c) => c.notNull())
    .addColumn("at", "varchar(40)", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("artifact_reports")
    .addColumn("sha256", "varchar(64)", (c) => c.primaryKey())
    .addColumn("project", "varchar(200)", (c) => c.notNull())
    .addColumn("version", "varchar(200)", (c) => c.notNull())
    .addColumn("report_json", "text", (c) => c.notNull())
    .addColumn("analyzed_at", "varchar(40)", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("artifact_reports_project")
    .on("artifact_reports")
    .columns(["project", "version"])
    .execute();

  await db.schema
    .createTable("advisories")
    .addColumn("id", "varchar(100)", (c) => c.primaryKey())
    .addColumn("kind", "varchar(20)", (c) => c.notNull())
    .addColumn("modified", "varchar(40)")
    .addColumn("withdrawn", "varchar(40)")
    .addColumn("record_json", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("advisory_packages")
    .addColumn("advisory_id", "varchar(100)", (c) => c.notNull())
    .addColumn("project", "varchar(200)", (c) => c.notNull())
    .addPrimaryKeyConstraint("advisory_packages_pk", ["advisory_id", "project"])
    .execute();
  await db.schema
    .createIndex("advisory_packages_project")
    .on("advisory_packages")
    .column("project")
    .execute();

  await db.schema
    .createTable("popular_projects")
    .addColumn("name", "varchar(200)", (c) => c.primaryKey())
    .addColumn("rank", "integer", (c) => c.notNull())
    .addColumn("downloads", "bigint")
    .execute();
  await db.schema
    .createTable("malicious_names")
    .addColumn("name", "varchar(200)", (c) => c.primaryKey())
    .addColumn("report_id", "varchar(100)", (c) => c.notNull())
    .execute();

  await serial(db.schema.createTable("intel_imports"))
    .addColumn("source", "text", (c) => c.notNull())
    .addColumn("kind", "varchar(40)", (c) => c.notNull())
    .addColumn("imported_at", "varchar(40)", (c) => c.notNull())
    .addColumn("added", "integer", (c) => c.notNull())
    .addColumn("skipped", "integer", (c) => c.notNull())
    .addColumn("etag", "text")
    .execute();

  await serial(db.schema.createTable("exceptions"))
    .addColumn("project", "varchar(200)", (c) => c.notNull())
    .addColumn("version", "varchar(200)")
    .addColumn("sha256", "varchar(64)")
    .addColumn("checks_json", "text")
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("approver", "varchar(200)", (c) => c.notNull())
    .addColumn("ticket", "varchar(200)")
    .addColumn("expires_at", "varchar(40)", (c) => c.notNull())
    .addColumn("created_at", "varchar(40)", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("policy_versions")
    .addColumn("digest", "varchar(64)", (c) => c.primaryKey())
    .addColumn("source", "text", (c) => c.notNull())
    .addColumn("activated_at", "varchar(40)", (c) => c.notNull())
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of [
    "policy_versions",
    "exceptions",
    "intel_imports",
    "malicious_names",
    "popular_projects",
    "advisory_packages",
    "advisories",
    "artifact_reports",
    "decision_events",
    "decisions",
  ]) {
    await db.schema.dropTable(t).execute();
  }
}
