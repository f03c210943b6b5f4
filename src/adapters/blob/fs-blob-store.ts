import { close, createReadStream, createWriteStream, fsync, mkdirSync, open, promises as fsp } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import type { Readable } from "node:stream";
import { assertSha256, type BlobStore, type BlobWriter } from "./blob-store.js";

const openFile = promisify(open);
const syncFile = promisify(fsync);
const closeFile = promisify(close);

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
    // A plain fd owned by the stream alone: it is closed exactly once, either by `commit` (after
    // the fsync) or by the stream's own destroy (`abort`). A FileHandle beside the stream used to
    // be closed by both when an abort came before any byte (a file URL refused before the
    // fetch): the stream's EBADF error then had no listener and brought the process down. (A
    // FileHandle's own createWriteStream is no way out: with autoClose off, its close() waits
    // for the stream forever.)
    const fd = await openFile(tempPath, "wx", 0o644);
    const stream = createWriteStream("", { fd, autoClose: false, highWaterMark: 1024 * 1024 });
    let done = false;
    let fdClosed = false;
    const closeFd = async () => {
      if (fdClosed) return;
      fdClosed = true;
      await closeFile(fd);
    };
    /** Waits until what was written reached the file ('finish'; an errored stream counts as done). */
    const ended = async () => {
      if (stream.writableFinished || stream.destroyed) return;
      await new Promise<void>((resolve) => {
        stream.once("finish", resolve);
        stream.once("error", () => resolve());
        stream.once("close", resolve);
        if (!stream.writableEnded) stream.end();
      });
    };
    return {
      stream,
      tempPath,
      commit: async (sha256: string) => {
        if (done) throw new Error("blob writer already finished");
        done = true;
        const target = this.pathOf(sha256);
        try {
          await ended();
          await syncFile(fd);
          await closeFd();
          await fsp.mkdir(join(target, ".."), { recursive: true });
          await fsp.rename(tempPath, target);
        } catch (err) {
          await closeFd().catch(() => undefined);
          await fsp.rm(tempPath, { force: true });
          throw err;
        }
      },
      abort: async () => {
        if (done) return;
        done = true;
        fdClosed = true; // the stream's destroy closes it
        // Whatever the stream says while going away is moot: the file is removed below.
        stream.on("error", () => undefined);
        if (!stream.closed) {
          await new Promise<void>((resolve) => {
            stream.once("close", resolve);
            stream.destroy();
          });
        }
        await fsp.rm(tempPath, { force: true });
      },
    };
  }

  async delete(sha256: string): Promise<void> {
    await fsp.rm(this.pathOf(sha256), { force: true });
  }
}
