/**
 * Reads zip archives (wheels, zip sdists) from disk without trusting a byte of them.
 *
 * The listing comes from the central directory, as it does for pip (CPython `zipfile`), so the
 * gateway judges the same files the installer will write. Everything an attacker controls is
 * checked before use: names, sizes, overlap of entries, compression method and ratio; and while
 * inflating, the bytes actually produced and their CRC-32.
 *
 * The end records and the central directory are parsed here the way CPython `zipfile` parses them,
 * and every archive that CPython and yauzl (which lists the entries for the rest of this module)
 * could read differently is refused: junk before the central directory (CPython shifts all offsets
 * by it, yauzl does not), a record count that disagrees with the directory's size (yauzl stops at
 * the count, CPython reads to the size), zip64 records in other than the one place both look, and
 * names or zip64 fields only one of them decodes. Entry data is read here, through one file handle
 * and a read-ahead window, because a wheel is mostly many small files and a file-system round trip
 * per header and per entry would cost more than inflating them.
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
  type FileContentVisitor,
  type FileVisitor,
  type LargeFile,
  type OpenArchiveOptions,
  type ReadOptions,
} from "./archive-reader.js";

const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;
const FLAG_ENCRYPTED = 0x1;
const FLAG_UTF8 = 0x800;
const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const LOCAL_HEADER_FIXED_SIZE = 30;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const CENTRAL_HEADER_FIXED_SIZE = 46;
/** "PK\x05\x06", the end of central directory record signature. */
const EOCD_MAGIC = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const ZIP64_EOCD_SIZE = 56;
const MAX_COMMENT_LENGTH = 0xffff;
const EXTRA_ZIP64 = 0x0001;
const EXTRA_UNICODE_PATH = 0x7075;
const U16_SENTINEL = 0xffff;
const U32_SENTINEL = 0xffffffff;
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
/** Default {@link OpenZipOptions.streamAbove}. */
export const DEFAULT_ZIP_STREAM_ABOVE = 16 * MiB;
/** Bytes of a LargeFile's `head`. */
const LARGE_FILE_HEAD = 64 * 1024;
/** Compressed bytes a LargeFile reads at a time. */
const PIECE_READ = 4 * MiB;
/** Longest a pass over the files runs before it lets the event loop serve others. */
const PASS_SLICE_MS = 10;

const inflateRawAsync = promisify(zlib.inflateRaw);
// ignoreBOM keeps a leading U+FEFF, as CPython's "utf-8" codec does.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export interface OpenZipOptions extends OpenArchiveOptions {
  /**
   * Bytes fetched per file-system read. Entries are laid out in order, so later reads mostly hit
   * what was read ahead; archives up to four times this size are read whole, in one read.
   */
  readAhead?: number;
  /**
   * `forEachFileContent` hands an entry declaring more than this many bytes (or more than
   * `limits.maxBufferedEntry`) over in pieces, as a LargeFile, rather than whole. Default 16 MiB,
   * the artifact scan's text limit: a larger file is only hashed and its head read, so holding it
   * whole buys nothing, and in pieces other work gets the event loop between them.
   */
  streamAbove?: number;
}

interface ZipRecord {
  entry: ArchiveEntry;
  raw: YauzlEntry;
  /** Where the entry's data must end: the next local header, or the central directory. */
  dataLimit: number;
}

/** One central-directory record as CPython `zipfile` reads it (zip64 fields applied). */
interface CentralRecord {
  nameRaw: Buffer;
  flags: number;
  method: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
  externalAttributes: number;
  extraFields: readonly ExtraField[];
}

interface ExtraField {
  id: number;
  data: Buffer;
}

/** The central directory, located and parsed as CPython `zipfile` does. */
interface CentralDirectory {
  offset: number;
  records: readonly CentralRecord[];
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
  if (options.streamAbove !== undefined && !(options.streamAbove >= 0))
    throw new RangeError(`streamAbove must not be negative, got ${options.streamAbove}`);
  options.signal?.throwIfAborted();
  const handle = await openFile(path, "r");
  try {
    const source = new ByteSource(handle, (await handle.stat()).size, readAhead);
    const directory = await readCentralDirectory(source, limits).catch((err: unknown) => {
      throw toArchiveError(err);
    });
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
    const records = await listEntries(zip, directory, limits, options.signal).catch((err: unknown) => {
      throw toArchiveError(err);
    });
    return new ZipArchiveReader(
      handle,
      source,
      limits,
      records,
      options.streamAbove ?? DEFAULT_ZIP_STREAM_ABOVE,
    );
  } catch (err) {
    await handle.close();
    throw err;
  }
}

async function listEntries(
  zip: ZipFile,
  directory: CentralDirectory,
  limits: ArchiveLimits,
  signal?: AbortSignal,
): Promise<ZipRecord[]> {
  if (zip.entryCount !== directory.records.length) {
    throw ambiguous(
      `yauzl expects ${zip.entryCount} entries, the central directory holds ${directory.records.length}`,
    );
  }
  const dataLimits = dataLimitsOf(directory);
  const catalog = new ArchiveCatalog(limits);
  const records: ZipRecord[] = [];
  let index = 0;
  let sliceStart = performance.now();
  for await (const raw of zip.eachEntry()) {
    signal?.throwIfAborted();
    // Reads of a listing come from memory: let other work in now and then (see PASS_SLICE_MS).
    if (performance.now() - sliceStart > PASS_SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
    const central = directory.records[index++];
    if (central === undefined || !sameRecord(raw, central)) {
      throw ambiguous(`yauzl and CPython would read central directory record ${index} differently`);
    }
    const rawName = decodeEntryName(central);
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
    if (entry !== undefined) {
      records.push({ entry, raw, dataLimit: dataLimits.get(raw.relativeOffsetOfLocalHeader)! });
    }
  }
  if (index !== directory.records.length) {
    throw ambiguous(`yauzl listed ${index} of the ${directory.records.length} central directory records`);
  }
  catalog.finish();
  checkNoOverlap(directory.records);
  return records;
}

function ambiguous(detail: string): ArchiveError {
  return new ArchiveError("CORRUPT", `ambiguous zip structure: ${detail}`);
}

/** Whether yauzl's reading of a record is CPython's, field for field. */
function sameRecord(raw: YauzlEntry, central: CentralRecord): boolean {
  return (
    raw.fileNameRaw.equals(central.nameRaw) &&
    raw.generalPurposeBitFlag === central.flags &&
    raw.compressionMethod === central.method &&
    raw.crc32 >>> 0 === central.crc32 &&
    raw.compressedSize === central.compressedSize &&
    raw.uncompressedSize === central.uncompressedSize &&
    raw.relativeOffsetOfLocalHeader === central.localHeaderOffset &&
    raw.externalFileAttributes >>> 0 === central.externalAttributes
  );
}

/**
 * Locates and parses the central directory as CPython `zipfile` does (`_EndRecData`,
 * `_EndRecData64`, `_RealGetContents`), refusing every archive that CPython, yauzl or another
 * reader could list differently. Only the one layout all agree on passes: the end record at the
 * end of the file (its comment running exactly to the end), the zip64 end record and locator, when
 * present, right before it, and the central directory right before those, holding exactly the
 * declared number of records in exactly the declared number of bytes, on one disk.
 */
async function readCentralDirectory(source: ByteSource, limits: ArchiveLimits): Promise<CentralDirectory> {
  if (source.size < EOCD_SIZE) throw new ArchiveError("CORRUPT", "not a zip archive: too short");
  const tailStart = Math.max(source.size - EOCD_SIZE - MAX_COMMENT_LENGTH, 0);
  const tail = Buffer.from(await source.read(tailStart, source.size - tailStart));
  // CPython takes a comment-less end record in the last 22 bytes, else the last signature in the
  // last 64 KiB: the last signature either way. yauzl takes the last one that leaves room for a
  // whole record; the two agree when that is the last signature of all.
  const eocdAt = tail.lastIndexOf(EOCD_MAGIC);
  if (eocdAt === -1)
    throw new ArchiveError("CORRUPT", "not a zip archive: no end of central directory record");
  if (eocdAt + EOCD_SIZE > tail.length) {
    throw ambiguous("an end of central directory signature too close to the end of the file");
  }
  const eocd = tail.subarray(eocdAt, eocdAt + EOCD_SIZE);
  const eocdPosition = tailStart + eocdAt;
  const commentLength = eocd.readUInt16LE(20);
  if (eocdPosition + EOCD_SIZE + commentLength !== source.size) {
    throw ambiguous(
      `the archive comment is declared ${commentLength} bytes long but ${source.size - eocdPosition - EOCD_SIZE} bytes follow the end record`,
    );
  }
  const end = {
    disk: eocd.readUInt16LE(4),
    directoryDisk: eocd.readUInt16LE(6),
    entriesOnDisk: eocd.readUInt16LE(8),
    entries: eocd.readUInt16LE(10),
    size: eocd.readUInt32LE(12),
    offset: eocd.readUInt32LE(16),
  };
  let directoryEnd = eocdPosition;
  const locatorPosition = eocdPosition - ZIP64_LOCATOR_SIZE;
  const locator = locatorPosition >= 0 ? await source.read(locatorPosition, ZIP64_LOCATOR_SIZE) : undefined;
  if (locator !== undefined && locator.readUInt32LE(0) === ZIP64_LOCATOR_SIGNATURE) {
    // CPython (before 3.14) reads the zip64 end record right before the locator, whatever the
    // locator says; yauzl and newer CPython read where the locator points. Both must be one place.
    const recordPosition = locatorPosition - ZIP64_EOCD_SIZE;
    if (locator.readUInt32LE(4) !== 0 || locator.readUInt32LE(16) > 1) {
      throw new ArchiveError("UNSUPPORTED", "multi-disk zip archives are not supported");
    }
    if (recordPosition < 0 || readSize(locator, 8, "zip64 end record offset") !== recordPosition) {
      throw ambiguous("the zip64 locator points elsewhere than right before itself");
    }
    const record = await source.read(recordPosition, ZIP64_EOCD_SIZE);
    if (record.readUInt32LE(0) !== ZIP64_EOCD_SIGNATURE) {
      throw ambiguous("a zip64 locator without a zip64 end of central directory record");
    }
    if (readSize(record, 4, "zip64 end record size") !== ZIP64_EOCD_SIZE - 12) {
      throw ambiguous("a zip64 end of central directory record with extensible data");
    }
    const zip64 = {
      disk: record.readUInt32LE(16),
      directoryDisk: record.readUInt32LE(20),
      entriesOnDisk: readSize(record, 24, "entry count"),
      entries: readSize(record, 32, "entry count"),
      size: readSize(record, 40, "central directory size"),
      offset: readSize(record, 48, "central directory offset"),
    };
    // Writers put either the value or the "see zip64" sentinel in the classic record; anything
    // else means readers that ignore zip64 would see another archive.
    const agrees = (classic: number, value: number, sentinel: number) =>
      classic === value || classic === sentinel;
    if (
      !agrees(end.disk, zip64.disk, U16_SENTINEL) ||
      !agrees(end.directoryDisk, zip64.directoryDisk, U16_SENTINEL) ||
      !agrees(end.entriesOnDisk, zip64.entriesOnDisk, U16_SENTINEL) ||
      !agrees(end.entries, zip64.entries, U16_SENTINEL) ||
      !agrees(end.size, zip64.size, U32_SENTINEL) ||
      !agrees(end.offset, zip64.offset, U32_SENTINEL)
    ) {
      throw ambiguous("the end of central directory record and its zip64 record disagree");
    }
    Object.assign(end, zip64);
    directoryEnd = recordPosition;
  }
  if (end.disk !== 0 || end.directoryDisk !== 0) {
    throw new ArchiveError("UNSUPPORTED", "multi-disk zip archives are not supported");
  }
  if (end.entriesOnDisk !== end.entries) {
    throw ambiguous(
      `the end record counts ${end.entriesOnDisk} entries on this disk but ${end.entries} in all`,
    );
  }
  if (end.offset + end.size !== directoryEnd) {
    // CPython would shift every offset by the difference (for self-extracting archives); yauzl
    // would not, so each would read a different directory.
    throw ambiguous(
      `the central directory is declared at ${end.offset} (${end.size} bytes) but the end record is at ${directoryEnd}`,
    );
  }
  if (end.entries > limits.maxEntries) {
    throw new ArchiveError(
      "TOO_MANY_ENTRIES",
      `archive lists ${end.entries} entries, more than ${limits.maxEntries}`,
    );
  }
  const data = Buffer.from(await source.read(end.offset, end.size));
  const records: CentralRecord[] = [];
  let at = 0;
  // CPython reads records until the declared size is used up, yauzl reads the declared count: the
  // two must end on the same record.
  while (at < data.length) {
    if (records.length >= end.entries) {
      throw ambiguous(
        `the central directory holds more than the ${end.entries} records the end record counts`,
      );
    }
    if (at + CENTRAL_HEADER_FIXED_SIZE > data.length || data.readUInt32LE(at) !== CENTRAL_HEADER_SIGNATURE) {
      throw ambiguous(`central directory record ${records.length + 1} is truncated or has no signature`);
    }
    const nameLength = data.readUInt16LE(at + 28);
    const extraLength = data.readUInt16LE(at + 30);
    const commentLen = data.readUInt16LE(at + 32);
    const next = at + CENTRAL_HEADER_FIXED_SIZE + nameLength + extraLength + commentLen;
    if (next > data.length) {
      throw ambiguous(`central directory record ${records.length + 1} runs past the declared directory size`);
    }
    if (data.readUInt16LE(at + 34) !== 0) {
      throw new ArchiveError("UNSUPPORTED", "multi-disk zip archives are not supported");
    }
    const nameStart = at + CENTRAL_HEADER_FIXED_SIZE;
    const extra = data.subarray(nameStart + nameLength, nameStart + nameLength + extraLength);
    const record: CentralRecord = {
      nameRaw: data.subarray(nameStart, nameStart + nameLength),
      flags: data.readUInt16LE(at + 8),
      method: data.readUInt16LE(at + 10),
      crc32: data.readUInt32LE(at + 16),
      compressedSize: data.readUInt32LE(at + 20),
      uncompressedSize: data.readUInt32LE(at + 24),
      localHeaderOffset: data.readUInt32LE(at + 42),
      externalAttributes: data.readUInt32LE(at + 38),
      extraFields: parseExtraFields(extra),
    };
    applyZip64Extra(record);
    records.push(record);
    at = next;
  }
  if (records.length !== end.entries) {
    throw ambiguous(
      `the end record counts ${end.entries} entries but the central directory holds ${records.length}`,
    );
  }
  return { offset: end.offset, records };
}

/** A little-endian 64-bit size that must fit a JavaScript number. */
function readSize(buffer: Buffer, offset: number, what: string): number {
  const value = buffer.readBigUInt64LE(offset);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ArchiveError("CORRUPT", `zip64 ${what} ${value} is impossibly large`);
  }
  return Number(value);
}

/** Extra fields as CPython splits them (`ZipInfo._decodeExtra`); 1 to 3 trailing bytes are ignored. */
function parseExtraFields(extra: Buffer): ExtraField[] {
  const fields: ExtraField[] = [];
  let at = 0;
  while (extra.length - at >= 4) {
    const id = extra.readUInt16LE(at);
    const length = extra.readUInt16LE(at + 2);
    if (at + 4 + length > extra.length) {
      throw new ArchiveError("CORRUPT", `extra field 0x${id.toString(16)} runs past the extra data`);
    }
    fields.push({ id, data: extra.subarray(at + 4, at + 4 + length) });
    at += 4 + length;
  }
  return fields;
}

/**
 * Applies the zip64 extended information field as CPython does: the 64-bit sizes and offset, in
 * that order, for each classic field holding the sentinel. CPython applies every such field and
 * yauzl only the first, so a second one is refused.
 */
function applyZip64Extra(record: CentralRecord): void {
  const fields = record.extraFields.filter((field) => field.id === EXTRA_ZIP64);
  if (fields.length === 0) return;
  if (fields.length > 1) throw ambiguous("an entry with more than one zip64 extra field");
  const data = fields[0]!.data;
  let at = 0;
  const next = (what: string): number => {
    if (at + 8 > data.length) throw new ArchiveError("CORRUPT", `zip64 extra field lacks the ${what}`);
    const value = readSize(data, at, what);
    at += 8;
    return value;
  };
  if (record.uncompressedSize === U32_SENTINEL) record.uncompressedSize = next("uncompressed size");
  if (record.compressedSize === U32_SENTINEL) record.compressedSize = next("compressed size");
  if (record.localHeaderOffset === U32_SENTINEL) record.localHeaderOffset = next("local header offset");
}

/**
 * Where each entry's data must end, by local header offset: at the next local header, or at the
 * central directory for the last (CPython 3.12+ refuses to read past it, gh-109858).
 */
function dataLimitsOf(directory: CentralDirectory): Map<number, number> {
  const offsets = [...new Set(directory.records.map((record) => record.localHeaderOffset))].sort(
    (a, b) => a - b,
  );
  return new Map(offsets.map((offset, i) => [offset, offsets[i + 1] ?? directory.offset]));
}

function maxDeflateSize(size: number): number {
  return size + 5 * Math.ceil(size / 16_383) + 64;
}

/**
 * The name pip would see: the header bytes as UTF-8 when flag bit 11 says so, else CP437 (CPython
 * `zipfile`, APPNOTE 4.4.4). CPython decodes bytes below 0x80 as ASCII where yauzl shows CP437's
 * glyphs (0x01 as "☺"), so those control bytes are refused here rather than shown as glyphs. An
 * Info-ZIP Unicode Path extra field (0x7075) naming the entry differently is refused, whatever its
 * version or CRC: CPython 3.13+ honours a valid one, older versions and other tools do not.
 */
function decodeEntryName(record: CentralRecord): string {
  const nameBytes = record.nameRaw;
  let name: string;
  if ((record.flags & FLAG_UTF8) !== 0) {
    try {
      name = strictUtf8.decode(nameBytes);
    } catch {
      throw new ArchiveError("CORRUPT", "archive entry name is flagged UTF-8 but is not valid UTF-8");
    }
  } else {
    if (nameBytes.some((byte) => byte < 0x20 || byte === 0x7f)) {
      const shown = JSON.stringify(nameBytes.toString("latin1"));
      throw new ArchiveError("CORRUPT", `archive entry name contains a control character: ${shown}`, {
        entry: shown,
      });
    }
    name = yauzl.getFileNameLowLevel(record.flags, nameBytes, [], true);
  }
  for (const field of record.extraFields) {
    if (field.id !== EXTRA_UNICODE_PATH) continue;
    let second: string | undefined;
    try {
      second = field.data.length < 5 ? undefined : strictUtf8.decode(field.data.subarray(5));
    } catch {
      second = undefined;
    }
    if (second !== name) {
      throw new ArchiveError(
        "CORRUPT",
        `archive entry ${JSON.stringify(name)} carries a second name ${JSON.stringify(second ?? "(unreadable)")}`,
        { entry: name },
      );
    }
  }
  return name;
}

/**
 * Refuses entries whose data overlap: several central-directory records pointing into the same
 * bytes is how non-recursive zip bombs multiply one compressed stream (CPython gh-109858 rejects
 * them too). Each local record is at least its fixed header, its name and its data long; reading
 * checks the exact end against {@link ZipRecord.dataLimit}.
 */
function checkNoOverlap(records: readonly CentralRecord[]): void {
  const byOffset = [...records].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let i = 1; i < byOffset.length; i++) {
    const previous = byOffset[i - 1]!;
    const current = byOffset[i]!;
    const previousEnd =
      previous.localHeaderOffset +
      LOCAL_HEADER_FIXED_SIZE +
      previous.nameRaw.length +
      previous.compressedSize;
    if (previousEnd > current.localHeaderOffset) {
      const name = current.nameRaw.toString("latin1");
      throw new ArchiveError("CORRUPT", `archive entry ${name} overlaps the data of another entry`, {
        entry: name,
      });
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
  /** Entries over this many bytes come as a LargeFile from `forEachFileContent`. */
  readonly #streamAbove: number;
  #closed = false;

  constructor(
    handle: FileHandle,
    source: ByteSource,
    limits: ArchiveLimits,
    records: readonly ZipRecord[],
    streamAbove: number,
  ) {
    this.#handle = handle;
    this.#streamAbove = Math.min(streamAbove, limits.maxBufferedEntry);
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
    const record = this.#byName.get(entry.name)!;
    this.#assertBuffered(record);
    return this.#inflate(record);
  }

  forEachFile(visit: FileVisitor, options: ReadOptions = {}): Promise<void> {
    return this.#pass(options, async (record) => {
      this.#assertBuffered(record);
      await visit(record.entry, await this.#inflate(record));
    });
  }

  forEachFileContent(visit: FileContentVisitor, options: ReadOptions = {}): Promise<void> {
    return this.#pass(options, async (record) => {
      const { entry } = record;
      if (entry.size <= this.#streamAbove) {
        await visit(entry, await this.#inflate(record));
        return;
      }
      let checked = false;
      const file: LargeFile = {
        size: entry.size,
        head: await this.#head(record, options.signal),
        pieces: () => this.#pieces(record, options.signal, () => (checked = true)),
      };
      await visit(entry, file);
      // Its bytes are checked against the listing (size, CRC-32) even when no visitor read them.
      if (!checked) for await (const _ of this.#pieces(record, options.signal, () => {}));
    });
  }

  /**
   * Calls `each` for every file in archive order, keeping the inflated total within the limit.
   * Small entries inflate synchronously, so a pass over thousands of them would hold the event
   * loop (a gateway's other requests) for a long spell: it lets other work in every PASS_SLICE_MS.
   */
  async #pass(options: ReadOptions, each: (record: ZipRecord) => Promise<void>): Promise<void> {
    this.#assertOpen();
    let produced = 0;
    let sliceStart = performance.now();
    for (const record of this.#records) {
      if (performance.now() - sliceStart > PASS_SLICE_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        this.#assertOpen();
        sliceStart = performance.now();
      }
      if (record.entry.isDirectory) continue;
      options.signal?.throwIfAborted();
      // Each file is checked to inflate to exactly its declared size.
      produced += record.entry.size;
      if (produced > this.limits.maxTotalUncompressed) {
        throw new ArchiveError(
          "TOO_LARGE",
          `archive inflates to more than ${this.limits.maxTotalUncompressed} bytes`,
          { entry: record.entry.name },
        );
      }
      await each(record);
    }
  }

  /** Refuses to hold an entry over `maxBufferedEntry` whole. */
  #assertBuffered({ entry }: ZipRecord): void {
    if (entry.size > this.limits.maxBufferedEntry) {
      throw new ArchiveError(
        "ENTRY_TOO_LARGE",
        `entry ${entry.name} inflates to more than ${this.limits.maxBufferedEntry} bytes, more than is read whole`,
        { entry: entry.name },
      );
    }
  }

  /** The first LARGE_FILE_HEAD bytes of an entry. */
  async #head(record: ZipRecord, signal: AbortSignal | undefined): Promise<Buffer> {
    const pieces: Buffer[] = [];
    let length = 0;
    for await (const piece of this.#pieces(record, signal, () => {})) {
      pieces.push(piece);
      length += piece.length;
      if (length >= LARGE_FILE_HEAD) break;
    }
    return Buffer.concat(pieces, length).subarray(0, LARGE_FILE_HEAD);
  }

  /**
   * An entry's bytes in pieces, inflated from PIECE_READ compressed bytes at a time, checked as
   * `#inflate` checks a whole entry: no byte past its declared size, then its size and CRC-32 at
   * the end (`whole` is called once they agree). Hand-written over zlib's stream: yauzl's own
   * stream would trust the directory's offsets without the local-header checks `#dataStart` makes.
   */
  async *#pieces(
    record: ZipRecord,
    signal: AbortSignal | undefined,
    whole: () => void,
  ): AsyncGenerator<Buffer> {
    const { entry, raw } = record;
    try {
      const start = await this.#dataStart(record);
      const length = raw.compressedSize;
      const source = this.#source;
      // The source never reuses a buffer it returned, so its pieces need no copy.
      const compressed = async function* (): AsyncGenerator<Buffer> {
        for (let at = 0; at < length; at += PIECE_READ) {
          signal?.throwIfAborted();
          yield await source.read(start + at, Math.min(PIECE_READ, length - at));
        }
      };
      let input: Readable | undefined;
      let inflate: zlib.InflateRaw | undefined;
      let out: AsyncIterable<Buffer>;
      if (raw.compressionMethod === METHOD_STORED) out = compressed();
      else {
        input = Readable.from(compressed(), { objectMode: false });
        inflate = zlib.createInflateRaw({ chunkSize: INFLATE_CHUNK });
        const sink = inflate;
        input.on("error", (err) => sink.destroy(err));
        input.pipe(sink);
        out = sink;
      }
      let produced = 0;
      let crc = 0;
      try {
        for await (const piece of out) {
          produced += piece.length;
          if (produced > entry.size) {
            throw new ArchiveError(
              "CORRUPT",
              `entry ${entry.name} inflates past its declared size of ${entry.size} bytes`,
              { entry: entry.name },
            );
          }
          crc = zlib.crc32(piece, crc);
          yield piece;
        }
      } finally {
        input?.destroy();
        inflate?.destroy();
      }
      if (produced !== entry.size) {
        throw new ArchiveError(
          "CORRUPT",
          `entry ${entry.name} inflates to ${produced} bytes, not the declared ${entry.size}`,
          { entry: entry.name },
        );
      }
      if (crc >>> 0 !== raw.crc32 >>> 0) {
        throw new ArchiveError("CORRUPT", `entry ${entry.name} fails its CRC-32 check`, {
          entry: entry.name,
        });
      }
      whole();
    } catch (err) {
      throw toArchiveError(err, entry.name);
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
  async #compressedData(record: ZipRecord): Promise<Buffer> {
    return this.#source.read(await this.#dataStart(record), record.raw.compressedSize);
  }

  /** Where the entry's compressed bytes start, after checking its local header against the central one. */
  async #dataStart({ entry, raw, dataLimit }: ZipRecord): Promise<number> {
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
    const dataStart = headerAt + LOCAL_HEADER_FIXED_SIZE + nameLength + extraLength;
    if (dataStart + raw.compressedSize > dataLimit) {
      throw new ArchiveError("CORRUPT", `data of ${entry.name} runs into the next entry or the directory`, {
        entry: entry.name,
      });
    }
    return dataStart;
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
