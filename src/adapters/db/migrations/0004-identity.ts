import { sql, type Kysely } from "kysely";
import type { DialectName } from "../connect-database.js";

/** Identities, tokens, owners, the hash-chained audit log with signed checkpoints, and the inventory. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  await db.schema
    .createTable("teams")
    .addColumn("name", "varchar(200)", (c) => c.primaryKey())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("identities")
    .addColumn("name", "varchar(200)", (c) => c.primaryKey())
    .addColumn("kind", "varchar(20)", (c) => c.notNull())
    .addColumn("role", "varchar(20)", (c) => c.notNull())
    .addColumn("team", "varchar(200)")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("disabled_at", "bigint")
    .execute();
  await db.schema
    .createTable("api_tokens")
    .addColumn("id", "varchar(40)", (c) => c.primaryKey())
    .addColumn("identity", "varchar(200)", (c) => c.notNull())
    .addColumn("role", "varchar(20)", (c) => c.notNull())
    .addColumn("team", "varchar(200)")
    .addColumn("label", "varchar(200)")
    .addColumn("hash", "varchar(64)", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("created_by", "varchar(200)", (c) => c.notNull())
    .addColumn("expires_at", "bigint")
    .addColumn("revoked_at", "bigint")
    .execute();
  await db.schema.createIndex("api_tokens_identity").on("api_tokens").column("identity").execute();

  await db.schema
    .createTable("project_owners")
    .addColumn("project", "varchar(200)", (c) => c.primaryKey())
    .addColumn("team", "varchar(200)", (c) => c.notNull())
    .addColumn("set_by", "varchar(200)", (c) => c.notNull())
    .addColumn("set_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("audit_log")
    // On SQLite only a column declared exactly INTEGER PRIMARY KEY is the rowid itself; a BIGINT
    // key would be a second B-tree (an autoindex) updated on every append, the gateway's busiest
    // write (https://sqlite.org/lang_createtable.html#rowid). SQLite's INTEGER is 64-bit.
    .addColumn("seq", dialect === "sqlite" ? "integer" : "bigint", (c) => c.primaryKey())
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("action", "varchar(100)", (c) => c.notNull())
    .addColumn("identity", "varchar(200)")
    .addColumn("role", "varchar(20)", (c) => c.notNull())
    .addColumn("team", "varchar(200)")
    .addColumn("token_id", "varchar(40)")
    .addColumn("ip", "varchar(100)", (c) => c.notNull())
    .addColumn("application", "varchar(200)")
    .addColumn("client_json", "text")
    .addColumn("project", "varchar(200)")
    .addColumn("version", "varchar(200)")
    .addColumn("filename", "text")
    .addColumn("sha256", "varchar(64)")
    .addColumn("outcome", "varchar(40)", (c) => c.notNull())
    .addColumn("status", "integer")
    .addColumn("detail_json", "text")
    .addColumn("prev_hash", "varchar(64)", (c) => c.notNull())
    .addColumn("hash", "varchar(64)", (c) => c.notNull())
    .execute();
  // Every SQLite index entry ends with the rowid (= seq), so (identity) there is (identity, seq).
  const withSeq = (col: string) => (dialect === "sqlite" ? [col] : [col, "seq"]);
  await db.schema.createIndex("audit_log_identity").on("audit_log").columns(withSeq("identity")).execute();
  await db.schema.createIndex("audit_log_project").on("audit_log").columns(withSeq("project")).execute();
  // Time-window reads (`since`/`until`, issue 6). `at` is stamped when a request ends, before the
  // record queues for the chain, so with several instances (or a slow flush) it is only roughly
  // monotonic in `seq`: the window cannot be turned into seq bounds exactly. (at, seq) answers the
  // window from this index alone, then only the newest `limit` rows are read.
  await db.schema.createIndex("audit_log_at").on("audit_log").columns(withSeq("at")).execute();

  await db.schema
    .createTable("audit_head")
    .addColumn("id", "integer", (c) => c.primaryKey())
    .addColumn("seq", "bigint", (c) => c.notNull())
    .addColumn("hash", "varchar(64)", (c) => c.notNull())
    .addColumn("checkpoint_seq", "bigint", (c) => c.notNull())
    .addColumn("checkpoint_at", "bigint", (c) => c.notNull())
    .execute();
  await db
    .insertInto("audit_head")
    .values({ id: 1, seq: 0, hash: "0".repeat(64), checkpoint_seq: 0, checkpoint_at: 0 })
    .execute();
  await db.schema
    .createTable("audit_checkpoints")
    .addColumn("seq", "bigint", (c) => c.primaryKey())
    .addColumn("hash", "varchar(64)", (c) => c.notNull())
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("keyid", "varchar(64)", (c) => c.notNull())
    .addColumn("public_key_pem", "text", (c) => c.notNull())
    .addColumn("signature", "text", (c) => c.notNull())
    .execute();

  // Keyed by project first: a who-has answer reads one contiguous range instead of rows scattered
  // over the table (on SQLite a WITHOUT ROWID table is stored in its primary key's order). The
  // sha256 fixes project and version, so the key is the (consumer, file) the audit batches upsert.
  let inventory = db.schema
    .createTable("inventory")
    .addColumn("project", "varchar(200)", (c) => c.notNull())
    .addColumn("version", "varchar(200)", (c) => c.notNull())
    .addColumn("sha256", "varchar(64)", (c) => c.notNull())
    .addColumn("identity", "varchar(200)", (c) => c.notNull())
    .addColumn("ip", "varchar(100)", (c) => c.notNull())
    .addColumn("application", "varchar(200)", (c) => c.notNull())
    .addColumn("team", "varchar(200)")
    .addColumn("client", "varchar(200)")
    .addColumn("filename", "text", (c) => c.notNull())
    .addColumn("first_pulled", "bigint", (c) => c.notNull())
    .addColumn("last_pulled", "bigint", (c) => c.notNull())
    .addColumn("pulls", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("inventory_pk", [
      "project",
      "version",
      "sha256",
      "identity",
      "ip",
      "application",
    ]);
  if (dialect === "sqlite") inventory = inventory.modifyEnd(sql`without rowid`);
  await inventory.execute();
  await db.schema.createIndex("inventory_sha256").on("inventory").column("sha256").execute();
  await db.schema.createIndex("inventory_last_pulled").on("inventory").column("first_pulled").execute();
}
