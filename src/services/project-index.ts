import { createHash } from "node:crypto";
import type { DistFile, ProjectPage, ProjectStatus } from "../domain/distribution.js";
import { normalizeProjectName } from "../domain/project-name.js";
import { sortVersions } from "../domain/version.js";
import { parseDistFilename } from "../domain/wheel-filename.js";
import type { CatalogRepository, RecordedFile } from "../adapters/db/catalog-repository.js";
import { UpstreamUnavailableError, type Upstream } from "../adapters/upstream/upstream.js";
import type { Outcome } from "../policy/decision.js";
import { GatewayError } from "./gateway-error.js";

/** One file as the gateway serves it: pinned by sha256 and fetched through `/files/`. */
export interface ServedFile {
  filename: string;
  sha256: string;
  version: string;
  requiresPython?: string;
  yanked: boolean | string;
  size?: number;
  uploadTime?: string;
  /** PEP 658/714: `false`, `true`, or the metadata file's sha256. */
  coreMetadata: false | true | { sha256: string };
  /** The upstream's own PEP 592 marker (the served `yanked` may carry a refusal instead). */
  upstreamYanked?: boolean | string;
  /** The policy outcome, once curated: `pending` until the bytes are judged. */
  outcome?: Outcome;
}

/** A project page as the gateway serves it (the curated view). */
export interface ProjectView {
  name: string;
  normalized: string;
  files: ServedFile[];
  versions: string[];
  lastSerial: number;
  /** True when the upstream could not be reached and the last good copy is served. */
  stale: boolean;
  fetchedAt: number;
  status?: { status: ProjectStatus; reason?: string };
  /** Files the upstream listed without a sha256, left out (a remote upstream must pin bytes). */
  unhashed: number;
  /** Bumped whenever the view object is rebuilt; renderers memoise on it. */
  readonly version: number;
  /** Curated views: every listed file is refused, so the project answers 403 with this reason. */
  refusedReason?: string;
}

/**
 * The policy layer over a raw view: decides per file what to list. Refused files stay listed as
 * PEP 592 yanked with the refusal as the reason: pip skips them unless a requirement pins them
 * exactly, and then prints the reason, while the download itself answers 403.
 */
export interface ViewCurator {
  /** Changes whenever a judgement may change (intel, policy, exceptions). */
  readonly generation: number;
  curate(view: ProjectView): Promise<{ view: ProjectView; validUntil: number }>;
}

/** What the gateway verified itself about a stored file: its true size and METADATA digest. */
export interface StoredFacts {
  size?: number;
  /** sha256 of the METADATA extracted from the stored wheel (PEP 658). */
  metadataSha256?: string;
}

const SHA256_RE = /^[0-9a-f]{64}$/;
let viewCounter = 0;
/** Default cap on the files held in memoised views (see `maxMemoFiles`). */
const DEFAULT_MAX_MEMO_FILES = 50_000;

/**
 * Serves project pages: asks the upstream (which answers warm pages from its cache), turns the
 * raw page into the curated view once per distinct page, and records new pages and files.
 */
export class ProjectIndexService {
  /** Per project: the last raw page seen, its digest and the view built from it. */
  // The page is held weakly: the upstream's cache decides how long raw pages live in memory, and
  // the identity check works for as long as it keeps them.
  private readonly memo = new Map<
    string,
    { page: WeakRef<ProjectPage>; digest: string; view: ProjectView; used?: boolean }
  >();
  /** Files listed by the views in `memo`: the memo is bounded by this, not by projects alone. */
  private memoFiles = 0;
  private readonly building = new Map<string, Promise<ProjectView>>();
  /** Per project: the curated view, for which raw view and curator generation, until when. */
  private readonly curated = new Map<
    string,
    { base: ProjectView; generation: number; validUntil: number; view: ProjectView }
  >();

  constructor(
    private readonly deps: {
      upstream: Upstream;
      repo: CatalogRepository;
      now: () => number;
      curator?: ViewCurator;
      /** Told about each new raw page (background pre-vetting of new releases). */
      onNewPage?: (view: ProjectView) => void;
      /**
       * What the gateway verified about the files it already stored (by sha256): served instead
       * of what the upstream declares, so a page never advertises a size or a metadata digest
       * other than the bytes the gateway serves.
       */
      storedFacts?: (sha256s: string[]) => Promise<Map<string, StoredFacts>>;
      /** How many projects' views to keep in memory. */
      maxMemo?: number;
      /**
       * How many files the memoised views may list in all (default 50,000). Views cost ~0.5 KiB
       * per file (two file objects, raw and curated, and their strings); a project's size varies
       * by four orders of magnitude, so a count of projects alone does not bound memory. A view
       * that falls out is rebuilt from the raw page on its next request (the catalog write is
       * skipped when the page's digest is unchanged).
       */
      maxMemoFiles?: number;
    },
  ) {}

  /**
   * The curated view of a project, by normalised name; `null` when the upstream does not have it.
   * A warm page costs a cache lookup and an identity check: views are rebuilt (and the database
   * written) only when the raw page changes.
   * @throws GatewayError UPSTREAM_UNAVAILABLE when the upstream is down and nothing is cached.
   */
  async getProject(normalized: string, signal?: AbortSignal): Promise<ProjectView | null> {
    const raw = await this.getRawProject(normalized, signal);
    return raw && this.curate(normalized, raw);
  }

  /**
   * The raw (uncurated) view: every hashed file the upstream lists. Returned directly rather than
   * looked up in the memo afterwards, which other requests may have evicted it from meanwhile.
   */
  async getRawProject(normalized: string, signal?: AbortSignal): Promise<ProjectView | null> {
    let result;
    try {
      result = await this.deps.upstream.getProject(normalized, signal);
    } catch (err) {
      if (err instanceof UpstreamUnavailableError) {
        throw new GatewayError("UPSTREAM_UNAVAILABLE", `upstream unavailable: ${err.message}`, {
          cause: err,
        });
      }
      throw err;
    }
    if (!result) return null;
    const memo = this.memo.get(normalized);
    let view: ProjectView | undefined;
    if (memo && memo.page.deref() === result.page) {
      view = memo.view;
      // CLOCK-style recency: one flag write on the warm path instead of reordering the map.
      memo.used = true;
    } else {
      // Sources that hand out a fresh object per call are compared by content.
      const digest = pageDigest(result.page);
      if (memo && memo.digest === digest) {
        view = memo.view;
        memo.used = true;
        memo.page = new WeakRef(result.page);
      } else {
        let pending = this.building.get(normalized);
        if (!pending) {
          pending = this.buildView(normalized, result.page, digest).finally(() =>
            this.building.delete(normalized),
          );
          this.building.set(normalized, pending);
        }
        view = await pending;
        this.remember(normalized, { page: new WeakRef(result.page), digest, view });
        this.deps.onNewPage?.(view);
      }
    }
    if (view.stale !== result.stale) {
      view = { ...view, stale: result.stale, fetchedAt: result.fetchedAt, version: ++viewCounter };
      const m = this.memo.get(normalized);
      if (m) m.view = view;
    }
    return view;
  }

  /**
   * The curated view `getProject` would answer now, when that is known without I/O or a promise:
   * the upstream holds a fresh page in memory (`Upstream.peekFresh`), it is the page the memoised
   * view was built from, and the curated view is still valid (same raw view, same curator
   * generation, not past its validity). Undefined otherwise: the caller takes the full path.
   */
  peekProject(normalized: string): ProjectView | undefined {
    const raw = this.deps.upstream.peekFresh?.(normalized);
    if (!raw) return undefined;
    const memo = this.memo.get(normalized);
    if (!memo || memo.page.deref() !== raw.page || memo.view.stale !== raw.stale) return undefined;
    memo.used = true;
    return this.deps.curator ? this.validCurated(normalized, memo.view) : memo.view;
  }

  /** The kept curated view of `base`, while the curator's generation and its validity hold. */
  private validCurated(normalized: string, base: ProjectView): ProjectView | undefined {
    const hit = this.curated.get(normalized);
    if (
      hit &&
      hit.base === base &&
      hit.generation === this.deps.curator?.generation &&
      this.deps.now() < hit.validUntil
    ) {
      return hit.view;
    }
    return undefined;
  }

  /**
   * Records what the gateway verified about a file it just stored (its size) or whose METADATA it
   * extracted (the digest): the memoised view serves these from now on (see `withStoredFacts`).
   */
  noteStored(normalized: string, sha256: string, facts: StoredFacts): void {
    const memo = this.memo.get(normalized);
    if (!memo) return;
    // Called on every judged download: the common case (already served as stored) allocates nothing.
    if (!memo.view.files.some((f) => f.sha256 === sha256 && withStoredFacts(f, facts) !== f)) return;
    const files = memo.view.files.map((f) => (f.sha256 === sha256 ? withStoredFacts(f, facts) : f));
    memo.view = { ...memo.view, files, version: ++viewCounter };
    this.curated.delete(normalized);
  }

  /** Forgets a project's curated view, e.g. after its file was judged on its bytes. */
  invalidate(normalized: string): void {
    this.curated.delete(normalized);
  }

  private async curate(normalized: string, base: ProjectView): Promise<ProjectView> {
    const curator = this.deps.curator;
    if (!curator) return base;
    const kept = this.validCurated(normalized, base);
    if (kept) return kept;
    const generation = curator.generation;
    const { view, validUntil } = await curator.curate(base);
    const curated = { ...view, version: ++viewCounter };
    this.curated.delete(normalized);
    // Only views whose raw view is memoised are worth keeping: a rebuilt raw view misses anyway.
    if (this.memo.get(normalized)?.view === base)
      this.curated.set(normalized, { base, generation, validUntil, view: curated });
    return curated;
  }

  private remember(
    name: string,
    entry: { page: WeakRef<ProjectPage>; digest: string; view: ProjectView; used?: boolean },
  ): void {
    const previous = this.memo.get(name);
    if (previous) {
      this.memo.delete(name);
      this.memoFiles -= previous.view.files.length;
    }
    this.memo.set(name, entry);
    this.memoFiles += entry.view.files.length;
    const maxProjects = this.deps.maxMemo ?? 5_000;
    const maxFiles = this.deps.maxMemoFiles ?? DEFAULT_MAX_MEMO_FILES;
    // Oldest first, but a view served since it was last passed over gets a second chance (the
    // CLOCK approximation of LRU); the view just built always stays, however large. Terminates:
    // each pass clears the flags, and the loop stops at one entry.
    while (this.memo.size > 1 && (this.memo.size > maxProjects || this.memoFiles > maxFiles)) {
      const [oldest, evicted] = this.memo.entries().next().value!;
      this.memo.delete(oldest);
      if (evicted.used || oldest === name) {
        evicted.used = false;
        this.memo.set(oldest, evicted);
        continue;
      }
      this.curated.delete(oldest);
      this.memoFiles -= evicted.view.files.length;
    }
  }

  private async buildView(normalized: string, page: ProjectPage, digest: string): Promise<ProjectView> {
    const files: ServedFile[] = [];
    const recorded: RecordedFile[] = [];
    let unhashed = 0;
    const stored =
      (await this.deps.storedFacts?.(
        page.files.map((f) => f.hashes.sha256?.toLowerCase() ?? "").filter((h) => SHA256_RE.test(h)),
      )) ?? new Map<string, StoredFacts>();
    // PEP 503 lets one page list the same bytes under two names; the gateway serves a digest under
    // one version of one project, so a second name is listed only when it names that same release
    // (file-access.ts serves each name the raw view lists).
    const versionOfDigest = new Map<string, string>();
    for (const f of page.files) {
      const sha256 = f.hashes.sha256?.toLowerCase();
      if (!sha256 || !SHA256_RE.test(sha256)) {
        unhashed++;
        continue;
      }
      const parsed = parseDistFilename(f.filename);
      // A file whose name does not belong to this project is never served under it.
      if (parsed && normalizeProjectName(parsed.project) !== normalized) continue;
      const version = parsed?.version ?? "";
      const firstVersion = versionOfDigest.get(sha256);
      if (firstVersion !== undefined && firstVersion !== version) continue;
      versionOfDigest.set(sha256, version);
      const served = toServedFile(f, sha256, version, parsed?.kind === "wheel");
      const facts = stored.get(sha256);
      files.push(facts ? withStoredFacts(served, facts) : served);
      // One row per digest: PostgreSQL refuses an upsert that touches a row twice.
      if (firstVersion !== undefined) continue;
      recorded.push({
        sha256,
        filename: f.filename,
        version,
        url: f.url,
        ...(f.size !== undefined ? { size: f.size } : {}),
        ...(f.uploadTime !== undefined ? { uploadTime: f.uploadTime } : {}),
      });
    }
    const lastSerial = await this.deps.repo.recordPage(
      normalized,
      page.name || normalized,
      digest,
      recorded,
      this.deps.now(),
    );
    const versions = sortVersions([...new Set(page.versions ?? files.map((f) => f.version).filter(Boolean))]);
    return {
      name: page.name || normalized,
      normalized,
      files,
      versions,
      lastSerial,
      stale: false,
      fetchedAt: this.deps.now(),
      ...(page.status ? { status: page.status } : {}),
      unhashed,
      version: ++viewCounter,
    };
  }
}

/**
 * A served file with what the gateway verified itself: the stored size replaces the declared one
 * (the download refuses bytes whose size differs from a declared one, so the two differ only when
 * the upstream changed its claim), and a wheel's core-metadata digest is the gateway's own once it
 * extracted METADATA (the metadata route refused the extraction if the upstream's digest differed).
 * Returns `f` itself when nothing changes.
 */
function withStoredFacts(f: ServedFile, facts: StoredFacts): ServedFile {
  const size = facts.size !== undefined && facts.size !== f.size ? facts.size : undefined;
  const meta =
    facts.metadataSha256 !== undefined &&
    f.coreMetadata !== false &&
    (f.coreMetadata === true || f.coreMetadata.sha256 !== facts.metadataSha256)
      ? { sha256: facts.metadataSha256 }
      : undefined;
  if (size === undefined && meta === undefined) return f;
  return Object.assign({}, f, {
    ...(size !== undefined ? { size } : {}),
    ...(meta ? { coreMetadata: meta } : {}),
  });
}

function pageDigest(page: ProjectPage): string {
  return createHash("sha256").update(JSON.stringify(page)).digest("hex");
}

function toServedFile(f: DistFile, sha256: string, version: string, isWheel: boolean): ServedFile {
  // PEP 658: the gateway extracts METADATA from every wheel itself, so it can always offer it;
  // where the upstream declared the metadata's digest, that digest is what we promise.
  const metaSha = typeof f.coreMetadata === "object" ? f.coreMetadata.sha256?.toLowerCase() : undefined;
  const coreMetadata: ServedFile["coreMetadata"] = !isWheel
    ? false
    : metaSha && SHA256_RE.test(metaSha)
      ? { sha256: metaSha }
      : true;
  return {
    filename: f.filename,
    sha256: flatCopy(sha256),
    version: intern(version),
    ...(f.requiresPython ? { requiresPython: intern(f.requiresPython) } : {}),
    yanked: f.yanked,
    upstreamYanked: f.yanked,
    ...(typeof f.size === "number" ? { size: f.size } : {}),
    ...(f.uploadTime ? { uploadTime: f.uploadTime } : {}),
    coreMetadata,
  };
}

/**
 * A sequential copy of a string. V8 keeps substrings as views of their parent: a sha256 cut from
 * an href's `#sha256=` fragment pins the whole ~200-byte URL for as long as the view lives.
 */
function flatCopy(s: string): string {
  return Buffer.from(s, "latin1").toString("latin1");
}

/**
 * Strings repeated across files and projects (versions such as `1.0.0`, `requires-python` such as
 * `>=3.8`) are held once. Bounded: the table is dropped when full, which only costs sharing.
 */
const internTable = new Map<string, string>();
const INTERN_MAX = 20_000;

function intern(s: string): string {
  const hit = internTable.get(s);
  if (hit !== undefined) return hit;
  if (internTable.size >= INTERN_MAX) internTable.clear();
  const own = Buffer.from(s, "utf8").toString("utf8");
  internTable.set(own, own);
  return own;
}
