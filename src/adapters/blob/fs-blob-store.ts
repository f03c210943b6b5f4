import { createReadStream, createWriteStream, mkdirSync, promises as fsp } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { finished } from "node:stream/promises";
import type { Readable } from "node:stream";
import { assertSha256, type BlobStore, type BlobWriter } from "./blob-store.js";

/**
 * Blobs on local disk under `<root>/sha256/ab/cd/<digest>`. Writes go to `<root>/tmp`, are
 * fsynced, then renamed into place, so a crash never leaves a half-written blob under a key.
 */
export class FsBlobStore implements BlobStore {
  private readonly tmpDir: string;

  constructor(private readonly root: string) {
    this.tmpDir = join(root, "tmp");
    mkdirSync(this.tmpDir, { recursive: true });
    mkdirSync(join(root, "sha256"), { recursive: true });
  }

  /** Removes temp files a previous process left behind (a crash mid-download). */
  async sweepTemp(): Promise<number> {
    const names = await fsp.readdir(this.tmpDir);
    await Promise.all(names.map((n) => fsp.rm(join(this.tmpDir, n), { force: true })));
    return names.length;
  }

  private pathOf(sha256: string): string {
    assertSha256(sha256);
    return join(this.root, "sha256", sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  localPath(sha256: string): string {
    return this.pathOf(sha256);
  }

  async stat(sha256: string): Promise<{ size: number } | undefined> {
    try {
      const st = await fsp.stat(this.pathOf(sha256));
      return { size: st.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  read(sha256: string, range?: { start: number; end: number }): Readable {
    // Large chunks: file downloads are the throughput-critical path.
    return createReadStream(this.pathOf(sha256), { ...range, highWaterMark: 1024 * 1024 });
  }

  async beginWrite(): Promise<BlobWriter> {
    const tempPath = join(this.tmpDir, `${Date.now()}-${randomBytes(8).toString("hex")}.part`);
    const handle = await fsp.open(tempPath, "wx", 0o644);
    const stream = createWriteStream("", { fd: handle.fd, autoClose: false, highWaterMark: 1024 * 1024 });
    let done = false;
    const closeFile = async () => {
      if (!stream.writableFinished && !stream.destroyed) {
        stream.end();
      }
      await finished(stream).catch(() => undefined);
    };
    return {
      stream,
      tempPath,
      commit: async (sha256: string) => {
        if (done) throw new Error("blob writer already finished");
        done = true;
        const target = this.pathOf(sha256);
        try {
          await closeFile();
          await handle.sync();
          await handle.close();
          await fsp.mkdir(join(target, ".."), { recursive: true });
          await fsp.rename(tempPath, target);
        } catch (err) {
          await handle.close().catch(() => undefined);
          await fsp.rm(tempPath, { force: true });
          throw err;
        }
      },
      abort: async () => {
        if (done) return;
        done = true;
        stream.destroy();
        await handle.close().catch(() => undefined);
        await fsp.rm(tempPath, { force: true });
      },
    };
  }

  async delete(sha256: string): Promise<void> {
    await fsp.rm(this.pathOf(sha256), { force: true });
  }
}
