import { readdir, readFile, realpath, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { DistFile, ProjectPage } from "../../domain/distribution.js";
import { normalizeProjectName } from "../../domain/project-name.js";
import { parseDistFilename } from "../../domain/wheel-filename.js";
import {
  filePathFromUrl,
  isDirectoryInside,
  isMissing,
  openConfinedFile,
  resolveConfined,
} from "./confined-path.js";
import { FileHasher } from "./file-hasher.js";
import { parseHtmlProjectPage } from "./simple-html.js";
import {
  UpstreamForbiddenUrlError,
  UpstreamUnavailableError,
  type OpenedFile,
  type ProjectPageResult,
  type Upstream,
} from "./upstream.js";

export interface FileTreeUpstreamOptions {
  /**
   * The tree: either a directory holding `simple/` (`/opt/pypi` with `simple/<project>/index.html`
   * and `files/`), or the simple directory itself (`<root>/<project>/index.html`).
   */
  root: string;
  /**
   * The directory every file must resolve inside. Default: the directory holding `simple/` when
   * there is one (or when `root` is itself named `simple`), else `root`.
   */
  fileRoot?: string;
  /** Clock in ms since epoch. Default `Date.now`. */
  now?: () => number;
  /** The project directory list is re-read when its mtime changes, or at the latest after this. Default 5 000. */
  rescanTtlMs?: number;
}

interface TreeLayout {
  simpleDir: string;
  fileRoot: string;
}

interface ProjectDirs {
  byName: Map<string, string>;
  mtimeMs: number;
  scannedAt: number;
}

/**
 * A static PEP 503 tree on disk (a `file://` simple index). Pages are parsed with the HTML
 * reader; their hrefs must resolve to `file:` URLs of regular files inside the file root, and
 * links that do not (remote URLs, paths escaping the tree, missing files) are left off the page.
 * Declared fragment hashes are kept; a file without a sha256 gets one computed from its bytes.
 *
 * @example
 * const upstream = new FileTreeUpstream({ root: "/opt/pypi" });
 */
export class FileTreeUpstream implements Upstream {
  readonly description: string;
  readonly local = true;
  private readonly root: string;
  private readonly fileRootOption: string | undefined;
  private readonly now: () => number;
  private readonly rescanTtlMs: number;
  private readonly hasher = new FileHasher();
  private readonly pages = new Map<string, { mtimeMs: number; size: number; page: ProjectPage }>();
  private layoutPromise: Promise<TreeLayout> | undefined;
  private dirs: ProjectDirs | undefined;

  constructor(options: FileTreeUpstreamOptions) {
    this.root = resolve(options.root);
    this.fileRootOption = options.fileRoot === undefined ? undefined : resolve(options.fileRoot);
    this.description = pathToFileURL(this.root).href;
    this.now = options.now ?? Date.now;
    this.rescanTtlMs = options.rescanTtlMs ?? 5_000;
  }

  async getProject(name: string, signal?: AbortSignal): Promise<ProjectPageResult | null> {
    signal?.throwIfAborted();
    const layout = await this.layout();
    const dirName = (await this.projectDirs(layout)).byName.get(normalizeProjectName(name));
    if (dirName === undefined) return null;
    const indexPath = join(layout.simpleDir, dirName, "index.html");
    let stats;
    try {
      stats = await stat(indexPath);
    } catch (error) {
      if (isMissing(error)) return null;
      throw new UpstreamUnavailableError(`cannot read ${indexPath}`, { cause: error });
    }
    const known = this.pages.get(dirName);
    let page: ProjectPage;
    if (known && known.mtimeMs === stats.mtimeMs && known.size === stats.size) {
      page = known.page;
    } else {
      page = await this.readPage(layout, indexPath, dirName, signal);
      this.pages.set(dirName, { mtimeMs: stats.mtimeMs, size: stats.size, page });
    }
    // The same object while the page is unchanged: pages are never mutated, and callers memoise on identity.
    return { page, stale: false, fetchedAt: this.now() };
  }

  async listProjects(signal?: AbortSignal): Promise<string[]> {
    signal?.throwIfAborted();
    const dirs = await this.projectDirs(await this.layout());
    return [...dirs.byName.values()].sort();
  }

  async openFile(file: DistFile, signal?: AbortSignal): Promise<OpenedFile> {
    const path = filePathFromUrl(file.url);
    if (path === undefined) throw new UpstreamForbiddenUrlError(`${this.description} serves file: URLs only`);
    if (!parseDistFilename(basename(path))) {
      throw new UpstreamForbiddenUrlError(`${basename(path)} is not a distribution file`);
    }
    const layout = await this.layout();
    return openConfinedFile(layout.fileRoot, path, signal);
  }

  async probe(): Promise<{ ok: boolean; detail: string }> {
    try {
      const layout = await this.layout();
      const dirs = await this.projectDirs(layout);
      return { ok: true, detail: `${dirs.byName.size} projects in ${layout.simpleDir}` };
    } catch (error) {
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
  }

  private async readPage(
    layout: TreeLayout,
    indexPath: string,
    dirName: string,
    signal?: AbortSignal,
  ): Promise<ProjectPage> {
    let parsed;
    try {
      const html = await readFile(indexPath, { encoding: "utf8", signal });
      parsed = parseHtmlProjectPage(html, { pageUrl: pathToFileURL(indexPath).href, name: dirName });
    } catch (error) {
      signal?.throwIfAborted();
      throw new UpstreamUnavailableError(`cannot read ${indexPath}`, { cause: error });
    }
    const files: DistFile[] = [];
    for (const file of parsed.page.files) {
      const path = filePathFromUrl(file.url);
      if (path === undefined) continue;
      const resolved = await resolveConfined(layout.fileRoot, path);
      if (typeof resolved === "string") continue;
      if (file.hashes.sha256 === undefined) {
        // The file is local: its digest is ours to compute.
        try {
          file.hashes = {
            ...file.hashes,
            sha256: await this.hasher.sha256(resolved.realPath, resolved.stats, signal),
          };
        } catch (error) {
          if (isMissing(error)) continue;
          throw error;
        }
      }
      file.size ??= resolved.stats.size;
      files.push(file);
    }
    return { ...parsed.page, files };
  }

  private layout(): Promise<TreeLayout> {
    this.layoutPromise ??= this.findLayout().catch((error: unknown) => {
      this.layoutPromise = undefined;
      throw new UpstreamUnavailableError(`cannot read the simple tree ${this.root}`, { cause: error });
    });
    return this.layoutPromise;
  }

  private async findLayout(): Promise<TreeLayout> {
    const nested = join(this.root, "simple");
    const hasSimple = await isDirectory(nested);
    const simpleDir = hasSimple ? nested : this.root;
    const fileRoot =
      this.fileRootOption ??
      (hasSimple ? this.root : basename(this.root) === "simple" ? dirname(this.root) : this.root);
    if (!(await isDirectory(simpleDir))) throw new Error(`${simpleDir} is not a directory`);
    return { simpleDir: await realpath(simpleDir), fileRoot: await realpath(fileRoot) };
  }

  private async projectDirs(layout: TreeLayout): Promise<ProjectDirs> {
    const known = this.dirs;
    const mtimeMs = (await stat(layout.simpleDir)).mtimeMs;
    if (known && known.mtimeMs === mtimeMs && this.now() - known.scannedAt < this.rescanTtlMs) return known;
    const byName = new Map<string, string>();
    const entries = await readdir(layout.simpleDir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      if (
        !entry.isDirectory() &&
        !(
          entry.isSymbolicLink() &&
          (await isDirectoryInside(layout.fileRoot, join(layout.simpleDir, entry.name)))
        )
      ) {
        continue;
      }
      const key = normalizeProjectName(entry.name);
      if (!byName.has(key)) byName.set(key, entry.name);
    }
    this.dirs = { byName, mtimeMs, scannedAt: this.now() };
    return this.dirs;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
