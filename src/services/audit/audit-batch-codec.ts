import { AUDIT_FIELDS, clampAuditFields, storableText, type AuditFields } from "./audit-chain.js";

/**
 * A batch of audit records as it crosses to the writer thread: the strings once each (records
 * repeat the same client, project, file and action) and one cell per field in a Float64Array
 * whose buffer is transferred, not copied. Posting the records as objects cost ~3 µs each in
 * structured cloning on the gateway's event loop; this costs about a third of that.
 *
 * Accesses that are the same in every field but their time (a CI fleet asking for the same page,
 * a scheduled job pulling the same file) are one record carrying the times of the repeats (see
 * AuditFields.repeats_json): `cells` holds each distinct record once, with the time of its first
 * access, and `repeatAt`/`repeatOf` the time of every further access and the record it repeats,
 * in the order they came.
 */
export interface EncodedAuditBatch {
  strings: string[];
  cells: Float64Array;
  /** Times of the further accesses, in arrival order (absent: none). */
  repeatAt?: Float64Array;
  /** For each of `repeatAt`, the record (index into `cells`' records) it repeats. */
  repeatOf?: Uint32Array;
}

/** One cell per field of AUDIT_FIELDS: `at` a number, `status` a number or null, the rest strings or null. */
const WIDTH = AUDIT_FIELDS.length;
/** A null string or status (neither a string index nor an HTTP status is ever negative). */
const NULL = -1;
/**
 * How far apart (ms) the first and a later access of one record may be. A record is matched by
 * the time of its first access (`since`/`until`), so its repeats stay within a second of it: a
 * batch that waits longer (the database down, a trickle of requests) starts a new record.
 */
export const REPEAT_SPAN_MS = 1_000;
/** Records a builder has room for at first (see AuditBatchBuilder.grow). */
const INITIAL_RECORDS = 64;
/** Accesses a builder takes (first and repeated) before it is full, whatever its distinct records. */
export const ACCESSES_PER_RECORD_SLOT = 40;

/**
 * Builds an encoded batch record by record. The audit trail queues a busy gateway's records this
 * way as they arrive: a record's object dies young instead of waiting in the queue (50 ms or more
 * under load) long enough to be promoted to V8's old generation, whose collections then cost the
 * event loop more than writing the records did.
 *
 * An access equal in every field but `at` to a record of the batch, within REPEAT_SPAN_MS of its
 * first, is added to that record as a repeat: a busy gateway then chains and stores one row per
 * distinct access of each ~250 ms, not one per request, which is what lets the audit trail keep
 * up with pip on a small machine (the writer's cost per row is several times the serving
 * thread's per request). Hand-written: no library groups records this way into transferable
 * buffers.
 */
export class AuditBatchBuilder {
  private readonly strings: string[] = [];
  private readonly index = new Map<string, number>();
  /** Grown by doubling up to `capacity` records: a batch of repeats holds a few records. */
  private cells: Float64Array;
  /** Records (distinct) so far. */
  private rows = 0;
  /** Accesses so far (records and their repeats). */
  private accesses = 0;
  private readonly maxAccesses: number;
  /** Record by a hash of its fields but `at`: the newest record with that hash. */
  private readonly byHash = new Map<number, number>();
  /** For each record, the one before it with the same hash (-1: none). */
  private sameHash: Int32Array;
  private readonly repeatAt: number[] = [];
  private readonly repeatOf: number[] = [];
  /** The last access added (not one read back with repeats), and the record it went to. */
  private prev: AuditFields | undefined;
  private prevRow = 0;
  /** When it was opened (performance.now(), ms): how long its first record has been waiting. */
  readonly openedAt = performance.now();

  /**
   * `capacity`: distinct records; it takes `maxAccesses` accesses in all (default
   * ACCESSES_PER_RECORD_SLOT for each record).
   */
  constructor(
    readonly capacity: number,
    maxAccesses = capacity * ACCESSES_PER_RECORD_SLOT,
  ) {
    const initial = Math.min(capacity, INITIAL_RECORDS);
    this.cells = new Float64Array(initial * WIDTH);
    this.sameHash = new Int32Array(initial);
    this.maxAccesses = maxAccesses;
  }

  /** Accesses held (each record and each of its repeats). */
  get length(): number {
    return this.accesses;
  }

  /** Distinct records held. */
  get records(): number {
    return this.rows;
  }

  get full(): boolean {
    return this.rows >= this.capacity || this.accesses >= this.maxAccesses;
  }

  add(r: AuditFields): void {
    if (this.full) throw new Error(`audit batch is full (${this.rows} records, ${this.accesses} accesses)`);
    // The usual case under load: the same access as the one before (a client asking again).
    const prev = this.prev;
    if (
      prev !== undefined &&
      sameButTime(prev, r) &&
      (r.repeats_json === null || r.repeats_json === undefined) &&
      Math.abs(r.at - this.cells[this.prevRow * WIDTH]!) <= REPEAT_SPAN_MS
    ) {
      this.accesses++;
      this.repeatAt.push(r.at);
      this.repeatOf.push(this.prevRow);
      return;
    }
    if (this.rows === this.sameHash.length) this.grow();
    const cells = this.cells;
    const start = this.rows * WIDTH;
    let c = start;
    // FNV-1a over the cells after `at` (string indexes, the status, -1 for null): small integers.
    let h = 0x811c9dc5;
    for (const f of AUDIT_FIELDS) {
      const v = r[f];
      let cell: number;
      if (v === null || v === undefined) cell = NULL;
      else if (typeof v === "number") cell = v;
      else {
        let i = this.index.get(v);
        if (i === undefined) {
          i = this.strings.length;
          this.strings.push(v);
          this.index.set(v, i);
        }
        cell = i;
      }
      cells[c] = cell;
      if (c !== start) h = Math.imul(h ^ (cell | 0), 0x01000193);
      c++;
    }
    this.accesses++;
    const at = cells[start]!;
    const carried = r.repeats_json ? repeatOffsets(r.repeats_json) : undefined;
    if (!carried) {
      // The same access again: one more time on the record it repeats.
      for (let row = this.byHash.get(h) ?? -1; row !== -1; row = this.sameHash[row]!) {
        const o = row * WIDTH;
        if (Math.abs(at - cells[o]!) > REPEAT_SPAN_MS) continue;
        let same = true;
        for (let k = 1; k < WIDTH; k++) {
          if (cells[o + k] !== cells[start + k]) {
            same = false;
            break;
          }
        }
        if (!same) continue;
        this.repeatAt.push(at);
        this.repeatOf.push(row);
        this.prev = r;
        this.prevRow = row;
        return;
      }
    }
    const row = this.rows++;
    this.sameHash[row] = this.byHash.get(h) ?? -1;
    this.byHash.set(h, row);
    // A record that already carries repeats (read back from the spool) keeps them.
    if (carried) {
      for (const offset of carried) {
        this.repeatAt.push(at + offset);
        this.repeatOf.push(row);
      }
      this.accesses += carried.length;
      this.prev = undefined;
    } else {
      this.prev = r;
      this.prevRow = row;
    }
  }

  /** Room for twice as many records (at most `capacity`). */
  private grow(): void {
    const records = Math.min(this.capacity, this.sameHash.length * 2);
    const cells = new Float64Array(records * WIDTH);
    cells.set(this.cells);
    this.cells = cells;
    const sameHash = new Int32Array(records);
    sameHash.set(this.sameHash);
    this.sameHash = sameHash;
  }

  /** The records so far, as a batch of its own (a copy: the builder stays usable, e.g. to retry). */
  finish(): EncodedAuditBatch {
    const batch: EncodedAuditBatch = {
      strings: this.strings.slice(),
      cells: this.cells.slice(0, this.rows * WIDTH),
    };
    if (this.repeatAt.length > 0) {
      batch.repeatAt = Float64Array.from(this.repeatAt);
      batch.repeatOf = Uint32Array.from(this.repeatOf);
    }
    return batch;
  }
}

/** Whether two accesses are the same in every field but `at` (the fields read one by one: no keyed loads). */
function sameButTime(a: AuditFields, b: AuditFields): boolean {
  return (
    a.action === b.action &&
    a.identity === b.identity &&
    a.ip === b.ip &&
    a.project === b.project &&
    a.status === b.status &&
    a.outcome === b.outcome &&
    a.sha256 === b.sha256 &&
    a.filename === b.filename &&
    a.version === b.version &&
    a.role === b.role &&
    a.team === b.team &&
    a.token_id === b.token_id &&
    a.application === b.application &&
    a.client_json === b.client_json &&
    a.detail_json === b.detail_json
  );
}

/**
 * Encodes records as one batch, whatever their repeats: records read back from the spool may
 * carry more repeats than a builder takes by default, and must never be refused (the spool would
 * keep offering the same batch, and the trail could write nothing after it).
 */
export function encodeAuditBatch(records: readonly AuditFields[]): EncodedAuditBatch {
  let accesses = 0;
  for (const r of records) accesses += accessCount(r);
  const builder = new AuditBatchBuilder(Math.max(1, records.length), Math.max(1, accesses));
  for (const r of records) builder.add(r);
  return builder.finish();
}

/** How many accesses a batch holds (its records and their repeats). */
export function auditBatchLength(batch: EncodedAuditBatch): number {
  return batch.cells.length / WIDTH + (batch.repeatAt?.length ?? 0);
}

/** How many accesses a record stands for: itself and its repeats. */
export function accessCount(r: Pick<AuditFields, "repeats_json">): number {
  return 1 + (r.repeats_json ? repeatOffsets(r.repeats_json).length : 0);
}

/**
 * The offsets (ms after the record's `at`) of a record's repeats, from its `repeats_json`;
 * throws on text that is not a JSON array of finite numbers (a damaged record).
 */
export function repeatOffsets(json: string): number[] {
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed) || !parsed.every((v) => typeof v === "number" && Number.isFinite(v)))
    throw new Error("repeats_json is not a list of numbers");
  return parsed as number[];
}

export function decodeAuditBatch(batch: EncodedAuditBatch): AuditFields[] {
  const { strings, cells } = batch;
  if (cells.length % WIDTH !== 0)
    throw new Error(`audit batch of ${cells.length} cells is not whole records`);
  const repeatAt = batch.repeatAt ?? new Float64Array(0);
  const repeatOf = batch.repeatOf ?? new Uint32Array(0);
  if (repeatAt.length !== repeatOf.length) throw new Error("audit batch repeats are torn");
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
  if (repeatAt.length > 0) {
    const offsets: (number[] | undefined)[] = new Array(out.length);
    for (let i = 0; i < repeatAt.length; i++) {
      const row = repeatOf[i]!;
      const r = out[row];
      if (!r) throw new Error(`audit batch repeat of record ${row}, which it does not hold`);
      (offsets[row] ??= []).push(repeatAt[i]! - r.at);
    }
    offsets.forEach((list, row) => {
      if (list) out[row]!.repeats_json = JSON.stringify(list);
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
  return clampAuditFields(decodeAuditBatch({ ...batch, strings: batch.strings.map(storableText) }));
}
