/**
 * Reads zip archives (wheels, zip sdists) from disk without trusting a byte of them.
 *
 * The listing comes from the central directory, as it does for pip (CPython `zipfile`), so the
 * gateway judges the same files the installer will write. Everything an attacker controls is
 * checked before use: names, sizes, overlap of entries, compression method and ratio; and while
 * inflating, the bytes actually produced and their CRC-32.
 *
 * yauzl parses the central directory (EOCD search, zip64); entry data is read here, through one
 * file handle and a read-ahead window, because a wheel is mostly many small files and a file-system
 * round trip per header and per entry would cost more than inflating them.
 */
import { open as openFile, type FileHandle } from "node:fs/promises";
import { Readable } from "node:stream";
import { promisify } from "node:util";
import zlib from "node:zlib";
import yauzl from "yauzl";
import type { Entry as YauzlEntry, ZipFile } from "yauzl";
import { ArchiveError, resolveArchiveLimits, type ArchiveLimits } from "./archive-limits.js";
import {
  ArchiveCatalog,
  checkEntrySize,
  lookupFile,
  type ArchiveEntry,
  type ArchiveReader,
  type FileVisitor,
  type OpenArchiveOptions,
  type ReadOptions,
} from "./archive-reader.js";

const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;
const FLAG_ENCRYPTED = 0x1;
const FLAG_UTF8 = 0x800;
const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const LOCAL_HEADER_FIXED_SIZE = 30;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const MiB = 1024 * 1024;
/** Default {@link OpenZipOptions.readAhead}. */
export const DEFAULT_ZIP_READ_AHEAD = 4 * MiB;
/**
 * Entries declaring up to this many bytes inflate synchronously: that takes well under a
 * millisecond, less than the thread-pool round trip of the asynchronous call.
 */
const SYNC_INFLATE_MAX = 256 * 1024;
const INFLATE_CHUNK = 64 * 1024;

const inflateRawAsync = promisify(zlib.inflateRaw);
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export interface OpenZipOptions extends OpenArchiveOptions {
  /**
   * Bytes fetched per file-system read. Entries are laid out in order, so later reads mostly hit
   * what was read ahead; archives up to four times this size are read whole, in one read.
   */
  readAhead?: number;
}

interface ZipRecord {
  entry: ArchiveEntry;
  raw: YauzlEntry;
}

/**
 * Opens and validates a zip archive.
 *
 * @throws {ArchiveError} when the archive is malformed, hostile or over the limits; file-system
 *   errors (`ENOENT`, `EACCES`, …) are passed through unchanged.
 *
 * @example
 * const wheel = await openZipArchive(path, { limits: { maxEntries: 2_000 } });
 * const metadata = await wheel.read("flask-3.1.3.dist-info/METADATA");
 * await wheel.close();
 */
export async function openZipArchive(path: string, options: OpenZipOptions = {}): Promise<ArchiveReader> {
  const limits = resolveArchiveLimits(options.limits);
  const readAhead = options.readAhead ?? DEFAULT_ZIP_READ_AHEAD;
  if (!(readAhead > 0)) throw new RangeError(`readAhead must be positive, got ${readAhead}`);
  options.signal?.throwIfAborted();
  const handle = await openFile(path, "r");
  try {
    const source = new ByteSource(handle, (await handle.stat()).size, readAhead);
    let zip: ZipFile;
    try {
      // decodeStrings is off so that yauzl does not reject names with a generic error: we decode
      // them by the same rules, and refuse them with typed errors, below.
      zip = await yauzl.fromRandomAccessReaderPromise(new SourceReader(source), source.size, {
        lazyEntries: true,
        autoClose: false,
        decodeStrings: false,
        validateEntrySizes: true,
        strictFileNames: true,
      });
    } catch (err) {
      throw toArchiveError(err);
    }
    // yauzl reports failures of its reader as "error" events; unheard, one would end the process.
    zip.on("error", () => {});
    const records = await listEntries(zip, limits, options.signal).catch((err: unknown) => {
      throw toArchiveError(err);
    });
    return new ZipArchiveReader(handle, source, limits, records);
  } catch (err) {
    await handle.close();
    throw err;
  }
}

async function listEntries(zip: ZipFile, limits: ArchiveLimits, signal?: AbortSignal): Promise<ZipRecord[]> {
  if (zip.entryCount > limits.maxEntries) {
    throw new ArchiveError(
      "TOO_MANY_ENTRIES",
      `archive lists ${zip.entryCount} entries, more than ${limits.maxEntries}`,
    );
  }
  const catalog = new ArchiveCatalog(limits);
  const records: ZipRecord[] = [];
  for await (const raw of zip.eachEntry()) {
    signal?.throwIfAborted();
    const rawName = decodeEntryName(raw);
    const isSymlink = ((raw.externalFileAttributes >>> 16) & S_IFMT) === S_IFLNK;
    if (isSymlink) {
      throw new ArchiveError("SYMLINK", `archive entry ${rawName} is a symbolic link`, { entry: rawName });
    }
    if ((raw.generalPurposeBitFlag & FLAG_ENCRYPTED) !== 0) {
      throw new ArchiveError("UNSUPPORTED", `archive entry ${rawName} is encrypted`, { entry: rawName });
    }
    if (raw.compressionMethod !== METHOD_STORED && raw.compressionMethod !== METHOD_DEFLATED) {
      // Python can also read bzip2 and LZMA members, but a gate that cannot inflate a file
      // cannot vet it, so these fail closed.
      throw new ArchiveError(
        "UNSUPPORTED",
        `archive entry ${rawName} uses compression method ${raw.compressionMethod}; only stored and deflate are read`,
        { entry: rawName },
      );
    }
    if (raw.compressedSize > maxDeflateSize(raw.uncompressedSize)) {
      // Bounds what reading the compressed bytes can cost: deflate never expands data by more
      // than its 5-byte stored-block header per 16 KiB (RFC 1951 3.2.4; zlib's deflateBound).
      throw new ArchiveError(
        "CORRUPT",
        `archive entry ${rawName} is larger compressed than deflate can make it`,
        { entry: rawName },
      );
    }
    const entry = catalog.add({
      rawName,
      size: raw.uncompressedSize,
      compressedSize: raw.compressedSize,
      isDirectory: false,
    });
    if (entry !== undefined) records.push({ entry, raw });
  }
  catalog.finish();
  checkNoOverlap(records);
  return records;
}

function maxDeflateSize(size: number): number {
  return size + 5 * Math.ceil(size / 16_383) + 64;
}

/**
 * The name pip would see: the header bytes as UTF-8 when flag bit 11 says so, else CP437 (CPython
 * `zipfile`, APPNOTE 4.4.4). An Info-ZIP Unicode Path extra field (0x7075) naming the entry
 * differently is refused, since tools that honour it and tools that do not would then disagree.
 */
function decodeEntryName(raw: YauzlEntry): string {
  const nameBytes = raw.fileNameRaw;
  if ((raw.generalPurposeBitFlag & FLAG_UTF8) !== 0) {
    try {
      strictUtf8.decode(nameBytes);
    } catch {
      throw new ArchiveError("CORRUPT", "archive entry name is flagged UTF-8 but is not valid UTF-8");
    }
  }
  const plain = yauzl.getFileNameLowLevel(raw.generalPurposeBitFlag, nameBytes, [], true);
  const withExtras = yauzl.getFileNameLowLevel(raw.generalPurposeBitFlag, nameBytes, raw.extraFields, true);
  if (plain !== withExtras) {
    throw new ArchiveError(
      "CORRUPT",
      `archive entry ${JSON.stringify(plain)} carries a second name ${JSON.stringify(withExtras)}`,
      { entry: plain },
    );
  }
  return plain;
}

/**
 * Refuses entries whose data overlap: several central-directory records pointing into the same
 * bytes is how non-recursive zip bombs multiply one compressed stream (CPython gh-109858 rejects
 * them too). Each local record is at least its fixed header, its name and its data long.
 */
function checkNoOverlap(records: readonly ZipRecord[]): void {
  const byOffset = [...records].sort(
    (a, b) => a.raw.relativeOffsetOfLocalHeader - b.raw.relativeOffsetOfLocalHeader,
  );
  for (let i = 1; i < byOffset.length; i++) {
    const previous = byOffset[i - 1]!.raw;
    const current = byOffset[i]!;
    const previousEnd =
      previous.relativeOffsetOfLocalHeader +
      LOCAL_HEADER_FIXED_SIZE +
      previous.fileNameLength +
      previous.compressedSize;
    if (previousEnd > current.raw.relativeOffsetOfLocalHeader) {
      throw new ArchiveError(
        "CORRUPT",
        `archive entry ${current.entry.name} overlaps the data of another entry`,
        { entry: current.entry.name },
      );
    }
  }
}

/** Positional reads from the archive file, served from one cached window where possible. */
class ByteSource {
  readonly size: number;
  readonly #handle: FileHandle;
  readonly #readAhead: number;
  readonly #readWhole: boolean;
  #window: { start: number; data: Buffer } | undefined;

  constructor(handle: FileHandle, size: number, readAhead: number) {
    this.#handle = handle;
    this.size = size;
    this.#readAhead = readAhead;
    this.#readWhole = size <= 4 * readAhead;
  }

  /** Exactly `length` bytes at `position`; may share memory with the window, so copy to keep. */
  async read(position: number, length: number): Promise<Buffer> {
    if (position < 0 || length < 0 || position + length > this.size) {
      throw new ArchiveError("CORRUPT", "archive structure points past the end of the file");
    }
    const window = this.#window;
    if (
      window !== undefined &&
      position >= window.start &&
      position + length <= window.start + window.data.length
    ) {
      return window.data.subarray(position - window.start, position - window.start + length);
    }
    const start = this.#readWhole ? 0 : position;
    const size = this.#readWhole ? this.size : Math.min(Math.max(length, this.#readAhead), this.size - start);
    const data = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await this.#handle.read(data, filled, size - filled, start + filled);
      if (bytesRead === 0) throw new ArchiveError("CORRUPT", "archive file ended early (was it truncated?)");
      filled += bytesRead;
    }
    this.#window = { start, data };
    return data.subarray(position - start, position - start + length);
  }

  release(): void {
    this.#window = undefined;
  }
}

/** Lets yauzl parse the central directory through the same window as the data reads. */
class SourceReader extends yauzl.RandomAccessReader {
  readonly #source: ByteSource;

  constructor(source: ByteSource) {
    super();
    this.#source = source;
  }

  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    callback: (err: Error | null) => void,
  ): void {
    // yauzl's callback also takes the byte count, which its own typings leave out.
    const done = callback as (err: Error | null, bytesRead?: number) => void;
    this.#source.read(position, length).then(
      (bytes) => done(null, bytes.copy(buffer, offset)),
      (err: unknown) => done(err instanceof Error ? err : new Error(String(err))),
    );
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const source = this.#source;
    return Readable.from(
      (async function* () {
        yield Buffer.from(await source.read(start, end - start));
      })(),
    );
  }
}

class ZipArchiveReader implements ArchiveReader {
  readonly format = "zip";
  readonly limits: ArchiveLimits;
  readonly #handle: FileHandle;
  readonly #source: ByteSource;
  readonly #records: readonly ZipRecord[];
  readonly #byName: Map<string, ZipRecord>;
  readonly #entries: readonly ArchiveEntry[];
  #closed = false;

  constructor(handle: FileHandle, source: ByteSource, limits: ArchiveLimits, records: readonly ZipRecord[]) {
    this.#handle = handle;
    this.#source = source;
    this.limits = limits;
    this.#records = records;
    this.#byName = new Map(records.map((record) => [record.entry.name, record]));
    this.#entries = Object.freeze(records.map((record) => record.entry));
  }

  entries(): readonly ArchiveEntry[] {
    return this.#entries;
  }

  entry(name: string): ArchiveEntry | undefined {
    return this.#byName.get(name)?.entry;
  }

  async read(name: string, options: ReadOptions = {}): Promise<Buffer> {
    this.#assertOpen();
    const entry = lookupFile({ get: (n) => this.#byName.get(n)?.entry }, name);
    options.signal?.throwIfAborted();
    return this.#inflate(this.#byName.get(entry.name)!);
  }

  async forEachFile(visit: FileVisitor, options: ReadOptions = {}): Promise<void> {
    this.#assertOpen();
    let produced = 0;
    for (const record of this.#records) {
      if (record.entry.isDirectory) continue;
      options.signal?.throwIfAborted();
      const data = await this.#inflate(record);
      produced += data.length;
      if (produced > this.limits.maxTotalUncompressed) {
        throw new ArchiveError(
          "TOO_LARGE",
          `archive inflates to more than ${this.limits.maxTotalUncompressed} bytes`,
          { entry: record.entry.name },
        );
      }
      await visit(record.entry, data);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#source.release();
    await this.#handle.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("the zip archive reader is closed");
  }

  async #inflate(record: ZipRecord): Promise<Buffer> {
    const { entry, raw } = record;
    try {
      const compressed = await this.#compressedData(record);
      let data: Buffer;
      if (raw.compressionMethod === METHOD_STORED) {
        data = Buffer.from(compressed);
      } else {
        // zlib inflates chunk by chunk and stops once the output passes maxOutputLength, so an
        // entry that lies about its size costs at most one chunk more than it declared.
        const options = { maxOutputLength: Math.max(entry.size, 1), chunkSize: INFLATE_CHUNK };
        data =
          entry.size <= SYNC_INFLATE_MAX
            ? zlib.inflateRawSync(compressed, options)
            : await inflateRawAsync(compressed, options);
      }
      checkEntrySize(this.limits, entry.name, data.length, raw.compressedSize);
      if (data.length !== entry.size) {
        throw new ArchiveError(
          "CORRUPT",
          `entry ${entry.name} inflates to ${data.length} bytes, not the declared ${entry.size}`,
          { entry: entry.name },
        );
      }
      if (zlib.crc32(data) !== raw.crc32 >>> 0) {
        throw new ArchiveError("CORRUPT", `entry ${entry.name} fails its CRC-32 check`, {
          entry: entry.name,
        });
      }
      return data;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
        throw new ArchiveError(
          "CORRUPT",
          `entry ${entry.name} inflates past its declared size of ${entry.size} bytes`,
          { entry: entry.name, cause: err },
        );
      }
      throw toArchiveError(err, entry.name);
    }
  }

  /** The entry's compressed bytes, after checking its local header against the central one. */
  async #compressedData({ entry, raw }: ZipRecord): Promise<Buffer> {
    const headerAt = raw.relativeOffsetOfLocalHeader;
    const fixed = await this.#source.read(headerAt, LOCAL_HEADER_FIXED_SIZE);
    if (fixed.readUInt32LE(0) !== LOCAL_HEADER_SIGNATURE) {
      throw new ArchiveError("CORRUPT", `entry ${entry.name} has no local header where the directory says`, {
        entry: entry.name,
      });
    }
    const flags = fixed.readUInt16LE(6);
    const method = fixed.readUInt16LE(8);
    const nameLength = fixed.readUInt16LE(26);
    const extraLength = fixed.readUInt16LE(28);
    // CPython refuses a local name that differs from the central one ("File name in directory
    // and header differ"); a streaming unzipper would see the local one, so both must agree.
    const localName = await this.#source.read(headerAt + LOCAL_HEADER_FIXED_SIZE, nameLength);
    if (!localName.equals(raw.fileNameRaw)) {
      throw new ArchiveError("CORRUPT", `local header of ${entry.name} names a different file`, {
        entry: entry.name,
      });
    }
    if (method !== raw.compressionMethod || (flags & FLAG_ENCRYPTED) !== 0) {
      throw new ArchiveError(
        "CORRUPT",
        `local header of ${entry.name} disagrees with the central directory`,
        { entry: entry.name },
      );
    }
    return this.#source.read(
      headerAt + LOCAL_HEADER_FIXED_SIZE + nameLength + extraLength,
      raw.compressedSize,
    );
  }
}

/**
 * Maps anything thrown while reading to an {@link ArchiveError}, except what is not the archive's
 * fault: cancellation and file-system errors keep their identity so callers can retry them.
 */
function toArchiveError(err: unknown, entry?: string): unknown {
  if (err instanceof ArchiveError) return err;
  if (err instanceof Error) {
    if (err.name === "AbortError") return err;
    const errno = err as NodeJS.ErrnoException;
    if (typeof errno.code === "string" && errno.syscall !== undefined) return err;
    const where = entry === undefined ? "" : ` (entry ${entry})`;
    return new ArchiveError("CORRUPT", `not a readable zip archive${where}: ${err.message}`, {
      cause: err,
      ...(entry === undefined ? {} : { entry }),
    });
  }
  return new ArchiveError("CORRUPT", `not a readable zip archive: ${String(err)}`, { cause: err });
}
