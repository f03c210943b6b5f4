import type { AuditRepository, CheckpointSigner } from "../../adapters/db/audit-repository.js";
import { auditBatchLength, decodeStorableAuditBatch, type EncodedAuditBatch } from "./audit-batch-codec.js";
import type { ChainedRecord } from "./audit-chain.js";
import { inventoryDeltas } from "./inventory-deltas.js";

/** When a batch's write also signs a checkpoint of the chain. */
export interface CheckpointPolicy {
  everyRecords: number;
  everyMs: number;
  now: number;
}

/** What a write stored: how many records, and (when asked for) the records chained, in order. */
export interface WrittenBatch {
  written: number;
  chained?: ChainedRecord[];
}

/**
 * Where the audit trail's batches go: chained after the stored head, written with their
 * inventory deltas (and a signed checkpoint when due) in one transaction. The chained records
 * come back only when `chained` is asked for (the trail's sinks need them; otherwise returning
 * them costs a busy gateway's event loop their hashes for nothing).
 */
export interface AuditWriter {
  readonly description: string;
  /** Whether it is running now (a writer thread between its first batch and its idle stop). */
  readonly active?: boolean;
  write(batch: EncodedAuditBatch, checkpoint: CheckpointPolicy, chained: boolean): Promise<WrittenBatch>;
  /** Signs a checkpoint of the chain's head if it is past the last one (at a clean stop). */
  seal?(now: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Writes on the calling thread, through the gateway's own database connection. */
export function inlineAuditWriter(repo: AuditRepository, signer: CheckpointSigner): AuditWriter {
  return {
    description: "inline",
    write: async (batch, checkpoint, chained) => {
      if (auditBatchLength(batch) === 0) return { written: 0, ...(chained ? { chained: [] } : {}) };
      const records = decodeStorableAuditBatch(batch);
      const out = await repo.append(records, inventoryDeltas(records), { ...checkpoint, signer });
      return chained ? { written: out.length, chained: out } : { written: out.length };
    },
    seal: (now) => repo.sealHead(signer, now),
    close: async () => undefined,
  };
}

/** The writer itself is gone (its thread did not start or died), as opposed to a failed write. */
export class AuditWriterUnavailable extends Error {
  override readonly name = "AuditWriterUnavailable";
}
