import { AUDIT_FIELDS, clampAuditFields, storableText, type AuditFields } from "./audit-chain.js";

/**
 * A batch of audit records as it crosses to the writer thread: the strings once each (records
 * repeat the same client, project, file and action) and one cell per field in a Float64Array
 * whose buffer is transferred, not copied. Posting the records as objects cost ~3 µs each in
 * structured cloning on the gateway's event loop; this costs about a third of that.
 */
export interface EncodedAuditBatch {
  strings: string[];
  cells: Float64Array;
}

/** One cell per field of AUDIT_FIELDS: `at` a number, `status` a number or null, the rest strings or null. */
const WIDTH = AUDIT_FIELDS.length;
/** A null string or status (neither a string index nor an HTTP status is ever negative). */
const NULL = -1;

/**
 * Builds an encoded batch record by record. The audit trail queues a busy gateway's records this
 * way as they arrive: a record's object dies young instead of waiting in the queue (50 ms or more
 * under load) long enough to be promoted to V8's old generation, whose collections then cost the
 * event loop more than writing the records did.
 */
export class AuditBatchBuilder {
  private readonly strings: string[] = [];
  private readonly index = new Map<string, number>();
  private readonly cells: Float64Array;
  private count = 0;

  constructor(readonly capacity: number) {
    this.cells = new Float64Array(capacity * WIDTH);
  }

  get length(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  add(r: AuditFields): void {
    if (this.count >= this.capacity) throw new Error(`audit batch is full (${this.capacity} records)`);
    const cells = this.cells;
    let c = this.count * WIDTH;
    for (const f of AUDIT_FIELDS) {
      const v = r[f];
      if (v === null || v === undefined) cells[c++] = NULL;
      else if (typeof v === "number") cells[c++] = v;
      else {
        let i = this.index.get(v);
        if (i === undefined) {
          i = this.strings.length;
          this.strings.push(v);
          this.index.set(v, i);
        }
        cells[c++] = i;
      }
    }
    this.count++;
  }

  /** The records so far, as a batch of its own (a copy: the builder stays usable, e.g. to retry). */
  finish(): EncodedAuditBatch {
    return { strings: this.strings.slice(), cells: this.cells.slice(0, this.count * WIDTH) };
  }
}

export function encodeAuditBatch(records: readonly AuditFields[]): EncodedAuditBatch {
  const builder = new AuditBatchBuilder(records.length);
  for (const r of records) builder.add(r);
  return builder.finish();
}

/** How many records a batch holds. */
export function auditBatchLength(batch: EncodedAuditBatch): number {
  return batch.cells.length / WIDTH;
}

export function decodeAuditBatch(batch: EncodedAuditBatch): AuditFields[] {
  const { strings, cells } = batch;
  if (cells.length % WIDTH !== 0)
    throw new Error(`audit batch of ${cells.length} cells is not whole records`);
  const str = (v: number): string | null => (v === NULL ? null : strings[v]!);
  const out: AuditFields[] = [];
  for (let c = 0; c < cells.length; c += WIDTH) {
    out.push({
      at: cells[c]!,
      action: str(cells[c + 1]!)!,
      identity: str(cells[c + 2]!),
      role: str(cells[c + 3]!)!,
      team: str(cells[c + 4]!),
      token_id: str(cells[c + 5]!),
      ip: str(cells[c + 6]!)!,
      application: str(cells[c + 7]!),
      client_json: str(cells[c + 8]!),
      project: str(cells[c + 9]!),
      version: str(cells[c + 10]!),
      filename: str(cells[c + 11]!),
      sha256: str(cells[c + 12]!),
      outcome: str(cells[c + 13]!)!,
      status: cells[c + 14] === NULL ? null : cells[c + 14]!,
      detail_json: str(cells[c + 15]!),
    });
  }
  return out;
}

/**
 * The records of a batch as they are chained and stored: each distinct string made storable once
 * (see storableText; a batch holds its strings once, however many records repeat them), then the
 * bounded fields cut to their widths.
 */
export function decodeStorableAuditBatch(batch: EncodedAuditBatch): AuditFields[] {
  return clampAuditFields(decodeAuditBatch({ strings: batch.strings.map(storableText), cells: batch.cells }));
}
