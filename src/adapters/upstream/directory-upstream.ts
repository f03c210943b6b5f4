import { readdir, realpath, stat } from "node:fs/promises";
import { basename, join, relative, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import type { DistFile } from "../../domain/distribution.js";
import { normalizeProjectName } from "../../domain/project-name.js";
import { parseDistFilename } from "../../domain/wheel-filename.js";
import {
  filePathFromUrl,
  isDirectoryInside,
  isInside,
  isMissing,
  openConfinedFile,
  resolveConfined,
} from "./confined-path.js";
import { FileHasher } from "./file-hasher.js";
import {
  UpstreamFileNotFoundError,
  UpstreamForbiddenUrlError,
  UpstreamUnavailableError,
  type OpenedFile,
  type ProjectPageResult,
  type Upstream,
  type UpstreamLogger,
} from "./upstream.js";

const HASH_CONCURRENCY = 4;

export interface DirectoryUpstreamOptions {
  /** A flat directory of wheels and sdists, or one with a sub-directory per project (one level). */
  dir: string;
  /** Clock in ms since epoch. Default `Date.now`. */
  now?: () => number;
  /**
   * The directory is rescanned when its mtime changes, and at the latest this long after the last
   * scan (files added inside per-project sub-directories do not touch the top mtime). Default 5 000.
   */
  rescanTtlMs?: number;
  /** Report each file's mtime as its PEP 700 upload time (for cooldowns). Default false. */
  mtimeAsUploadTime?: boolean;
  /**
   * A page built from the files is answered again for this long without statting them (and the
   * gateway's warm-page fast lane may answer it without asking at all). Default 1 000: a file
   * added, removed or rewritten shows within a second, and a busy page costs one round of stats
   * a second instead of one per request.
   */
  pageFreshMs?: number;
  /**
   * Told when a scan leaves out distribution files that resolve outside the directory (a symlink
   * to elsewhere is never followed: the gateway opens only files inside it), once per change of
   * what is left out. Otherwise such a project is just missing from the index.
   */
  logger?: UpstreamLogger;
}

/** Pages kept for `pageFreshMs`; beyond this many projects the memo starts again. */
const MAX_FRESH_PAGES = 10_000;

interface IndexedFile {
  /** Path as listed under the directory (what the `file://` URL names). */
  path: string;
  filename: string;
  project: string;
  version: string;
  realPath: string;
}

interface DirectoryIndex {
  root: string;
  byProject: Map<string, IndexedFile[]>;
  byPath: Map<string, IndexedFile>;
  dirMtimeMs: number;
  scannedAt: number;
}

/**
 * An upstream made of a local directory of distribution files (`./wheels`). Project names come
 * from the file names; sha256 digests are computed from the bytes (and remembered by path, size
 * and mtime); `upload-time` is the file's mtime only when `mtimeAsUploadTime` is set (a copied
 * directory's mtimes say when it was copied, not when the project released, and would put every
 * file under the policy's cooldown). Only files found by the scan, resolving inside
 * the directory, are ever opened.
 *
 * @example
 * const upstream = new DirectoryUpstream({ dir: "./wheels" });
 * const result = await upstream.getProject("python-dateutil");
 */
export class DirectoryUpstream implements Upstream {
  readonly description: string;
  readonly local = true;
  private readonly dir: string;
  private readonly now: () => number;
  private readonly rescanTtlMs: number;
  private readonly mtimeAsUploadTime: boolean;
  private readonly hasher = new FileHasher();
  private index: DirectoryIndex | undefined;
  private scanning: Promise<DirectoryIndex> | undefined;
  private readonly pageFreshMs: number;
  private readonly logger: UpstreamLogger | undefined;
  /** The files the last scan left out (outside the directory), as told to the logger. */
  private leftOut = "";
  /** The last page built per project, when, and from which scan. */
  private readonly pages = new Map<
    string,
    { result: ProjectPageResult; at: number; index: DirectoryIndex }
  >();

  constructor(options: DirectoryUpstreamOptions) {
    this.dir = resolve(options.dir);
    this.description = this.dir;
    this.now = options.now ?? Date.now;
    this.rescanTtlMs = options.rescanTtlMs ?? 5_000;
    this.mtimeAsUploadTime = options.mtimeAsUploadTime ?? false;
    this.pageFreshMs = options.pageFreshMs ?? 1_000;
    this.logger = options.logger;
  }

  peekFresh(normalized: string): ProjectPageResult | undefined {
    const hit = this.pages.get(normalized);
    if (!hit || hit.index !== this.index || this.now() - hit.at >= this.pageFreshMs) return undefined;
    return hit.result;
  }

  async getProject(name: string, signal?: AbortSignal): Promise<ProjectPageResult | null> {
    signal?.throwIfAborted();
    const project = normalizeProjectName(name);
    const fresh = this.peekFresh(project);
    if (fresh) return fresh;
    const index = await this.currentIndex();
    const entries = index.byProject.get(project);
    if (!entries) return null;
    const files = await mapLimited(entries, HASH_CONCURRENCY, (entry) => this.toDistFile(entry, signal));
    const present = files.filter((file): file is DistFile => file !== undefined);
    if (present.length === 0) return null;
    const served = new Set(present.map((file) => file.filename));
    const versions = [...new Set(entries.filter((e) => served.has(e.filename)).map((e) => e.version))];
    const previous = this.pages.get(project)?.result.page;
    // The same page object while nothing changed: the gateway's views, memoised by the page's
    // identity, stay valid without digesting the page again.
    const page =
      previous && sameFiles(previous.files, present) ? previous : { name: project, files: present, versions };
    const result = { page, stale: false, fetchedAt: this.now() };
    if (this.pages.size >= MAX_FRESH_PAGES) this.pages.clear();
    this.pages.set(project, { result, at: result.fetchedAt, index });
    return result;
  }

  async listProjects(signal?: AbortSignal): Promise<string[]> {
    signal?.throwIfAborted();
    const index = await this.currentIndex();
    return [...index.byProject.keys()].sort();
  }

  async openFile(file: DistFile, signal?: AbortSignal): Promise<OpenedFile> {
    const path = filePathFromUrl(file.url);
    if (path === undefined) throw new UpstreamForbiddenUrlError(`${this.description} serves file: URLs only`);
    const index = await this.currentIndex();
    if (!index.byPath.has(path)) {
      // A distribution file that was listed here and has since gone is missing, not forbidden.
      const listedHereOnce =
        isInside(this.dir, path) &&
        relative(this.dir, path).split(sep).length <= 2 &&
        parseDistFilename(basename(path));
      if (listedHereOnce && (await resolveConfined(index.root, path)) === "missing") {
        throw new UpstreamFileNotFoundError(`${basename(path)} is no longer in ${this.description}`);
      }
      throw new UpstreamForbiddenUrlError(`file is not in ${this.description}`);
    }
    return openConfinedFile(index.root, path, signal);
  }

  async probe(): Promise<{ ok: boolean; detail: string }> {
    try {
      const index = await this.currentIndex();
      return {
        ok: true,
        detail: `${index.byPath.size} files of ${index.byProject.size} projects in ${this.description}`,
      };
    } catch (error) {
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
  }

  private async toDistFile(entry: IndexedFile, signal?: AbortSignal): Promise<DistFile | undefined> {
    let sha256: string;
    let stamp: { size: number; mtimeMs: number };
    try {
      // Files rewritten in place leave the directory's mtime alone: stat them on every page.
      stamp = await stat(entry.realPath);
      sha256 = await this.hasher.sha256(entry.realPath, stamp, signal);
    } catch (error) {
      // Removed since the scan: the next scan forgets it.
      if (isMissing(error)) return undefined;
      throw error;
    }
    return {
      filename: entry.filename,
      url: pathToFileURL(entry.path).href,
      hashes: { sha256 },
      yanked: false,
      size: stamp.size,
      ...(this.mtimeAsUploadTime ? { uploadTime: new Date(stamp.mtimeMs).toISOString() } : {}),
      // The gateway extracts the metadata itself.
      coreMetadata: false,
    };
  }

  private async currentIndex(): Promise<DirectoryIndex> {
    const index = this.index;
    if (index && this.now() - index.scannedAt < this.rescanTtlMs) {
      try {
        if ((await stat(this.dir)).mtimeMs === index.dirMtimeMs) return index;
      } catch {
        // Fall through: the scan reports the problem.
      }
    }
    this.scanning ??= this.scan().finally(() => {
      this.scanning = undefined;
    });
    return this.scanning;
  }

  private async scan(): Promise<DirectoryIndex> {
    let root: string;
    let dirMtimeMs: number;
    try {
      root = await realpath(this.dir);
      const stats = await stat(root);
      if (!stats.isDirectory()) throw new Error(`${this.dir} is not a directory`);
      dirMtimeMs = stats.mtimeMs;
    } catch (error) {
      throw new UpstreamUnavailableError(`cannot read ${this.dir}`, { cause: error });
    }
    const scannedAt = this.now();
    const byProject = new Map<string, IndexedFile[]>();
    const byPath = new Map<string, IndexedFile>();
    const outside: string[] = [];
    const add = async (path: string, filename: string) => {
      const parts = parseDistFilename(filename);
      if (!parts) return;
      const resolved = await resolveConfined(root, path);
      if (resolved === "outside") outside.push(relative(this.dir, path));
      if (typeof resolved === "string") return;
      const project = parts.project;
      const list = byProject.get(project) ?? [];
      // One file name per page: the first found wins (top level before sub-directories).
      if (list.some((file) => file.filename === filename)) return;
      const entry: IndexedFile = {
        path,
        filename,
        project,
        version: parts.version,
        realPath: resolved.realPath,
      };
      list.push(entry);
      byProject.set(project, list);
      byPath.set(path, entry);
    };

    const subdirs: string[] = [];
    const entries = await readdir(this.dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const path = join(this.dir, entry.name);
      if (entry.isDirectory() || (entry.isSymbolicLink() && (await isDirectoryInside(root, path)))) {
        subdirs.push(path);
      } else {
        await add(path, entry.name);
      }
    }
    for (const subdir of subdirs) {
      if (!(await isDirectoryInside(root, subdir))) continue;
      let names: string[];
      try {
        names = await readdir(subdir);
      } catch {
        continue;
      }
      for (const name of names.sort()) {
        if (!name.startsWith(".")) await add(join(subdir, name), name);
      }
    }
    for (const list of byProject.values()) list.sort((a, b) => (a.filename < b.filename ? -1 : 1));
    const leftOut = outside.join("\n");
    if (leftOut !== this.leftOut && outside.length > 0) {
      this.logger?.warn(
        { upstream: this.dir, files: outside.length, examples: outside.slice(0, 3) },
        "upstream directory: distribution files left out of the index because they resolve outside the directory (a symlink to elsewhere is not followed); copy them in, or point the upstream at where they are",
      );
    }
    this.leftOut = leftOut;
    this.index = { root, byProject, byPath, dirMtimeMs, scannedAt };
    return this.index;
  }
}

async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Whether two listings name the same files with the same bytes (hash, size, upload time), in order. */
function sameFiles(a: readonly DistFile[], b: readonly DistFile[]): boolean {
  if (a.length !== b.length) return false;
  return a.every(
    (f, i) =>
      f.filename === b[i]!.filename &&
      f.url === b[i]!.url &&
      f.hashes.sha256 === b[i]!.hashes.sha256 &&
      f.size === b[i]!.size &&
      f.uploadTime === b[i]!.uploadTime,
  );
}
