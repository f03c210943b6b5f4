import type { Stats } from "node:fs";
import { open, realpath, stat } from "node:fs/promises";
import { isAbsolute, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { UpstreamFileNotFoundError, UpstreamForbiddenUrlError, type OpenedFile } from "./upstream.js";

/** Whether `path` (already real) lies strictly inside the real directory `root`. */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel);
}

/** Whether `path` resolves to a directory strictly inside the real directory `root`. */
export async function isDirectoryInside(root: string, path: string): Promise<boolean> {
  try {
    const real = await realpath(path);
    return isInside(root, real) && (await stat(real)).isDirectory();
  } catch {
    return false;
  }
}

/** The local path of a `file:` URL, or `undefined` for any other URL or one that does not parse. */
export function filePathFromUrl(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "file:" || (parsed.host !== "" && parsed.host !== "localhost")) return undefined;
    return fileURLToPath(parsed);
  } catch {
    return undefined;
  }
}

/**
 * Resolves `path` through symlinks and checks it is a regular file inside `root` (a real path).
 * `missing` when nothing is there; `outside` when it resolves out of the root or is not a file.
 */
export async function resolveConfined(
  root: string,
  path: string,
): Promise<{ realPath: string; stats: Stats } | "missing" | "outside"> {
  let realPath: string;
  try {
    realPath = await realpath(path);
  } catch (error) {
    if (isMissing(error)) return "missing";
    throw error;
  }
  if (!isInside(root, realPath)) return "outside";
  const stats = await stat(realPath);
  return stats.isFile() ? { realPath, stats } : "outside";
}

/**
 * Opens a file that must resolve to a regular file inside `root`; refuses anything else with
 * `UpstreamForbiddenUrlError`. The check and the open are on the resolved path, and the opened
 * handle is checked again, so a swapped symlink cannot slip out between the two.
 */
export async function openConfinedFile(
  root: string,
  path: string,
  signal?: AbortSignal,
): Promise<OpenedFile> {
  signal?.throwIfAborted();
  const resolved = await resolveConfined(root, path);
  if (resolved === "missing") throw new UpstreamFileNotFoundError(`file ${path} no longer exists`);
  if (resolved === "outside") throw new UpstreamForbiddenUrlError(`file ${path} is outside ${root}`);
  let handle;
  try {
    handle = await open(resolved.realPath, "r");
  } catch (error) {
    if (isMissing(error))
      throw new UpstreamFileNotFoundError(`file ${path} no longer exists`, { cause: error });
    throw error;
  }
  const stats = await handle.stat();
  if (!stats.isFile() || stats.ino !== resolved.stats.ino || stats.dev !== resolved.stats.dev) {
    await handle.close();
    throw new UpstreamForbiddenUrlError(`file ${path} changed while being opened`);
  }
  const stream = handle.createReadStream();
  if (signal) {
    const onAbort = () =>
      stream.destroy(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    signal.addEventListener("abort", onAbort, { once: true });
    stream.once("close", () => signal.removeEventListener("abort", onAbort));
  }
  return { stream, size: stats.size };
}

export function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}
