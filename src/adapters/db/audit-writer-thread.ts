import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { inBlock } from "../../services/audit/audit-batch-block.js";
import { decodeStorableAuditBatch, type EncodedAuditBatch } from "../../services/audit/audit-batch-codec.js";
import type { ChainedRecord } from "../../services/audit/audit-chain.js";
import {
  AuditWriterUnavailable,
  type AuditWriter,
  type CheckpointPolicy,
  type WrittenBatch,
} from "../../services/audit/audit-writer.js";
import { setThreadPolicy, type ThreadPolicy } from "../runtime/thread-priority.js";
import type { AuditWriterInit, AuditWriterReply, AuditWriterRequest } from "./audit-writer-worker.js";
import { SqliteConnectionLock } from "./sqlite-connection-lock.js";

export interface ThreadAuditWriterOptions extends AuditWriterInit {
  log: Logger;
  /** The thread stops after this long without a batch and starts again with the next (default 30 s). */
  idleMs?: number;
  /**
   * The thread's CPU policy (see thread-priority.ts). `idle` (the default): it runs only on CPU
   * time nothing else wants, so that on a busy machine it does not take time from the thread
   * serving pip, until the trail finds it behind (`boost`). `normal`: as any thread.
   */
  priority?: ThreadPolicy;
  /** The `chrt` that sets it (tests pass a stand-in). */
  chrt?: string;
}

/** A running thread's kernel id (once it said it) and CPU policy. */
interface ThreadState {
  tid: number | undefined;
  policy: ThreadPolicy;
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
  private readonly threads = new Map<Worker, ThreadState>();
  /** Found behind: threads stay at normal priority until one stops idle. */
  private boosted = false;
  /** Why a thread could not be put at idle priority, said once. */
  private idleRefused = false;

  constructor(private readonly opts: ThreadAuditWriterOptions) {}

  get active(): boolean {
    return this.worker !== undefined;
  }

  /** The running thread: its kernel id (once it said it) and CPU policy; undefined when none runs. */
  get thread(): Readonly<ThreadState> | undefined {
    return this.worker && this.threads.get(this.worker);
  }

  /**
   * The trail found this writer behind (its oldest queued batch waits too long): an idle-priority
   * thread gets CPU time only when nothing else wants it, which a machine busy with other work
   * may never give. The thread goes back to normal priority; where raising it is not allowed
   * (only root may raise a thread out of SCHED_IDLE), it finishes what it was given and a new
   * thread, at normal priority as every thread starts, takes the next batch. Threads stay at
   * normal priority until one stops idle.
   */
  boost(): boolean {
    if (this.boosted) return false;
    this.boosted = true;
    const worker = this.worker;
    const state = worker && this.threads.get(worker);
    // A thread still being lowered is raised when that is done (see `lower`).
    if (worker && state?.policy === "idle") void this.raise(worker, state);
    return true;
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
    const { log: _log, idleMs: _idleMs, priority: _priority, chrt: _chrt, ...init } = this.opts;
    const entry = workerEntry();
    const worker =
      typeof entry === "string"
        ? new Worker(entry, { eval: true, workerData: init satisfies AuditWriterInit })
        : new Worker(entry, { workerData: init satisfies AuditWriterInit });
    this.worker = worker;
    const state: ThreadState = { tid: undefined, policy: "normal" };
    this.threads.set(worker, state);
    let failure: Error | undefined;
    worker.on("message", (reply: AuditWriterReply) => {
      if (reply.type !== "started") return this.settle(reply);
      state.tid = reply.tid;
      if ((this.opts.priority ?? "idle") === "idle" && !this.boosted) void this.lower(worker, state);
    });
    worker.on("error", (err) => (failure = err));
    const thread = worker.threadId;
    const exited = new Promise<void>((resolve) =>
      worker.once("exit", (code) => {
        if (this.worker === worker) this.worker = undefined;
        this.threads.delete(worker);
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

  /** Puts a new thread at idle priority (see ThreadAuditWriterOptions.priority). */
  private async lower(worker: Worker, state: ThreadState): Promise<void> {
    const why =
      state.tid === undefined
        ? "no thread id (/proc/thread-self) on this system"
        : await setThreadPolicy(state.tid, "idle", this.opts.chrt);
    if (why) {
      if (!this.idleRefused) {
        this.idleRefused = true;
        this.opts.log.info(
          { why },
          "audit writer thread runs at normal CPU priority (it could not be set to idle)",
        );
      }
      return;
    }
    state.policy = "idle";
    // Found behind while it was being lowered.
    if (this.boosted) await this.raise(worker, state);
  }

  private async raise(worker: Worker, state: ThreadState): Promise<void> {
    // Only a thread still running: the id of one that exited may be another's by now.
    if (this.worker !== worker) return;
    const why = await setThreadPolicy(state.tid!, "normal", this.opts.chrt);
    if (!why) {
      state.policy = "normal";
      this.opts.log.warn("audit writer thread behind at idle CPU priority: back to normal priority");
      return;
    }
    this.opts.log.warn(
      { why },
      "audit writer thread behind at idle CPU priority and not allowed to raise it: a thread at normal priority takes the next batch",
    );
    if (this.worker === worker) this.retire(worker);
  }

  private settle(reply: Exclude<AuditWriterReply, { type: "started" }>): void {
    const w = this.waiting.get(reply.id);
    if (!w) return;
    this.waiting.delete(reply.id);
    if (reply.type === "failed") w.reject(new Error(reply.message));
    else if (!w.records) w.resolve({ written: reply.written });
    else {
      // The records become the chained records, as the inline writer leaves them.
      const chained = w.records;
      let prev = reply.prevHash;
      if (reply.blockHash) {
        const lastSeq = reply.firstSeq + chained.length - 1;
        inBlock({ firstSeq: reply.firstSeq, lastSeq, prevHash: prev, hash: reply.blockHash }, chained);
      } else {
        chained.forEach((r, i) => {
          r.seq = reply.firstSeq + i;
          r.prev_hash = prev;
          r.hash = reply.hashes![i]!;
          prev = r.hash;
        });
      }
      w.resolve({ written: reply.written, chained });
    }
    if (this.waiting.size === 0 && this.worker) {
      const worker = this.worker;
      this.idleTimer = setTimeout(() => {
        // Idle: the next thread starts at the chosen priority again.
        this.boosted = false;
        this.retire(worker);
      }, this.opts.idleMs ?? 30_000);
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
