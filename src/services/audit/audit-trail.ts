import type { Logger } from "pino";
import type {
  AuditRepository,
  CheckpointSigner,
  InventoryDelta,
} from "../../adapters/db/audit-repository.js";
import { clientLabel } from "../../domain/user-agent.js";
import type { AuditEntryInput, AuditRecorder } from "../audit-entry.js";
import type { AuditFields, ChainedRecord } from "./audit-chain.js";

/** Somewhere audit records are also sent (a SIEM); must never block or throw into the trail. */
export interface AuditSink {
  readonly description: string;
  send(records: ChainedRecord[]): void;
  close(): Promise<void>;
}

export interface AuditTrailOptions {
  repo: AuditRepository;
  now: () => number;
  log: Logger;
  signer: CheckpointSigner;
  sinks?: AuditSink[];
  /** A batch is written when this many records wait (default 500). */
  batchSize?: number;
  /** Signed checkpoint at least every N records or every T ms (default 1,000 / 60 s). */
  checkpointEveryRecords?: number;
  checkpointEveryMs?: number;
}

/** Records kept in memory while the database refuses writes; beyond it the oldest are dropped and logged. */
const MAX_PENDING = 200_000;

/**
 * The audit trail's write side. `record` only queues (the hot path pays an object and a push);
 * batches are chained and written by `flush`, which a running gateway calls on a short timer and
 * on close, so a clean shutdown loses nothing. Batches also feed the inventory, in the same
 * transaction.
 */
export class AuditTrail implements AuditRecorder {
  private pending: AuditFields[] = [];
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;
  private closing = false;
  /** Records written since start (metrics, tests). */
  written = 0;

  constructor(private readonly opts: AuditTrailOptions) {}

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
    this.pending.push(fields);
    if (this.pending.length > MAX_PENDING) {
      this.pending.splice(0, this.pending.length - MAX_PENDING);
      this.dropped++;
    }
    if (this.pending.length >= (this.opts.batchSize ?? 500) && !this.flushing) void this.flush();
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  /** Writes everything queued so far; concurrent calls share one writer. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.length === 0) return;
    this.flushing = this.writeAll().finally(() => (this.flushing = undefined));
    await this.flushing;
  }

  private async writeAll(): Promise<void> {
    while (this.pending.length > 0) {
      // node:sqlite writes on the event loop: modest transactions keep each stall short.
      const batch = this.pending.splice(0, 500);
      let chained: ChainedRecord[];
      try {
        chained = await this.opts.repo.append(batch, inventoryDeltas(batch), {
          signer: this.opts.signer,
          everyRecords: this.opts.checkpointEveryRecords ?? 1_000,
          // The last batch before a clean shutdown is always signed: nothing unsigned is left behind.
          everyMs: this.closing && this.pending.length === 0 ? 0 : (this.opts.checkpointEveryMs ?? 60_000),
          now: this.opts.now(),
        });
      } catch (err) {
        // Keep the batch for the next attempt; the trail must not lose records to a database hiccup.
        this.pending.unshift(...batch);
        this.opts.log.error(
          { err: (err as Error).message, pending: this.pending.length },
          "audit write failed; will retry",
        );
        throw err;
      }
      this.written += chained.length;
      for (const sink of this.opts.sinks ?? []) sink.send(chained);
    }
    if (this.dropped) {
      this.opts.log.error(
        { dropped: this.dropped },
        "audit queue overflowed while the database refused writes",
      );
      this.dropped = 0;
    }
  }

  /** Flushes on a timer (a running gateway only). */
  start(intervalMs = 250): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.pending.length && !this.flushing) this.flush().catch(() => undefined);
    }, intervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.closing = true;
    await this.flush();
    for (const sink of this.opts.sinks ?? []) await sink.close().catch(() => undefined);
  }
}

/** Successful file downloads (not HEAD, not metadata) aggregated per consumer and file. */
export function inventoryDeltas(batch: AuditFields[]): InventoryDelta[] {
  const byKey = new Map<string, InventoryDelta>();
  for (const r of batch) {
    if (r.action !== "file.download" || r.outcome !== "ok" || !r.sha256 || !r.project) continue;
    const identity = r.identity ?? "";
    const application = r.application ?? "";
    const key = `${identity}\u0000${r.ip}\u0000${application}\u0000${r.sha256}`;
    const hit = byKey.get(key);
    if (hit) {
      hit.pulls += 1;
      hit.last_pulled = Math.max(hit.last_pulled, r.at);
      hit.first_pulled = Math.min(hit.first_pulled, r.at);
      continue;
    }
    let client: string | null = null;
    if (r.client_json) {
      try {
        client = clientLabel(JSON.parse(r.client_json) as Parameters<typeof clientLabel>[0]);
      } catch {
        client = null;
      }
    }
    byKey.set(key, {
      identity,
      team: r.team,
      ip: r.ip,
      application,
      client,
      sha256: r.sha256,
      project: r.project,
      version: r.version ?? "",
      filename: r.filename ?? "",
      first_pulled: r.at,
      last_pulled: r.at,
      pulls: 1,
    });
  }
  return [...byKey.values()];
}
