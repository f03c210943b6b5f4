import { sql, type Kysely } from "kysely";
import type { DialectName } from "../connect-database.js";

/**
 * `remediation_events`: every state an item has been in, with who moved it, when and why (an
 * item's row keeps only its last change), and every change of its owning team. Written in the transaction that changes the item.
 * Items opened before this migration get what their row still tells: their opening and, if it
 * moved since, its current state (from an unknown one: the states in between are in the audit
 * trail's `remediation.*` records only).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  await db.schema
    .createTable("remediation_events")
    .$call((t) =>
      dialect === "postgres"
        ? t.addColumn("id", "bigserial", (c) => c.primaryKey())
        : t.addColumn("id", "integer", (c) => c.primaryKey().autoIncrement()),
    )
    .addColumn("item_id", "bigint", (c) => c.notNull())
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("from_state", "varchar(20)")
    .addColumn("state", "varchar(20)", (c) => c.notNull())
    .addColumn("changed_by", "varchar(200)")
    .addColumn("note", "text")
    .addColumn("accepted_until", "bigint")
    .addColumn("resolution", "varchar(40)")
    // An owner change: the team the item moved to (its state stays; see IdentityRepository.setOwner).
    .addColumn("owner", "varchar(200)")
    .execute();
  await db.schema
    .createIndex("remediation_events_item")
    .on("remediation_events")
    .columns(["item_id", "id"])
    .execute();
  // The opening of every item there is, then the state each moved to since (in id order: the
  // events' ids follow the items' within each of the two inserts).
  await sql`insert into remediation_events (item_id, at, from_state, state, changed_by, note, accepted_until, resolution)
    select id, opened_at, null, 'open', 'portcullis', null, null, null from remediation_items order by id`.execute(
    db,
  );
  await sql`insert into remediation_events (item_id, at, from_state, state, changed_by, note, accepted_until, resolution)
    select id, state_changed_at, null, state, state_changed_by, note, accepted_until, resolution
    from remediation_items where state <> 'open' or state_changed_at <> opened_at order by id`.execute(db);
}
