import { decodeUrlCredential, redactUrl, takeBasicCredentials } from "../../domain/url-secrets.js";
import { createSocket, type Socket } from "node:dgram";
import { lookup } from "node:dns";
import { isIP } from "node:net";
import { hostname } from "node:os";
import type { Logger } from "pino";
import { accessCount, repeatOffsets } from "./audit-batch-codec.js";
import type { ChainedRecord } from "./audit-chain.js";
import type { AuditSink } from "./audit-trail.js";

/** Records waiting for a sink; beyond this the oldest are dropped (and counted): serving never waits. */
const MAX_QUEUE = 10_000;
/**
 * Accesses (a record and each of its repeats) the HTTP sink's queue holds, and a POST carries at
 * most: a record of one client's repeats can stand for 20,000 accesses, each a time in the body.
 */
const MAX_QUEUE_ACCESSES = 200_000;
const HTTP_BATCH_ACCESSES = 20_000;

/**
 * Builds the sinks named in `audit.sinks`; an unknown scheme fails start-up (a SIEM silently fed
 * nothing is worse). Credentials in an http(s) URL become a Basic `Authorization` header; a
 * syslog URL cannot carry any (UDP syslog has no authentication) and is refused. No message
 * repeats a credential.
 */
export async function createAuditSinks(
  urls: string[],
  log: Logger,
  opts: HttpSinkOptions = {},
): Promise<AuditSink[]> {
  return Promise.all(
    urls.map(async (raw) => {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new Error(
          `audit sink ${JSON.stringify(withoutUserinfo(raw))} is not a URL (syslog://host:port or https://…)`,
        );
      }
      if (url.protocol === "syslog:" || url.protocol === "udp:") {
        if (url.username || url.password)
          throw new Error(
            `audit sink ${sinkDescription(url)}: syslog takes no credentials (remove the user:password@ part)`,
          );
        return new SyslogSink(url, log);
      }
      if (url.protocol === "http:" || url.protocol === "https:") return new HttpSink(url, log, opts);
      throw new Error(`audit sink ${url.protocol}// is not supported (syslog://host:port or http(s)://)`);
    }),
  );
}

/** `scheme://user:pw@host…` with the user information masked (for a string that is not a URL). */
function withoutUserinfo(raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1***@");
}

/**
 * One JSON object per record, as exported and sent to sinks. The client and detail are stored as
 * JSON text; one that does not parse (a damaged or edited row: `audit verify` names it) comes out
 * as null with its stored text under `unparseable` (e.g. `"unparseable": {"detail": "{not js"}`),
 * so one bad row costs neither the export nor the sink batch the others.
 */
export function recordJson(r: ChainedRecord): Record<string, unknown> {
  let unparseable: Record<string, string> | undefined;
  const parsed = (field: "client" | "detail", text: string | null): unknown => {
    if (!text) return null;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      (unparseable ??= {})[field] = text;
      return null;
    }
  };
  return {
    seq: r.seq,
    time: isoTime(r.at),
    action: r.action,
    identity: r.identity,
    role: r.role,
    team: r.team,
    tokenId: r.token_id,
    ip: r.ip,
    application: r.application,
    client: parsed("client", r.client_json),
    project: r.project,
    version: r.version,
    filename: r.filename,
    sha256: r.sha256,
    outcome: r.outcome,
    status: r.status,
    detail: parsed("detail", r.detail_json),
    ...repeats(r, (text) => ((unparseable ??= {}).repeats = text)),
    prevHash: r.prev_hash,
    hash: r.hash,
    ...(unparseable ? { unparseable } : {}),
  };
}

/**
 * A record that stands for the same access repeated (see AuditFields.repeats_json): how many
 * accesses, and the times of those after the first. Nothing for a single access.
 */
function repeats(
  r: ChainedRecord,
  damaged: (text: string) => void,
): { count: number; repeatedAt: string[] } | Record<string, never> {
  if (r.repeats_json === null || r.repeats_json === undefined) return {};
  let offsets: number[];
  try {
    offsets = repeatOffsets(r.repeats_json);
  } catch {
    damaged(r.repeats_json);
    return {};
  }
  return { count: 1 + offsets.length, repeatedAt: offsets.map((o) => isoTime(r.at + o)) };
}

/** The accesses a record stands for; one for a record whose repeats do not parse (damaged). */
function weightOf(r: ChainedRecord): number {
  try {
    return accessCount(r);
  } catch {
    return 1;
  }
}

/** Repeat times a syslog line carries (see syslogRecordJson). */
export const SYSLOG_MAX_REPEAT_TIMES = 100;

/**
 * A record as a syslog line carries it: one UDP datagram, which collectors cut at 8 KB (rsyslog's
 * default) and the network at 64 KB. A record with many repeats keeps its `count` and the first
 * SYSLOG_MAX_REPEAT_TIMES times; `repeatedAtOmitted` says how many more and `lastAt` when the last
 * came (the database record, the export and the HTTP sink have them all).
 */
export function syslogRecordJson(r: ChainedRecord): Record<string, unknown> {
  const json = recordJson(r);
  const times = json.repeatedAt as string[] | undefined;
  if (times && times.length > SYSLOG_MAX_REPEAT_TIMES) {
    json.repeatedAt = times.slice(0, SYSLOG_MAX_REPEAT_TIMES);
    json.repeatedAtOmitted = times.length - SYSLOG_MAX_REPEAT_TIMES;
    json.lastAt = times.at(-1);
  }
  return json;
}

/** A record's time as ISO 8601; a stored value no Date can hold (a damaged row) as its number. */
function isoTime(at: number): string {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? String(at) : d.toISOString();
}

/**
 * RFC 5424 over UDP (RFC 5426): `<PRI>1 TIMESTAMP HOST APP - MSGID - MSG`, facility 13 (log audit),
 * severity 6 (informational), the record as JSON in MSG. UDP never blocks; a lost datagram is the
 * protocol's known trade-off, which is why the database chain stays the record of truth.
 */
/** Lines kept for a syslog collector whose name is still being looked up. */
const MAX_WAITING = 10_000;

export class SyslogSink implements AuditSink {
  readonly description: string;
  private readonly socket: Socket;
  private readonly host: string;
  private readonly port: number;
  private readonly me = hostname().replace(/\s/g, "") || "-";
  private address: string | undefined;
  private resolvedAt = 0;
  private resolving = false;
  private waiting: string[] = [];
  /** Lines dropped since the last log line that said so. */
  private droppedUnlogged = 0;
  /** Records dropped since start (metrics). */
  dropped = 0;

  constructor(
    url: URL,
    private readonly log: Logger,
  ) {
    this.host = url.hostname.replace(/^\[|\]$/g, "");
    this.port = Number(url.port || 514);
    this.description = `syslog://${this.host}:${this.port}`;
    this.socket = createSocket(this.host.includes(":") ? "udp6" : "udp4");
    this.socket.on("error", (err) =>
      log.warn({ sink: this.description, err: err.message }, "audit sink error"),
    );
    this.socket.unref();
  }

  send(records: ChainedRecord[]): void {
    for (const r of records) {
      const pri = 13 * 8 + 6;
      const line = `<${pri}>1 ${new Date(r.at).toISOString()} ${this.me} portcullis - ${r.action.slice(0, 32)} - ${JSON.stringify(syslogRecordJson(r))}`;
      const address = this.addressNow();
      if (address) this.socket.send(line, this.port, address);
      else if (this.waiting.length < MAX_WAITING) this.waiting.push(line);
      else {
        this.dropped++;
        this.droppedUnlogged++;
      }
    }
  }

  /**
   * The collector's address: a name is looked up once and again every 5 minutes, not for every
   * record (each lookup takes a slot of libuv's small thread pool, which file reads for downloads
   * share: a slow resolver would stall serving). Lines wait, up to MAX_WAITING, for the first
   * answer; a failed lookup drops them (counted) and is retried with the next records.
   */
  private addressNow(): string | undefined {
    if (isIP(this.host)) return this.host;
    const now = Date.now();
    if (this.address && now - this.resolvedAt < 300_000) return this.address;
    if (!this.resolving) {
      this.resolving = true;
      lookup(this.host, { family: 4 }, (err, address) => {
        this.resolving = false;
        if (err) {
          this.dropped += this.waiting.length;
          this.droppedUnlogged += this.waiting.length;
          this.waiting = [];
          this.log.warn(
            { sink: this.description, err: err.message, dropped: this.droppedUnlogged },
            "audit sink lookup failed",
          );
          this.droppedUnlogged = 0;
          return;
        }
        this.address = address;
        this.resolvedAt = Date.now();
        for (const line of this.waiting) this.socket.send(line, this.port, address);
        this.waiting = [];
      });
    }
    // A known address stays in use while it is looked up again.
    return this.address;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** Records a POST carries at most. */
const HTTP_BATCH = 500;
/** A POST not answered within this is a failure (retried). */
const HTTP_TIMEOUT_MS = 10_000;
/** The wait after the first failed POST; it doubles with each further failure, up to the cap. */
const HTTP_RETRY_BASE_MS = 1_000;
const HTTP_RETRY_MAX_MS = 60_000;

export interface HttpSinkOptions {
  /** The first retry's wait (default 1 s; doubling up to 60 s). */
  retryBaseMs?: number;
}

/** The wait before retry `failures` (1, 2, …): doubling from `base`, capped, with 10% jitter. */
export function sinkRetryDelayMs(failures: number, base = HTTP_RETRY_BASE_MS, random = Math.random): number {
  const ms = Math.min(base * 2 ** Math.max(0, failures - 1), Math.max(base, HTTP_RETRY_MAX_MS));
  return Math.round(ms * (1 + 0.1 * random()));
}

/** A sink URL's credentials (`http://user:pw@host/…`) as an `Authorization: Basic` header instead. */
export function splitSinkCredentials(url: URL): { url: URL; authorization: string | undefined } {
  return takeBasicCredentials(url, `audit sink ${redactUrl(url)}`);
}

/** A sink's URL as logs may show it: no credentials, no query string (either may hold a secret). */
export const sinkDescription = (url: URL): string => redactUrl(url);

/**
 * JSON lines POSTed in batches of up to 500, one request at a time. A batch that fails (no
 * answer, an error status) stays at the front of the queue and is tried again after a back-off
 * (1 s doubling to 60 s), so a receiver down for a while misses nothing. The queue is bounded
 * (MAX_QUEUE records and MAX_QUEUE_ACCESSES accesses, counting the batch in flight; a POST carries
 * at most HTTP_BATCH_ACCESSES): beyond it the oldest are dropped, counted
 * (`dropped`) and logged; serving never waits for a sink. At `close` what is queued gets one more
 * try; what that cannot deliver is logged as lost.
 */
export class HttpSink implements AuditSink {
  readonly description: string;
  private readonly target: URL;
  private readonly authorization: string | undefined;
  private readonly secrets: string[];
  private queue: ChainedRecord[] = [];
  /** Accesses each queued record stands for (see accessCount), and their sum. */
  private weights: number[] = [];
  private queuedAccesses = 0;
  private inFlight = 0;
  private inFlightAccesses = 0;
  private sending: Promise<void> | undefined;
  /** Failed POSTs in a row. */
  private failures = 0;
  /** Records dropped since the last log line that said so. */
  private droppedUnlogged = 0;
  /** Records dropped since start (metrics). */
  dropped = 0;
  private closing = false;
  private wake: (() => void) | undefined;

  constructor(
    url: URL,
    private readonly log: Logger,
    private readonly opts: HttpSinkOptions = {},
  ) {
    const { url: target, authorization } = splitSinkCredentials(url);
    this.target = target;
    this.authorization = authorization;
    this.description = sinkDescription(target);
    // Both spellings of each credential, for scrubbing error messages.
    this.secrets = [url.password, decodeUrlCredential(url.password, "password", this.description)].filter(
      (v) => v.length > 0,
    );
  }

  /** Records waiting (not counting a batch in flight). */
  get queued(): number {
    return this.queue.length;
  }

  send(records: ChainedRecord[]): void {
    if (this.closing) return;
    for (const r of records) {
      const w = weightOf(r);
      this.queue.push(r);
      this.weights.push(w);
      this.queuedAccesses += w;
    }
    this.trim();
    if (!this.sending) this.sending = this.drain().finally(() => (this.sending = undefined));
  }

  /**
   * Drops the oldest queued records beyond MAX_QUEUE records or MAX_QUEUE_ACCESSES accesses (the
   * batch in flight counts).
   */
  private trim(): void {
    let n = 0;
    let accesses = this.queuedAccesses + this.inFlightAccesses;
    while (
      n < this.queue.length &&
      (this.queue.length - n + this.inFlight > MAX_QUEUE || accesses > MAX_QUEUE_ACCESSES)
    ) {
      accesses -= this.weights[n]!;
      n++;
    }
    if (n === 0) return;
    this.take(n);
    this.dropped += n;
    this.droppedUnlogged += n;
  }

  /** Removes the first `n` queued records (with their weights). */
  private take(n: number): { batch: ChainedRecord[]; accesses: number } {
    const batch = this.queue.splice(0, n);
    let accesses = 0;
    for (const w of this.weights.splice(0, n)) accesses += w;
    this.queuedAccesses -= accesses;
    return { batch, accesses };
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      // Up to HTTP_BATCH records and HTTP_BATCH_ACCESSES accesses, at least one record.
      let n = 0;
      let weight = 0;
      while (
        n < this.queue.length &&
        n < HTTP_BATCH &&
        (n === 0 || weight + this.weights[n]! <= HTTP_BATCH_ACCESSES)
      )
        weight += this.weights[n++]!;
      const { batch, accesses } = this.take(n);
      this.inFlight = batch.length;
      this.inFlightAccesses = accesses;
      const error = await this.post(batch);
      this.inFlight = 0;
      this.inFlightAccesses = 0;
      if (error === undefined) {
        if (this.failures > 0) {
          this.log.info(
            { sink: this.description, failures: this.failures, queued: this.queue.length },
            "audit sink accepting again",
          );
        }
        this.failures = 0;
        this.reportDropped();
        continue;
      }
      // Kept, in front of anything newer, for the next try.
      this.queue.unshift(...batch);
      const weights = batch.map(weightOf);
      this.weights.unshift(...weights);
      for (const w of weights) this.queuedAccesses += w;
      this.trim();
      this.failures++;
      if (this.closing) {
        this.log.error(
          { sink: this.description, err: error, lost: this.queue.length },
          "audit sink unreachable at shutdown: records not delivered",
        );
        this.dropped += this.queue.length;
        this.take(this.queue.length);
        return;
      }
      const delay = sinkRetryDelayMs(this.failures, this.opts.retryBaseMs);
      this.log.warn(
        {
          sink: this.description,
          err: error,
          failures: this.failures,
          queued: this.queue.length,
          retryInMs: delay,
          ...(this.droppedUnlogged ? { dropped: this.droppedUnlogged } : {}),
        },
        "audit sink refused a batch; kept for a retry",
      );
      this.droppedUnlogged = 0;
      await this.pause(delay);
    }
  }

  private reportDropped(): void {
    if (this.droppedUnlogged === 0) return;
    this.log.error(
      { sink: this.description, dropped: this.droppedUnlogged, droppedTotal: this.dropped },
      `audit sink queue overflowed (more than ${MAX_QUEUE} records waiting): the oldest were dropped`,
    );
    this.droppedUnlogged = 0;
  }

  /** Waits `ms`, or less when the sink closes (its last try is then at once). */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      timer.unref();
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** POSTs one batch; undefined when it was taken, else why not (credentials scrubbed). */
  private async post(batch: ChainedRecord[]): Promise<string | undefined> {
    // A timer of our own rather than AbortSignal.timeout (see WebhookService.post).
    const abort = new AbortController();
    const deadline = setTimeout(
      () => abort.abort(new DOMException("timeout", "TimeoutError")),
      HTTP_TIMEOUT_MS,
    );
    try {
      const res = await fetch(this.target, {
        method: "POST",
        headers: {
          "content-type": "application/x-ndjson",
          ...(this.authorization ? { authorization: this.authorization } : {}),
        },
        body: batch.map((r) => JSON.stringify(recordJson(r))).join("\n") + "\n",
        signal: abort.signal,
      });
      await res.body?.cancel().catch(() => undefined);
      return res.ok ? undefined : `HTTP ${res.status}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why =
        e.name === "TimeoutError"
          ? `no answer within ${HTTP_TIMEOUT_MS} ms`
          : (e.cause?.code ?? e.cause?.message ?? e.message);
      return this.scrub(why);
    } finally {
      clearTimeout(deadline);
    }
  }

  private scrub(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.replaceAll(secret, "***");
    return out;
  }

  async close(): Promise<void> {
    this.closing = true;
    this.wake?.();
    await this.sending;
    this.reportDropped();
  }
}
