import type { AuditFields } from "./audit-chain.js";

/**
 * Durable overflow for the audit trail: where records go when the database has refused writes
 * for so long that the in-memory queue is full, and where what is still queued goes when the
 * gateway stops while the database is down. Batches come back oldest first and are written
 * before anything newer, so the chain keeps their order.
 */
export interface AuditSpool {
  /** Batches waiting (this process's view). */
  readonly batches: number;
  /** Bytes those batches take. */
  readonly bytes: number;
  /**
   * Stores a batch durably before returning; throws when it cannot. `front`: before everything
   * spooled (a batch that was being written while newer ones were spilled).
   */
  append(records: readonly AuditFields[], where?: "back" | "front"): void;
  /** The oldest batch, claimed for writing back: `done` after it is stored, `release` if not. */
  takeOldest(): SpooledBatch | undefined;
}

export interface SpooledBatch {
  records: AuditFields[];
  done(): void;
  release(): void;
}
