import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { decodeStorableAuditBatch, type EncodedAuditBatch } from "../../services/audit/audit-batch-codec.js";
import type { ChainedRecord } from "../../services/audit/audit-chain.js";
import {
  AuditWriterUnavailable,
  type AuditWriter,
  type CheckpointPolicy,
  type WrittenBatch,
} from "../../services/audit/audit-writer.js";
import type { AuditWriterInit, AuditWriterReply, AuditWriterRequest } from "./audit-writer-worker.js";
import { SqliteConnectionLock } from "./sqlite-connection-lock.js";

export interface ThreadAuditWriterOptions extends AuditWriterInit {
  log: Logger;
  /** The thread stops after this long without a batch and starts again with the next (default 30 s). */
  idleMs?: number;
}

interface Waiting {
  worker: Worker;
  /** The batch decoded, kept to be returned chained (only when the caller asked for that). */
  records: ChainedRecord[] | undefined;
  resolve(written: WrittenBatch): void;
  reject(err: Error): void;
}

/**
 * Writes the audit trail on a worker thread with its own database connection. Each record cost
 * the gateway's event loop ~25 µs written inline (chaining, the INSERTs, SQLite's page and WAL
 * work, the garbage they leave), a fifth of a warm page's time; posted here it costs the
 * encoding (~1 µs). The thread starts with the first batch and stops when idle, so an idle
 * gateway does not carry a second JavaScript heap.
 */
export class ThreadAuditWriter implements AuditWriter {
  readonly description = "writer thread";
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly exits = new Set<Promise<void>>();

  constructor(private readonly opts: ThreadAuditWriterOptions) {}

  get active(): boolean {
    return this.worker !== undefined;
  }

  write(batch: EncodedAuditBatch, checkpoint: CheckpointPolicy, chained: boolean): Promise<WrittenBatch> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const worker = this.worker ?? this.spawn();
    const id = ++this.nextId;
    // Decoded before its buffer is transferred, and only for a caller that wants the records back.
    // Sanitised as the worker does before hashing, so that the sinks get the records as chained.
    const records = chained ? (decodeStorableAuditBatch(batch) as ChainedRecord[]) : undefined;
    return new Promise<WrittenBatch>((resolve, reject) => {
      this.waiting.set(id, { worker, records, resolve, reject });
      const msg: AuditWriterRequest = { type: "write", id, batch, checkpoint, hashes: chained };
      const transfer = [batch.cells.buffer as ArrayBuffer];
      if (batch.repeatAt) transfer.push(batch.repeatAt.buffer as ArrayBuffer);
      if (batch.repeatOf) transfer.push(batch.repeatOf.buffer as ArrayBuffer);
      worker.postMessage(msg, transfer);
    });
  }

  async close(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.worker) this.retire(this.worker);
    await Promise.all([...this.exits]);
  }

  private spawn(): Worker {
    const { log: _log, idleMs: _idleMs, ...init } = this.opts;
    const entry = workerEntry();
    const worker =
      typeof entry === "string"
        ? new Worker(entry, { eval: true, workerData: init satisfies AuditWriterInit })
        : new Worker(entry, { workerData: init satisfies AuditWriterInit });
    this.worker = worker;
    let failure: Error | undefined;
    worker.on("message", (reply: AuditWriterReply) => this.settle(reply));
    worker.on("error", (err) => (failure = err));
    const thread = worker.threadId;
    const exited = new Promise<void>((resolve) =>
      worker.once("exit", (code) => {
        if (this.worker === worker) this.worker = undefined;
        // Dead in the middle of a statement or transaction: the connection lock it held would
        // otherwise stop the gateway's own connection for good (SQLite rolled its transaction back).
        const lock = this.opts.database.sqliteLock;
        if (lock && new SqliteConnectionLock(lock).releaseIfHeldBy(thread)) {
          this.opts.log.error({ thread }, "audit writer thread exited holding the database lock; released");
        }
        this.exits.delete(exited);
        // Whatever it had not answered can no longer be: the trail writes it elsewhere.
        const why = failure?.message ?? `exited with code ${code}`;
        for (const [id, w] of this.waiting) {
          if (w.worker !== worker) continue;
          this.waiting.delete(id);
          w.reject(new AuditWriterUnavailable(`audit writer thread ${why}`));
        }
        if (failure || code !== 0) this.opts.log.error({ err: why }, "audit writer thread stopped");
        resolve();
      }),
    );
    this.exits.add(exited);
    return worker;
  }

  private settle(reply: AuditWriterReply): void {
    const w = this.waiting.get(reply.id);
    if (!w) return;
    this.waiting.delete(reply.id);
    if (reply.type === "failed") w.reject(new Error(reply.message));
    else if (!w.records) w.resolve({ written: reply.written });
    else {
      // The records become the chained records, as the inline writer leaves them.
      const chained = w.records;
      let prev = reply.prevHash;
      chained.forEach((r, i) => {
        r.seq = reply.firstSeq + i;
        r.prev_hash = prev;
        r.hash = reply.hashes![i]!;
        prev = r.hash;
      });
      w.resolve({ written: reply.written, chained });
    }
    if (this.waiting.size === 0 && this.worker) {
      const worker = this.worker;
      this.idleTimer = setTimeout(() => this.retire(worker), this.opts.idleMs ?? 30_000);
      this.idleTimer.unref();
    }
  }

  /** Asks a thread to close its connection and exit once it has answered everything posted. */
  private retire(worker: Worker): void {
    if (this.worker === worker) this.worker = undefined;
    const msg: AuditWriterRequest = { type: "close" };
    worker.postMessage(msg);
  }
}

/**
 * The worker's entry next to this module: the compiled file in dist/, or the bundle's own entry
 * (scripts/bundle.mjs) next to the bundle's chunks. Run from the TypeScript sources (tests,
 * `PORTCULLIS_FROM_SOURCE`), a thread does not inherit tsx's loader, so a line of JavaScript
 * loads the source through tsx's API.
 */
function workerEntry(): URL | string {
  const here = import.meta.url;
  if (here.endsWith(".ts")) {
    const source = JSON.stringify(new URL("./audit-writer-worker.ts", here).href);
    return `import("tsx/esm/api").then(({ tsImport }) => tsImport(${source}, ${JSON.stringify(here)}))`;
  }
  const compiled = new URL("./audit-writer-worker.js", here);
  if (existsSync(fileURLToPath(compiled))) return compiled;
  return new URL("./audit-writer.mjs", here);
}
