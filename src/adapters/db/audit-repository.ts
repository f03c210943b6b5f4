import {
  CompiledQuery,
  expressionBuilder,
  sql,
  type Expression,
  type Kysely,
  type Selectable,
  type SqlBool,
  type Transaction,
} from "kysely";
import { SigningKeyMissing } from "../../crypto/key-ring.js";
import {
  ANONYMOUS_KEY,
  blockHash,
  blockIndex,
  blockRecordCount,
  blockRecords,
  blockRecordsWhere,
  decodeBlockBody,
  encodeBlockBody,
  type AuditBlockHead,
  type BlockKeyField,
} from "../../services/audit/audit-batch-block.js";
import { auditBatchLength, type EncodedAuditBatch } from "../../services/audit/audit-batch-codec.js";
import type { Database } from "./schema.js";
import type { DialectName } from "./connect-database.js";
import type { AuditCheckpointsTable, AuditHeadTable, InventoryTable } from "./schema-identity.js";
import {
  AUDIT_FIELDS,
  chain,
  checkpointMessage,
  type AuditFields,
  type ChainedRecord,
} from "../../services/audit/audit-chain.js";

export type CheckpointRow = Selectable<AuditCheckpointsTable>;
export type InventoryDelta = InventoryTable;

export interface AuditQuery {
  /** A name, or null for anonymous records. */
  identity?: string | null;
  ip?: string;
  sha256?: string;
  project?: string;
  action?: string;
  outcome?: string;
  since?: number;
  until?: number;
  /** Records with seq below this (cursor pages run newest first). */
  beforeSeq?: number;
  /** Records with seq above this (export runs oldest first). */
  afterSeq?: number;
  limit: number;
  order: "asc" | "desc";
  /**
   * A block whose body cannot be read (damaged or edited: `audit verify` names it) is passed here
   * and left out; without it the query fails with AuditBlockUnreadable.
   */
  onUnreadableBlock?: (error: AuditBlockUnreadable) => void;
}

/** A stored block whose records cannot be read (see AuditQuery.onUnreadableBlock). */
export class AuditBlockUnreadable extends Error {
  override readonly name = "AuditBlockUnreadable";
  constructor(
    readonly firstSeq: number,
    readonly lastSeq: number,
    readonly reason: string,
  ) {
    super(`records ${firstSeq}..${lastSeq} (one block) cannot be read: ${reason}`);
  }
}

export interface CheckpointSigner {
  /**
   * Signs the checkpoint message; returns the keyid, the public key (SPKI PEM) and the signature.
   * Throws SigningKeyMissing in a process without a key of its own (a CLI command run without
   * the gateway's key): its records are then written unsigned, for the gateway's next checkpoint.
   */
  sign(message: Buffer): { keyid: string; publicKeyPem: string; signature: string };
}

/** When an append also signs a checkpoint (see CheckpointPolicy), and with what. */
export interface AppendCheckpoint {
  signer: CheckpointSigner;
  everyRecords: number;
  everyMs: number;
  now: number;
}

/** What `sealHead` found. */
export type SealOutcome =
  /** It signed the head. */
  | { state: "signed" }
  /** Nothing to sign: the head is under a checkpoint already (or the chain is empty). */
  | { state: "covered" }
  /** Records after the last checkpoint, but this process has no key to sign them with. */
  | { state: "keyless" }
  /**
   * Records after the last checkpoint, signed less than `minAgeMs` ago (its sequence number and
   * time): the next batch or seal signs them once it is that old.
   */
  | { state: "recent"; checkpointSeq: number; checkpointAt: number };

/**
 * The append-only audit log. Appends lock the single `audit_head` row first (an UPDATE, so SQLite
 * takes its write lock at once and PostgreSQL a row lock): writers on several instances queue on
 * it and each batch continues the chain where the last one ended. Inventory aggregates are
 * updated in the same transaction, so they never disagree with the log.
 */
// 50 rows a statement (its ~2,300 characters of SQL stay in SQLite's prepared-statement cache);
// on SQLite the few rows left over go one statement each, so only two INSERT texts are prepared.
const ROWS_PER_INSERT = 50;
/** A record's fields as audit_log stores them, in the order its columns were created. */
const AUDIT_COLUMNS = [
  "seq",
  ...AUDIT_FIELDS,
  "prev_hash",
  "hash",
  "repeats_json",
] as const satisfies readonly (keyof ChainedRecord)[];
/**
 * The columns an append writes: the client as `client_id` (its JSON once in `audit_clients`),
 * `client_json` NULL unless the client is too long to share (see MAX_SHARED_CLIENT_BYTES).
 */
const INSERT_COLUMNS = [...AUDIT_COLUMNS, "client_id"] as const;
const CLIENT_JSON_AT = AUDIT_COLUMNS.indexOf("client_json");
/**
 * The longest client JSON shared through `audit_clients` (UTF-8 bytes). Its unique index holds the
 * whole text, and a PostgreSQL B-tree entry is at most 2,704 bytes: a longer value would fail the
 * batch. Parsed User-Agents stay well below (≤ 512 characters of header, fields of ≤ 100), but
 * one crafted to escape to more is kept inline in its row rather than stop the audit trail.
 */
const MAX_SHARED_CLIENT_BYTES = 2_000;
/** Known clients (JSON → audit_clients id) per repository; cleared when full. */
const CLIENT_CACHE_MAX = 1_000;

/**
 * What the reads select: each record exactly as it was chained, the client from whichever of
 * audit_log.client_json (rows before 0009-audit-clients) and audit_clients holds it. Editing the
 * shared JSON changes every record using it, which `audit verify` then names.
 */
const RECORD_SELECTION = AUDIT_COLUMNS.map((c) =>
  c === "client_json"
    ? sql<string | null>`coalesce(audit_log.client_json, audit_clients.json)`.as(c)
    : sql.ref(`audit_log.${c}`).as(c),
);

export class AuditRepository {
  private readonly insertText = new Map<number, string>();
  /** Committed audit_clients ids, so a busy writer looks none up: JSON → id. */
  private readonly clientIds = new Map<string, number>();
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: DialectName,
  ) {}

  async append(
    records: AuditFields[],
    inventory: InventoryDelta[],
    checkpoint: AppendCheckpoint | null,
  ): Promise<ChainedRecord[]> {
    if (records.length === 0) return [];
    let learned: Map<string, number> | undefined;
    const written = await this.db.transaction().execute(async (trx) => {
      const head = await lockedHead(trx);
      // A row in the next place fails its INSERT; a block there would not.
      await refuseStoredPastHead(trx, Number(head.seq), "audit_blocks");
      // After the head's lock: writers on other instances wait there, never on a client row.
      const clients = await this.batchClients(trx, records);
      learned = clients.learned;
      const chained = chain({ seq: Number(head.seq), hash: head.hash }, records);
      let i = 0;
      for (; i + ROWS_PER_INSERT <= chained.length; i += ROWS_PER_INSERT) {
        await trx.executeQuery(this.insertRecords(chained.slice(i, i + ROWS_PER_INSERT), clients.ids));
      }
      if (this.dialect === "postgres") {
        // Each statement is a round trip there: the rest in one.
        if (i < chained.length) await trx.executeQuery(this.insertRecords(chained.slice(i), clients.ids));
      } else {
        for (; i < chained.length; i++) {
          await trx.executeQuery(this.insertRecords([chained[i]!], clients.ids));
        }
      }
      const last = chained[chained.length - 1]!;
      await finishAppend(trx, head, last.seq, last.hash, inventory, checkpoint);
      return chained;
    });
    // Only ids whose rows are committed: one learned in a transaction that rolled back may name
    // nothing (or, later, another client).
    if (learned) {
      for (const [json, id] of learned) {
        if (this.clientIds.size >= CLIENT_CACHE_MAX) this.clientIds.clear();
        this.clientIds.set(json, id);
      }
    }
    return written;
  }

  /**
   * Appends a batch as one block (`audit.storage batches`, see audit-batch-block.ts): its body and
   * key rows, chained after the head by one hash, with the inventory deltas and a checkpoint when
   * due, in one transaction under the head's lock as `append`. Returns where it went.
   */
  async appendBlock(
    batch: EncodedAuditBatch,
    inventory: InventoryDelta[],
    checkpoint: AppendCheckpoint | null,
  ): Promise<AuditBlockHead | undefined> {
    const count = blockRecordCount(batch);
    if (count === 0) return undefined;
    const body = encodeBlockBody(batch);
    const index = blockIndex(batch);
    return this.db.transaction().execute(async (trx) => {
      const head = await lockedHead(trx);
      // A block at the next place fails its INSERT; a row or a block further on would not.
      await refuseStoredPastHead(trx, Number(head.seq), "audit_log", "audit_blocks");
      const firstSeq = Number(head.seq) + 1;
      const lastSeq = firstSeq + count - 1;
      const hash = blockHash(firstSeq, lastSeq, head.hash, body);
      await trx
        .insertInto("audit_blocks")
        .values({
          first_seq: firstSeq,
          last_seq: lastSeq,
          first_at: index.firstAt,
          last_at: index.lastAt,
          accesses: auditBatchLength(batch),
          prev_hash: head.hash,
          hash,
          body,
        })
        .execute();
      for (let i = 0; i < index.keys.length; i += 200) {
        await trx
          .insertInto("audit_block_keys")
          .values(
            index.keys
              .slice(i, i + 200)
              .map((k) => ({ field: k.field, value: k.value, first_seq: firstSeq })),
          )
          .execute();
      }
      await finishAppend(trx, head, lastSeq, hash, inventory, checkpoint);
      return { firstSeq, lastSeq, prevHash: head.hash, hash };
    });
  }

  /**
   * The audit_clients id of each distinct client of the batch (JSON → id; a client too long to
   * share has none), and those that were not known yet (`learned`). Unknown clients are inserted
   * if absent and then read back: another instance may have stored the same JSON first.
   */
  private async batchClients(
    trx: Transaction<Database>,
    records: AuditFields[],
  ): Promise<{ ids: Map<string, number>; learned: Map<string, number> | undefined }> {
    const ids = new Map<string, number>();
    let missing: string[] | undefined;
    let last: string | null = null;
    for (const r of records) {
      const json = r.client_json;
      // Records of a decoded batch share one string per distinct client: mostly a pointer check.
      if (json === null || json === last) continue;
      last = json;
      if (ids.has(json)) continue;
      const id = this.clientIds.get(json);
      if (id !== undefined) ids.set(json, id);
      else if (!missing?.includes(json) && Buffer.byteLength(json) <= MAX_SHARED_CLIENT_BYTES) {
        (missing ??= []).push(json);
      }
    }
    if (!missing) return { ids, learned: undefined };
    const learned = new Map<string, number>();
    for (let i = 0; i < missing.length; i += 200) {
      const chunk = missing.slice(i, i + 200);
      await trx
        .insertInto("audit_clients")
        .values(chunk.map((json) => ({ json })))
        .onConflict((oc) => oc.column("json").doNothing())
        .execute();
      const rows = await trx
        .selectFrom("audit_clients")
        .select(["id", "json"])
        .where("json", "in", chunk)
        .execute();
      for (const row of rows) {
        ids.set(row.json, Number(row.id));
        learned.set(row.json, Number(row.id));
      }
    }
    for (const json of missing) {
      if (!ids.has(json)) throw new Error("audit client not found after storing it");
    }
    return { ids, learned };
  }

  /**
   * A multi-row INSERT built directly: the audit log is the gateway's busiest table, and building
   * the statement through the query builder cost about a third of each record's write.
   */
  private insertRecords(rows: ChainedRecord[], clientIds: Map<string, number>): CompiledQuery {
    let text = this.insertText.get(rows.length);
    if (!text) {
      let n = 0;
      const ph = () => (this.dialect === "postgres" ? `$${++n}` : "?");
      const tuples = rows.map(() => `(${INSERT_COLUMNS.map(ph).join(",")})`);
      text = `insert into audit_log (${INSERT_COLUMNS.join(",")}) values ${tuples.join(",")}`;
      this.insertText.set(rows.length, text);
    }
    const params: unknown[] = [];
    for (const r of rows) pushRow(params, r, clientIds);
    return CompiledQuery.raw(text, params);
  }

  /**
   * Signs a checkpoint of the chain's head if records came after the last one, and that one is at
   * least `minAgeMs` old (by `now`, against its stored time): a clean stop (0: the records of an
   * idle spell since the last checkpoint would otherwise stay unsigned), and a running gateway's
   * timer once its own records have waited an interval (the interval: as often as a batch signs,
   * so the two never sign twice in one interval, also across instances). The head is read
   * without a lock first: a look that finds nothing to sign (most of them) takes no write lock.
   */
  async sealHead(signer: CheckpointSigner, now: number, minAgeMs = 0): Promise<SealOutcome> {
    const seen = await this.db
      .selectFrom("audit_head")
      .select(["seq", "checkpoint_seq", "checkpoint_at"])
      .where("id", "=", 1)
      .executeTakeFirstOrThrow();
    const early = sealNeeded(seen, now, minAgeMs);
    if (early) return early;
    return this.db.transaction().execute(async (trx) => {
      const head = await lockedHead(trx);
      const outcome = sealNeeded(head, now, minAgeMs);
      if (outcome) return outcome;
      const seq = Number(head.seq);
      if (!(await insertCheckpoint(trx, signer, seq, head.hash, now))) return { state: "keyless" } as const;
      await trx
        .updateTable("audit_head")
        .set({ checkpoint_seq: seq, checkpoint_at: now })
        .where("id", "=", 1)
        .execute();
      return { state: "signed" } as const;
    });
  }

  /** The chain's head: its last record and the last signed checkpoint; undefined if the row is gone. */
  async head(): Promise<{ seq: number; hash: string; checkpointSeq: number } | undefined> {
    const h = await this.db
      .selectFrom("audit_head")
      .select(["seq", "hash", "checkpoint_seq"])
      .where("id", "=", 1)
      .executeTakeFirst();
    return h && { seq: Number(h.seq), hash: h.hash, checkpointSeq: Number(h.checkpoint_seq) };
  }

  async checkpoints(): Promise<CheckpointRow[]> {
    const rows = await this.db.selectFrom("audit_checkpoints").selectAll().orderBy("seq").execute();
    return rows.map((r) => ({ ...r, seq: Number(r.seq), at: Number(r.at) }));
  }

  /**
   * The chain in seq order, a page at a time (verify): the audit_log rows as records and the
   * blocks undecoded, merged by seq (a database written by both storages holds both).
   */
  async *scanChain(afterSeq = 0, pageSize = 5_000): AsyncGenerator<ChainLink> {
    const rows = this.scanRows(afterSeq, pageSize);
    const blocks = this.scanBlocks(afterSeq, Math.max(1, Math.floor(pageSize / 100)));
    let r = await rows.next();
    let b = await blocks.next();
    while (!r.done || !b.done) {
      if (!r.done && (b.done || r.value.seq < b.value.firstSeq)) {
        yield { kind: "record", record: r.value };
        r = await rows.next();
      } else if (!b.done) {
        yield { kind: "block", ...b.value };
        b = await blocks.next();
      }
    }
  }

  /** Every record after `afterSeq` in seq order, blocks decoded (export, tests). */
  async *scan(afterSeq = 0, pageSize = 5_000): AsyncGenerator<ChainedRecord> {
    for await (const link of this.scanChain(afterSeq, pageSize)) {
      if (link.kind === "record") yield link.record;
      else {
        for (const r of blockRecords(link, decodeBlockBody(link.body))) if (r.seq > afterSeq) yield r;
      }
    }
  }

  private async *scanRows(afterSeq: number, pageSize: number): AsyncGenerator<ChainedRecord> {
    let after = afterSeq;
    for (;;) {
      const rows = await this.selectRecords()
        .where("audit_log.seq", ">", after)
        .orderBy("audit_log.seq")
        .limit(pageSize)
        .execute();
      for (const r of rows) yield normalise(r);
      if (rows.length < pageSize) return;
      after = Number(rows[rows.length - 1]!.seq);
    }
  }

  private async *scanBlocks(afterSeq: number, pageSize: number): AsyncGenerator<StoredBlock> {
    let after = afterSeq;
    for (;;) {
      const rows = await this.db
        .selectFrom("audit_blocks")
        .select(BLOCK_COLUMNS)
        .where("last_seq", ">", after)
        .orderBy("first_seq")
        .limit(pageSize)
        .execute();
      for (const r of rows) yield storedBlock(r);
      if (rows.length < pageSize) return;
      after = Number(rows[rows.length - 1]!.last_seq);
    }
  }

  /**
   * Records matching `q`, from both storages (audit_log rows and blocks), `limit` of them in seq
   * order.
   */
  async query(q: AuditQuery): Promise<ChainedRecord[]> {
    const [rows, blocks] = await Promise.all([this.queryRows(q), this.queryBlocks(q)]);
    if (blocks.length === 0) return rows;
    if (rows.length === 0) return blocks;
    const merged = [...rows, ...blocks].sort((a, b) => (q.order === "asc" ? a.seq - b.seq : b.seq - a.seq));
    return merged.slice(0, q.limit);
  }

  /**
   * Records in blocks matching `q`: the blocks that may hold one (by seq, time and key rows) read
   * a page at a time in `q.order`, decoded and filtered record by record, until `limit` are found.
   */
  private async queryBlocks(q: AuditQuery): Promise<ChainedRecord[]> {
    const out: ChainedRecord[] = [];
    if (q.limit <= 0) return out;
    const keyed: [BlockKeyField, string][] = [];
    if (q.identity !== undefined) keyed.push(["identity", q.identity ?? ANONYMOUS_KEY]);
    if (q.ip !== undefined) keyed.push(["ip", q.ip]);
    if (q.sha256 !== undefined) keyed.push(["sha256", q.sha256]);
    if (q.project !== undefined) keyed.push(["project", q.project]);
    if (q.action !== undefined) keyed.push(["action", q.action]);
    if (q.outcome !== undefined) keyed.push(["outcome", q.outcome]);
    const matches = recordFilter(q);
    // The same filters on a block's cells, so that only its matching records are decoded.
    const wanted = keyed.map(
      ([field, value]) => [field, field === "identity" && q.identity === null ? null : value] as const,
    );
    let cursor: number | undefined;
    // A block holds up to 2,000 records: a page of the newest 50 is mostly one block's, so the
    // first read takes two, and each further read twice as many as the last.
    let perRead = 2;
    for (;;) {
      let s = this.db.selectFrom("audit_blocks").select(BLOCK_COLUMNS);
      if (q.afterSeq !== undefined) s = s.where("last_seq", ">", q.afterSeq);
      if (q.beforeSeq !== undefined) s = s.where("first_seq", "<", q.beforeSeq);
      if (q.since !== undefined) s = s.where("last_at", ">=", q.since);
      if (q.until !== undefined) s = s.where("first_at", "<", q.until);
      for (const [field, value] of keyed) {
        s = s.where(({ exists, selectFrom }) =>
          exists(
            selectFrom("audit_block_keys")
              .select("audit_block_keys.first_seq")
              .where("audit_block_keys.field", "=", field)
              .where("audit_block_keys.value", "=", value)
              .whereRef("audit_block_keys.first_seq", "=", "audit_blocks.first_seq"),
          ),
        );
      }
      if (cursor !== undefined) s = s.where("first_seq", q.order === "asc" ? ">" : "<", cursor);
      const page = await s.orderBy("first_seq", q.order).limit(perRead).execute();
      for (const row of page) {
        const block = storedBlock(row);
        let records: ChainedRecord[];
        try {
          records = blockRecordsWhere(block, decodeBlockBody(block.body), wanted);
        } catch (err) {
          const unreadable = new AuditBlockUnreadable(block.firstSeq, block.lastSeq, (err as Error).message);
          if (!q.onUnreadableBlock) throw unreadable;
          q.onUnreadableBlock(unreadable);
          continue;
        }
        if (q.order === "desc") records.reverse();
        for (const r of records) {
          if (!matches(r)) continue;
          out.push(r);
          if (out.length >= q.limit) return out;
        }
      }
      if (page.length < perRead) return out;
      cursor = Number(page[page.length - 1]!.first_seq);
      perRead = Math.min(perRead * 2, MAX_BLOCKS_PER_READ);
    }
  }

  /** Records in audit_log rows matching `q`. */
  private async queryRows(q: AuditQuery): Promise<ChainedRecord[]> {
    const eb = expressionBuilder<Database, "audit_log">();
    const filters: Expression<SqlBool>[] = [];
    if (q.identity === null) filters.push(eb("audit_log.identity", "is", null));
    else if (q.identity !== undefined) filters.push(eb("audit_log.identity", "=", q.identity));
    // No index of their own (forensic filters): with a time window they are read from `at`'s.
    if (q.ip !== undefined) filters.push(eb("audit_log.ip", "=", q.ip));
    if (q.sha256 !== undefined) filters.push(eb("audit_log.sha256", "=", q.sha256));
    if (q.project !== undefined) filters.push(eb("audit_log.project", "=", q.project));
    if (q.action !== undefined) filters.push(eb("audit_log.action", "=", q.action));
    if (q.outcome !== undefined) filters.push(eb("audit_log.outcome", "=", q.outcome));
    if (q.since !== undefined) filters.push(eb("audit_log.at", ">=", q.since));
    if (q.until !== undefined) filters.push(eb("audit_log.at", "<", q.until));
    if (q.beforeSeq !== undefined) filters.push(eb("audit_log.seq", "<", q.beforeSeq));
    if (q.afterSeq !== undefined) filters.push(eb("audit_log.seq", ">", q.afterSeq));
    const where = filters.length === 0 ? null : filters.length === 1 ? filters[0]! : eb.and(filters);
    if (q.since === undefined && q.until === undefined) {
      let s = this.selectRecords();
      if (where) s = s.where(where);
      const rows = await s.orderBy("audit_log.seq", q.order).limit(q.limit).execute();
      return rows.map(normalise);
    }
    // A time window is read from the (at, seq) index: pick the page's seqs from the index alone,
    // then read just those rows. Sorting whole rows of the window instead cost ~1 s for a
    // 90-day window over 1M records on SQLite, 7× what this does. After ANALYZE, SQLite tends to
    // walk the whole table backwards in seq order instead (free ordering, filter on `at`): 50 ms
    // and growing with everything newer than the window. `+seq` (no longer a bare column)
    // keeps it on the index (https://sqlite.org/optoverview.html#disqualifying_indexes). The
    // clients are joined in the outer read only, to the page's rows.
    let seqs = this.db.selectFrom("audit_log");
    if (where) seqs = seqs.where(where);
    const rows = await this.selectRecords()
      .where(
        "audit_log.seq",
        "in",
        seqs
          .select("seq")
          .orderBy(this.dialect === "sqlite" ? sql`+seq` : "seq", q.order)
          .limit(q.limit),
      )
      .orderBy("audit_log.seq", q.order)
      .execute();
    return rows.map(normalise);
  }

  /** audit_log rows as records (see RECORD_SELECTION). */
  private selectRecords() {
    return this.db
      .selectFrom("audit_log")
      .leftJoin("audit_clients", "audit_clients.id", "audit_log.client_id")
      .select(RECORD_SELECTION);
  }

  get dialectName(): DialectName {
    return this.dialect;
  }
}

/**
 * The rest of an append, after its records are stored: the inventory deltas, a signed checkpoint
 * when one is due, and the head moved to the last record (`lastSeq`, `lastHash`).
 */
async function finishAppend(
  trx: Transaction<Database>,
  head: Selectable<AuditHeadTable>,
  lastSeq: number,
  lastHash: string,
  inventory: InventoryDelta[],
  checkpoint: AppendCheckpoint | null,
): Promise<void> {
  for (let i = 0; i < inventory.length; i += 200) {
    await trx
      .insertInto("inventory")
      .values(inventory.slice(i, i + 200))
      .onConflict((oc) =>
        oc.columns(["project", "version", "sha256", "identity", "ip", "application"]).doUpdateSet({
          pulls: sql`inventory.pulls + excluded.pulls`,
          last_pulled: sql`case when excluded.last_pulled > inventory.last_pulled then excluded.last_pulled else inventory.last_pulled end`,
          first_pulled: sql`case when excluded.first_pulled < inventory.first_pulled then excluded.first_pulled else inventory.first_pulled end`,
          client: sql`coalesce(excluded.client, inventory.client)`,
          team: sql`coalesce(excluded.team, inventory.team)`,
        }),
      )
      .execute();
  }
  let checkpointSeq = Number(head.checkpoint_seq);
  let checkpointAt = Number(head.checkpoint_at);
  if (
    checkpoint &&
    (lastSeq - checkpointSeq >= checkpoint.everyRecords ||
      checkpoint.now - checkpointAt >= checkpoint.everyMs) &&
    (await insertCheckpoint(trx, checkpoint.signer, lastSeq, lastHash, checkpoint.now))
  ) {
    checkpointSeq = lastSeq;
    checkpointAt = checkpoint.now;
  }
  await trx
    .updateTable("audit_head")
    .set({ seq: lastSeq, hash: lastHash, checkpoint_seq: checkpointSeq, checkpoint_at: checkpointAt })
    .where("id", "=", 1)
    .execute();
}

/**
 * Fails the append when a record is already stored past the head in `tables`: no writer of the
 * chain puts one there, and writing over or around it would hide it (see ChainBlocked, which the
 * trail then reports). An index lookup a table, per batch.
 */
async function refuseStoredPastHead(
  trx: Transaction<Database>,
  headSeq: number,
  ...tables: ("audit_log" | "audit_blocks")[]
): Promise<void> {
  for (const table of tables) {
    const row =
      table === "audit_log"
        ? await trx
            .selectFrom("audit_log")
            .select("seq")
            .where("seq", ">", headSeq)
            .limit(1)
            .executeTakeFirst()
        : await trx
            .selectFrom("audit_blocks")
            .select("first_seq as seq")
            .where("first_seq", ">", headSeq)
            .limit(1)
            .executeTakeFirst();
    if (row)
      throw new Error(`record ${Number(row.seq)} is already stored past the chain head (record ${headSeq})`);
  }
}

/**
 * Locks the single `audit_head` row (an UPDATE: SQLite's write lock at once, PostgreSQL's row
 * lock; writers on several instances queue here) and reads it.
 */
async function lockedHead(trx: Transaction<Database>) {
  await trx.updateTable("audit_head").set({ id: 1 }).where("id", "=", 1).execute();
  return trx.selectFrom("audit_head").selectAll().where("id", "=", 1).executeTakeFirstOrThrow();
}

/**
 * Why the head needs no checkpoint now (see `sealHead`), or undefined when it does: records after
 * the last checkpoint, which is at least `minAgeMs` old.
 */
function sealNeeded(
  head: { seq: number; checkpoint_seq: number; checkpoint_at: number },
  now: number,
  minAgeMs: number,
): SealOutcome | undefined {
  const seq = Number(head.seq);
  const checkpointSeq = Number(head.checkpoint_seq);
  if (seq === 0 || seq <= checkpointSeq) return { state: "covered" };
  const checkpointAt = Number(head.checkpoint_at);
  if (now - checkpointAt < minAgeMs) return { state: "recent", checkpointSeq, checkpointAt };
  return undefined;
}

/**
 * Signs (seq, hash) with the gateway's key and stores the checkpoint; false (nothing stored) in a
 * process without a key of its own (see CheckpointSigner).
 */
async function insertCheckpoint(
  trx: Transaction<Database>,
  signer: CheckpointSigner,
  seq: number,
  hash: string,
  at: number,
): Promise<boolean> {
  let signed: ReturnType<CheckpointSigner["sign"]>;
  try {
    signed = signer.sign(checkpointMessage(seq, hash));
  } catch (err) {
    if (err instanceof SigningKeyMissing) return false;
    throw err;
  }
  await trx
    .insertInto("audit_checkpoints")
    .values({
      seq,
      hash,
      at,
      keyid: signed.keyid,
      public_key_pem: signed.publicKeyPem,
      signature: signed.signature,
    })
    .execute();
  return true;
}

/** A row's INSERT_COLUMNS values: the client by id when it has one (then client_json NULL). */
function pushRow(params: unknown[], r: ChainedRecord, clientIds: Map<string, number>): void {
  const at = params.length;
  for (const c of AUDIT_COLUMNS) params.push(r[c] ?? null);
  const id = r.client_json === null ? undefined : clientIds.get(r.client_json);
  if (id !== undefined) params[at + CLIENT_JSON_AT] = null;
  params.push(id ?? null);
}

// PostgreSQL BIGINT is parsed to a number already; SQLite integers arrive as numbers too. A
// record of one access has no `repeats_json`, as it was chained.
function normalise(row: Record<(typeof AUDIT_COLUMNS)[number], unknown>): ChainedRecord {
  const { repeats_json, ...r } = row as ChainedRecord;
  const out: ChainedRecord = {
    ...r,
    seq: Number(r.seq),
    at: Number(r.at),
    status: r.status === null ? null : Number(r.status),
  };
  if (repeats_json !== null && repeats_json !== undefined) out.repeats_json = repeats_json;
  return out;
}

/** What a block's reads select (see storedBlock). */
const BLOCK_COLUMNS = ["first_seq", "last_seq", "prev_hash", "hash", "body"] as const;

/** Blocks a query reads at a time at most (see queryBlocks). */
const MAX_BLOCKS_PER_READ = 64;

/** One link of the chain as `scan` yields it: a record stored as a row, or a block of records. */
export type ChainLink = { kind: "record"; record: ChainedRecord } | ({ kind: "block" } & StoredBlock);

/** A block as stored: its place in the chain and its body, undecoded. */
export interface StoredBlock extends AuditBlockHead {
  body: Uint8Array;
}

function storedBlock(r: {
  first_seq: unknown;
  last_seq: unknown;
  prev_hash: string;
  hash: string;
  body: Uint8Array;
}): StoredBlock {
  return {
    firstSeq: Number(r.first_seq),
    lastSeq: Number(r.last_seq),
    prevHash: r.prev_hash,
    hash: r.hash,
    body: r.body,
  };
}

/** `q`'s filters on one record (a block's records are filtered after it is read). */
function recordFilter(q: AuditQuery): (r: ChainedRecord) => boolean {
  return (r) =>
    (q.identity === undefined || r.identity === q.identity) &&
    (q.ip === undefined || r.ip === q.ip) &&
    (q.sha256 === undefined || r.sha256 === q.sha256) &&
    (q.project === undefined || r.project === q.project) &&
    (q.action === undefined || r.action === q.action) &&
    (q.outcome === undefined || r.outcome === q.outcome) &&
    (q.since === undefined || r.at >= q.since) &&
    (q.until === undefined || r.at < q.until) &&
    (q.beforeSeq === undefined || r.seq < q.beforeSeq) &&
    (q.afterSeq === undefined || r.seq > q.afterSeq);
}
