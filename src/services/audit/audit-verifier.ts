import { createPublicKey, verify as edVerify } from "node:crypto";
import type { AuditRepository } from "../../adapters/db/audit-repository.js";
import { keyIdOf } from "../../crypto/key-ring.js";
import { ChainVerifier, checkpointMessage } from "./audit-chain.js";

export interface AuditVerification {
  ok: boolean;
  /** Records checked. */
  records: number;
  checkpoints: number;
  /**
   * The last record under a signed checkpoint (0: none). Records after it are hash-chained but not
   * yet signed: whoever can write the database could cut them off the end (and rewind the head)
   * without `verify` noticing, until the next checkpoint (every 1,000 records or 60 s, and at
   * every clean stop) covers them.
   */
  signedThrough: number;
  /** Records after `signedThrough`. */
  unsigned: number;
  /** The first problem, naming the record. */
  problem: string | null;
}

/**
 * Walks the whole audit log in order: every record's hash, its link to the one before, no gaps;
 * the chain head matches the last record (nothing cut off the end); every signed checkpoint
 * verifies and matches the chain at its sequence number.
 */
export async function verifyAuditLog(
  repo: AuditRepository,
  knownKeyIds: Set<string>,
): Promise<AuditVerification> {
  // The head first, and the scan stops there: batches committed while the walk runs are not
  // mistaken for records cut off the end.
  const head = await repo.head();
  const broken = (problem: string, checkpoints = 0): AuditVerification => ({
    ok: false,
    records: 0,
    checkpoints,
    signedThrough: 0,
    unsigned: 0,
    problem,
  });
  // Made by the first migration and never removed: without it the end of the chain is unknown.
  if (!head)
    return broken("the chain head (the audit_head row) is missing: records may have been cut off the end");
  const allCheckpoints = await repo.checkpoints();
  // The head names the last checkpoint signed, in the same transaction that stored it.
  if (head.checkpointSeq > 0 && !allCheckpoints.some((c) => c.seq === head.checkpointSeq))
    return broken(
      `the signed checkpoint at record ${head.checkpointSeq} is missing (the chain head says it was signed): checkpoints were removed`,
      allCheckpoints.length,
    );
  const checkpoints = allCheckpoints.filter((c) => c.seq <= head.seq);
  // A signed checkpoint past the head means records were cut off the end and the head rewound,
  // unless the chain moved on since the head was read (a batch and its checkpoint committed in
  // between): read the head again to tell the two apart.
  const beyond = allCheckpoints.at(-1);
  if (beyond !== undefined && beyond.seq > head.seq && ((await repo.head())?.seq ?? 0) < beyond.seq) {
    return {
      ok: false,
      records: 0,
      checkpoints: allCheckpoints.length,
      signedThrough: 0,
      unsigned: 0,
      problem: `checkpoint at record ${beyond.seq} is past the chain head (record ${head.seq}): records ${head.seq + 1}..${beyond.seq} removed from the end`,
    };
  }
  const v = new ChainVerifier(new Set(checkpoints.map((c) => c.seq)));
  let records = 0;
  // Checkpoints come in seq order: the last one is the furthest the signatures reach.
  const signedThrough = checkpoints.length ? checkpoints[checkpoints.length - 1]!.seq : 0;
  for await (const r of repo.scan()) {
    if (r.seq > head.seq) break;
    if (!v.feed(r)) break;
    records++;
  }
  const result = (problem: string | null): AuditVerification => ({
    ok: problem === null,
    records,
    checkpoints: checkpoints.length,
    signedThrough,
    unsigned: Math.max(0, records - signedThrough),
    problem,
  });
  if (v.problem) return result(v.problem);
  if (head.seq !== v.lastSeq || head.hash !== v.lastHash) {
    return result(
      head.seq > v.lastSeq
        ? `record ${v.lastSeq + 1}${head.seq > v.lastSeq + 1 ? `..${head.seq}` : ""} missing (removed from the end; the chain head says ${head.seq})`
        : `the chain head (record ${head.seq}) does not match the last record ${v.lastSeq}`,
    );
  }
  for (const c of checkpoints) {
    let valid = false;
    try {
      const key = createPublicKey(c.public_key_pem);
      valid =
        keyIdOf(key) === c.keyid &&
        edVerify(null, checkpointMessage(c.seq, c.hash), key, Buffer.from(c.signature, "base64"));
    } catch {
      valid = false;
    }
    if (!valid) return result(`checkpoint at record ${c.seq}: signature does not verify`);
    // The key stored with a checkpoint proves nothing by itself: whoever rewrites the log can sign
    // with a key of their own. Only this gateway's keys (active or retired) vouch for a checkpoint.
    if (!knownKeyIds.has(c.keyid))
      return result(
        `checkpoint at record ${c.seq}: signed by key ${c.keyid.slice(0, 16)}…, which is not one of this gateway's keys (active or retired)`,
      );
    const seen = v.seen.get(c.seq);
    if (seen === undefined) return result(`checkpoint at record ${c.seq}: no such record (removed)`);
    if (seen !== c.hash)
      return result(`record ${c.seq}: chain differs from the signed checkpoint (rewritten)`);
  }
  return result(null);
}
