import { sql, type Kysely } from "kysely";
import type { DialectName } from "../connect-database.js";

/**
 * `decision_events.handled_at`: when remediation and notifications have taken an event in. Events
 * left unhandled (the gateway stopped or crashed in the middle of a re-evaluation) are handled at
 * the next start or tick instead of lost. Events recorded before this migration count as handled:
 * they were, when they happened, and replaying them would reopen closed items.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, _dialect: DialectName): Promise<void> {
  await db.schema.alterTable("decision_events").addColumn("handled_at", "bigint").execute();
  await db
    .updateTable("decision_events")
    .set({ handled_at: sql`0` })
    .execute();
  await db.schema
    .createIndex("decision_events_unhandled")
    .on("decision_events")
    .columns(["handled_at", "id"])
    .execute();
}
