import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  linkSync,
  statSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import { repeatOffsets } from "../../services/audit/audit-batch-codec.js";
import { AUDIT_FIELDS, type AuditFields } from "../../services/audit/audit-chain.js";
import type { AuditSpool, SpooledBatch } from "../../services/audit/audit-spool.js";

/** A spooled batch's file: a zero-padded sequence number (oldest sorts first) and `.json`. */
const FILE_RE = /^(\d{13})\.json$/;
/**
 * A batch being written back: `<name>.writing-<owner>` (renamed back once its owner is gone). The
 * owner is `<pid>-<host>-<nonce>`; `<pid>` alone in names left by earlier versions.
 */
const WRITING_RE = /^(\d{13}\.json)\.writing-(\d+(?:-[A-Za-z0-9_]{1,63}-[0-9a-f]{16})?)$/;
/** A batch being spooled: `.<name>.<owner>.tmp` (incomplete by definition if its owner is gone). */
const TMP_RE = /^\.\d{13}\.json\.(\d+(?:-[A-Za-z0-9_]{1,63}-[0-9a-f]{16})?)\.tmp$/;
const OWNER_RE = /^(\d+)(?:-([A-Za-z0-9_]{1,63})-([0-9a-f]{16}))?$/;
/**
 * How long a claim or a temporary file of a process we cannot ask (another host or container)
 * counts as alive after its last touch. A claim's owner touches it every quarter of this while
 * it holds it; a temporary file lives for one write.
 */
export const SPOOL_LEASE_MS = 10 * 60_000;
/** The first number in an empty spool: mid-range, so batches can go in front (older) as well as behind. */
const MIDDLE = 5_000_000_000_000;
/** The default cap on what the spool holds on disk: 1 GiB (some 2.5 million records). */
export const DEFAULT_SPOOL_MAX_BYTES = 1024 * 1024 * 1024;

/** The spool holds its cap: the batch was not stored (the trail then refuses new requests). */
export class AuditSpoolFull extends Error {
  constructor(held: number, max: number) {
    super(`audit spool is full (${held} bytes held, cap ${max}; audit.spool-max-mb)`);
    this.name = "AuditSpoolFull";
  }
}

/**
 * Audit batches the database would not take, kept on local disk (`<data>/audit-spool/`) until it
 * does: one JSON file per batch, written to a temporary name, fsynced and renamed, so a file
 * present is whole. A batch is taken for writing back by renaming it to `.writing-<owner>`, so
 * two processes over one data directory never both write it; a file left so by a process that is
 * gone is put back. The owner names the process by pid, host and a nonce drawn at start: a pid
 * alone is ambiguous where several containers, each its gateway at pid 1, share the directory.
 * On this host a pid is asked whether it lives (our own pid under another nonce is an earlier run
 * of this container); another host's claim is gone once untouched for SPOOL_LEASE_MS (its owner
 * touches it while it holds it). Hand-written: the format is a JSON array per file, and the only
 * needs are atomic creation and an exclusive claim, which rename gives.
 *
 * Bounded: a batch that would take the bytes held past `maxBytes` is refused (AuditSpoolFull), so
 * a database down for days cannot fill the disk the blobs and the database live on (the trail
 * then refuses new requests).
 */
export class FileAuditSpool implements AuditSpool {
  private next: number;
  private first: number;
  private count: number;
  /** Bytes of the batches held (this process's view; read from the disk again before refusing). */
  private held: number;
  /** This process's mark on its claims and temporary files: `<pid>-<host>-<nonce>`. */
  private readonly owner: string;
  private readonly host: string;
  private lastReclaim = 0;

  constructor(
    private readonly dir: string,
    private readonly pid = process.pid,
    private readonly maxBytes = DEFAULT_SPOOL_MAX_BYTES,
    host = hostname(),
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // The host name and the pid namespace: containers sharing the host's name (host networking)
    // still have pid namespaces of their own, where a pid means another process.
    this.host = `${host}_${pidNamespace()}`.replace(/[^A-Za-z0-9]/g, "_").slice(0, 63) || "host";
    this.owner = `${pid}-${this.host}-${randomBytes(8).toString("hex")}`;
    let last = MIDDLE - 1;
    let first = MIDDLE;
    this.reclaim();
    for (const name of readdirSync(dir)) {
      const m = FILE_RE.exec(name) ?? WRITING_RE.exec(name);
      if (!m) continue;
      const n = Number.parseInt(name.slice(0, 13), 10);
      last = Math.max(last, n);
      first = Math.min(first, n);
    }
    this.next = last + 1;
    this.first = first;
    this.count = 0;
    this.held = 0;
    this.rescan();
  }

  /**
   * Puts back the batches claimed by processes that are gone and removes their temporary files.
   * Run at start, and again while waiting batches are none but claims are left.
   */
  private reclaim(): void {
    this.lastReclaim = Date.now();
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      const writing = WRITING_RE.exec(name);
      const tmp = writing ? undefined : TMP_RE.exec(name);
      const owner = writing?.[2] ?? tmp?.[1];
      if (owner === undefined || !this.gone(owner, join(this.dir, name))) continue;
      try {
        if (writing) renameSync(join(this.dir, name), join(this.dir, writing[1]!));
        else rmSync(join(this.dir, name), { force: true });
      } catch {
        // taken, finished or put back by another process meanwhile
      }
    }
  }

  /** Whether the owner of a claim or temporary file is gone (see the class comment). */
  private gone(owner: string, path: string): boolean {
    if (owner === this.owner) return false;
    const m = OWNER_RE.exec(owner);
    if (!m) return false;
    const pid = Number(m[1]);
    // Names of earlier versions: the pid alone; our own pid is an earlier run's (a container's
    // gateway is often pid 1 at every start).
    if (m[2] === undefined) return pid === this.pid || !alive(pid);
    if (m[2] === this.host && (pid === this.pid || !alive(pid))) return true;
    try {
      return Date.now() - statSync(path).mtimeMs > SPOOL_LEASE_MS;
    } catch {
      return false; // gone already
    }
  }

  get batches(): number {
    return this.count;
  }

  /** Bytes of the batches held, as the last append or take saw them. */
  get bytes(): number {
    return this.held;
  }

  /**
   * Reads what the batch files (waiting or claimed) take on disk now, and how many wait: other
   * processes' too (two gateways on one data directory), so their batches are also written back.
   */
  private rescan(): void {
    let held = 0;
    let count = 0;
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      names = [];
    }
    for (const name of names) {
      const waiting = FILE_RE.test(name);
      if (!waiting && !WRITING_RE.test(name)) continue;
      try {
        held += statSync(join(this.dir, name)).size;
        if (waiting) count++;
      } catch {
        // taken and removed meanwhile
      }
    }
    this.held = held;
    this.count = count;
  }

  append(records: readonly AuditFields[], where: "back" | "front" = "back"): void {
    if (records.length === 0) return;
    const bytes = Buffer.from(JSON.stringify(records));
    // A batch in front is one that was being written when the database failed, older than every
    // batch held: refusing it would put it behind them, out of order. It may pass the cap (one
    // batch per failed write).
    if (where === "back" && this.held + bytes.length > this.maxBytes) {
      // Batches written back since (by another gateway too) may have made room.
      this.rescan();
      if (this.held + bytes.length > this.maxBytes) throw new AuditSpoolFull(this.held, this.maxBytes);
    }
    const n = where === "front" ? --this.first : this.next++;
    const name = batchFileName(n);
    const tmp = join(this.dir, `.${name}.${this.owner}.tmp`);
    // Made again if it was removed while the gateway ran.
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const fd = openSync(tmp, "w", 0o600);
    try {
      // writeSync may write less than asked (a full disk): the rest is written, or it throws and
      // no partial batch is renamed into place as if whole.
      for (let off = 0; off < bytes.length;) {
        const n = writeSync(fd, bytes, off, bytes.length - off);
        if (n <= 0) throw new Error(`audit spool: wrote nothing of ${bytes.length - off} bytes left`);
        off += n;
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // Never over another process's batch of the same number (two gateways on one data
    // directory): a hard link fails where a rename would replace; the next free number is taken.
    let placed = name;
    for (let k = n; ;) {
      try {
        linkSync(tmp, join(this.dir, placed));
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
          rmSync(tmp, { force: true });
          throw err;
        }
        k = where === "front" ? --this.first : this.next++;
        placed = batchFileName(k);
      }
    }
    rmSync(tmp, { force: true });
    this.count++;
    this.held += bytes.length;
  }

  takeOldest(): SpooledBatch | undefined {
    for (;;) {
      let names: string[];
      try {
        names = readdirSync(this.dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        // Removed from under us: nothing is left to write back; spill into a new one.
        mkdirSync(this.dir, { recursive: true, mode: 0o700 });
        names = [];
      }
      const name = names.filter((n) => FILE_RE.test(n)).sort()[0];
      if (!name) {
        // Claims of a process gone since this one started (on another host, say) come back
        // once their lease has run out; looked for at most every minute.
        if (Date.now() - this.lastReclaim > 60_000 && names.some((n) => WRITING_RE.test(n))) {
          this.reclaim();
          continue;
        }
        this.count = 0;
        return undefined;
      }
      const claimed = join(this.dir, `${name}.writing-${this.owner}`);
      try {
        renameSync(join(this.dir, name), claimed);
      } catch {
        continue; // another process took it first
      }
      // A rename keeps the batch's old time (when it was spooled, often long ago): touched now,
      // so that no gateway on another host takes a claim just made for an abandoned one.
      try {
        const now = new Date();
        utimesSync(claimed, now, now);
      } catch {
        // gone meanwhile: read below fails and says so
      }
      this.count = Math.max(0, this.count - 1);
      let records: AuditFields[];
      let size = 0;
      try {
        const raw = readFileSync(claimed);
        size = raw.length;
        records = parseBatch(raw.toString("utf8"));
      } catch (err) {
        // Kept for a person to look at, never written half-understood into the chain.
        renameSync(claimed, join(this.dir, `${name}.corrupt`));
        this.rescan();
        throw new Error(
          `audit spool file ${name} is unreadable (${(err as Error).message}); kept as ${name}.corrupt`,
        );
      }
      // Touched while held, so that a gateway on another host never takes it for abandoned.
      const lease = setInterval(() => {
        try {
          const now = new Date();
          utimesSync(claimed, now, now);
        } catch {
          // finished meanwhile
        }
      }, SPOOL_LEASE_MS / 4);
      lease.unref();
      return {
        records,
        done: () => {
          clearInterval(lease);
          rmSync(claimed, { force: true });
          this.held = Math.max(0, this.held - size);
        },
        release: () => {
          clearInterval(lease);
          renameSync(claimed, join(this.dir, name));
          this.count++;
        },
      };
    }
  }
}

/** The inode of this process's pid namespace (Linux), or "" where there is none to read. */
function pidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/pid"))?.[1] ?? "";
  } catch {
    return "";
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A spooled file's records, checked field by field (a damaged file must not enter the chain). */
function parseBatch(text: string): AuditFields[] {
  const data: unknown = JSON.parse(text);
  if (!Array.isArray(data)) throw new Error("not an array");
  return data.map((r, i) => {
    if (typeof r !== "object" || r === null) throw new Error(`record ${i} is not an object`);
    const rec = r as Record<string, unknown>;
    for (const f of AUDIT_FIELDS) {
      const v = rec[f];
      const ok =
        f === "at"
          ? typeof v === "number" && Number.isFinite(v)
          : f === "status"
            ? v === null || (typeof v === "number" && Number.isInteger(v))
            : f === "action" || f === "role" || f === "ip" || f === "outcome"
              ? typeof v === "string"
              : v === null || typeof v === "string";
      if (!ok) throw new Error(`record ${i}: bad ${f}`);
    }
    const out = Object.fromEntries(AUDIT_FIELDS.map((f) => [f, rec[f]])) as unknown as AuditFields;
    // The same access repeated (see AuditFields.repeats_json): a list of numbers, or none.
    const repeats = rec.repeats_json;
    if (repeats !== undefined && repeats !== null) {
      if (typeof repeats !== "string") throw new Error(`record ${i}: bad repeats_json`);
      try {
        repeatOffsets(repeats);
      } catch {
        throw new Error(`record ${i}: bad repeats_json`);
      }
      out.repeats_json = repeats;
    }
    return out;
  });
}

/** A batch's file: its number, zero-padded so that names sort in number order. */
function batchFileName(n: number): string {
  return `${String(n).padStart(13, "0")}.json`;
}
