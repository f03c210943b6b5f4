import type { AuditRepository, CheckpointSigner } from "../../adapters/db/audit-repository.js";
import type { AuditFields, ChainedRecord } from "./audit-chain.js";
import { inventoryDeltas } from "./inventory-deltas.js";

/** When a batch's write also signs a checkpoint of the chain. */
export interface CheckpointPolicy {
  everyRecords: number;
  everyMs: number;
  now: number;
}

/**
 * Where the audit trail's batches go: chained after the stored head, written with their
 * inventory deltas (and a signed checkpoint when due) in one transaction. The records are
 * returned chained, in order.
 */
export interface AuditWriter {
  readonly description: string;
  /** Whether it is running now (a writer thread between its first batch and its idle stop). */
  readonly active?: boolean;
  write(records: AuditFields[], checkpoint: CheckpointPolicy): Promise<ChainedRecord[]>;
  close(): Promise<void>;
}

/** Writes on the calling thread, through the gateway's own database connection. */
export function inlineAuditWriter(repo: AuditRepository, signer: CheckpointSigner): AuditWriter {
  return {
    description: "inline",
    write: (records, checkpoint) => repo.append(records, inventoryDeltas(records), { ...checkpoint, signer }),
    close: async () => undefined,
  };
}

/** The writer itself is gone (its thread did not start or died), as opposed to a failed write. */
export class AuditWriterUnavailable extends Error {
  override readonly name = "AuditWriterUnavailable";
}
