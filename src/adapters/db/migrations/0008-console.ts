import type { Kysely } from "kysely";
import type { DialectName } from "../connect-database.js";

/**
 * Requests and approvals (one row per request, with its vetting report), and the indexes the
 * console's read API needs to answer from indexes rather than full scans: decision events by
 * time (history) and by outcome (recent blocks).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  const table = db.schema.createTable("package_requests");
  await (
    dialect === "postgres"
      ? table.addColumn("id", "bigserial", (c) => c.primaryKey())
      : table.addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
  )
    .addColumn("project", "varchar(200)", (c) => c.notNull())
    .addColumn("version", "varchar(200)")
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("state", "varchar(20)", (c) => c.notNull())
    .addColumn("requester", "varchar(200)", (c) => c.notNull())
    .addColumn("requester_team", "varchar(200)")
    .addColumn("report_json", "text", (c) => c.notNull())
    // The report's verdict, so lists need not read the reports.
    .addColumn("report_ok", "integer", (c) => c.notNull())
    .addColumn("tree_score", "integer", (c) => c.notNull())
    .addColumn("decided_by", "varchar(200)")
    .addColumn("decision_reason", "text")
    .addColumn("exceptions_json", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("package_requests_state")
    .on("package_requests")
    .columns(["state", "id"])
    .execute();
  await db.schema
    .createIndex("package_requests_requester")
    .on("package_requests")
    .columns(["requester", "id"])
    .execute();
  // Policy dry runs run in the background (a whole catalog takes seconds); any instance answers
  // for one, so they live here rather than in one process's memory.
  const runs = db.schema.createTable("policy_dry_runs");
  await (
    dialect === "postgres"
      ? runs.addColumn("id", "bigserial", (c) => c.primaryKey())
      : runs.addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
  )
    .addColumn("state", "varchar(20)", (c) => c.notNull())
    .addColumn("digest", "varchar(64)", (c) => c.notNull())
    .addColumn("requested_by", "varchar(200)", (c) => c.notNull())
    .addColumn("requested_at", "bigint", (c) => c.notNull())
    .addColumn("finished_at", "bigint")
    .addColumn("result_json", "text")
    .addColumn("error", "text")
    .execute();
  await db.schema.createIndex("decision_events_at").on("decision_events").column("at").execute();
  await db.schema
    .createIndex("decision_events_to_outcome")
    .on("decision_events")
    .columns(["to_outcome", "id"])
    .execute();
}
