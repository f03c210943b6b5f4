import type { Kysely } from "kysely";
import type { DialectName } from "../connect-database.js";

/**
 * Remediation items (one per refused file and cause), webhooks, their queued deliveries and the
 * log of every delivery attempt. Times are epoch milliseconds (BIGINT).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  const serial = (t: ReturnType<Kysely<unknown>["schema"]["createTable"]>) =>
    dialect === "postgres"
      ? t.addColumn("id", "bigserial", (c) => c.primaryKey())
      : t.addColumn("id", "integer", (c) => c.primaryKey().autoIncrement());

  await serial(db.schema.createTable("remediation_items"))
    .addColumn("sha256", "varchar(64)", (c) => c.notNull())
    .addColumn("cause", "varchar(400)", (c) => c.notNull())
    .addColumn("project", "varchar(200)", (c) => c.notNull())
    .addColumn("version", "varchar(200)", (c) => c.notNull())
    .addColumn("filename", "text", (c) => c.notNull())
    .addColumn("severity", "varchar(10)", (c) => c.notNull())
    .addColumn("owner", "varchar(200)")
    .addColumn("state", "varchar(20)", (c) => c.notNull())
    .addColumn("summary", "text", (c) => c.notNull())
    .addColumn("advisory_ids_json", "text", (c) => c.notNull())
    .addColumn("consumers_json", "text", (c) => c.notNull())
    .addColumn("fixed_version", "varchar(200)")
    .addColumn("opened_at", "bigint", (c) => c.notNull())
    .addColumn("due_at", "bigint", (c) => c.notNull())
    .addColumn("state_changed_at", "bigint", (c) => c.notNull())
    .addColumn("state_changed_by", "varchar(200)")
    .addColumn("note", "text")
    .addColumn("accepted_until", "bigint")
    .addColumn("resolved_at", "bigint")
    .addColumn("resolution", "varchar(40)")
    .addColumn("due_notified_at", "bigint")
    .addColumn("overdue_notified_at", "bigint")
    .execute();
  // Several instances re-judge and may each see the change: one item per (file, cause).
  await db.schema
    .createIndex("remediation_items_key")
    .unique()
    .on("remediation_items")
    .columns(["sha256", "cause"])
    .execute();
  await db.schema
    .createIndex("remediation_items_state")
    .on("remediation_items")
    .columns(["state", "due_at"])
    .execute();
  await db.schema
    .createIndex("remediation_items_project")
    .on("remediation_items")
    .column("project")
    .execute();

  await serial(db.schema.createTable("webhooks"))
    .addColumn("url", "text", (c) => c.notNull())
    .addColumn("secret", "text", (c) => c.notNull())
    .addColumn("format", "varchar(10)", (c) => c.notNull())
    .addColumn("events_json", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("created_by", "varchar(200)")
    .addColumn("removed_at", "bigint")
    .execute();

  await serial(db.schema.createTable("webhook_deliveries"))
    .addColumn("webhook_id", "bigint", (c) => c.notNull())
    .addColumn("event_key", "varchar(300)", (c) => c.notNull())
    .addColumn("event_id", "varchar(64)", (c) => c.notNull())
    .addColumn("event_type", "varchar(40)", (c) => c.notNull())
    .addColumn("body", "text", (c) => c.notNull())
    .addColumn("state", "varchar(12)", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull())
    .addColumn("next_attempt_at", "bigint", (c) => c.notNull())
    .addColumn("claimed_until", "bigint")
    .addColumn("claimed_by", "varchar(100)")
    .addColumn("last_status", "integer")
    .addColumn("last_error", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("delivered_at", "bigint")
    .execute();
  // The same event reaches a webhook once, whichever instance saw it.
  await db.schema
    .createIndex("webhook_deliveries_key")
    .unique()
    .on("webhook_deliveries")
    .columns(["webhook_id", "event_key"])
    .execute();
  await db.schema
    .createIndex("webhook_deliveries_due")
    .on("webhook_deliveries")
    .columns(["state", "next_attempt_at"])
    .execute();

  await serial(db.schema.createTable("webhook_attempts"))
    .addColumn("delivery_id", "bigint", (c) => c.notNull())
    .addColumn("attempt", "integer", (c) => c.notNull())
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("status", "integer")
    .addColumn("error", "text")
    .addColumn("duration_ms", "integer", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("webhook_attempts_delivery")
    .on("webhook_attempts")
    .column("delivery_id")
    .execute();
}
