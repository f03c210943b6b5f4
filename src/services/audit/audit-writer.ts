import type { AuditRepository, CheckpointSigner, SealOutcome } from "../../adapters/db/audit-repository.js";
import { auditBatchLength, decodeStorableAuditBatch, type EncodedAuditBatch } from "./audit-batch-codec.js";
import type { ChainedRecord } from "./audit-chain.js";
import { inBlock, type AuditBlockHead } from "./audit-batch-block.js";
import { holdsDownloads, inventoryDeltas } from "./inventory-deltas.js";

/** When a batch's write also signs a checkpoint of the chain. */
export interface CheckpointPolicy {
  everyRecords: number;
  everyMs: number;
  now: number;
}

/**
 * What a write stored: how many accesses (records and their repeats), and (when asked for) the
 * records chained, in order.
 */
export interface WrittenBatch {
  written: number;
  chained?: ChainedRecord[];
  /** Where the batch went as a block (`audit.storage batches`). */
  block?: AuditBlockHead;
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
  /**
   * Signs a checkpoint of the chain's head if it is past the last one and that one is at least
   * `minAgeMs` old (default 0: a clean stop); see AuditRepository.sealHead.
   */
  seal?(now: number, minAgeMs?: number): Promise<SealOutcome>;
  /**
   * After a failed write: why no write can succeed until someone acts (see ChainBlocked), or
   * undefined when the failure may pass by itself (the database down, locked, refusing). Throws
   * when it cannot tell (the database does not answer either).
   */
  blocked?(): Promise<ChainBlocked | undefined>;
  /**
   * It is behind (see AuditTrail's WRITER_BEHIND_MS): a writer that runs at a low CPU priority
   * goes back to normal (see ThreadAuditWriter). True when that changed something (it was not
   * boosted already).
   */
  boost?(): boolean;
  close(): Promise<void>;
}

/**
 * Something no retry gets past: a row already stored past the chain head (where the next record
 * goes; only tampering or a writer that bypasses the head puts one there), or the head row gone.
 */
export interface ChainBlocked {
  /** The row in the way (undefined: the head row is missing). */
  seq?: number;
  /** The chain head's last record. */
  head?: number;
  reason: string;
}

/**
 * How the trail is stored (`audit.storage`): `rows`, a row and a hash per record, so that
 * `audit verify` names an edited record itself; `batches`, one block and one hash per batch
 * written (see audit-batch-block.ts), a fraction of the writer's cost per record, and `verify`
 * names an edited record's block.
 */
export type AuditStorage = "rows" | "batches";

/** Writes on the calling thread, through the gateway's own database connection. */
export function inlineAuditWriter(
  repo: AuditRepository,
  signer: CheckpointSigner,
  storage: AuditStorage = "rows",
): AuditWriter {
  return {
    description: "inline",
    write: async (batch, checkpoint, chained) => {
      if (auditBatchLength(batch) === 0) return { written: 0, ...(chained ? { chained: [] } : {}) };
      const written = auditBatchLength(batch);
      if (storage === "batches") {
        // Only a batch with downloads is decoded here (the inventory), or one whose records are
        // asked for back; a block is stored as the trail encoded it.
        const records = chained || holdsDownloads(batch) ? decodeStorableAuditBatch(batch) : undefined;
        const head = await repo.appendBlock(batch, records ? inventoryDeltas(records) : [], {
          ...checkpoint,
          signer,
        });
        const block = head ? { block: head } : {};
        if (!chained) return { written, ...block };
        // Decoded above (`chained`): numbered and hashed as the block's.
        return { written, ...block, chained: head && records ? inBlock(head, records) : [] };
      }
      const records = decodeStorableAuditBatch(batch);
      const out = await repo.append(records, inventoryDeltas(records), { ...checkpoint, signer });
      return chained ? { written, chained: out } : { written };
    },
    seal: (now, minAgeMs) => repo.sealHead(signer, now, minAgeMs),
    blocked: () => chainBlocked(repo),
    close: async () => undefined,
  };
}

/**
 * Reads whether a row sits past the chain head. Every writer commits its rows and the head that
 * covers them in one transaction, so a row past a head read before and after it (unchanged in
 * between) was put there by something else; a head that moved meanwhile proves nothing (another
 * instance appended) and is taken as not blocked.
 */
async function chainBlocked(repo: AuditRepository): Promise<ChainBlocked | undefined> {
  const head = await repo.head();
  if (!head) return { reason: "the chain head (the audit_head row) is missing: no record can be chained" };
  const [row] = await repo.query({ afterSeq: head.seq, limit: 1, order: "asc" });
  if (!row) return undefined;
  const again = await repo.head();
  if (!again || again.seq !== head.seq || again.hash !== head.hash) return undefined;
  return {
    seq: row.seq,
    head: head.seq,
    reason: `record ${row.seq} is already stored past the chain head (record ${head.seq}), not written by the audit trail (tampering, or a second writer that bypasses the chain head); the trail resumes once it is removed (keep a copy: it is evidence)`,
  };
}

/** The writer itself is gone (its thread did not start or died), as opposed to a failed write. */
export class AuditWriterUnavailable extends Error {
  override readonly name = "AuditWriterUnavailable";
}
