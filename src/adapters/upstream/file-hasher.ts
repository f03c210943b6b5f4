import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

/** The identity of a file's contents as far as the file system tells without reading it. */
export interface FileStamp {
  size: number;
  mtimeMs: number;
}

/**
 * Computes sha256 digests of local files, remembered by path, size and mtime, so a file is read
 * once until it changes. Concurrent requests for the same file share one read.
 */
export class FileHasher {
  private readonly known = new Map<string, FileStamp & { sha256: string }>();
  private readonly pending = new Map<string, Promise<string>>();

  async sha256(path: string, stamp: FileStamp, signal?: AbortSignal): Promise<string> {
    const known = this.known.get(path);
    if (known && known.size === stamp.size && known.mtimeMs === stamp.mtimeMs) return known.sha256;
    const key = `${path}\0${stamp.size}\0${stamp.mtimeMs}`;
    let pending = this.pending.get(key);
    if (!pending) {
      pending = digest(path, signal).then(
        (sha256) => {
          this.pending.delete(key);
          this.known.set(path, { size: stamp.size, mtimeMs: stamp.mtimeMs, sha256 });
          return sha256;
        },
        (error: unknown) => {
          this.pending.delete(key);
          throw error;
        },
      );
      this.pending.set(key, pending);
    }
    return pending;
  }
}

async function digest(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, signal ? { signal } : {})) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
