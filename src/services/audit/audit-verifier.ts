import { createPublicKey, verify as edVerify } from "node:crypto";
import type { AuditRepository } from "../../adapters/db/audit-repository.js";
import { keyIdOf } from "../../crypto/key-ring.js";
import { accessCount } from "./audit-batch-codec.js";
import { blockHash, blockRecords, decodeBlockBody } from "./audit-batch-block.js";
import { ChainVerifier, checkpointMessage, type ChainedRecord } from "./audit-chain.js";
import { CHECKPOINT_EVERY_MS, CHECKPOINT_EVERY_RECORDS } from "./audit-trail.js";

/**
 * Slack on the time a gateway leaves between its last checkpoint and a record after it (see
 * `unsignedTailProblem`). The bound is exact while records are stamped by the clock their writer
 * checks; this spares a stamp taken on another (a clock stepped by NTP between the two reads).
 */
const UNSIGNED_SPAN_MARGIN_MS = 60_000;

/**
 * The `ip` of records a process of the gateway makes for itself rather than for a client: CLI
 * commands (`cli`), the policy engine (`gateway`), remediation (`system`). A CLI command run
 * without the gateway's key writes such records unsigned at any time, long after the last
 * checkpoint, and they wait for a gateway's next checkpoint: the time bound of the unsigned tail
 * holds the records written for clients only (see unsignedTailProblem).
 */
const OWN_RECORD_ADDRESSES: ReadonlySet<string> = new Set(["cli", "gateway", "system"]);

export interface AuditVerification {
  ok: boolean;
  /** Records checked. */
  records: number;
  /** The accesses they stand for (a record with repeats is several; see AuditFields.repeats_json). */
  accesses: number;
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

/** How often the writers of the chain sign it (the gateway's constants unless a test says otherwise). */
export interface CheckpointInterval {
  everyRecords: number;
  everyMs: number;
}

/**
 * Walks the whole audit log in order: every record's hash, its link to the one before, no gaps;
 * the chain head matches the last record (nothing cut off the end); no row stored outside the
 * chain (before record 1 or past the head); every signed checkpoint verifies and matches the
 * chain at its sequence number; and the unsigned tail is no longer than a gateway leaves.
 */
export async function verifyAuditLog(
  repo: AuditRepository,
  knownKeyIds: Set<string>,
  interval: CheckpointInterval = { everyRecords: CHECKPOINT_EVERY_RECORDS, everyMs: CHECKPOINT_EVERY_MS },
): Promise<AuditVerification> {
  // The head first, and the scan stops there: batches committed while the walk runs are not
  // mistaken for records cut off the end.
  const head = await repo.head();
  const broken = (problem: string, checkpoints = 0): AuditVerification => ({
    ok: false,
    records: 0,
    accesses: 0,
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
      accesses: 0,
      checkpoints: allCheckpoints.length,
      signedThrough: 0,
      unsigned: 0,
      problem: `checkpoint at record ${beyond.seq} is past the chain head (record ${head.seq}): records ${head.seq + 1}..${beyond.seq} removed from the end`,
    };
  }
  const v = new ChainVerifier(new Set(checkpoints.map((c) => c.seq)));
  let records = 0;
  let accesses = 0;
  // Checkpoints come in seq order: the last one is the furthest the signatures reach.
  const lastCheckpoint = checkpoints.at(-1);
  const signedThrough = lastCheckpoint?.seq ?? 0;
  // The newest time among the unsigned records written for clients (see unsignedTailProblem).
  let unsignedUntil = -Infinity;
  let unsignedForClients = 0;
  const checked = (r: ChainedRecord) => {
    records++;
    // Its hash verified: the repeats are as written (valid), unless a writer wrote them wrong.
    try {
      accesses += accessCount(r);
    } catch {
      accesses += 1;
    }
    if (r.seq > signedThrough && !OWN_RECORD_ADDRESSES.has(r.ip)) {
      unsignedForClients++;
      if (r.at > unsignedUntil) unsignedUntil = r.at;
    }
  };
  for await (const link of repo.scanChain()) {
    if (link.kind === "record") {
      const r = link.record;
      if (r.seq > head.seq) break;
      if (!v.feed(r)) break;
      checked(r);
      continue;
    }
    if (link.firstSeq > head.seq) break;
    let decoded: ChainedRecord[] | Error;
    try {
      decoded = blockRecords(link, decodeBlockBody(link.body));
    } catch (err) {
      decoded = err instanceof Error ? err : new Error(String(err));
    }
    if (!v.feedBlock(link, blockHash(link.firstSeq, link.lastSeq, link.prevHash, link.body), decoded)) break;
    for (const r of decoded as ChainedRecord[]) checked(r);
  }
  const result = (problem: string | null): AuditVerification => ({
    ok: problem === null,
    records,
    accesses,
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
  const outside = await rowsOutsideChain(repo, head.seq);
  if (outside) return result(outside);
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
  return result(
    unsignedTailProblem(
      { records: head.seq - signedThrough, forClients: unsignedForClients, newestAt: unsignedUntil },
      lastCheckpoint && { seq: lastCheckpoint.seq, at: lastCheckpoint.at },
      interval,
    ),
  );
}

/**
 * Rows stored outside the chain: before record 1, or past the head. No writer puts one there
 * (the chain starts at 1, and every append commits its rows with the head that covers them), so
 * one is an insertion; past the head it also stops the gateway's trail when the chain reaches it.
 * A row past the head is read before the head is read again: a batch another instance committed
 * meanwhile is then under the head, never taken for an insertion.
 */
async function rowsOutsideChain(repo: AuditRepository, headSeq: number): Promise<string | null> {
  const below = await repo.query({ beforeSeq: 1, limit: 4, order: "asc" });
  if (below.length > 0)
    return `${rowList(below.map((r) => r.seq))} stored before record 1, outside the chain (inserted)`;
  const [last] = await repo.query({ afterSeq: headSeq, limit: 1, order: "desc" });
  if (!last) return null;
  const head = (await repo.head())?.seq ?? headSeq;
  if (last.seq <= head) return null;
  // The first of them (read after that head: none of these can be a batch committed since).
  const beyond = await repo.query({ afterSeq: head, limit: 4, order: "asc" });
  const seqs = beyond.length > 0 ? beyond.map((r) => r.seq) : [last.seq];
  return `${rowList(seqs)} stored past the chain head (record ${head}), outside the chain (inserted, or the head rewound); the gateway's audit trail stops when the chain reaches such a row`;
}

/** "record 7 is", "records 7, 9 are", "records 7, 9, 12, … are" (a fourth means more). */
function rowList(seqs: number[]): string {
  if (seqs.length === 1) return `record ${seqs[0]} is`;
  const shown = seqs.slice(0, 3).join(", ");
  return `records ${shown}${seqs.length > 3 ? ", …" : ""} are`;
}

/**
 * A gateway signs a checkpoint in the same transaction as any batch that ends at least
 * `everyRecords` past the last checkpoint, or is written `everyMs` or more after it (by the
 * writer's clock, against the checkpoint's time the head carries), and at every clean stop. So
 * the records after the last checkpoint number fewer than `everyRecords` and were written (and
 * stamped, earlier still) less than `everyMs` after it, also when a crash left them unsigned,
 * and also with several instances whose clocks disagree (each compares its own clock to the
 * stored checkpoint time, as this does with the times it stamped). A running gateway's timer
 * signs its own records an interval after writing them when no batch did (it went idle): it signs
 * only past a checkpoint an interval old, so it never leaves a longer span either. A longer tail
 * means the newest checkpoints were deleted (and the head's checkpoint rewound to match), which
 * is how a rewritten tail hides: a failure, not a warning, since no writer of this chain leaves
 * one. A trail with no checkpoint at all is held to the record count only (there is no time to
 * count from).
 *
 * `forClients` and `newestAt` count the records written for clients only (see
 * OWN_RECORD_ADDRESSES): a CLI command without the gateway's key cannot sign, so its records may
 * be stamped any time after the last checkpoint, and any number of them may follow it (a script
 * creating 2,000 tokens on a workstation) until a gateway's next batch signs. After such a record, any gateway batch signs (an interval has passed), so a
 * legitimate tail never has a client's record stamped late. The exemption gives an attacker
 * little: one who can write the database can already cut the tail off after the last checkpoint
 * it keeps and append unsigned records of its choice stamped within an interval of it; it adds
 * only stamping such own records later (and every client record after that point is gone).
 */
export function unsignedTailProblem(
  tail: { records: number; forClients: number; newestAt: number },
  lastCheckpoint: { seq: number; at: number } | undefined,
  interval: CheckpointInterval,
): string | null {
  const signed = lastCheckpoint?.seq ?? 0;
  const since = lastCheckpoint ? `after the last signed checkpoint (record ${signed})` : "and none signed";
  const suspect = "the newest checkpoints may have been deleted, and the records after them rewritten";
  // `>`: a gateway leaves at most everyRecords - 1 unsigned; a record of slack costs nothing.
  if (tail.forClients > interval.everyRecords)
    return `records ${signed + 1}..${signed + tail.records}: ${count(tail.forClients)} records of clients' requests ${since}, but a gateway signs at least every ${count(interval.everyRecords)}: ${suspect}`;
  if (lastCheckpoint && tail.newestAt - lastCheckpoint.at >= interval.everyMs + UNSIGNED_SPAN_MARGIN_MS) {
    const minutes = Math.round((tail.newestAt - lastCheckpoint.at) / 60_000);
    return `records ${signed + 1}..${signed + tail.records}: stamped up to ${minutes} min ${since}, but a gateway signs at least every ${interval.everyMs / 1000} s: ${suspect}`;
  }
  return null;
}

const count = (n: number) => n.toLocaleString("en-US");
