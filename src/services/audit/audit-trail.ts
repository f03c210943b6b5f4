import type { Logger } from "pino";
import type { AuditEntryInput, AuditRecorder } from "../audit-entry.js";
import { AuditBatchBuilder } from "./audit-batch-codec.js";
import type { AuditFields, ChainedRecord } from "./audit-chain.js";
import { AuditWriterUnavailable, type AuditWriter, type WrittenBatch } from "./audit-writer.js";

export { inventoryDeltas } from "./inventory-deltas.js";

/** Somewhere audit records are also sent (a SIEM); must never block or throw into the trail. */
export interface AuditSink {
  readonly description: string;
  send(records: ChainedRecord[]): void;
  close(): Promise<void>;
}

export interface AuditTrailOptions {
  /** Writes batches on this thread (CLI commands, and a gateway until `start`). */
  writer: AuditWriter;
  /**
   * The writer a running gateway switches to at `start`: batches chained and stored on another
   * thread, so the event loop serving pip pays only for queueing. When it fails the trail goes
   * back to `writer` and says so.
   */
  background?: () => AuditWriter | undefined;
  now: () => number;
  log: Logger;
  sinks?: AuditSink[];
  /** A batch is written when this many records wait (default 500). */
  batchSize?: number;
  /** Signed checkpoint at least every N records or every T ms (default 1,000 / 60 s). */
  checkpointEveryRecords?: number;
  checkpointEveryMs?: number;
}

/** Records kept in memory while the database refuses writes; beyond it the oldest are dropped and logged. */
const MAX_PENDING = 200_000;
/** Batches at least this big go to the background writer (64 per 250 ms flush: ~250 requests/s). */
const BACKGROUND_MIN_BATCH = 64;

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
    while (this.pendingRecords > MAX_PENDING && this.pending.length > 1) {
      const oldest = this.pending.shift()!;
      this.pendingRecords -= oldest.length;
      this.dropped += oldest.length;
    }
    if (this.pendingRecords >= this.batchSize && !this.flushing && !this.failing) this.flushDue();
  }

  private get batchSize(): number {
    return this.opts.batchSize ?? 500;
  }

  get pendingCount(): number {
    return this.pendingRecords;
  }

  /** Writes everything queued so far; concurrent calls share one writer. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pendingRecords === 0) return;
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
    if (this.flushing || this.pendingRecords === 0) return;
    this.flushing = this.writeAll(false)
      .catch(() => undefined)
      .finally(() => (this.flushing = undefined));
  }

  private async writeAll(drain: boolean): Promise<void> {
    let first = true;
    const sinks = this.opts.sinks ?? [];
    while (this.pendingRecords > 0 && (drain || first || this.pendingRecords >= this.batchSize)) {
      first = false;
      // Modest transactions keep each write lock (and, written inline, each event-loop stall) short.
      const taken = this.pending.shift()!;
      this.pendingRecords -= taken.length;
      let written: WrittenBatch;
      const writer = this.writerFor(taken.length);
      this.lastWriter = writer.description;
      try {
        written = await writer.write(
          taken.finish(),
          {
            everyRecords: this.opts.checkpointEveryRecords ?? 1_000,
            // The last batch before a clean shutdown is always signed: nothing unsigned is left behind.
            everyMs: this.closing && this.pendingRecords === 0 ? 0 : (this.opts.checkpointEveryMs ?? 60_000),
            now: this.opts.now(),
          },
          sinks.length > 0,
        );
      } catch (err) {
        // Keep the batch for the next attempt; the trail must not lose records to a database hiccup.
        this.pending.unshift(taken);
        this.pendingRecords += taken.length;
        if (writer === this.backgroundWriter && err instanceof AuditWriterUnavailable) {
          // The writer thread is gone (it could not start or died): write on this thread from now
          // on. A batch it committed just before dying is written again (at least once, never lost).
          this.backgroundWriter = undefined;
          this.background = false;
          this.opts.log.error(
            { err: (err as Error).message, pending: this.pendingRecords },
            "audit writer thread failed; writing the audit trail on the main thread",
          );
          void writer.close().catch(() => undefined);
          continue;
        }
        this.opts.log.error(
          { err: (err as Error).message, pending: this.pendingRecords },
          "audit write failed; will retry",
        );
        this.failing = true;
        throw err;
      }
      this.failing = false;
      this.written += written.written;
      if (written.chained) for (const sink of sinks) sink.send(written.chained);
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
    this.background = this.opts.background !== undefined;
    this.timer = setInterval(() => this.flushDue(), intervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.closing = true;
    try {
      await this.flush();
    } finally {
      await this.backgroundWriter?.close().catch(() => undefined);
      for (const sink of this.opts.sinks ?? []) await sink.close().catch(() => undefined);
    }
  }
}
