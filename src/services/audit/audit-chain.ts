import * as crypto from "node:crypto";

/** An audit record as stored, before and after chaining. */
export interface AuditFields {
  at: number;
  action: string;
  identity: string | null;
  role: string;
  team: string | null;
  token_id: string | null;
  ip: string;
  application: string | null;
  client_json: string | null;
  project: string | null;
  version: string | null;
  filename: string | null;
  sha256: string | null;
  outcome: string;
  status: number | null;
  detail_json: string | null;
}

export interface ChainedRecord extends AuditFields {
  seq: number;
  prev_hash: string;
  hash: string;
}

// One-shot `crypto.hash` (Node 20.12+) costs less than half of createHash/update/digest; the
// audit trail hashes every request.
const oneShot = (crypto as { hash?: (alg: string, data: string) => string }).hash;
const sha256Hex = oneShot
  ? (data: string) => oneShot("sha256", data)
  : (data: string) => crypto.createHash("sha256").update(data).digest("hex");

/** The hash before the first record. */
export const GENESIS_HASH = "0".repeat(64);

/**
 * The hash of a record: sha256 over a fixed-order JSON array of every field, its sequence number
 * and the previous record's hash, so editing, removing or reordering any record breaks the chain
 * from that point on.
 */
export function recordHash(seq: number, prevHash: string, r: AuditFields): string {
  const canonical = JSON.stringify([
    seq,
    prevHash,
    r.at,
    r.action,
    r.identity,
    r.role,
    r.team,
    r.token_id,
    r.ip,
    r.application,
    r.client_json,
    r.project,
    r.version,
    r.filename,
    r.sha256,
    r.outcome,
    r.status,
    r.detail_json,
  ]);
  return sha256Hex(canonical);
}

/** Chains `records` after (`seq`, `hash`). */
export function chain(head: { seq: number; hash: string }, records: AuditFields[]): ChainedRecord[] {
  let { seq, hash } = head;
  return records.map((r) => {
    seq += 1;
    const prev = hash;
    hash = recordHash(seq, prev, r);
    return { ...r, seq, prev_hash: prev, hash };
  });
}

/** The bytes a checkpoint signs. */
export function checkpointMessage(seq: number, hash: string): Buffer {
  return Buffer.from(`portcullis-audit-checkpoint:v1:${seq}:${hash}`);
}

/**
 * Checks records fed in ascending `seq` order; stops at the first problem and says which record.
 * @example const v = new ChainVerifier(); for (const r of rows) if (!v.feed(r)) break; v.problem
 */
export class ChainVerifier {
  private seq = 0;
  private hash = GENESIS_HASH;
  problem: string | null = null;
  /** Hash of the chain at each seq asked for with `watch` (checkpoints). */
  readonly seen = new Map<number, string>();

  constructor(private readonly watch: Set<number> = new Set()) {}

  get lastSeq(): number {
    return this.seq;
  }

  get lastHash(): string {
    return this.hash;
  }

  feed(r: ChainedRecord): boolean {
    if (this.problem) return false;
    const expected = this.seq + 1;
    if (r.seq !== expected) {
      this.problem =
        r.seq > expected
          ? `record ${expected}${r.seq - 1 > expected ? `..${r.seq - 1}` : ""} missing (removed); the chain breaks before record ${r.seq}`
          : `record ${r.seq} out of order after record ${this.seq}`;
      return false;
    }
    if (r.prev_hash !== this.hash) {
      this.problem = `record ${r.seq}: does not follow record ${this.seq} (prev_hash mismatch: a record was removed, inserted or reordered)`;
      return false;
    }
    const actual = recordHash(r.seq, r.prev_hash, r);
    if (actual !== r.hash) {
      this.problem = `record ${r.seq}: contents do not match its hash (edited)`;
      return false;
    }
    this.seq = r.seq;
    this.hash = r.hash;
    if (this.watch.has(r.seq)) this.seen.set(r.seq, r.hash);
    return true;
  }
}
