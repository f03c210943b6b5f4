import { createHash } from "node:crypto";
import type { DistFile, ProjectPage, ProjectStatus } from "../domain/distribution.js";
import { normalizeProjectName } from "../domain/project-name.js";
import { sortVersions } from "../domain/version.js";
import { parseDistFilename } from "../domain/wheel-filename.js";
import type { CatalogRepository, RecordedFile } from "../adapters/db/catalog-repository.js";
import { UpstreamUnavailableError, type Upstream } from "../adapters/upstream/upstream.js";
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
}

const SHA256_RE = /^[0-9a-f]{64}$/;
let viewCounter = 0;

/**
 * Serves project pages: asks the upstream (which answers warm pages from its cache), turns the
 * raw page into the curated view once per distinct page, and records new pages and files.
 */
export class ProjectIndexService {
  private readonly views = new WeakMap<ProjectPage, ProjectView>();
  private readonly building = new Map<string, Promise<ProjectView>>();

  constructor(
    private readonly deps: {
      upstream: Upstream;
      repo: CatalogRepository;
      now: () => number;
    },
  ) {}

  /**
   * The curated view of a project, by normalised name; `null` when the upstream does not have it.
   * @throws GatewayError UPSTREAM_UNAVAILABLE when the upstream is down and nothing is cached.
   */
  async getProject(normalized: string, signal?: AbortSignal): Promise<ProjectView | null> {
    let result;
    try {
      result = await this.deps.upstream.getProject(normalized, signal);
    } catch (err) {
      if (err instanceof UpstreamUnavailableError) {
        throw new GatewayError("UPSTREAM_UNAVAILABLE", `upstream unavailable: ${err.message}`, { cause: err });
      }
      throw err;
    }
    if (!result) return null;
    const memo = this.views.get(result.page);
    if (memo && memo.stale === result.stale && memo.fetchedAt === result.fetchedAt) return memo;
    if (memo) {
      const refreshed = { ...memo, stale: result.stale, fetchedAt: result.fetchedAt, version: ++viewCounter };
      this.views.set(result.page, refreshed);
      return refreshed;
    }
    const key = normalized;
    let pending = this.building.get(key);
    if (!pending) {
      pending = this.buildView(normalized, result.page, result.stale, result.fetchedAt).finally(() =>
        this.building.delete(key),
      );
      this.building.set(key, pending);
    }
    const view = await pending;
    this.views.set(result.page, view);
    return view;
  }

  private async buildView(normalized: string, page: ProjectPage, stale: boolean, fetchedAt: number): Promise<ProjectView> {
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
    const digest = createHash("sha256").update(JSON.stringify(page)).digest("hex");
    const lastSerial = await this.deps.repo.recordPage(normalized, page.name || normalized, digest, recorded, this.deps.now());
    const versions = sortVersions([...new Set(page.versions ?? files.map((f) => f.version).filter(Boolean))]);
    return {
      name: page.name || normalized,
      normalized,
      files,
      versions,
      lastSerial,
      stale,
      fetchedAt,
      ...(page.status ? { status: page.status } : {}),
      unhashed,
      version: ++viewCounter,
    };
  }
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
    ...(typeof f.size === "number" ? { size: f.size } : {}),
    ...(f.uploadTime ? { uploadTime: f.uploadTime } : {}),
    coreMetadata,
  };
}
