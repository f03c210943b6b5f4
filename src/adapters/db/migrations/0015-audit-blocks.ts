import { sql, type Kysely } from "kysely";
import type { DialectName } from "../connect-database.js";

/**
 * Batch storage of the audit trail (`audit.storage batches`, see audit-batch-block.ts): one
 * `audit_blocks` row per batch written, its records encoded in `body` and chained by one hash,
 * and `audit_block_keys` naming the distinct identities, addresses, projects, files, actions and
 * outcomes in each block, so that the audit queries find the blocks to read. Additive: the chain
 * continues from the last audit_log row, and the reads take records from both tables.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  await db.schema
    .createTable("audit_blocks")
    // INTEGER PRIMARY KEY: the rowid itself on SQLite (see 0004-identity's audit_log.seq).
    .addColumn("first_seq", dialect === "sqlite" ? "integer" : "bigint", (c) => c.primaryKey())
    .addColumn("last_seq", "bigint", (c) => c.notNull())
    // Record times (ms) as the trail stamps them: float64 in the body, so a float here too.
    .addColumn("first_at", dialect === "sqlite" ? "real" : "double precision", (c) => c.notNull())
    .addColumn("last_at", dialect === "sqlite" ? "real" : "double precision", (c) => c.notNull())
    .addColumn("accesses", "integer", (c) => c.notNull())
    .addColumn("prev_hash", "varchar(64)", (c) => c.notNull())
    .addColumn("hash", "varchar(64)", (c) => c.notNull())
    .addColumn("body", dialect === "sqlite" ? "blob" : "bytea", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("audit_blocks_last_at")
    .on("audit_blocks")
    .columns(["last_at", "first_seq"])
    .execute();
  const keys = db.schema
    .createTable("audit_block_keys")
    .addColumn("field", "varchar(20)", (c) => c.notNull())
    .addColumn("value", "varchar(200)", (c) => c.notNull())
    .addColumn("first_seq", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("audit_block_keys_pk", ["field", "value", "first_seq"]);
  // The key is the whole row: on SQLite one B-tree instead of a table and its index.
  await (dialect === "sqlite" ? keys.modifyEnd(sql`without rowid`) : keys).execute();
}
