import type { Readable } from "node:stream";
import type { DistFile, ProjectPage } from "../../domain/distribution.js";

/**
 * The port every upstream implements: a remote PEP 691/503 index, a local directory of
 * distribution files, or a `file://` simple tree.
 */
export interface Upstream {
  /** A human description for logs and the landing page (URL or directory). */
  readonly description: string;
  /**
   * Whether the upstream computes hashes itself from bytes it holds (a local directory): then
   * a missing declared hash is not a reason to refuse a file.
   */
  readonly local: boolean;
  /**
   * Fetch one project's page. Resolves `null` when the upstream says the project does not exist
   * (404). Throws `UpstreamUnavailableError` on 429/5xx, time-outs, network errors, an open
   * circuit and unparseable bodies (when no stale copy can be served).
   */
  getProject(name: string, signal?: AbortSignal): Promise<ProjectPageResult | null>;
  /**
   * What `getProject` would answer now for a normalised name, when it can tell without any I/O
   * (a fresh page in memory); undefined otherwise. Lets the warm-page fast lane answer without a
   * promise; an upstream without it is always asked through `getProject`.
   */
  peekFresh?(normalized: string): ProjectPageResult | undefined;
  /** Project names the upstream lists at its root, where it can (local directories can). */
  listProjects?(signal?: AbortSignal): Promise<string[]>;
  /**
   * Open a file's bytes. Must refuse URLs that are not on the upstream (SSRF guard) with
   * `UpstreamForbiddenUrlError`. The caller verifies the hash.
   */
  openFile(file: DistFile, signal?: AbortSignal): Promise<OpenedFile>;
  /** Check the upstream answers at all (used at start-up to warn an offline site). */
  probe(signal?: AbortSignal): Promise<{ ok: boolean; detail: string }>;
  close?(): Promise<void>;
}

export interface ProjectPageResult {
  page: ProjectPage;
  /** True when the upstream was unreachable and this is the last good copy. */
  stale: boolean;
  /** When the page was fetched from the upstream (ms since epoch). */
  fetchedAt: number;
}

export interface OpenedFile {
  stream: Readable;
  /** Content-Length the upstream announced, if any (not trusted: the hash decides). */
  size?: number;
}

/** The upstream cannot answer now (429, 5xx, time-out, network error, open circuit, garbage). */
export class UpstreamUnavailableError extends Error {
  readonly code = "UPSTREAM_UNAVAILABLE";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UpstreamUnavailableError";
  }
}

/** A file URL points outside the configured upstream (SSRF guard) or is otherwise refused. */
export class UpstreamForbiddenUrlError extends Error {
  readonly code = "UPSTREAM_FORBIDDEN_URL";
  constructor(message: string) {
    super(message);
    this.name = "UpstreamForbiddenUrlError";
  }
}

/** The upstream answered that a listed file does not exist (404/410, or a local file gone). */
export class UpstreamFileNotFoundError extends Error {
  readonly code = "UPSTREAM_FILE_NOT_FOUND";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UpstreamFileNotFoundError";
  }
}

/** Where the raw upstream pages are kept between requests (the raw cache, apart from the curated view). */
export interface PageCache {
  get(name: string): Promise<CachedPage | undefined>;
  put(name: string, entry: CachedPage): Promise<void>;
  /** The entry `get` would return, when it is in memory (no I/O); undefined otherwise. */
  peek?(name: string): CachedPage | undefined;
}

export interface CachedPage {
  page: ProjectPage;
  fetchedAt: number;
  etag?: string;
  lastModified?: string;
}

/** Where an upstream says what an operator should know (an outage, files it leaves out). */
export interface UpstreamLogger {
  warn(meta: object, message: string): void;
}
