import { createSocket, type Socket } from "node:dgram";
import { lookup } from "node:dns";
import { isIP } from "node:net";
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { ChainedRecord } from "./audit-chain.js";
import type { AuditSink } from "./audit-trail.js";

/** Records waiting for a sink; beyond this the oldest are dropped (and counted): serving never waits. */
const MAX_QUEUE = 10_000;

/** Builds the sinks named in `audit.sinks`; an unknown scheme fails start-up (a SIEM silently fed nothing is worse). */
export async function createAuditSinks(urls: string[], log: Logger): Promise<AuditSink[]> {
  return Promise.all(
    urls.map(async (raw) => {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new Error(`audit sink ${JSON.stringify(raw)} is not a URL (syslog://host:port or https://…)`);
      }
      if (url.protocol === "syslog:" || url.protocol === "udp:") return new SyslogSink(url, log);
      if (url.protocol === "http:" || url.protocol === "https:") return new HttpSink(url, log);
      throw new Error(`audit sink ${url.protocol}// is not supported (syslog://host:port or http(s)://)`);
    }),
  );
}

/** One JSON object per record, as exported and sent to sinks. */
export function recordJson(r: ChainedRecord): Record<string, unknown> {
  return {
    seq: r.seq,
    time: new Date(r.at).toISOString(),
    action: r.action,
    identity: r.identity,
    role: r.role,
    team: r.team,
    tokenId: r.token_id,
    ip: r.ip,
    application: r.application,
    client: r.client_json ? (JSON.parse(r.client_json) as unknown) : null,
    project: r.project,
    version: r.version,
    filename: r.filename,
    sha256: r.sha256,
    outcome: r.outcome,
    status: r.status,
    detail: r.detail_json ? (JSON.parse(r.detail_json) as unknown) : null,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
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
  private dropped = 0;

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
      const line = `<${pri}>1 ${new Date(r.at).toISOString()} ${this.me} portcullis - ${r.action.slice(0, 32)} - ${JSON.stringify(recordJson(r))}`;
      const address = this.addressNow();
      if (address) this.socket.send(line, this.port, address);
      else if (this.waiting.length < MAX_WAITING) this.waiting.push(line);
      else this.dropped++;
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
          this.waiting = [];
          this.log.warn(
            { sink: this.description, err: err.message, dropped: this.dropped },
            "audit sink lookup failed",
          );
          this.dropped = 0;
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

/** JSON lines POSTed in batches; a bounded queue, one request at a time, dropped records counted. */
export class HttpSink implements AuditSink {
  readonly description: string;
  private queue: ChainedRecord[] = [];
  private sending: Promise<void> | undefined;
  private dropped = 0;

  constructor(
    private readonly url: URL,
    private readonly log: Logger,
  ) {
    this.description = `${url.origin}${url.pathname}`;
  }

  send(records: ChainedRecord[]): void {
    this.queue.push(...records);
    if (this.queue.length > MAX_QUEUE) {
      this.dropped += this.queue.length - MAX_QUEUE;
      this.queue.splice(0, this.queue.length - MAX_QUEUE);
    }
    this.sending ??= this.drain().finally(() => (this.sending = undefined));
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0, 500);
      try {
        const res = await fetch(this.url, {
          method: "POST",
          headers: { "content-type": "application/x-ndjson" },
          body: batch.map((r) => JSON.stringify(recordJson(r))).join("\n") + "\n",
          signal: AbortSignal.timeout(10_000),
        });
        await res.body?.cancel();
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
      } catch (err) {
        this.dropped += batch.length;
        this.log.warn(
          { sink: this.description, err: (err as Error).message, dropped: this.dropped },
          "audit sink refused a batch",
        );
        return;
      }
    }
  }

  async close(): Promise<void> {
    await this.sending;
  }
}
