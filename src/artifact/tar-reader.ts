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
 *
 * pip unpacks sdists with CPython `tarfile`, which reads some headers differently from tar-stream
 * (global pax headers, the ustar prefix, pax records in block padding, data after the end-of-archive
 * blocks, a regular file named with a trailing slash, …). So every header is also parsed here as
 * CPython parses it ({@link TarHeaderCheck}) and an archive is refused unless both readers see the
 * same members, with the same names, types, sizes and data offsets, and nothing outside a small
 * set of well-understood header forms.
 */
import { createReadStream } from "node:fs";
import { Transform, type TransformCallback } from "node:stream";
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
  type FileContentVisitor,
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

  /** Every member is held whole (none is over `maxBufferedEntry`, see `handleEntry`). */
  forEachFileContent(visit: FileContentVisitor, options: ReadOptions = {}): Promise<void> {
    return this.forEachFile(visit, options);
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

/** One member as CPython `tarfile` lists it, to hold tar-stream's listing against. */
interface CpythonMember {
  name: string;
  isDirectory: boolean;
  size: number;
  /** Offset of the member's data in the uncompressed stream. */
  dataOffset: number;
}

const MAX_META_SIZE = 1024 * 1024;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const POSIX_MAGIC = Buffer.from("ustar\u000000", "latin1");
const GNU_MAGIC = Buffer.from("ustar  \u0000", "latin1");
/** Regular members: CPython skips their data (REGTYPE, AREGTYPE, CONTTYPE). */
const REGULAR_TYPES = new Set(["0", "\u0000", "7"]);
/** Members the readers list and the visitor then refuses (links, devices); never with data. */
const DATALESS_TYPES = new Set(["1", "2", "3", "4", "6"]);
// Keys CPython either applies like tar-stream does (path, linkpath, size) or ignores for
// extraction; anything else (GNU.sparse.*, hdrcharset, …) changes how one of them reads the member.
const PAX_KEYS = new Set([
  "path",
  "linkpath",
  "size",
  "mtime",
  "atime",
  "ctime",
  "uid",
  "gid",
  "uname",
  "gname",
  "SCHILY.dev",
  "SCHILY.ino",
  "SCHILY.nlink",
  "SCHILY.fflags",
  "LIBARCHIVE.creationtime",
]);
const PAX_KEY_PREFIXES = ["SCHILY.xattr.", "LIBARCHIVE.xattr."];
/** The only key read in a global pax header: `git archive` puts the commit id there. */
const GLOBAL_PAX_KEYS = new Set(["comment"]);
const PAX_INTEGER = /^[0-9]{1,15}$/;
const PAX_TIME = /^-?[0-9]{1,15}(\.[0-9]{1,9})?$/;

function tarError(detail: string, entry?: string): ArchiveError {
  return new ArchiveError(
    "CORRUPT",
    `tar header that CPython and the gateway could read differently: ${detail}`,
    entry === undefined ? undefined : { entry },
  );
}

/** CPython `nts`: the bytes up to the first NUL, here also required to be UTF-8. */
function terminated(bytes: Buffer, what: string): string {
  const nul = bytes.indexOf(0);
  const text = nul === -1 ? bytes : bytes.subarray(0, nul);
  try {
    return strictUtf8.decode(text);
  } catch {
    throw tarError(`${what} is not UTF-8`);
  }
}

/**
 * An octal header field in the one form every reader parses alike: digits, optionally padded with
 * spaces and ended by NUL or space. CPython also takes base-256, signs and underscores; tar-stream
 * stops at the first space; such fields are refused.
 */
function octalField(bytes: Buffer, what: string): number {
  const nul = bytes.indexOf(0);
  const text = bytes
    .subarray(0, nul === -1 ? bytes.length : nul)
    .toString("latin1")
    .trim();
  if (text === "") return 0;
  if (!/^[0-7]{1,15}$/.test(text)) throw tarError(`${what} field ${JSON.stringify(text)} is not plain octal`);
  return parseInt(text, 8);
}

function blockSize(size: number): number {
  return Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
}

function allZero(bytes: Buffer): boolean {
  for (const byte of bytes) if (byte !== 0) return false;
  return true;
}

/**
 * Parses the uncompressed tar stream as CPython `tarfile` does (`TarInfo.frombuf`, `_proc_pax`,
 * `_proc_gnulong`, `_apply_pax_info`), passing the bytes on unchanged to tar-stream, and refuses
 * every header form the two could read differently. {@link match} then holds each member
 * tar-stream reports against the one CPython would see at that place.
 */
class TarHeaderCheck extends Transform {
  readonly #members: CpythonMember[] = [];
  #pending: Buffer = Buffer.alloc(0);
  /** Stream offset of the first byte of #pending. */
  #offset = 0;
  /** Bytes of member data still to pass over. */
  #skip = 0;
  /** A pax (local or global) or GNU long-name header whose data is being collected. */
  #meta: { type: "x" | "g" | "L"; size: number } | undefined;
  #pax: Map<string, string> | undefined;
  #longName: string | undefined;
  #ended = false;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#parse(chunk);
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#ended) {
      callback();
      return;
    }
    if (this.#pending.length > 0 || this.#skip > 0 || this.#meta !== undefined) {
      callback(new ArchiveError("CORRUPT", "tar archive ends in the middle of a member"));
      return;
    }
    if (this.#pax !== undefined || this.#longName !== undefined) {
      callback(tarError("an extended header with no member after it"));
      return;
    }
    callback();
  }

  /** Checks the next member tar-stream reports against CPython's. */
  match(header: Header): void {
    const expected = this.#members.shift();
    const seen = header.name;
    if (expected === undefined) {
      throw tarError(`tar-stream lists ${JSON.stringify(seen)}, which CPython would not`, seen);
    }
    const isDirectory = (header.type as string | null) === "directory";
    const byteOffset = (header as Header & { byteOffset?: number }).byteOffset;
    const sameName = isDirectory
      ? seen.replace(/\/+$/, "") === expected.name.replace(/\/+$/, "")
      : seen === expected.name;
    if (
      !sameName ||
      isDirectory !== expected.isDirectory ||
      header.size !== expected.size ||
      byteOffset !== expected.dataOffset
    ) {
      throw tarError(
        `tar-stream reads ${JSON.stringify(seen)} (${isDirectory ? "directory" : `${header.size} bytes`}) where CPython reads ${JSON.stringify(expected.name)} (${expected.isDirectory ? "directory" : `${expected.size} bytes`})`,
        seen,
      );
    }
  }

  /** Called once tar-stream is done: it must have listed every member CPython would. */
  finish(): void {
    const missed = this.#members[0];
    if (missed !== undefined) {
      throw tarError(`CPython would also list ${JSON.stringify(missed.name)}`, missed.name);
    }
  }

  #parse(chunk: Buffer): void {
    let data = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    let at = 0;
    for (;;) {
      if (this.#ended) {
        // CPython stops at the first zero block; tar-stream reads on past zero blocks.
        if (!allZero(data.subarray(at))) throw tarError("data after the end-of-archive block");
        at = data.length;
        break;
      }
      if (this.#skip > 0) {
        const step = Math.min(this.#skip, data.length - at);
        this.#skip -= step;
        at += step;
        if (this.#skip > 0) break;
        continue;
      }
      if (this.#meta !== undefined) {
        const length = blockSize(this.#meta.size);
        if (data.length - at < length) break;
        this.#readMeta(this.#meta.type, data.subarray(at, at + length), this.#meta.size);
        this.#meta = undefined;
        at += length;
        continue;
      }
      if (data.length - at < TAR_BLOCK) break;
      this.#readHeader(data.subarray(at, at + TAR_BLOCK), this.#offset + at);
      at += TAR_BLOCK;
    }
    this.#offset += at;
    data = data.subarray(at);
    // Copied so a small remainder does not pin the whole chunk.
    this.#pending = data.length === 0 ? Buffer.alloc(0) : Buffer.from(data);
  }

  #readHeader(block: Buffer, position: number): void {
    if (allZero(block)) {
      if (this.#pax !== undefined || this.#longName !== undefined) {
        throw tarError("an extended header followed by the end of the archive");
      }
      this.#ended = true;
      return;
    }
    let sum = 0;
    for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
    if (octalField(block.subarray(148, 156), "checksum") !== sum) {
      throw new ArchiveError("CORRUPT", `tar header at offset ${position} fails its checksum`);
    }
    const magic = block.subarray(257, 265);
    if (!magic.equals(POSIX_MAGIC) && !magic.equals(GNU_MAGIC)) {
      throw new ArchiveError(
        "UNSUPPORTED",
        `tar header at offset ${position} is neither POSIX ustar nor GNU`,
      );
    }
    const type = String.fromCharCode(block[156]!);
    const size = octalField(block.subarray(124, 136), "size");
    const rawName = terminated(block.subarray(0, 100), "a member name");
    if (type === "x" || type === "g" || type === "L") {
      if (this.#pax !== undefined || this.#longName !== undefined) {
        // CPython and tar-stream apply chained extended headers in different orders.
        throw tarError("an extended header followed by another", rawName);
      }
      if (size > MAX_META_SIZE) throw tarError(`an extended header of ${size} bytes`, rawName);
      this.#meta = { type, size };
      return;
    }
    const regular = REGULAR_TYPES.has(type);
    if (!regular && type !== "5" && !DATALESS_TYPES.has(type)) {
      // CPython writes members of unknown types as regular files; tar-stream reads some (N, X)
      // as extended headers and refuses the rest.
      throw new ArchiveError("UNSUPPORTED", `tar member ${rawName} has type ${JSON.stringify(type)}`, {
        entry: rawName,
      });
    }
    const isDirectory = type === "5" || (type === "\u0000" && rawName.endsWith("/"));
    let name = isDirectory ? rawName.replace(/\/+$/, "") : rawName;
    const prefix = terminated(block.subarray(345, 500), "a member name prefix");
    // CPython applies the prefix field whatever the magic; tar-stream only for POSIX ustar.
    if (prefix !== "") name = `${prefix}/${name}`;
    if (this.#longName !== undefined) {
      name = this.#longName;
      if (isDirectory) name = name.replace(/\/+$/, "");
      this.#longName = undefined;
    }
    let finalSize = size;
    const pax = this.#pax;
    this.#pax = undefined;
    if (pax !== undefined) {
      const path = pax.get("path");
      if (path !== undefined) name = path.replace(/\/+$/, "");
      const paxSize = pax.get("size");
      if (paxSize !== undefined) finalSize = Number(paxSize);
    }
    if (!isDirectory && name.endsWith("/")) {
      // CPython writes it as a file (extraction strips the slash); tar-stream calls it a directory.
      throw tarError(`file member ${JSON.stringify(name)} is named like a directory`, name);
    }
    if (!regular && finalSize !== 0) {
      // CPython reads no data for these types, tar-stream reads `size` bytes.
      throw tarError(`member ${JSON.stringify(name)} of type ${JSON.stringify(type)} carries data`, name);
    }
    this.#members.push({ name, isDirectory, size: finalSize, dataOffset: position + TAR_BLOCK });
    if (regular) this.#skip = blockSize(finalSize);
  }

  #readMeta(type: "x" | "g" | "L", data: Buffer, size: number): void {
    // CPython reads the whole padded block (a long name runs to its first NUL, pax records on to
    // the first NUL); tar-stream reads only `size` bytes. Zero padding makes the two the same.
    if (!allZero(data.subarray(size))) throw tarError("data in the padding of an extended header");
    if (type === "L") {
      const name = terminated(data, "a GNU long name");
      if (name === "") throw tarError("an empty GNU long name");
      this.#longName = name;
      return;
    }
    if (type === "g") {
      // CPython applies a global header's path, size, … to every later member; tar-stream only
      // merges it into later pax headers. `git archive` writes one holding just the commit id as a
      // comment, which neither reader applies to a member (nor lists as one), so only that is read.
      parsePaxRecords(data.subarray(0, size), "global");
      return;
    }
    this.#pax = parsePaxRecords(data.subarray(0, size), "local");
  }
}

/**
 * Pax extended header records (POSIX.1-2008 pax "extended header"): `"<length> <key>=<value>\n"`,
 * tiling the data exactly. Only keys in {@link PAX_KEYS} (or, in a global header,
 * {@link GLOBAL_PAX_KEYS}) are accepted, each at most once, with values in the forms both readers
 * parse alike.
 */
function parsePaxRecords(data: Buffer, scope: "local" | "global"): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    const digits = space === -1 ? "" : data.subarray(at, space).toString("latin1");
    if (!/^[1-9][0-9]{0,6}$/.test(digits)) throw tarError("a malformed pax record length");
    const length = Number(digits);
    const end = at + length;
    if (end > data.length || end <= space + 1 || data[end - 1] !== 0x0a) {
      throw tarError("a pax record that does not end where its length says");
    }
    const record = data.subarray(space + 1, end - 1);
    const equals = record.indexOf(0x3d);
    if (equals <= 0) throw tarError("a pax record without a key");
    const key = terminated(record.subarray(0, equals), "a pax key");
    let value: string;
    try {
      value = strictUtf8.decode(record.subarray(equals + 1));
    } catch {
      throw tarError(`pax value of ${key} is not UTF-8`);
    }
    const known =
      scope === "global"
        ? GLOBAL_PAX_KEYS.has(key)
        : PAX_KEYS.has(key) || PAX_KEY_PREFIXES.some((prefix) => key.startsWith(prefix));
    if (!known) {
      throw new ArchiveError(
        "UNSUPPORTED",
        scope === "global"
          ? `tar archive has a global pax header setting ${JSON.stringify(key)}, which readers apply differently`
          : `tar archive has pax key ${JSON.stringify(key)}, which is not read here`,
      );
    }
    if (key.length !== equals || records.has(key))
      throw tarError(`pax key ${JSON.stringify(key)} given twice or malformed`);
    const valid =
      key === "size" || key === "uid" || key === "gid"
        ? PAX_INTEGER.test(value)
        : key === "mtime" || key === "atime" || key === "ctime"
          ? PAX_TIME.test(value)
          : key === "path"
            ? value !== "" && !value.includes("\u0000")
            : true;
    if (!valid)
      throw tarError(`pax ${key} ${JSON.stringify(value)} is not in a form both readers parse alike`);
    records.set(key, value);
    at = end;
  }
  return records;
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
    const check = new TarHeaderCheck();
    let settled = false;
    let compressed = 0;
    let inflated = 0;

    const stop = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      file.destroy();
      gunzip.destroy();
      check.destroy();
      extract.destroy();
      if (err === undefined) resolve();
      else reject(toArchiveError(err));
    };

    file.on("error", stop);
    gunzip.on("error", stop);
    check.on("error", stop);
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
      try {
        check.match(header);
      } catch (err) {
        stop(err);
        return;
      }
      handleEntry(header, body, limits, visit).then(
        (done) => (done === true ? stop() : next()),
        (err: unknown) => stop(err),
      );
    });
    extract.on("finish", () => {
      try {
        check.finish();
        stop();
      } catch (err) {
        stop(err);
      }
    });
    file.pipe(gunzip).pipe(check).pipe(extract);
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
  // A member is always held whole (see ArchiveLimits.maxBufferedEntry).
  const maxEntry = Math.min(limits.maxEntryUncompressed, limits.maxBufferedEntry);
  if (header.size > maxEntry) {
    throw new ArchiveError(
      "ENTRY_TOO_LARGE",
      `entry ${header.name} inflates to more than ${maxEntry} bytes`,
      {
        entry: header.name,
      },
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
