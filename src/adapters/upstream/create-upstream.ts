import { access, readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DirectoryUpstream, type DirectoryUpstreamOptions } from "./directory-upstream.js";
import { FileTreeUpstream, type FileTreeUpstreamOptions } from "./file-tree-upstream.js";
import { HttpUpstream, type HttpUpstreamOptions } from "./http-upstream.js";
import type { PageCache, Upstream, UpstreamLogger } from "./upstream.js";

/** The upstream setting names something we cannot use (bad scheme, missing path, not a directory). */
export class UpstreamConfigError extends Error {
  readonly code = "UPSTREAM_CONFIG";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UpstreamConfigError";
  }
}

export interface CreateUpstreamOptions {
  /** Clock shared by every implementation. */
  now?: () => number;
  /** Raw page cache for an HTTP upstream. */
  cache?: PageCache;
  /** HTTP: how long a cached page is fresh ({@link HttpUpstreamOptions.ttlMs}). */
  ttlMs?: number;
  /** HTTP: how long the upstream may keep us waiting ({@link HttpUpstreamOptions.timeoutMs}). */
  timeoutMs?: number;
  /** HTTP: extra origins files may come from ({@link HttpUpstreamOptions.allowedFileHosts}). */
  allowedFileHosts?: string[];
  logger?: UpstreamLogger;
  /** Finer HTTP settings; they win over the shared ones above. */
  http?: Omit<HttpUpstreamOptions, "baseUrl">;
  directory?: Omit<DirectoryUpstreamOptions, "dir">;
  fileTree?: Omit<FileTreeUpstreamOptions, "root">;
}

/** Which implementation a spec selects. */
export type UpstreamKind = "http" | "file-tree" | "directory";

/**
 * Builds the upstream a spec names: `http(s)://…` is a remote index ({@link HttpUpstream});
 * `file:///path` or a plain path is a static PEP 503 tree ({@link FileTreeUpstream}) when it
 * holds `simple/` or per-project directories with an `index.html`, and otherwise a directory of
 * distribution files ({@link DirectoryUpstream}).
 *
 * @example
 * const upstream = await createUpstream("https://pypi.org/simple/", { cache });
 * const local = await createUpstream("./wheels");
 */
export async function createUpstream(spec: string, options: CreateUpstreamOptions = {}): Promise<Upstream> {
  const { kind, location } = await resolveUpstreamSpec(spec);
  const clock = defined({ now: options.now });
  switch (kind) {
    case "http": {
      const shared = defined({
        cache: options.cache,
        ttlMs: options.ttlMs,
        timeoutMs: options.timeoutMs,
        allowedFileHosts: options.allowedFileHosts,
        logger: options.logger,
      });
      return new HttpUpstream({ ...clock, ...shared, ...options.http, baseUrl: location });
    }
    case "file-tree":
      return new FileTreeUpstream({ ...clock, ...options.fileTree, root: location });
    case "directory":
      return new DirectoryUpstream({
        ...clock,
        ...defined({ logger: options.logger }),
        ...options.directory,
        dir: location,
      });
  }
}

/** Classifies a spec without building anything; `location` is the URL or the absolute path. */
export async function resolveUpstreamSpec(spec: string): Promise<{ kind: UpstreamKind; location: string }> {
  const trimmed = spec.trim();
  if (trimmed === "") throw new UpstreamConfigError("upstream is empty");
  if (/^https?:\/\//i.test(trimmed)) {
    try {
      return { kind: "http", location: new URL(trimmed).href };
    } catch (error) {
      throw new UpstreamConfigError(`upstream URL does not parse: ${trimmed}`, { cause: error });
    }
  }
  let path: string;
  if (/^file:/i.test(trimmed)) {
    try {
      path = fileURLToPath(trimmed);
    } catch (error) {
      throw new UpstreamConfigError(`upstream file URL is not a local path: ${trimmed}`, { cause: error });
    }
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    throw new UpstreamConfigError(
      `unsupported upstream scheme in ${trimmed}: use http(s)://, file:// or a path`,
    );
  } else {
    path = resolve(trimmed);
  }

  let stats;
  try {
    stats = await stat(path);
  } catch (error) {
    throw new UpstreamConfigError(`upstream directory ${path} does not exist or cannot be read`, {
      cause: error,
    });
  }
  if (!stats.isDirectory()) throw new UpstreamConfigError(`upstream ${path} is not a directory`);
  return { kind: (await looksLikeSimpleTree(path)) ? "file-tree" : "directory", location: path };
}

function defined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

async function looksLikeSimpleTree(dir: string): Promise<boolean> {
  if (await isDirectory(join(dir, "simple"))) return true;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() && !entry.isSymbolicLink()) continue;
    try {
      await access(join(dir, entry.name, "index.html"));
      return true;
    } catch {
      // Not a project page directory; keep looking.
    }
  }
  return false;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
