import type { Logger } from "pino";
import type { SealOutcome } from "../../adapters/db/audit-repository.js";
import type { AuditEntryInput, AuditRecorder } from "../audit-entry.js";
import {
  accessCount,
  AuditBatchBuilder,
  decodeAuditBatch,
  encodeAuditBatch,
  type EncodedAuditBatch,
} from "./audit-batch-codec.js";
import type { AuditFields, ChainedRecord } from "./audit-chain.js";
import type { AuditSpool } from "./audit-spool.js";
import {
  AuditWriterUnavailable,
  type AuditWriter,
  type ChainBlocked,
  type WrittenBatch,
} from "./audit-writer.js";

export { inventoryDeltas } from "./inventory-deltas.js";

/** Somewhere audit records are also sent (a SIEM); must never block or throw into the trail. */
export interface AuditSink {
  readonly description: string;
  /** Records it dropped since start (its queue overflowed, or it gave up at a stop). */
  readonly dropped?: number;
  send(records: ChainedRecord[]): void;
  close(): Promise<void>;
}

export interface AuditTrailOptions {
  /** Writes batches on this thread (CLI commands, and a gateway until `start`). */
  writer: AuditWriter;
  /**
   * Once started, also sign records other processes left unsigned (see `othersLookAt`): the
   * serving gateway's trail. Off by default, so a trail signs only its own writes.
   */
  watchOthers?: boolean;
  /**
   * The writer a running gateway switches to at `start`: batches chained and stored on another
   * thread, so the event loop serving pip pays only for queueing. When it fails the trail goes
   * back to `writer` and says so.
   */
  background?: () => AuditWriter | undefined;
  /**
   * Durable overflow a running gateway opens at `start` (see AuditSpool): batches the database
   * would not take once the memory queue is full, and what is still queued at a stop while the
   * database is down. Without one (CLI commands), the oldest records are dropped and logged.
   */
  spool?: () => AuditSpool;
  now: () => number;
  log: Logger;
  sinks?: AuditSink[];
  /** Records the memory queue holds while the database refuses writes (default MAX_PENDING). */
  maxPending?: number;
  /** A batch is written when this many records wait (default 500). */
  batchSize?: number;
  /** A background writer this far behind (ms) is boosted (default WRITER_BEHIND_MS). */
  writerBehindMs?: number;
  /** Signed checkpoint at least every N records or every T ms (default 1,000 / 60 s). */
  checkpointEveryRecords?: number;
  checkpointEveryMs?: number;
}

/**
 * Records kept in memory while the database refuses writes; beyond it the oldest batches go to
 * the spool (a running gateway). When the spool cannot take them either (none, a full disk, its
 * cap), the trail stops accepting (`accepting`: the gateway answers 503 instead of serving
 * unaudited) and keeps what it holds; only past OVERFLOW_HEADROOM more (requests already in
 * flight when it stopped) are the oldest dropped and logged.
 */
const MAX_PENDING = 200_000;
/** Records beyond `maxPending` kept while refusing, for answers already on their way (a share of it). */
const OVERFLOW_HEADROOM = 0.1;
/** Batches at least this big go to the background writer (64 per 250 ms flush: ~250 requests/s). */
const BACKGROUND_MIN_BATCH = 64;
/**
 * A running gateway signs a checkpoint at least every this many records and this often (and at
 * every clean stop): `audit verify` holds a longer unsigned tail against the chain (see
 * audit-verifier.ts), so both sides read these. "This often" both ways: a batch written an
 * interval or more after the last checkpoint is signed with it, and records of its own that a
 * running gateway has left unsigned for an interval (it went idle) are signed by its timer.
 */
export const CHECKPOINT_EVERY_RECORDS = 1_000;
export const CHECKPOINT_EVERY_MS = 60_000;
/**
 * A running background writer whose oldest queued batch has waited this long (ms) is behind: it
 * is asked to go back to normal CPU priority (see AuditWriter.boost). Keeping up, a batch waits
 * for the next tick (250 ms) and the write before it.
 */
const WRITER_BEHIND_MS = 1_000;
/** While the chain is blocked (see ChainBlocked) the timer tries a write this often, not every tick. */
const BLOCKED_RETRY_MS = 5_000;
/** After a failed attempt to sign the head (the database down), the timer tries again this much later. */
const SEAL_RETRY_MS = 5_000;

/** A write refused because the chain is blocked: the reason names the row in the way. */
export class AuditChainBlocked extends Error {
  override readonly name = "AuditChainBlocked";
  constructor(
    readonly blocked: ChainBlocked,
    options?: { cause?: unknown },
  ) {
    super(`audit trail blocked: ${blocked.reason}`, options);
  }
}

/**
 * The audit trail's write side. `record` only queues (the hot path pays an object and a push);
 * batches are chained and written by `flush`, which a running gateway calls on a short timer and
 * on close, so a clean shutdown loses nothing. Batches also feed the inventory, in the same
 * transaction. A running gateway writes them on a writer thread (see `background`).
 */
export class AuditTrail implements AuditRecorder {
  /** Queued records, already encoded, in batches of up to `batchSize` (oldest first). */
  private pending: AuditBatchBuilder[] = [];
  private pendingRecords = 0;
  private backgroundWriter: AuditWriter | undefined;
  /** Whether batches may go to the background writer (a running gateway, until it fails). */
  private background = false;
  private flushing: Promise<void> | undefined;
  /** The last write failed: only the timer retries (a full queue does not, on every record). */
  private failing = false;
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;
  private spool: AuditSpool | undefined;
  /** Memory queue full and the spool refusing: no new requests until the queue has room again. */
  private overflowing = false;
  /**
   * The next record's place is taken (or the head gone): no write can succeed until someone acts,
   * so the trail refuses new requests, says why once, and tries again every BLOCKED_RETRY_MS.
   */
  private blockedBy: ChainBlocked | undefined;
  private lastBlockedTry = 0;
  /**
   * Since when (this process's clock) records it wrote may be unsigned: its first write after the
   * head was last known signed. The timer signs the head an interval later (see `sealIdle`);
   * undefined while everything it wrote is known to be signed. Kept here, so that an idle timer
   * tick costs no database round trip.
   */
  private unsignedSince: number | undefined;
  /**
   * The checkpoint a look at the head found too recent to sign after (`recent`), while this
   * process has written nothing since: a different one found later was signed after that look,
   * so over everything this process wrote.
   */
  private lookedAtCheckpoint: number | undefined;
  /**
   * A running gateway (`start`) also looks at the head once an interval for records other
   * processes left unsigned: a CLI command run without the key writes them and cannot sign
   * (an offboarding record, say), and an idle gateway would otherwise leave them so. One small
   * read an interval; the seal signs only past a checkpoint an interval old, as ever.
   */
  private othersLookAt: number | undefined;
  private sealRetryAt = 0;
  private closing = false;
  /** Records written since start (metrics, tests). */
  written = 0;

  constructor(private readonly opts: AuditTrailOptions) {}

  /** Where the last batch was written ("inline" or the writer thread's description). */
  lastWriter = "none";

  record(entry: AuditEntryInput): void {
    const a = entry.actor;
    const status = typeof entry.detail?.status === "number" ? entry.detail.status : null;
    let detail: Record<string, unknown> | undefined = entry.detail;
    if (detail && "status" in detail) {
      const { status: _status, ...rest } = detail;
      detail = Object.keys(rest).length ? rest : undefined;
    }
    this.push({
      at: this.opts.now(),
      action: entry.action,
      identity: a.user,
      role: a.role,
      team: a.team,
      token_id: a.tokenId,
      ip: a.ip,
      application: a.application,
      client_json: a.client ? JSON.stringify(a.client) : null,
      project: entry.project ?? null,
      version: entry.version ?? null,
      filename: entry.filename ?? null,
      sha256: entry.sha256 ?? null,
      outcome: entry.outcome,
      status,
      detail_json: detail ? JSON.stringify(detail) : null,
    });
  }

  /** The hot path's entry: fields already shaped (the HTTP hook builds them directly). */
  push(fields: AuditFields): void {
    let open = this.pending[this.pending.length - 1];
    if (!open || open.full) this.pending.push((open = new AuditBatchBuilder(this.batchSize)));
    open.add(fields);
    this.pendingRecords++;
    if (this.pendingRecords > this.maxPending) this.overflow();
    // A batch is due when it holds `batchSize` distinct records (or its share of repeats, see
    // AuditBatchBuilder); the same accesses over and over wait for the timer, as one record each.
    if (open.full && !this.flushing && !this.failing) this.flushDue();
  }

  /**
   * Whether the trail can take the records of new requests. False while the database refuses
   * writes, the memory queue is full and the spool will not take more: a running gateway then
   * refuses audited requests (503) rather than serve them unrecorded. True again as soon as the
   * database or the spool takes a batch.
   */
  get accepting(): boolean {
    return !this.overflowing && this.blockedBy === undefined;
  }

  /** Why the trail is not accepting (undefined while it is), for readiness checks and 503s. */
  get refusal(): string | undefined {
    if (this.blockedBy) return `the audit trail is blocked: ${this.blockedBy.reason}`;
    if (this.overflowing)
      return "the audit trail cannot record requests: its database refuses writes and the spool is full";
    return undefined;
  }

  private get maxPending(): number {
    return this.opts.maxPending ?? MAX_PENDING;
  }

  /** Moves the oldest batches to the spool while the queue is over its size; refuses when it cannot. */
  private overflow(say = true, drop = true): void {
    // One batch of the same accesses repeated can hold more than the queue's size on its own:
    // it is closed (new records start the next), so that it can go to the spool like any other.
    const open = this.pending[this.pending.length - 1];
    if (this.pending.length === 1 && open && open.length > 0)
      this.pending.push(new AuditBatchBuilder(this.batchSize));
    while (!this.overflowing && this.pendingRecords > this.maxPending && this.pending.length > 1) {
      const oldest = this.pending[0]!;
      if (!this.spill(oldest.finish(), "back", say)) {
        this.overflowing = true;
        if (say)
          this.opts.log.error(
            { pending: this.pendingRecords, spooled: this.spooledBatches },
            "audit trail full (the database refuses writes and the spool takes no more): refusing requests with 503 until it has room",
          );
        break;
      }
      this.pending.shift();
      this.pendingRecords -= oldest.length;
    }
    // Records of answers already sent when refusing began: kept up to the headroom, then the
    // oldest are lost (and said so), never the process's memory. Only a new record does that.
    if (!drop) return;
    const hardCap = Math.ceil(this.maxPending * (1 + OVERFLOW_HEADROOM)) + this.batchSize;
    while (this.pendingRecords > hardCap && this.pending.length > 1) {
      const oldest = this.pending.shift()!;
      this.pendingRecords -= oldest.length;
      this.dropped += oldest.length;
    }
  }

  /**
   * After a write, or a tick while refusing: accepting again once the queue is within its size
   * (what is over goes to the spool, if it takes it now).
   */
  private relieve(): void {
    if (!this.overflowing) return;
    this.overflowing = false;
    this.overflow(false, false);
    if (!this.overflowing) {
      this.opts.log.warn(
        { pending: this.pendingRecords, spooled: this.spooledBatches },
        "audit trail has room again: serving resumes",
      );
    }
  }

  private get batchSize(): number {
    return this.opts.batchSize ?? 500;
  }

  get pendingCount(): number {
    return this.pendingRecords;
  }

  /** Records the sinks dropped since start (a SIEM missed them; the database chain has them). */
  get sinkDropped(): number {
    let n = 0;
    for (const sink of this.opts.sinks ?? []) n += sink.dropped ?? 0;
    return n;
  }

  /** Batches waiting in the spool for the database. */
  get spooledBatches(): number {
    return this.spool?.batches ?? 0;
  }

  /** Puts a batch in the spool; false when there is none or it failed (logged). */
  private spill(batch: EncodedAuditBatch, where: "back" | "front" = "back", say = true): boolean {
    if (!this.spool) return false;
    try {
      this.spool.append(decodeAuditBatch(batch), where);
      return true;
    } catch (err) {
      if (say) this.opts.log.error({ err: (err as Error).message }, "audit spool write failed");
      return false;
    }
  }

  /** Writes everything queued so far; concurrent calls share one writer. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pendingRecords === 0 && this.spooledBatches === 0) return;
    this.flushing = this.writeAll(true).finally(() => (this.flushing = undefined));
    await this.flushing;
  }

  /**
   * The timer's and a full queue's flush: writes what is queued now, then goes on only while full
   * batches wait. What arrives during a write waits for the next tick, so a busy gateway writes
   * batches of up to `batchSize` records; draining after every write instead kept transactions at
   * the ~20 records that arrive during one, and each record then cost the writer ~27 µs of CPU
   * instead of ~10 (a transaction's locks, WAL header and the index pages it rewrites are per
   * commit).
   */
  private flushDue(): void {
    // Blocked: every write fails the same way until someone removes the row in the way.
    if (this.blockedBy && Date.now() - this.lastBlockedTry < BLOCKED_RETRY_MS) return;
    // The spool may have room again (disk freed, another gateway wrote batches back).
    if (this.overflowing && !this.flushing) this.relieve();
    this.boostIfBehind();
    if (this.flushing) return;
    const write = this.pendingRecords > 0 || this.spooledBatches > 0;
    if (!write && !this.sealDue(this.opts.now())) return;
    // The head is signed in the same turn as the writes, never alongside one: a seal that finds
    // the head signed then knows every batch this process wrote is under it.
    this.flushing = (write ? this.writeAll(false).catch(() => undefined) : Promise.resolve())
      .then(() => this.sealIdle())
      .finally(() => (this.flushing = undefined));
  }

  /**
   * Asks a running background writer that fell behind to go back to normal CPU priority. Not
   * while writes fail (the database refusing them): the queue then ages for another reason.
   */
  private boostIfBehind(): void {
    const writer = this.backgroundWriter;
    const oldest = this.pending[0];
    if (
      writer?.boost &&
      writer.active &&
      !this.failing &&
      oldest &&
      performance.now() - oldest.openedAt > (this.opts.writerBehindMs ?? WRITER_BEHIND_MS) &&
      writer.boost()
    )
      this.boosts++;
  }

  private boosts = 0;

  /**
   * Times the background writer was found behind and boosted (see boostIfBehind): a machine that
   * leaves an idle-priority thread too little CPU, or records arriving faster than it writes.
   */
  get writerBoosts(): number {
    return this.boosts;
  }

  private get checkpointEveryMs(): number {
    return this.opts.checkpointEveryMs ?? CHECKPOINT_EVERY_MS;
  }

  /** Whether records this process wrote have waited an interval for a checkpoint (no I/O). */
  private sealDue(now: number): boolean {
    return (
      this.opts.writer.seal !== undefined &&
      now >= this.sealRetryAt &&
      (this.ownSealDue(now) || (this.othersLookAt !== undefined && now >= this.othersLookAt))
    );
  }

  private ownSealDue(now: number): boolean {
    return this.unsignedSince !== undefined && now - this.unsignedSince >= this.checkpointEveryMs;
  }

  /**
   * A running gateway that went idle signs the head once records of its own have waited an
   * interval: without it they stayed unsigned (cut off the end undetected) until the next batch
   * or a clean stop. The seal signs only past a checkpoint at least an interval old, as a batch
   * would: with several instances (or a batch that just signed) there is one checkpoint per
   * interval, not one each. It runs on this thread's connection also while batches go to the
   * writer thread: one small transaction an interval.
   */
  private async sealIdle(): Promise<void> {
    const now = this.opts.now();
    if (!this.sealDue(now)) return;
    const mine = this.ownSealDue(now);
    if (this.othersLookAt !== undefined && now >= this.othersLookAt)
      this.othersLookAt = now + this.checkpointEveryMs;
    let outcome: SealOutcome;
    try {
      outcome = await this.opts.writer.seal!(now, this.checkpointEveryMs);
    } catch (err) {
      this.sealRetryAt = now + SEAL_RETRY_MS;
      this.opts.log.warn(
        { err: (err as Error).message },
        "could not sign the audit chain's head; will retry",
      );
      return;
    }
    // A look for other processes' records only: what this process wrote keeps its own schedule.
    if (!mine) return;
    // Signed less than an interval ago, maybe before this process's last records: look again once
    // it is an interval old. Unless a look found another one before, with no write of this
    // process since: then this one was signed after that look, over all this process wrote.
    if (
      outcome.state === "recent" &&
      (this.lookedAtCheckpoint === undefined || this.lookedAtCheckpoint === outcome.checkpointSeq)
    ) {
      this.lookedAtCheckpoint = outcome.checkpointSeq;
      this.unsignedSince = outcome.checkpointAt;
      return;
    }
    this.unsignedSince = undefined;
    this.lookedAtCheckpoint = undefined;
  }

  private async writeAll(drain: boolean): Promise<void> {
    let first = true;
    for (;;) {
      // What the spool holds is older than anything in memory: it goes first.
      const spooled = this.takeSpooled();
      if (spooled) {
        await this.writeBatch(
          () => encodeAuditBatch(spooled.records),
          spooled.records.reduce((n, r) => n + accessCount(r), 0),
          () => spooled.release(),
        );
        spooled.done();
        continue;
      }
      if (!(this.pendingRecords > 0 && (drain || first || this.pending.length > 1 || this.pending[0]!.full)))
        break;
      first = false;
      // Modest transactions keep each write lock (and, written inline, each event-loop stall) short.
      const taken = this.pending.shift()!;
      this.pendingRecords -= taken.length;
      await this.writeBatch(
        () => taken.finish(),
        taken.length,
        () => {
          // Kept for the next attempt; the trail must not lose records to a database hiccup. Newer
          // batches spilled while it was being written: it goes in front of them, to stay first.
          if (this.spooledBatches > 0 && this.spill(taken.finish(), "front")) return;
          this.pending.unshift(taken);
          this.pendingRecords += taken.length;
        },
      );
    }
    if (this.dropped) {
      this.opts.log.error(
        { dropped: this.dropped },
        "audit queue overflowed while the database refused writes",
      );
      this.dropped = 0;
    }
  }

  /**
   * After a failed write: whether the chain is blocked (see ChainBlocked). The first time it is,
   * or by another row, the trail stops accepting and says so loudly; a retry that finds the
   * same row says nothing more. A failure that may pass by itself (or a database that does not
   * answer the question either) leaves the trail accepting and retrying on every tick.
   */
  private async whyBlocked(): Promise<ChainBlocked | undefined> {
    let blocked: ChainBlocked | undefined;
    try {
      blocked = await this.opts.writer.blocked?.();
    } catch {
      // The database does not answer this either: the trail stays as it was.
      return this.blockedBy;
    } finally {
      this.lastBlockedTry = Date.now();
    }
    if (!blocked) {
      if (this.blockedBy) {
        this.blockedBy = undefined;
        this.opts.log.warn("audit trail no longer blocked (the row in the way is gone); retrying");
      }
      return undefined;
    }
    if (this.blockedBy?.reason !== blocked.reason) {
      this.opts.log.error(
        { seq: blocked.seq, head: blocked.head, pending: this.pendingRecords, spooled: this.spooledBatches },
        `audit trail blocked, refusing audited requests (503) until it is resolved: ${blocked.reason}`,
      );
    }
    this.blockedBy = blocked;
    return blocked;
  }

  private takeSpooled(): ReturnType<AuditSpool["takeOldest"]> {
    if (!this.spool || this.spool.batches === 0) return undefined;
    // A damaged file is set aside by the spool (and named in the message), and the next one
    // taken; anything else that keeps failing waits for the next flush rather than spin here.
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        return this.spool.takeOldest();
      } catch (err) {
        this.opts.log.error({ err: (err as Error).message }, "audit spool");
      }
    }
    return undefined;
  }

  /**
   * Writes one batch (`encode` makes it: a writer thread takes its buffer); `keep` puts it back
   * when the write fails, and then this throws. A writer thread that is gone is replaced by this
   * thread's writer and the batch tried again at once.
   */
  private async writeBatch(encode: () => EncodedAuditBatch, length: number, keep: () => void): Promise<void> {
    const sinks = this.opts.sinks ?? [];
    for (;;) {
      let written: WrittenBatch;
      const writer = this.writerFor(length);
      this.lastWriter = writer.description;
      try {
        written = await writer.write(
          encode(),
          {
            everyRecords: this.opts.checkpointEveryRecords ?? CHECKPOINT_EVERY_RECORDS,
            // The last batch before a clean shutdown is always signed: nothing unsigned is left behind.
            everyMs:
              this.closing && this.pendingRecords === 0 && this.spooledBatches === 0
                ? 0
                : this.checkpointEveryMs,
            now: this.opts.now(),
          },
          sinks.length > 0,
        );
      } catch (err) {
        if (writer === this.backgroundWriter && err instanceof AuditWriterUnavailable) {
          // The writer thread is gone (it could not start or died): write on this thread from now
          // on. A batch it committed just before dying is written again (at least once, never lost).
          this.backgroundWriter = undefined;
          this.background = false;
          this.opts.log.error(
            { err: (err as Error).message, pending: this.pendingRecords + length },
            "audit writer thread failed; writing the audit trail on the main thread",
          );
          void writer.close().catch(() => undefined);
          continue;
        }
        keep();
        this.failing = true;
        const blocked = await this.whyBlocked();
        if (blocked) throw new AuditChainBlocked(blocked, { cause: err });
        this.opts.log.error(
          { err: (err as Error).message, pending: this.pendingRecords, spooled: this.spooledBatches },
          "audit write failed; will retry",
        );
        throw err;
      }
      this.failing = false;
      if (this.blockedBy) {
        this.blockedBy = undefined;
        this.opts.log.warn(
          { pending: this.pendingRecords },
          "audit trail no longer blocked: recording again",
        );
      }
      this.written += written.written;
      if (written.written > 0) {
        this.unsignedSince ??= this.opts.now();
        this.lookedAtCheckpoint = undefined;
      }
      this.relieve();
      if (written.chained) for (const sink of sinks) sink.send(written.chained);
      return;
    }
  }

  /**
   * A trickle of records is written inline (a few records cost the event loop next to nothing,
   * and no thread is kept for it); a batch of a busy gateway goes to the background writer,
   * started when first needed, and so does every batch while it runs. Writes are sequential either way, and each continues the chain
   * from the stored head, so the two may alternate.
   */
  private writerFor(records: number): AuditWriter {
    if (!this.background) return this.opts.writer;
    // Once running, the thread takes every batch (the tail of a busy flush too) until it idles.
    if (records < BACKGROUND_MIN_BATCH && !this.backgroundWriter?.active) return this.opts.writer;
    this.backgroundWriter ??= this.opts.background?.();
    if (!this.backgroundWriter) this.background = false;
    return this.backgroundWriter ?? this.opts.writer;
  }

  /** Flushes on a timer and moves writing to the background writer (a running gateway only). */
  start(intervalMs = 250): void {
    if (this.timer) return;
    if (this.opts.watchOthers) this.othersLookAt = this.opts.now() + this.checkpointEveryMs;
    this.background = this.opts.background !== undefined;
    try {
      this.spool ??= this.opts.spool?.();
    } catch (err) {
      this.opts.log.error(
        { err: (err as Error).message },
        "audit spool unavailable: records beyond the memory queue are dropped while the database is down",
      );
    }
    if (this.spooledBatches > 0) {
      this.opts.log.warn(
        { batches: this.spooledBatches },
        "audit batches left in the spool by an earlier run: writing them before new records",
      );
    }
    this.timer = setInterval(() => this.flushDue(), intervalMs);
    this.timer.unref();
  }

  /** Closes once: a second call (the services' own close after a CLI's) answers the first's outcome. */
  close(): Promise<void> {
    return (this.closed ??= this.closeOnce());
  }

  private closed: Promise<void> | undefined;

  private async closeOnce(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.closing = true;
    try {
      await this.flush().catch((err: Error) => {
        if (!this.spool) throw err;
        this.spillAll(err);
      });
      // Nothing this process wrote is left unsigned by a clean stop, also after an idle spell (no
      // last batch to sign). A process that wrote nothing (a CLI command that only read) signs
      // nothing: it has no business vouching for records others left unsigned.
      if (this.pendingRecords === 0 && this.written > 0) {
        await this.opts.writer
          .seal?.(this.opts.now())
          .catch((err: Error) =>
            this.opts.log.error({ err: err.message }, "could not sign the audit chain's head"),
          );
      }
    } finally {
      await this.backgroundWriter?.close().catch(() => undefined);
      for (const sink of this.opts.sinks ?? []) await sink.close().catch(() => undefined);
    }
  }

  /** At a stop the database refused: everything still queued goes to the spool, oldest first. */
  private spillAll(cause: Error): void {
    let kept = 0;
    let lost = 0;
    while (this.pending.length > 0) {
      const batch = this.pending.shift()!;
      this.pendingRecords -= batch.length;
      if (this.spill(batch.finish())) kept += batch.length;
      else lost += batch.length;
    }
    if (kept) {
      this.opts.log.warn(
        { err: cause.message, records: kept },
        "database unavailable at shutdown: audit records kept in the spool, written at the next start",
      );
    }
    if (lost) this.opts.log.error({ err: cause.message, records: lost }, "audit records lost at shutdown");
  }
}
