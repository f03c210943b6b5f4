/**
 * Reads `.tar.gz` sdists without trusting them: only regular files and directories are accepted
 * (links are refused, never followed), names and sizes are validated as for zip, and the gunzipped
 * stream is bounded in size and compression ratio as it is produced.
 *
 * A tarball has no index, so reading a file means inflating everything before it. Opening
 * therefore makes one validating pass that also keeps the file contents in memory, up to a budget:
 * sdists are source trees of a few hundred kilobytes to a few megabytes, so nearly every later read
 * is served from memory. A larger archive drops the cache and each later `read` or `forEachFile`
 * streams the archive again, so memory stays bounded by the budget instead of by the archive (the
 * size limits alone would allow a gigabyte).
 */
import { createReadStream } from "node:fs";
import zlib from "node:zlib";
import tarStream from "tar-stream";
import type { Header } from "tar-stream";
import { ArchiveError, resolveArchiveLimits, type ArchiveLimits } from "./archive-limits.js";
import {
  ArchiveCatalog,
  lookupFile,
  normalizeEntryPath,
  type ArchiveEntry,
  type ArchiveReader,
  type FileVisitor,
  type OpenArchiveOptions,
  type ReadOptions,
} from "./archive-reader.js";

const MiB = 1024 * 1024;
const TAR_BLOCK = 512;
// Per entry a tar stream carries a header block plus, for long names, a GNU or pax header and its
// payload block; plus the end-of-archive blocks and record padding. Bytes beyond that allowance are
// hidden payload (huge pax records, padding) and count against the size limit.
const HEADER_BLOCKS_PER_ENTRY = 4;
const TRAILER_ALLOWANCE = 20 * TAR_BLOCK;

export interface OpenTarOptions extends OpenArchiveOptions {
  /** Most file bytes kept in memory after opening; above it reads stream the archive again. */
  memoryBudget?: number;
}

/** Default {@link OpenTarOptions.memoryBudget}: comfortably above nearly every real sdist. */
export const DEFAULT_TAR_MEMORY_BUDGET = 64 * MiB;

/**
 * Opens and validates a gzip-compressed tar archive.
 *
 * @throws {ArchiveError} when the archive is malformed, hostile or over the limits; file-system
 *   errors are passed through unchanged.
 *
 * @example
 * const sdist = await openTarArchive("/tmp/six-1.17.0.tar.gz");
 * const pkgInfo = await sdist.read("six-1.17.0/PKG-INFO");
 */
export async function openTarArchive(path: string, options: OpenTarOptions = {}): Promise<ArchiveReader> {
  const limits = resolveArchiveLimits(options.limits);
  const budget = options.memoryBudget ?? DEFAULT_TAR_MEMORY_BUDGET;
  options.signal?.throwIfAborted();
  const catalog = new ArchiveCatalog(limits);
  let cache: Map<string, Buffer> | undefined = new Map();
  let cached = 0;
  await scanTar(path, limits, options.signal, async ({ header, isDirectory, body }) => {
    const entry = catalog.add({
      rawName: header.name,
      size: header.size,
      compressedSize: header.size,
      isDirectory,
    });
    if (entry === undefined || entry.isDirectory) {
      await drain(body);
      return;
    }
    if (cache === undefined || cached + entry.size > budget) {
      cache = undefined;
      await drain(body, entry);
      return;
    }
    const data = await collect(body, entry);
    cache.set(entry.name, data);
    cached += data.length;
  });
  return new TarArchiveReader(path, limits, catalog, catalog.finish(), cache);
}

class TarArchiveReader implements ArchiveReader {
  readonly format = "tar";
  readonly limits: ArchiveLimits;
  readonly #path: string;
  readonly #catalog: ArchiveCatalog;
  readonly #entries: readonly ArchiveEntry[];
  #cache: Map<string, Buffer> | undefined;
  #closed = false;

  constructor(
    path: string,
    limits: ArchiveLimits,
    catalog: ArchiveCatalog,
    entries: readonly ArchiveEntry[],
    cache: Map<string, Buffer> | undefined,
  ) {
    this.#path = path;
    this.limits = limits;
    this.#catalog = catalog;
    this.#entries = entries;
    this.#cache = cache;
  }

  entries(): readonly ArchiveEntry[] {
    return this.#entries;
  }

  entry(name: string): ArchiveEntry | undefined {
    return this.#catalog.get(name);
  }

  async read(name: string, options: ReadOptions = {}): Promise<Buffer> {
    this.#assertOpen();
    const wanted = lookupFile(this.#catalog, name);
    const hit = this.#cache?.get(wanted.name);
    if (hit !== undefined) return hit;
    let found: Buffer | undefined;
    await this.#rescan(options.signal, async (entry, body) => {
      if (entry !== wanted) {
        await drain(body, entry);
        return false;
      }
      found = await collect(body, entry);
      return true;
    });
    if (found === undefined) {
      throw new ArchiveError("CORRUPT", `archive changed while reading ${name}`, { entry: name });
    }
    return found;
  }

  async forEachFile(visit: FileVisitor, options: ReadOptions = {}): Promise<void> {
    this.#assertOpen();
    const cache = this.#cache;
    if (cache !== undefined) {
      for (const entry of this.#entries) {
        if (entry.isDirectory) continue;
        options.signal?.throwIfAborted();
        await visit(entry, cache.get(entry.name)!);
      }
      return;
    }
    await this.#rescan(options.signal, async (entry, body) => {
      await visit(entry, await collect(body, entry));
      return false;
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#cache = undefined;
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("the tar archive reader is closed");
  }

  /** Streams the archive again, matching every file against the listing made when opening. */
  #rescan(
    signal: AbortSignal | undefined,
    onFile: (entry: ArchiveEntry, body: AsyncIterable<Buffer>) => Promise<boolean>,
  ): Promise<void> {
    return scanTar(this.#path, this.limits, signal, async ({ header, isDirectory, body }) => {
      const { path } = normalizeEntryPath(header.name);
      if (path === "") {
        await drain(body);
        return false;
      }
      const entry = this.#catalog.get(path);
      if (entry === undefined || entry.size !== header.size || (isDirectory && !entry.isDirectory)) {
        throw new ArchiveError("CORRUPT", `archive changed since it was opened (${header.name})`, {
          entry: header.name,
        });
      }
      if (entry.isDirectory) {
        await drain(body);
        return false;
      }
      return onFile(entry, body);
    });
  }
}

interface TarItem {
  header: Header;
  isDirectory: boolean;
  body: AsyncIterable<Buffer>;
}

/**
 * Runs one pass over a `.tar.gz`, calling `visit` for each regular file or directory in order; the
 * visitor must consume `body` and may return `true` to stop early. Links and special files end the
 * pass with an error, as does a gunzipped stream over the size or ratio limits.
 */
function scanTar(
  path: string,
  limits: ArchiveLimits,
  signal: AbortSignal | undefined,
  visit: (item: TarItem) => Promise<boolean | void>,
): Promise<void> {
  const streamCap =
    limits.maxTotalUncompressed +
    (limits.maxEntries * HEADER_BLOCKS_PER_ENTRY * TAR_BLOCK + TRAILER_ALLOWANCE);
  return new Promise<void>((resolve, reject) => {
    const file = signal === undefined ? createReadStream(path) : createReadStream(path, { signal });
    const gunzip = zlib.createGunzip({ chunkSize: 64 * 1024 });
    const extract = tarStream.extract();
    let settled = false;
    let compressed = 0;
    let inflated = 0;

    const stop = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      file.destroy();
      gunzip.destroy();
      extract.destroy();
      if (err === undefined) resolve();
      else reject(toArchiveError(err));
    };

    file.on("error", stop);
    gunzip.on("error", stop);
    extract.on("error", stop);
    file.on("data", (chunk: Buffer | string) => {
      compressed += chunk.length;
    });
    gunzip.on("data", (chunk: Buffer) => {
      inflated += chunk.length;
      if (inflated > streamCap) {
        stop(
          new ArchiveError("TOO_LARGE", `archive inflates to more than ${limits.maxTotalUncompressed} bytes`),
        );
      } else if (
        inflated > limits.compressionRatioMinSize &&
        inflated / Math.max(compressed, 1) > limits.maxCompressionRatio
      ) {
        stop(
          new ArchiveError(
            "COMPRESSION_RATIO",
            `archive inflates more than ${limits.maxCompressionRatio} times its compressed size`,
          ),
        );
      }
    });
    extract.on("entry", (header, stream, next) => {
      // A body destroyed with an error emits it; iteration of the body and the extractor's own
      // "error" event already report it, and an unheard event would end the process.
      stream.on("error", () => {});
      if (settled) return;
      // tar-stream yields Buffers; its typings leave the chunk type open.
      const body = stream as AsyncIterable<Buffer>;
      handleEntry(header, body, limits, visit).then(
        (done) => (done === true ? stop() : next()),
        (err: unknown) => stop(err),
      );
    });
    extract.on("finish", () => stop());
    file.pipe(gunzip).pipe(extract);
  });
}

async function handleEntry(
  header: Header,
  body: AsyncIterable<Buffer>,
  limits: ArchiveLimits,
  visit: (item: TarItem) => Promise<boolean | void>,
): Promise<boolean | void> {
  const type = header.type as string | null;
  switch (type) {
    case "file":
    case "contiguous-file":
    case "directory":
      break;
    case "symlink":
    case "link":
      // pip would recreate these on disk; a link can point outside the build directory or make a
      // scanned path resolve to other content, so the gateway refuses them outright.
      throw new ArchiveError(
        "SYMLINK",
        `archive entry ${header.name} is a ${type === "link" ? "hard" : "symbolic"} link`,
        { entry: header.name },
      );
    default:
      throw new ArchiveError("UNSUPPORTED", `archive entry ${header.name} is a ${type ?? "unknown"} entry`, {
        entry: header.name,
      });
  }
  if (header.size > limits.maxEntryUncompressed) {
    throw new ArchiveError(
      "ENTRY_TOO_LARGE",
      `entry ${header.name} inflates to more than ${limits.maxEntryUncompressed} bytes`,
      { entry: header.name },
    );
  }
  return visit({ header, isDirectory: type === "directory", body });
}

/** Reads a file body, checking that exactly the declared number of bytes arrives. */
async function collect(body: AsyncIterable<Buffer>, entry: ArchiveEntry): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let produced = 0;
  for await (const chunk of body) {
    produced += chunk.length;
    if (produced > entry.size) break;
    chunks.push(chunk);
  }
  if (produced !== entry.size) {
    throw new ArchiveError(
      "CORRUPT",
      `entry ${entry.name} holds ${produced} bytes, not the declared ${entry.size}`,
      { entry: entry.name },
    );
  }
  // Copied, so a cached file does not pin the larger gunzip chunk it was sliced from.
  return Buffer.concat(chunks, produced);
}

async function drain(body: AsyncIterable<Buffer>, entry?: ArchiveEntry): Promise<void> {
  let produced = 0;
  for await (const chunk of body) produced += chunk.length;
  if (entry !== undefined && produced !== entry.size) {
    throw new ArchiveError(
      "CORRUPT",
      `entry ${entry.name} holds ${produced} bytes, not the declared ${entry.size}`,
      { entry: entry.name },
    );
  }
}

function toArchiveError(err: unknown): unknown {
  if (err instanceof ArchiveError) return err;
  if (err instanceof Error) {
    if (err.name === "AbortError") return err;
    const errno = err as NodeJS.ErrnoException;
    if (typeof errno.code === "string" && errno.syscall !== undefined) return err;
    return new ArchiveError("CORRUPT", `not a readable .tar.gz archive: ${err.message}`, { cause: err });
  }
  return new ArchiveError("CORRUPT", `not a readable .tar.gz archive: ${String(err)}`, { cause: err });
}
