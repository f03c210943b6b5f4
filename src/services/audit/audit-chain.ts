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
  /**
   * The same access again: a JSON array of the further accesses' times, as ms after `at`, in
   * the order they came (see AuditBatchBuilder). Absent or null: the record is one access.
   * Hashed with the record, after its other fields, only when present, so records written
   * before it existed keep their hashes.
   */
  repeats_json?: string | null;
}

/** Every field of a record, in the order the hash and the audit_log columns take them. */
export const AUDIT_FIELDS = [
  "at",
  "action",
  "identity",
  "role",
  "team",
  "token_id",
  "ip",
  "application",
  "client_json",
  "project",
  "version",
  "filename",
  "sha256",
  "outcome",
  "status",
  "detail_json",
] as const satisfies readonly (keyof AuditFields)[];

/**
 * The longest value each bounded field may hold, in characters: the widths of the audit_log and
 * inventory columns. Several come from outside (a forwarded client address, a version parsed
 * from a file name, the X-Portcullis-Project header); PostgreSQL refuses a longer value, which
 * would fail the whole batch again on every retry and stall the trail. `clampAuditFields` cuts
 * them before chaining, so what is stored is exactly what was hashed.
 */
export const AUDIT_FIELD_MAX = {
  action: 100,
  identity: 200,
  role: 20,
  team: 200,
  token_id: 40,
  ip: 100,
  application: 200,
  project: 200,
  version: 200,
  sha256: 64,
  outcome: 40,
} as const satisfies Partial<Record<keyof AuditFields, number>>;
const CLAMPED = Object.entries(AUDIT_FIELD_MAX) as [keyof typeof AUDIT_FIELD_MAX, number][];

/** ES2024's well-formed string methods (Node 20+), not in the ES2023 lib this project compiles against. */
type WellFormed = string & { isWellFormed(): boolean; toWellFormed(): string };

/**
 * A text value as it can be stored exactly as hashed: well-formed Unicode with no NUL.
 * PostgreSQL refuses NUL in text (the whole batch would fail on every retry and stall the trail),
 * and a driver turns a lone surrogate (e.g. one left by cutting a file name in the middle of an
 * emoji) into U+FFFD, so the stored record would no longer match its hash.
 */
export function storableText(v: string): string {
  return v.includes("\u0000") || !(v as WellFormed).isWellFormed()
    ? (v.replaceAll("\u0000", "\uFFFD") as WellFormed).toWellFormed()
    : v;
}

/**
 * Cuts the bounded fields of storable records to their column widths (see AUDIT_FIELD_MAX), in
 * place, without splitting a character.
 */
export function clampAuditFields(records: AuditFields[]): AuditFields[] {
  for (const r of records) {
    const fields = r as unknown as Record<string, string | null>;
    for (const [field, max] of CLAMPED) {
      const v = fields[field];
      if (v !== null && v !== undefined && v.length > max) fields[field] = cut(v, max);
    }
  }
  return records;
}

/** A storable value of `field` cut to its width, as clampAuditFields cuts it. */
export function clampedField(field: keyof AuditFields, v: string): string {
  const max = (AUDIT_FIELD_MAX as Partial<Record<keyof AuditFields, number>>)[field];
  return max === undefined || v.length <= max ? v : cut(v, max);
}

// A cut that would split a surrogate pair keeps one character less.
const cut = (v: string, max: number) => v.slice(0, /[\uD800-\uDBFF]/.test(v[max - 1]!) ? max - 1 : max);

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
  return sha256Hex(canonicalRecord(seq, prevHash, r));
}

/**
 * Exactly `JSON.stringify([seq, prevHash, at, action, …, detail_json])` (and `repeats_json`
 * after it when the record has one), built by hand so that
 * the long strings repeated from record to record (the client, parsed from the User-Agent, is
 * hundreds of characters of quoted JSON) are escaped once rather than once per request.
 */
export function canonicalRecord(seq: number, prevHash: string, r: AuditFields): string {
  return (
    "[" +
    json(seq) +
    "," +
    json(prevHash) +
    "," +
    json(r.at) +
    "," +
    repeated(r.action) +
    "," +
    repeated(r.identity) +
    "," +
    repeated(r.role) +
    "," +
    repeated(r.team) +
    "," +
    json(r.token_id) +
    "," +
    repeated(r.ip) +
    "," +
    repeated(r.application) +
    "," +
    repeated(r.client_json) +
    "," +
    repeated(r.project) +
    "," +
    repeated(r.version) +
    "," +
    repeated(r.filename) +
    "," +
    repeated(r.sha256) +
    "," +
    repeated(r.outcome) +
    "," +
    json(r.status) +
    "," +
    json(r.detail_json) +
    (r.repeats_json === null || r.repeats_json === undefined ? "" : "," + JSON.stringify(r.repeats_json)) +
    "]"
  );
}

// An array element JSON.stringify would write: undefined (and functions) become null.
function json(v: string | number | null | undefined): string {
  return v === null || v === undefined ? "null" : JSON.stringify(v);
}

// Memo of escaped strings that recur across records (clients, projects, files, actions), at most
// 1,024 strings of up to 2,048 characters (a few MB).
const escaped = new Map<string, string>();
function repeated(v: string | null | undefined): string {
  if (v === null || v === undefined) return "null";
  let e = escaped.get(v);
  if (e === undefined) {
    e = JSON.stringify(v);
    if (v.length <= 2_048) {
      if (escaped.size >= 1_024) escaped.clear();
      escaped.set(v, e);
    }
  }
  return e;
}

/**
 * Chains `records` after (`seq`, `hash`). The records become the chained records (their chain
 * fields are set in place, overwriting any from an earlier failed attempt): copying every queued
 * record cost about as much as hashing it on the gateway's hot path.
 */
export function chain(head: { seq: number; hash: string }, records: AuditFields[]): ChainedRecord[] {
  let { seq, hash } = head;
  const out = records as ChainedRecord[];
  for (const r of out) {
    seq += 1;
    const prev = hash;
    hash = recordHash(seq, prev, r);
    r.seq = seq;
    r.prev_hash = prev;
    r.hash = hash;
  }
  return out;
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
        r.seq > expected ? missing(expected, r.seq) : `record ${r.seq} out of order after record ${this.seq}`;
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

  /**
   * A block of records (`audit.storage batches`): `actualHash` is the hash of its stored place and
   * body, `records` what its body decodes to (or why it does not). The block is chained as a
   * whole, so a problem names its record range.
   */
  feedBlock(
    block: { firstSeq: number; lastSeq: number; prevHash: string; hash: string },
    actualHash: string,
    records: ChainedRecord[] | Error,
  ): boolean {
    if (this.problem) return false;
    const expected = this.seq + 1;
    const range = `records ${block.firstSeq}..${block.lastSeq} (one block)`;
    if (block.firstSeq !== expected) {
      this.problem =
        block.firstSeq > expected
          ? missing(expected, block.firstSeq)
          : `${range}: out of order after record ${this.seq}`;
      return false;
    }
    if (block.prevHash !== this.hash) {
      this.problem = `${range}: do not follow record ${this.seq} (prev_hash mismatch: a record was removed, inserted or reordered)`;
      return false;
    }
    if (actualHash !== block.hash) {
      this.problem = `${range}: contents do not match the block's hash (a record in it was edited, removed or reordered)`;
      return false;
    }
    if (records instanceof Error) {
      this.problem = `${range}: the block matches its hash but cannot be read (${records.message})`;
      return false;
    }
    if (block.lastSeq - block.firstSeq + 1 !== records.length) {
      this.problem = `${range}: the block holds ${records.length} records`;
      return false;
    }
    this.seq = block.lastSeq;
    this.hash = block.hash;
    if (this.watch.has(block.lastSeq)) this.seen.set(block.lastSeq, block.hash);
    return true;
  }
}

/** The problem of a gap: records from `expected` up to the one before `next` are not there. */
function missing(expected: number, next: number): string {
  return `record ${expected}${next - 1 > expected ? `..${next - 1}` : ""} missing (removed); the chain breaks before record ${next}`;
}
