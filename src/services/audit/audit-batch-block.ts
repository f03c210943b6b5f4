import * as crypto from "node:crypto";
import { endianness } from "node:os";
import { decodeStorableAuditBatch, type EncodedAuditBatch } from "./audit-batch-codec.js";
import {
  AUDIT_FIELDS,
  clampedField,
  storableText,
  type AuditFields,
  type ChainedRecord,
} from "./audit-chain.js";

/**
 * Batch storage of the audit trail (`audit.storage batches`): each batch the trail writes is one
 * stored block, its records encoded as the trail queued them (the body), chained to the block
 * before by one hash over the body. Writing a record this way costs its share of one hash and one
 * row, not a hash and a row of its own: the writer keeps up with a busy gateway's every request on
 * a small machine (see bench/audit). The price is where `audit verify` can point: an edited
 * record is found, but named by its block's record range, not on its own.
 *
 * The body format is Portcullis' own (no library encodes this columnar shape), little-endian:
 * the magic; the batch's strings as a JSON array; the record count; each record's time (float64);
 * its other cells (string indexes and the status) as unsigned integers of 2 bytes when every
 * value fits, else 4, all ones for null; then the repeats (the time of each further access, then
 * the record each repeats). Half the size of the float64 cells the trail posts: SQLite's cost of
 * storing a block grows with its pages.
 */
const MAGIC = Buffer.from("PCB1");
const WIDTH = AUDIT_FIELDS.length;
const NULL = -1;
const LITTLE_ENDIAN = endianness() === "LE";
const STATUS = AUDIT_FIELDS.indexOf("status");

/** What one stored block holds besides its body. */
export interface AuditBlockHead {
  firstSeq: number;
  lastSeq: number;
  prevHash: string;
  hash: string;
}

/** The body of a block: exactly the bytes its hash covers. */
export function encodeBlockBody(batch: EncodedAuditBatch): Buffer {
  const { cells } = batch;
  const strings = Buffer.from(JSON.stringify(batch.strings));
  const records = cells.length / WIDTH;
  let max = 0;
  for (let c = 0; c < cells.length; c += WIDTH) {
    for (let k = 1; k < WIDTH; k++) {
      const v = cells[c + k]!;
      // String indexes and HTTP statuses: small integers, or -1 for null (see AuditBatchBuilder).
      if (!Number.isInteger(v) || v < NULL || v >= 0xffffffff)
        throw new Error(`audit record field ${AUDIT_FIELDS[k]} holds ${v}, not a small integer`);
      if (v > max) max = v;
    }
  }
  const width = max < 0xffff ? 2 : 4;
  const repeats = batch.repeatAt?.length ?? 0;
  const size = 4 + 4 + strings.length + 4 + 1 + records * (8 + (WIDTH - 1) * width) + 4 + repeats * 12;
  const out = Buffer.allocUnsafe(size);
  let o = MAGIC.copy(out, 0);
  o = out.writeUInt32LE(strings.length, o);
  o += strings.copy(out, o);
  o = out.writeUInt32LE(records, o);
  o = out.writeUInt8(width, o);
  for (let c = 0; c < cells.length; c += WIDTH) o = out.writeDoubleLE(cells[c]!, o);
  if (width === 2) {
    const column = new Uint16Array(records * (WIDTH - 1));
    let i = 0;
    for (let c = 0; c < cells.length; c += WIDTH)
      for (let k = 1; k < WIDTH; k++) column[i++] = cells[c + k] === NULL ? 0xffff : cells[c + k]!;
    o = putInts(out, o, column);
  } else {
    for (let c = 0; c < cells.length; c += WIDTH)
      for (let k = 1; k < WIDTH; k++)
        o = out.writeUInt32LE(cells[c + k] === NULL ? 0xffffffff : cells[c + k]!, o);
  }
  o = out.writeUInt32LE(repeats, o);
  if (repeats > 0) {
    for (const at of batch.repeatAt!) o = out.writeDoubleLE(at, o);
    for (const row of batch.repeatOf!) o = out.writeUInt32LE(row, o);
  }
  if (o !== size) throw new Error("audit block body miscounted");
  return out;
}

/** 16-bit integers little-endian: the array's own bytes on a little-endian machine (all but a few). */
function putInts(out: Buffer, at: number, values: Uint16Array): number {
  if (LITTLE_ENDIAN) {
    out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), at);
    return at + values.byteLength;
  }
  let o = at;
  for (const v of values) o = out.writeUInt16LE(v, o);
  return o;
}

/** The batch a body holds; throws, saying what is wrong, on bytes that are not one. */
export function decodeBlockBody(body: Uint8Array): EncodedAuditBatch {
  const b = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const need = (o: number, n: number) => {
    if (o + n > b.length) throw new Error("audit block body is cut short");
  };
  need(0, 8);
  if (!b.subarray(0, 4).equals(MAGIC)) throw new Error("audit block body has an unknown format");
  let o = 4;
  const stringsLength = b.readUInt32LE(o);
  o += 4;
  need(o, stringsLength);
  const strings: unknown = JSON.parse(b.toString("utf8", o, o + stringsLength));
  if (!Array.isArray(strings) || !strings.every((s) => typeof s === "string"))
    throw new Error("audit block body's strings are not a list of strings");
  o += stringsLength;
  need(o, 5);
  const records = b.readUInt32LE(o);
  const width = b.readUInt8(o + 4);
  o += 5;
  if (width !== 2 && width !== 4) throw new Error(`audit block body has cells of ${width} bytes`);
  need(o, records * (8 + (WIDTH - 1) * width));
  const cells = new Float64Array(records * WIDTH);
  for (let r = 0; r < records; r++, o += 8) cells[r * WIDTH] = b.readDoubleLE(o);
  const none = width === 2 ? 0xffff : 0xffffffff;
  for (let r = 0; r < records; r++) {
    for (let k = 1; k < WIDTH; k++, o += width) {
      const v = width === 2 ? b.readUInt16LE(o) : b.readUInt32LE(o);
      // Every cell naming a string names one the body holds.
      if (v !== none && k !== STATUS && v >= strings.length)
        throw new Error(`audit block body's record ${r} names a string it does not hold`);
      cells[r * WIDTH + k] = v === none ? NULL : v;
    }
  }
  need(o, 4);
  const repeats = b.readUInt32LE(o);
  o += 4;
  need(o, repeats * 12);
  const batch: EncodedAuditBatch = { strings: strings as string[], cells };
  if (repeats > 0) {
    batch.repeatAt = new Float64Array(repeats);
    batch.repeatOf = new Uint32Array(repeats);
    for (let i = 0; i < repeats; i++, o += 8) batch.repeatAt[i] = b.readDoubleLE(o);
    for (let i = 0; i < repeats; i++, o += 4) {
      const row = b.readUInt32LE(o);
      if (row >= records) throw new Error(`audit block body repeats record ${row}, which it does not hold`);
      batch.repeatOf[i] = row;
    }
  }
  if (o !== b.length) throw new Error("audit block body has bytes after its end");
  return batch;
}

/** Records in a block (distinct records; their repeats are part of each). */
export function blockRecordCount(batch: EncodedAuditBatch): number {
  return batch.cells.length / WIDTH;
}

/**
 * The hash of a block: sha256 over its place in the chain (its first and last record, the hash
 * of the block or record before) and its body, so editing, removing or reordering any record, or
 * moving the block, breaks the chain from there on.
 */
export function blockHash(firstSeq: number, lastSeq: number, prevHash: string, body: Uint8Array): string {
  return crypto
    .createHash("sha256")
    .update(`portcullis-audit-block:v1:${firstSeq}:${lastSeq}:${prevHash}:`)
    .update(body)
    .digest("hex");
}

/**
 * A block's records as the reads return them: decoded and made storable as the rows storage
 * stores them, numbered from its first record, each carrying the block's `prev_hash` and `hash`
 * (the records of one block share them: the block is what is chained).
 */
export function blockRecords(head: AuditBlockHead, batch: EncodedAuditBatch): ChainedRecord[] {
  return inBlock(head, decodeStorableAuditBatch(batch));
}

/**
 * Records decoded from a block's batch (storable, see decodeStorableAuditBatch) made its chained
 * records, in place: numbered from its first record (or, for some of them, by their `rows` in the
 * block), each with the block's hashes.
 */
export function inBlock(
  head: AuditBlockHead,
  records: AuditFields[],
  rows?: readonly number[],
): ChainedRecord[] {
  const out = records as ChainedRecord[];
  out.forEach((r, i) => {
    r.seq = head.firstSeq + (rows ? rows[i]! : i);
    r.prev_hash = head.prevHash;
    r.hash = head.hash;
  });
  return out;
}

/**
 * The records of a block whose key fields hold the values asked for (`want`: null for a missing
 * identity), decoded alone: a query over a large block decodes its matches, not its 2,000
 * records. Values compare as the decoded records hold them (storable, cut to width). The caller
 * still filters what comes back on the rest (times, seq bounds).
 */
export function blockRecordsWhere(
  head: AuditBlockHead,
  batch: EncodedAuditBatch,
  want: readonly (readonly [BlockKeyField, string | null])[],
): ChainedRecord[] {
  if (want.length === 0) return blockRecords(head, batch);
  const { cells, strings } = batch;
  const tests = want.map(([field, value]) => {
    const accepted = new Set<number>();
    if (value === null) accepted.add(NULL);
    else {
      strings.forEach((v, i) => {
        if (keyValue(field, v) === value) accepted.add(i);
      });
    }
    return { at: AUDIT_FIELDS.indexOf(field), accepted };
  });
  if (tests.some((t) => t.accepted.size === 0)) return [];
  const rows: number[] = [];
  for (let c = 0, row = 0; c < cells.length; c += WIDTH, row++) {
    if (tests.every((t) => t.accepted.has(cells[c + t.at]!))) rows.push(row);
  }
  if (rows.length === cells.length / WIDTH) return blockRecords(head, batch);
  // A batch of just those records (their repeats with them), decoded and numbered as in the block.
  const sub = new Float64Array(rows.length * WIDTH);
  const place = new Map<number, number>();
  rows.forEach((row, i) => {
    sub.set(cells.subarray(row * WIDTH, (row + 1) * WIDTH), i * WIDTH);
    place.set(row, i);
  });
  const part: EncodedAuditBatch = { strings, cells: sub };
  if (batch.repeatAt && batch.repeatOf) {
    const at: number[] = [];
    const of: number[] = [];
    batch.repeatOf.forEach((row, i) => {
      const to = place.get(row);
      if (to === undefined) return;
      at.push(batch.repeatAt![i]!);
      of.push(to);
    });
    if (at.length > 0) {
      part.repeatAt = Float64Array.from(at);
      part.repeatOf = Uint32Array.from(of);
    }
  }
  return inBlock(head, decodeStorableAuditBatch(part), rows);
}

/** The fields a block is found by (AuditQuery's filters): one key row per distinct value. */
export const BLOCK_KEY_FIELDS = ["action", "identity", "ip", "project", "sha256", "outcome"] as const;
export type BlockKeyField = (typeof BLOCK_KEY_FIELDS)[number];
/** The key of a record without an identity (anonymous): identity names are never empty. */
export const ANONYMOUS_KEY = "";

/**
 * The distinct values of a block's key fields, as its decoded records hold them (storable, cut to
 * their widths, see decodeStorableAuditBatch), and the earliest and latest record time (the time
 * of each record's first access, as `since`/`until` match it).
 */
export function blockIndex(batch: EncodedAuditBatch): {
  keys: { field: BlockKeyField; value: string }[];
  firstAt: number;
  lastAt: number;
} {
  const { cells, strings } = batch;
  const keys: { field: BlockKeyField; value: string }[] = [];
  for (const field of BLOCK_KEY_FIELDS) {
    const k = AUDIT_FIELDS.indexOf(field);
    const seen = new Set<number>();
    for (let c = k; c < cells.length; c += WIDTH) seen.add(cells[c]!);
    const values = new Set<string>();
    for (const i of seen) {
      // Only a missing identity is looked for (anonymous records); other missing values are not.
      if (i === NULL) {
        if (field === "identity") values.add(ANONYMOUS_KEY);
      } else values.add(keyValue(field, strings[i]!));
    }
    for (const value of values) keys.push({ field, value });
  }
  let firstAt = Infinity;
  let lastAt = -Infinity;
  for (let c = 0; c < cells.length; c += WIDTH) {
    const at = cells[c]!;
    if (at < firstAt) firstAt = at;
    if (at > lastAt) lastAt = at;
  }
  return { keys, firstAt, lastAt };
}

/** A key field's value as a decoded record holds it (storable, cut to width; see decodeStorableAuditBatch). */
function keyValue(field: BlockKeyField, text: string): string {
  return clampedField(field, storableText(text));
}
