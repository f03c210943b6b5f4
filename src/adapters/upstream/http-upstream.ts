import { redactUrl, takeBasicCredentials } from "../../domain/url-secrets.js";
import type { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import { Agent, type Dispatcher } from "undici";
import type { DistFile, ProjectPage } from "../../domain/distribution.js";
import { isValidProjectName, normalizeProjectName } from "../../domain/project-name.js";
import { CircuitBreaker, type CircuitState } from "./circuit-breaker.js";
import { MemoryPageCache } from "./memory-page-cache.js";
import { parseHtmlProjectList, parseHtmlProjectPage } from "./simple-html.js";
import { parseJsonProjectList, parseJsonProjectPage, SIMPLE_JSON_V1 } from "./simple-json.js";
import { SimpleParseError } from "./simple-page.js";
import {
  UpstreamFileNotFoundError,
  UpstreamForbiddenUrlError,
  UpstreamUnavailableError,
  type CachedPage,
  type OpenedFile,
  type PageCache,
  type ProjectPageResult,
  type Upstream,
  type UpstreamLogger,
} from "./upstream.js";

/** PEP 691: JSON first, the versioned HTML next, plain HTML (PEP 503) last. */
export const SIMPLE_ACCEPT = `${SIMPLE_JSON_V1}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01`;

/** Where PyPI-like indexes serve their files from, when not told otherwise. */
const KNOWN_FILE_HOSTS: Readonly<Record<string, string[]>> = {
  "pypi.org": ["https://files.pythonhosted.org"],
  "test.pypi.org": ["https://test-files.pythonhosted.org"],
};

/** Indexes that serve PEP 740 provenance through PyPI's Integrity API. */
const INTEGRITY_API_HOSTS: ReadonlySet<string> = new Set(["pypi.org", "test.pypi.org"]);
/** A provenance object holds a few attestations of a few kB each. */
const MAX_PROVENANCE_BYTES = 4 * 1024 * 1024;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const NEGATIVE_CACHE_MAX = 10_000;

/** The pino-compatible subset the upstream logs through. */
/** At most one "serving stale project pages" warning this often (ms). */
const STALE_WARNING_EVERY_MS = 60_000;

export interface HttpUpstreamOptions {
  /**
   * The simple index root, e.g. `https://pypi.org/simple/`. `user:password@` in it becomes Basic
   * authentication, sent to that origin only.
   */
  baseUrl: string;
  /** Raw page cache; default a fresh {@link MemoryPageCache}. Keys are normalised names. */
  cache?: PageCache;
  /** Clock in ms since epoch (TTLs, circuit breaker). Default `Date.now`. */
  now?: () => number;
  /** A cached page younger than this is served without a request. Default 600 000 (10 min). */
  ttlMs?: number;
  /** How long a 404 is remembered in memory. Default 60 000. */
  negativeTtlMs?: number;
  /**
   * How long the upstream may keep us waiting before it counts as down; the default of the finer
   * time-outs below. Default 20 000.
   */
  timeoutMs?: number;
  /** TCP/TLS connect time-out. Default `min(timeoutMs, 10 000)`. */
  connectTimeoutMs?: number;
  /** Time to wait for response headers. Default `timeoutMs`. */
  headersTimeoutMs?: number;
  /** Longest silence while a body streams (pages and files). Default `timeoutMs`. */
  bodyTimeoutMs?: number;
  /** Whole-request limit for a project page, redirects included. Default `3 × timeoutMs`. */
  pageTimeoutMs?: number;
  /** Whole-request limit for the root listing. Default 300 000. */
  listTimeoutMs?: number;
  /** Limit for `probe()`. Default `min(timeoutMs, 5 000)`. */
  probeTimeoutMs?: number;
  /** Same-origin redirects followed for pages; allowed-origin redirects for files. Default 3. */
  maxRedirects?: number;
  /** Consecutive page failures that open the circuit. Default 5. */
  failureThreshold?: number;
  /** How long the open circuit fails fast. Default 30 000. */
  coolDownMs?: number;
  /**
   * Origins (`https://files.example:8443`) or bare hosts (meaning `https://host`) that file URLs
   * may point at, besides the upstream's own origin, which is always allowed. For pypi.org
   * `https://files.pythonhosted.org` (for test.pypi.org `https://test-files.pythonhosted.org`) is
   * always added.
   */
  allowedFileHosts?: string[];
  /** Decoded size limit of one project page. Default 128 MiB. */
  maxPageBytes?: number;
  /** Decoded size limit of the root listing. Default 512 MiB. */
  maxListBytes?: number;
  userAgent?: string;
  /** An undici dispatcher to use instead of the upstream's own keep-alive `Agent`. */
  dispatcher?: Dispatcher;
  logger?: UpstreamLogger;
}

interface Flight {
  promise: Promise<ProjectPageResult | null>;
  controller: AbortController;
  waiters: number;
}

type PageOutcome =
  | { kind: "page"; page: ProjectPage; etag?: string; lastModified?: string }
  | { kind: "not-modified"; etag?: string; lastModified?: string; lastSerial?: number }
  | { kind: "not-found" };

/**
 * An upstream PEP 691/503 index over HTTP(S): negotiated JSON-or-HTML pages, a TTL cache with
 * ETag/Last-Modified revalidation, stale copies when the upstream fails, single-flight requests
 * per project, a circuit breaker, and an SSRF guard on file URLs.
 *
 * @example
 * const upstream = new HttpUpstream({ baseUrl: "https://pypi.org/simple/" });
 * const result = await upstream.getProject("Requests");
 */
export class HttpUpstream implements Upstream {
  readonly description: string;
  readonly local = false;
  private readonly base: URL;
  private readonly authorization: string | undefined;
  private readonly allowedOrigins: ReadonlySet<string>;
  private readonly cache: PageCache;
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  private readonly headersTimeoutMs: number;
  private readonly bodyTimeoutMs: number;
  private readonly pageTimeoutMs: number;
  private readonly listTimeoutMs: number;
  private readonly probeTimeoutMs: number;
  private readonly maxRedirects: number;
  private readonly maxPageBytes: number;
  private readonly maxListBytes: number;
  private readonly userAgent: string;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly breaker: CircuitBreaker;
  private readonly logger: UpstreamLogger | undefined;
  /** Stale pages served since the last warning about them, and when that was. */
  private staleSince = 0;
  private staleWarnedAt = -Infinity;
  private readonly negative = new Map<string, number>();
  private readonly flights = new Map<string, Flight>();

  constructor(options: HttpUpstreamOptions) {
    const { base, authorization } = parseBaseUrl(options.baseUrl);
    this.base = base;
    this.authorization = authorization;
    this.description = base.href;
    this.allowedOrigins = new Set([
      base.origin,
      ...(KNOWN_FILE_HOSTS[base.hostname] ?? []),
      ...(options.allowedFileHosts ?? []).map(toOrigin),
    ]);
    this.cache = options.cache ?? new MemoryPageCache();
    this.now = options.now ?? Date.now;
    this.ttlMs = options.ttlMs ?? 600_000;
    this.negativeTtlMs = options.negativeTtlMs ?? 60_000;
    const timeoutMs = options.timeoutMs ?? 20_000;
    this.headersTimeoutMs = options.headersTimeoutMs ?? timeoutMs;
    this.bodyTimeoutMs = options.bodyTimeoutMs ?? timeoutMs;
    this.pageTimeoutMs = options.pageTimeoutMs ?? 3 * timeoutMs;
    this.listTimeoutMs = options.listTimeoutMs ?? 300_000;
    this.probeTimeoutMs = options.probeTimeoutMs ?? Math.min(timeoutMs, 5_000);
    this.maxRedirects = options.maxRedirects ?? 3;
    this.maxPageBytes = options.maxPageBytes ?? 128 * 1024 * 1024;
    this.maxListBytes = options.maxListBytes ?? 512 * 1024 * 1024;
    this.userAgent = options.userAgent ?? "portcullis";
    this.logger = options.logger;
    this.breaker = new CircuitBreaker({
      failureThreshold: options.failureThreshold ?? 5,
      coolDownMs: options.coolDownMs ?? 30_000,
      now: this.now,
    });
    this.ownsDispatcher = options.dispatcher === undefined;
    this.dispatcher =
      options.dispatcher ??
      new Agent({
        connect: { timeout: options.connectTimeoutMs ?? Math.min(timeoutMs, 10_000) },
        headersTimeout: this.headersTimeoutMs,
        bodyTimeout: this.bodyTimeoutMs,
        keepAliveTimeout: 30_000,
        connections: 16,
      });
  }

  /** The circuit breaker's state, for health reporting. */
  get circuitState(): CircuitState {
    return this.breaker.state;
  }

  async getProject(name: string, signal?: AbortSignal): Promise<ProjectPageResult | null> {
    signal?.throwIfAborted();
    // An invalid name cannot exist upstream, and must not reach a URL path.
    if (!isValidProjectName(name)) return null;
    const key = normalizeProjectName(name);
    const now = this.now();
    const negativeUntil = this.negative.get(key);
    if (negativeUntil !== undefined) {
      if (now < negativeUntil) return null;
      this.negative.delete(key);
    }
    const cached = await this.cache.get(key);
    if (cached && now - cached.fetchedAt < this.ttlMs) {
      return { page: cached.page, stale: false, fetchedAt: cached.fetchedAt };
    }
    return this.joinFlight(key, cached, signal);
  }

  peekFresh(normalized: string): ProjectPageResult | undefined {
    if (this.negative.has(normalized)) return undefined;
    const cached = this.cache.peek?.(normalized);
    if (!cached || this.now() - cached.fetchedAt >= this.ttlMs) return undefined;
    return { page: cached.page, stale: false, fetchedAt: cached.fetchedAt };
  }

  async listProjects(signal?: AbortSignal): Promise<string[]> {
    signal?.throwIfAborted();
    if (this.breaker.state === "open") throw this.circuitOpenError();
    const deadline = withTimeout(signal, this.listTimeoutMs);
    try {
      const { response, url } = await this.request(this.base, {
        method: "GET",
        headers: { accept: SIMPLE_ACCEPT, "accept-encoding": "gzip, deflate, br" },
        signal: deadline,
        check: (next) => this.checkSameOrigin(next),
      });
      if (response.statusCode !== 200 && response.statusCode !== 203) {
        await discard(response);
        throw new UpstreamUnavailableError(`root listing ${url.href} answered HTTP ${response.statusCode}`);
      }
      const body = await readBody(response, this.maxListBytes);
      return pageFormat(header(response, "content-type"), body) === "json"
        ? parseJsonProjectList(body)
        : parseHtmlProjectList(body);
    } catch (error) {
      signal?.throwIfAborted();
      throw toUnavailable(error, `root listing of ${this.description}`);
    }
  }

  async openFile(file: DistFile, signal?: AbortSignal): Promise<OpenedFile> {
    signal?.throwIfAborted();
    const url = this.checkFileUrl(file.url);
    let response: Dispatcher.ResponseData;
    let finalUrl: URL;
    try {
      ({ response, url: finalUrl } = await this.request(url, {
        method: "GET",
        headers: {},
        signal,
        check: (next) => this.checkFileUrl(next.href),
      }));
    } catch (error) {
      signal?.throwIfAborted();
      if (error instanceof UpstreamForbiddenUrlError) throw error;
      throw toUnavailable(error, `file ${file.filename}`);
    }
    const status = response.statusCode;
    if (status === 200 || status === 203) {
      const length = Number(header(response, "content-length"));
      const opened: OpenedFile = { stream: response.body };
      if (Number.isSafeInteger(length) && length >= 0) opened.size = length;
      return opened;
    }
    await discard(response);
    if (status === 404 || status === 410) {
      throw new UpstreamFileNotFoundError(
        `file ${file.filename} not found at ${finalUrl.origin} (HTTP ${status})`,
      );
    }
    throw new UpstreamUnavailableError(`file ${file.filename} at ${finalUrl.origin} answered HTTP ${status}`);
  }

  /**
   * PEP 740: fetches a file's provenance object (the PEP 691 `provenance` URL, or PyPI's Integrity
   * API `/integrity/<project>/<version>/<filename>/provenance` when the page names none). Only
   * URLs on the upstream's own origin are fetched (the SSRF rule for pages), redirects too.
   * Resolves `null` when the upstream has none (404), the parsed JSON otherwise; throws
   * `UpstreamUnavailableError` when it cannot answer and `UpstreamForbiddenUrlError` for a URL
   * elsewhere.
   */
  async fetchProvenance(
    file: Pick<DistFile, "filename" | "provenance">,
    release: { project: string; version: string },
    signal?: AbortSignal,
  ): Promise<unknown> {
    signal?.throwIfAborted();
    let target: URL;
    if (typeof file.provenance === "string") {
      try {
        target = new URL(file.provenance);
      } catch {
        throw new UpstreamForbiddenUrlError("provenance URL does not parse");
      }
    } else if (file.provenance === undefined && INTEGRITY_API_HOSTS.has(this.base.hostname)) {
      target = new URL(
        `/integrity/${encodeURIComponent(release.project)}/${encodeURIComponent(release.version)}/${encodeURIComponent(file.filename)}/provenance`,
        this.base,
      );
    } else {
      return null;
    }
    if (target.origin !== this.base.origin || target.username !== "" || target.password !== "")
      throw new UpstreamForbiddenUrlError(
        `provenance origin ${target.origin} is not the upstream's (${this.base.origin})`,
      );
    try {
      const { response, url } = await this.request(target, {
        method: "GET",
        headers: { accept: "application/vnd.pypi.integrity.v1+json, application/json;q=0.9" },
        signal: withTimeout(signal, this.pageTimeoutMs),
        check: (next) => this.checkSameOrigin(next),
      });
      const status = response.statusCode;
      if (status === 404 || status === 410) {
        await discard(response);
        return null;
      }
      if (status !== 200 && status !== 203) {
        await discard(response);
        throw new UpstreamUnavailableError(`provenance ${url.href} answered HTTP ${status}`);
      }
      const body = await readBody(response, MAX_PROVENANCE_BYTES);
      try {
        return JSON.parse(body) as unknown;
      } catch (error) {
        throw new UpstreamUnavailableError(`provenance ${url.href} is not JSON`, { cause: error });
      }
    } catch (error) {
      signal?.throwIfAborted();
      throw toUnavailable(error, `provenance of ${file.filename}`);
    }
  }

  async probe(signal?: AbortSignal): Promise<{ ok: boolean; detail: string }> {
    try {
      const { response } = await this.request(this.base, {
        method: "HEAD",
        headers: { accept: SIMPLE_ACCEPT },
        signal: withTimeout(signal, this.probeTimeoutMs),
        check: () => {},
        maxRedirects: 0,
        headersTimeoutMs: this.probeTimeoutMs,
      });
      await discard(response);
      const status = response.statusCode;
      // 405: a server that refuses HEAD still answered.
      const ok = (status >= 200 && status < 400) || status === 405;
      return { ok, detail: `${this.description} answered HTTP ${status}` };
    } catch (error) {
      return { ok: false, detail: `${this.description} unreachable: ${describeError(error)}` };
    }
  }

  async close(): Promise<void> {
    for (const flight of this.flights.values()) flight.controller.abort(new Error("upstream closed"));
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private joinFlight(key: string, cached: CachedPage | undefined, signal?: AbortSignal) {
    let flight = this.flights.get(key);
    if (!flight) {
      const controller = new AbortController();
      const promise = this.refresh(key, cached, controller.signal);
      const created: Flight = { promise, controller, waiters: 0 };
      flight = created;
      this.flights.set(key, created);
      // Once every waiter has left, nobody observes the outcome: it must not surface as unhandled.
      promise.then(
        () => this.endFlight(key, created),
        () => this.endFlight(key, created),
      );
    }
    return waitFor(flight, signal);
  }

  private endFlight(key: string, flight: Flight): void {
    if (this.flights.get(key) === flight) this.flights.delete(key);
  }

  private async refresh(
    key: string,
    cached: CachedPage | undefined,
    flightSignal: AbortSignal,
  ): Promise<ProjectPageResult | null> {
    const ticket = this.breaker.acquire();
    if (!ticket) return this.staleOr(key, cached, this.circuitOpenError());
    let outcome: PageOutcome;
    try {
      outcome = await this.fetchPage(key, cached, flightSignal);
    } catch (error) {
      if (flightSignal.aborted) {
        ticket.abandon();
        throw flightSignal.reason;
      }
      ticket.fail();
      return this.staleOr(key, cached, toUnavailable(error, `project page ${key} from ${this.description}`));
    }
    ticket.succeed();

    const fetchedAt = this.now();
    if (outcome.kind === "not-found") {
      this.rememberMissing(key, fetchedAt);
      return null;
    }
    this.negative.delete(key);
    let entry: CachedPage;
    if (outcome.kind === "page") {
      entry = { page: outcome.page, fetchedAt };
      if (outcome.etag !== undefined) entry.etag = outcome.etag;
      if (outcome.lastModified !== undefined) entry.lastModified = outcome.lastModified;
    } else {
      // fetchPage only reports 304 when a cached copy was offered for revalidation.
      const previous = cached as CachedPage;
      entry = { ...previous, fetchedAt };
      if (outcome.etag !== undefined) entry.etag = outcome.etag;
      if (outcome.lastModified !== undefined) entry.lastModified = outcome.lastModified;
      if (outcome.lastSerial !== undefined) entry.page = { ...previous.page, lastSerial: outcome.lastSerial };
    }
    await this.cache.put(key, entry);
    return { page: entry.page, stale: false, fetchedAt };
  }

  private staleOr(key: string, cached: CachedPage | undefined, error: UpstreamUnavailableError) {
    if (!cached) throw error;
    // Said at most once a minute: while the upstream is down every page request comes here.
    this.staleSince += 1;
    const now = this.now();
    if (now - this.staleWarnedAt >= STALE_WARNING_EVERY_MS) {
      this.logger?.warn(
        {
          upstream: this.description,
          project: key,
          fetchedAt: cached.fetchedAt,
          err: error.message,
          stalePages: this.staleSince,
        },
        "serving stale project pages: the upstream does not answer (stalePages: served since the last such warning)",
      );
      this.staleWarnedAt = now;
      this.staleSince = 0;
    }
    return { page: cached.page, stale: true, fetchedAt: cached.fetchedAt };
  }

  private async fetchPage(
    key: string,
    cached: CachedPage | undefined,
    flightSignal: AbortSignal,
  ): Promise<PageOutcome> {
    const headers: Record<string, string> = { accept: SIMPLE_ACCEPT, "accept-encoding": "gzip, deflate, br" };
    if (cached?.etag !== undefined) headers["if-none-match"] = cached.etag;
    if (cached?.lastModified !== undefined) headers["if-modified-since"] = cached.lastModified;
    const { response, url } = await this.request(new URL(`${encodeURIComponent(key)}/`, this.base), {
      method: "GET",
      headers,
      signal: withTimeout(flightSignal, this.pageTimeoutMs),
      check: (next) => this.checkSameOrigin(next),
    });
    const status = response.statusCode;
    if (status === 404 || status === 410) {
      await discard(response);
      return { kind: "not-found" };
    }
    if (status === 304 && cached) {
      await discard(response);
      return {
        kind: "not-modified",
        etag: header(response, "etag"),
        lastModified: header(response, "last-modified"),
        lastSerial: lastSerialOf(response),
      };
    }
    if (status !== 200 && status !== 203) {
      await discard(response);
      const retryAfter = header(response, "retry-after");
      throw new UpstreamUnavailableError(
        `${url.href} answered HTTP ${status}${retryAfter === undefined ? "" : ` (retry after ${retryAfter})`}`,
      );
    }
    const body = await readBody(response, this.maxPageBytes);
    const parsed =
      pageFormat(header(response, "content-type"), body) === "json"
        ? parseJsonProjectPage(body, url.href)
        : parseHtmlProjectPage(body, { pageUrl: url.href, name: key });
    const page = parsed.page;
    const serial = lastSerialOf(response);
    if (serial !== undefined) page.lastSerial = serial;
    return {
      kind: "page",
      page,
      etag: header(response, "etag"),
      lastModified: header(response, "last-modified"),
    };
  }

  /** One request, following redirects that `check` accepts (it throws to refuse one). */
  private async request(
    start: URL,
    options: {
      method: "GET" | "HEAD";
      headers: Record<string, string>;
      signal: AbortSignal | undefined;
      check: (next: URL) => void;
      maxRedirects?: number;
      headersTimeoutMs?: number;
    },
  ): Promise<{ response: Dispatcher.ResponseData; url: URL }> {
    const maxRedirects = options.maxRedirects ?? this.maxRedirects;
    let url = start;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { "user-agent": this.userAgent, ...options.headers };
      // Credentials from the base URL go to the base origin only, never to a file host.
      if (this.authorization !== undefined && url.origin === this.base.origin) {
        headers.authorization = this.authorization;
      }
      // undici's own headers time-out ticks in half-second steps; this timer holds the
      // configured limit exactly, and is cleared once the headers are in.
      const headersTimeoutMs = options.headersTimeoutMs ?? this.headersTimeoutMs;
      const waiting = new AbortController();
      const timer = setTimeout(
        () =>
          waiting.abort(
            new DOMException(`no response headers within ${headersTimeoutMs} ms`, "TimeoutError"),
          ),
        headersTimeoutMs,
      );
      let response: Dispatcher.ResponseData;
      try {
        response = await this.dispatcher.request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: options.method,
          headers,
          signal: options.signal ? AbortSignal.any([options.signal, waiting.signal]) : waiting.signal,
          headersTimeout: headersTimeoutMs,
          bodyTimeout: this.bodyTimeoutMs,
        });
      } finally {
        clearTimeout(timer);
      }
      const location = header(response, "location");
      if (!REDIRECTS.has(response.statusCode) || location === undefined || maxRedirects === 0) {
        return { response, url };
      }
      await discard(response);
      if (hop >= maxRedirects)
        throw new UpstreamUnavailableError(`more than ${maxRedirects} redirects from ${start.href}`);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch (error) {
        throw new UpstreamUnavailableError(`unparseable redirect from ${url.href}`, { cause: error });
      }
      options.check(next);
      url = next;
    }
  }

  private checkSameOrigin(next: URL): void {
    if (next.origin !== this.base.origin || next.username !== "" || next.password !== "") {
      throw new UpstreamUnavailableError(`refused redirect from ${this.base.origin} to ${next.origin}`);
    }
  }

  /** The SSRF guard: only http(s) URLs on the upstream's own or an allowed origin. */
  private checkFileUrl(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new UpstreamForbiddenUrlError("file URL does not parse");
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new UpstreamForbiddenUrlError(`file URL scheme ${url.protocol} refused for ${this.description}`);
    }
    if (url.username !== "" || url.password !== "") {
      throw new UpstreamForbiddenUrlError(`file URL with credentials refused for ${this.description}`);
    }
    if (!this.allowedOrigins.has(url.origin)) {
      throw new UpstreamForbiddenUrlError(`file origin ${url.origin} is not allowed for ${this.description}`);
    }
    return url;
  }

  private rememberMissing(key: string, now: number): void {
    this.negative.delete(key);
    this.negative.set(key, now + this.negativeTtlMs);
    if (this.negative.size > NEGATIVE_CACHE_MAX) {
      const oldest = this.negative.keys().next();
      if (!oldest.done) this.negative.delete(oldest.value);
    }
  }

  private circuitOpenError(): UpstreamUnavailableError {
    const retryAt = this.breaker.retryAt;
    const when = retryAt === undefined ? "" : ` until ${new Date(retryAt).toISOString()}`;
    return new UpstreamUnavailableError(`circuit open for ${this.description}${when}`);
  }
}

function parseBaseUrl(raw: string): { base: URL; authorization: string | undefined } {
  const given = new URL(raw);
  if (given.protocol !== "https:" && given.protocol !== "http:") {
    throw new TypeError(`upstream URL must be http(s), got ${given.protocol}`);
  }
  const { url: base, authorization } = takeBasicCredentials(given, `upstream ${redactUrl(given)}`);
  base.hash = "";
  base.search = "";
  if (!base.pathname.endsWith("/")) base.pathname += "/";
  return { base, authorization };
}

function toOrigin(entry: string): string {
  const url = new URL(entry.includes("://") ? entry : `https://${entry}`);
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new TypeError(`allowed file host must be http(s), got ${entry}`);
  }
  return url.origin;
}

/** Waits on a shared flight; a waiter that aborts leaves, and the last one out cancels it. */
function waitFor(flight: Flight, signal: AbortSignal | undefined): Promise<ProjectPageResult | null> {
  flight.waiters++;
  if (!signal) return flight.promise;
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      flight.waiters--;
      if (flight.waiters === 0) flight.controller.abort(signal.reason);
      reject(signal.reason);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    flight.promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function withTimeout(signal: AbortSignal | undefined, ms: number): AbortSignal {
  const timeout = AbortSignal.timeout(ms);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

function header(response: Dispatcher.ResponseData, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function lastSerialOf(response: Dispatcher.ResponseData): number | undefined {
  const value = header(response, "x-pypi-last-serial")?.trim();
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  const serial = Number(value);
  return Number.isSafeInteger(serial) ? serial : undefined;
}

async function discard(response: Dispatcher.ResponseData): Promise<void> {
  try {
    await response.body.dump();
  } catch {
    // A body we throw away may fail as it likes.
  }
}

/** Reads a (possibly compressed) body as UTF-8 text, refusing more than `limit` decoded bytes. */
async function readBody(response: Dispatcher.ResponseData, limit: number): Promise<string> {
  const encoding = (header(response, "content-encoding") ?? "identity").trim().toLowerCase();
  let decoder: Transform | undefined;
  if (encoding === "gzip" || encoding === "x-gzip") decoder = createGunzip();
  else if (encoding === "deflate") decoder = createInflate();
  else if (encoding === "br") decoder = createBrotliDecompress();
  else if (encoding !== "identity" && encoding !== "") {
    await discard(response);
    throw new SimpleParseError(`unsupported content-encoding ${encoding}`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  const collect = async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      total += chunk.length;
      if (total > limit) throw new SimpleParseError(`page larger than ${limit} bytes`);
      chunks.push(chunk);
    }
  };
  const body: Readable = response.body;
  if (decoder) await pipeline(body, decoder, collect);
  else await pipeline(body, collect);
  return new TextDecoder("utf-8").decode(Buffer.concat(chunks, total));
}

/** Which parser a body needs: by Content-Type, sniffing only when the type says nothing. */
function pageFormat(contentType: string | undefined, body: string): "json" | "html" {
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  const simple = /^application\/vnd\.pypi\.simple\.(v\d+|latest)\+(json|html)$/.exec(type);
  if (simple) {
    // PEP 691: a major version we do not know is not ours to read.
    if (simple[1] !== "v1" && simple[1] !== "latest")
      throw new SimpleParseError(`unsupported media type ${type}`);
    return simple[2] === "json" ? "json" : "html";
  }
  if (type === "application/json") return "json";
  if (type === "text/html" || type === "application/xhtml+xml") return "html";
  return /^\s*[{[]/.test(body) ? "json" : "html";
}

function toUnavailable(error: unknown, what: string): UpstreamUnavailableError {
  if (error instanceof UpstreamUnavailableError) return error;
  return new UpstreamUnavailableError(`${what}: ${describeError(error)}`, { cause: error });
}

function describeError(error: unknown): string {
  if (error instanceof DOMException && error.name === "TimeoutError") return `timed out (${error.message})`;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
