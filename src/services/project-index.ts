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

const SHA256_RE = /^[0-9a-f]{64}$/;
let viewCounter = 0;

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
    { page: WeakRef<ProjectPage>; digest: string; view: ProjectView }
  >();
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
      /** How many projects' views to keep in memory. */
      maxMemo?: number;
    },
  ) {}

  /**
   * The curated view of a project, by normalised name; `null` when the upstream does not have it.
   * A warm page costs a cache lookup and an identity check: views are rebuilt (and the database
   * written) only when the raw page changes.
   * @throws GatewayError UPSTREAM_UNAVAILABLE when the upstream is down and nothing is cached.
   */
  async getProject(normalized: string, signal?: AbortSignal): Promise<ProjectView | null> {
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
    } else {
      // Sources that hand out a fresh object per call are compared by content.
      const digest = pageDigest(result.page);
      if (memo && memo.digest === digest) {
        view = memo.view;
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
    return this.curate(normalized, view);
  }

  /** The raw (uncurated) view: every hashed file the upstream lists. */
  async getRawProject(normalized: string, signal?: AbortSignal): Promise<ProjectView | null> {
    await this.getProject(normalized, signal);
    return this.memo.get(normalized)?.view ?? null;
  }

  /** Forgets a project's curated view, e.g. after its file was judged on its bytes. */
  invalidate(normalized: string): void {
    this.curated.delete(normalized);
  }

  private async curate(normalized: string, base: ProjectView): Promise<ProjectView> {
    const curator = this.deps.curator;
    if (!curator) return base;
    const hit = this.curated.get(normalized);
    if (
      hit &&
      hit.base === base &&
      hit.generation === curator.generation &&
      this.deps.now() < hit.validUntil
    ) {
      return hit.view;
    }
    const generation = curator.generation;
    const { view, validUntil } = await curator.curate(base);
    const curated = { ...view, version: ++viewCounter };
    this.curated.delete(normalized);
    this.curated.set(normalized, { base, generation, validUntil, view: curated });
    if (this.curated.size > (this.deps.maxMemo ?? 5_000))
      this.curated.delete(this.curated.keys().next().value!);
    return curated;
  }

  private remember(
    name: string,
    entry: { page: WeakRef<ProjectPage>; digest: string; view: ProjectView },
  ): void {
    this.memo.delete(name);
    this.memo.set(name, entry);
    if (this.memo.size > (this.deps.maxMemo ?? 5_000)) this.memo.delete(this.memo.keys().next().value!);
  }

  private async buildView(normalized: string, page: ProjectPage, digest: string): Promise<ProjectView> {
    const files: ServedFile[] = [];
    const recorded: RecordedFile[] = [];
    let unhashed = 0;
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
      files.push(toServedFile(f, sha256, version, parsed?.kind === "wheel"));
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
    sha256,
    version,
    ...(f.requiresPython ? { requiresPython: f.requiresPython } : {}),
    yanked: f.yanked,
    upstreamYanked: f.yanked,
    ...(typeof f.size === "number" ? { size: f.size } : {}),
    ...(f.uploadTime ? { uploadTime: f.uploadTime } : {}),
    coreMetadata,
  };
}
