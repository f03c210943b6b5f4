/**
 * Reads OSV records from local files: a zip laid out like OSV's `PyPI/all.zip` (flat `<ID>.json`),
 * a directory tree of `.json`/`.yaml`/`.yml` records (a clone of pypa/advisory-database, say), or
 * one `.json`/`.yaml` file. Downloading is someone else's job; this only parses what is on disk.
 *
 * Records are read one at a time (a zip entry is inflated only when the consumer asks for it), each
 * capped in size, so a large database never sits in memory as a whole. A record that cannot be
 * decoded or validated is yielded as an error and reading goes on; only a source that cannot be
 * read at all (missing, not a zip, too many entries) throws.
 */
import { createReadStream } from "node:fs";
import { open, opendir, stat, type FileHandle } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { crc32, inflateRawSync } from "node:zlib";
import YAML from "yaml";
import yauzl from "yauzl";
import type { Entry, ZipFile } from "yauzl";
import type { OsvIndex } from "./osv-index.js";
import { parseOsvRecord, toAdvisory, type OsvRecord } from "./osv-record.js";

const MiB = 1024 * 1024;

/** One record read from a source; `source` names where it came from (`all.zip!PYSEC-2007-1.json`). */
export type OsvSourceItem =
  { ok: true; record: OsvRecord; source: string } | { ok: false; error: string; source: string };

export interface ReadOsvSourceOptions {
  /** Largest record file (or zip entry, uncompressed) read; bigger ones are yielded as errors. Default 5 MiB. */
  maxEntryBytes?: number;
  /** Most files a zip or directory may hold; more throws before anything is read. Default 1,000,000. */
  maxEntries?: number;
  signal?: AbortSignal;
}

/** Raised when a source as a whole cannot be read; malformed records never raise it. */
export class OsvSourceError extends Error {
  override readonly name = "OsvSourceError";
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.path = path;
  }
}

const RECORD_FILE = /\.(json|ya?ml)$/i;

/**
 * Yields every OSV record under `path` (a zip, a directory, or a single file), valid or not.
 *
 * A file is read as a zip when its name ends in `.zip` or it starts with a zip signature (a
 * download saved under another name); otherwise as one JSON (or, by extension, YAML) document.
 *
 * @throws {OsvSourceError} when `path` is a zip that cannot be opened or read (a corrupt central
 *   directory, an unsafe entry name, too many entries), or a directory with too many record files;
 *   file-system errors (`ENOENT`, …) pass through.
 *
 * @example
 * let malformed = 0;
 * for await (const item of readOsvSource("/data/osv/PyPI-all.zip")) {
 *   if (item.ok) index.add(toAdvisory(item.record));
 *   else malformed++;
 * }
 */
export async function* readOsvSource(
  path: string,
  options: ReadOsvSourceOptions = {},
): AsyncGenerator<OsvSourceItem, void, undefined> {
  const limits = {
    maxEntryBytes: options.maxEntryBytes ?? 5 * MiB,
    maxEntries: options.maxEntries ?? 1_000_000,
  };
  options.signal?.throwIfAborted();
  const info = await stat(path);
  if (info.isDirectory()) {
    yield* readDirectory(path, limits, options.signal);
  } else if (extname(path).toLowerCase() === ".zip" || (await startsLikeZip(path))) {
    yield* readZip(path, limits, options.signal);
  } else {
    yield* readFiles([path], limits, options.signal);
  }
}

/** What {@link loadOsvSource} did. */
export interface OsvLoadReport {
  path: string;
  /** Records added to the index. */
  records: number;
  /** Records that could not be decoded or validated. */
  malformed: number;
  /** The first few malformed records and why (at most 50, so a broken source cannot flood a log). */
  errors: { source: string; error: string }[];
}

const MAX_REPORTED_ERRORS = 50;

/**
 * Reads a source into `index` and reports how many records were added and how many were malformed.
 *
 * @example
 * const report = await loadOsvSource(zipPath, index);
 * if (report.malformed > 0) log.warn({ malformed: report.malformed }, "malformed OSV records skipped");
 */
export async function loadOsvSource(
  path: string,
  index: OsvIndex,
  options: ReadOsvSourceOptions = {},
): Promise<OsvLoadReport> {
  const report: OsvLoadReport = { path, records: 0, malformed: 0, errors: [] };
  for await (const item of readOsvSource(path, options)) {
    if (item.ok) {
      index.add(toAdvisory(item.record));
      report.records++;
    } else {
      report.malformed++;
      if (report.errors.length < MAX_REPORTED_ERRORS)
        report.errors.push({ source: item.source, error: item.error });
    }
  }
  return report;
}

async function startsLikeZip(path: string): Promise<boolean> {
  const file = await open(path);
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await file.read(head, 0, 4, 0);
    // APPNOTE 4.3.7 local file header, or 4.3.16 end of central directory (an empty zip).
    return bytesRead === 4 && (head.readUInt32LE(0) === 0x04034b50 || head.readUInt32LE(0) === 0x06054b50);
  } finally {
    await file.close();
  }
}

interface Limits {
  maxEntryBytes: number;
  maxEntries: number;
}

async function* readZip(path: string, limits: Limits, signal?: AbortSignal): AsyncGenerator<OsvSourceItem> {
  let zip: ZipFile;
  try {
    // Only the central directory is read through yauzl. Entry data is read below, one entry at a
    // time, with one positioned read each: yauzl's read streams cost ~0.3 ms per small entry.
    zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false, strictFileNames: false });
  } catch (err) {
    throw new OsvSourceError(path, `cannot open OSV zip ${path}: ${(err as Error).message}`, { cause: err });
  }
  // yauzl reports a failure to close the descriptor as an "error" event; unheard, it would crash.
  zip.on("error", () => {});
  let file: FileHandle | undefined;
  try {
    if (zip.entryCount > limits.maxEntries) {
      throw new OsvSourceError(
        path,
        `OSV zip ${path} lists ${zip.entryCount} entries, more than ${limits.maxEntries}`,
      );
    }
    file = await open(path);
    for await (const entry of zip.eachEntry()) {
      signal?.throwIfAborted();
      const name = entry.fileName;
      if (name.endsWith("/") || basename(name).startsWith(".") || !RECORD_FILE.test(name)) continue;
      const source = `${path}!${name}`;
      let data: Buffer;
      try {
        data = await readZipEntry(file, entry, limits.maxEntryBytes);
      } catch (err) {
        yield { ok: false, error: (err as Error).message, source };
        continue;
      }
      yield* decodeRecords(data, source);
    }
  } catch (err) {
    if (err instanceof OsvSourceError || signal?.aborted) throw err;
    throw new OsvSourceError(path, `cannot read OSV zip ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    zip.close();
    await file?.close();
  }
}

const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const LOCAL_HEADER_SIZE = 30;
const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;

/**
 * Reads and inflates one entry (APPNOTE 4.3.7: a local header, then the data), holding it to its
 * declared sizes, to `maxBytes` and to its CRC-32. A bad entry throws a plain error.
 */
async function readZipEntry(file: FileHandle, entry: Entry, maxBytes: number): Promise<Buffer> {
  if (entry.uncompressedSize > maxBytes || entry.compressedSize > maxBytes) {
    throw new Error(`entry is ${entry.uncompressedSize} bytes, more than ${maxBytes}`);
  }
  if ((entry.generalPurposeBitFlag & 0x1) !== 0) throw new Error("entry is encrypted");
  if (entry.compressionMethod !== METHOD_STORED && entry.compressionMethod !== METHOD_DEFLATED) {
    throw new Error(
      `entry uses compression method ${entry.compressionMethod}; only stored and deflate are read`,
    );
  }
  const offset = entry.relativeOffsetOfLocalHeader;
  // The local name and extra field are usually those of the central directory; some slack covers
  // small differences in one read, and a second read covers the rest.
  const guess =
    LOCAL_HEADER_SIZE + entry.fileNameLength + entry.extraFieldLength + 256 + entry.compressedSize;
  let buffer = Buffer.allocUnsafe(guess);
  let { bytesRead } = await file.read(buffer, 0, guess, offset);
  if (bytesRead < LOCAL_HEADER_SIZE || buffer.readUInt32LE(0) !== LOCAL_HEADER_SIGNATURE) {
    throw new Error("entry has no valid local header");
  }
  let start = LOCAL_HEADER_SIZE + buffer.readUInt16LE(26) + buffer.readUInt16LE(28);
  if (start + entry.compressedSize > bytesRead) {
    buffer = Buffer.allocUnsafe(entry.compressedSize);
    ({ bytesRead } = await file.read(buffer, 0, entry.compressedSize, offset + start));
    if (bytesRead < entry.compressedSize) throw new Error("entry data is truncated");
    start = 0;
  }
  const raw = buffer.subarray(start, start + entry.compressedSize);
  let data: Buffer;
  try {
    data =
      entry.compressionMethod === METHOD_DEFLATED ? inflateRawSync(raw, { maxOutputLength: maxBytes }) : raw;
  } catch (err) {
    throw new Error(`cannot inflate entry: ${(err as Error).message}`);
  }
  if (data.length !== entry.uncompressedSize) {
    throw new Error(`entry inflates to ${data.length} bytes, not the ${entry.uncompressedSize} it declares`);
  }
  if (crc32(data) >>> 0 !== entry.crc32 >>> 0) throw new Error("entry fails its CRC-32 check");
  return data;
}

async function* readDirectory(
  root: string,
  limits: Limits,
  signal?: AbortSignal,
): AsyncGenerator<OsvSourceItem> {
  const files: string[] = [];
  await listRecordFiles(root, files, limits.maxEntries, root);
  yield* readFiles(files, limits, signal);
}

async function* readFiles(
  files: readonly string[],
  limits: Limits,
  signal?: AbortSignal,
): AsyncGenerator<OsvSourceItem> {
  for (const file of files) {
    signal?.throwIfAborted();
    let data: Buffer;
    try {
      data = await readCapped(file, limits.maxEntryBytes);
    } catch (err) {
      yield { ok: false, error: (err as Error).message, source: file };
      continue;
    }
    yield* decodeRecords(data, file);
  }
}

/**
 * Collects record files depth-first in name order, so every run yields the same order. Hidden
 * entries (`.git`) and symbolic links are skipped: a link could lead out of the tree or round in
 * a loop.
 */
async function listRecordFiles(dir: string, out: string[], maxEntries: number, root: string): Promise<void> {
  const entries = [];
  for await (const entry of await opendir(dir)) entries.push(entry);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) {
      await listRecordFiles(full, out, maxEntries, root);
    } else if (entry.isFile() && RECORD_FILE.test(entry.name)) {
      out.push(full);
      if (out.length > maxEntries) {
        throw new OsvSourceError(root, `OSV directory ${root} holds more than ${maxEntries} record files`);
      }
    }
  }
}

async function readCapped(file: string, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Read through a stream with a cap rather than trusting stat(): the file may grow meanwhile.
  for await (const chunk of createReadStream(file, { end: maxBytes })) {
    size += (chunk as Buffer).length;
    chunks.push(chunk as Buffer);
  }
  if (size > maxBytes) throw new Error(`file is more than ${maxBytes} bytes`);
  return Buffer.concat(chunks, size);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes one file's bytes (JSON or YAML by extension; a top-level array holds several records). */
function* decodeRecords(data: Buffer, source: string): Generator<OsvSourceItem> {
  let value: unknown;
  try {
    const text = strictUtf8.decode(data).replace(/^\uFEFF/, "");
    value = /\.ya?ml$/i.test(source) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    yield { ok: false, error: `cannot decode: ${(err as Error).message}`, source };
    return;
  }
  const items = Array.isArray(value) ? value : [value];
  for (let i = 0; i < items.length; i++) {
    const itemSource = Array.isArray(value) ? `${source}#${i}` : source;
    const parsed = parseOsvRecord(items[i]);
    yield parsed.ok
      ? { ok: true, record: parsed.record, source: itemSource }
      : { ok: false, error: parsed.error, source: itemSource };
  }
}

const YAML_NULL = /^(?:~|null|Null|NULL|)$/;

/**
 * YAML with every scalar kept as a string (the failsafe schema), because the core schema would read
 * `fixed: 1.10` as the number 1.1. Plain `~`, `null` and empty values still mean null.
 */
function parseYaml(text: string): unknown {
  const doc = YAML.parseDocument(text, { schema: "failsafe", prettyErrors: false });
  if (doc.errors.length > 0) throw new Error(doc.errors[0]!.message);
  YAML.visit(doc, {
    Scalar(_key, node) {
      if (node.type === "PLAIN" && YAML_NULL.test(String(node.value))) node.value = null;
    },
  });
  return doc.toJS({ maxAliasCount: 100 });
}
