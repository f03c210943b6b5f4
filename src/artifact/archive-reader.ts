/**
 * The contract every archive format (zip wheels and sdists, `.tar.gz` sdists) implements, and the
 * entry-name and limit rules they share, so that a policy check never depends on the format.
 */
import { ArchiveError, type ArchiveLimits } from "./archive-limits.js";

/** One entry as listed in an archive, after its name passed {@link normalizeEntryPath}. */
export interface ArchiveEntry {
  /** Canonical path: `/`-separated, relative, no `.` or empty segments, no trailing `/`. */
  readonly name: string;
  /** Declared uncompressed size in bytes (checked against the real size when read). */
  readonly size: number;
  /**
   * Bytes the entry occupies compressed. A `.tar.gz` is compressed as one stream, so there it
   * equals `size` and the compression ratio is judged over the whole stream instead.
   */
  readonly compressedSize: number;
  readonly isDirectory: boolean;
}

export interface ReadOptions {
  signal?: AbortSignal;
}

/**
 * Called once per file; the next file is not inflated until the returned promise settles. `data`
 * may be shared with the reader's cache: treat it as read-only.
 */
export type FileVisitor = (entry: ArchiveEntry, data: Buffer) => void | Promise<void>;

/**
 * A file too large to hold whole (over the reader's `streamAbove`, see OpenZipOptions): its
 * declared size (the reader checks the bytes against it, and against its CRC-32, before the pass
 * goes on), its first bytes, and all of its bytes in pieces.
 */
export interface LargeFile {
  readonly size: number;
  /** The first bytes (64 KiB): magic numbers and headers. */
  readonly head: Buffer;
  /**
   * The file's bytes in order, inflated afresh on each call, valid only while the visit runs.
   * Throws an {@link ArchiveError} (`CORRUPT`) as soon as they disagree with the listing.
   */
  pieces(): AsyncIterable<Buffer>;
}

/** A file's contents as `forEachFileContent` hands them over: whole, or a {@link LargeFile}. */
export type FileContent = Buffer | LargeFile;

/** Like {@link FileVisitor}, for `forEachFileContent`. */
export type FileContentVisitor = (entry: ArchiveEntry, content: FileContent) => void | Promise<void>;

/** Whether a file's contents came whole or as a {@link LargeFile}. */
export function isLargeFile(content: FileContent): content is LargeFile {
  return !Buffer.isBuffer(content);
}

/**
 * Read access to an archive that was listed and validated when opened: every name is safe, there
 * are no links and no duplicates, and the declared sizes are within the limits. Reading enforces the
 * limits again on the bytes actually produced, so a lying header gets no further than its lie.
 *
 * @example
 * const archive = await openArchive("/tmp/flask-3.1.3-py3-none-any.whl");
 * try {
 *   await archive.forEachFile((entry, data) => scan(entry.name, data));
 * } finally {
 *   await archive.close();
 * }
 */
export interface ArchiveReader {
  readonly format: "zip" | "tar";
  readonly limits: ArchiveLimits;
  /** Every entry (files and directories) in archive order. */
  entries(): readonly ArchiveEntry[];
  /** The entry with this canonical name, if any. */
  entry(name: string): ArchiveEntry | undefined;
  /**
   * The full contents of one file. The buffer may be shared with the reader's cache: treat it as
   * read-only.
   *
   * @throws {ArchiveError} `NOT_FOUND` for a missing name or a directory; a limit or `CORRUPT`
   *   code when the bytes disagree with the listing.
   */
  read(name: string, options?: ReadOptions): Promise<Buffer>;
  /**
   * Streams every file through `visit`, one at a time in archive order; directories are skipped.
   * Every file comes whole: one over `limits.maxBufferedEntry` ends the pass (`ENTRY_TOO_LARGE`).
   */
  forEachFile(visit: FileVisitor, options?: ReadOptions): Promise<void>;
  /**
   * As `forEachFile`, but a file too large to hold whole comes as a {@link LargeFile}: a pass
   * over giant binary wheels with memory bounded by the reader's piece size.
   */
  forEachFileContent(visit: FileContentVisitor, options?: ReadOptions): Promise<void>;
  /** Releases the file handle or buffers; the reader is unusable afterwards. */
  close(): Promise<void>;
}

export interface OpenArchiveOptions {
  limits?: Partial<ArchiveLimits>;
  signal?: AbortSignal;
}

/** A name passed through {@link normalizeEntryPath}. */
export interface EntryPath {
  /** Canonical form; empty only for a directory entry naming the archive root (`./`). */
  path: string;
  isDirectory: boolean;
}

// Control characters never appear in legitimate distribution paths and make names print one way
// and compare another; PyPI refuses them on upload too (warehouse `zipfiles.py`).
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
const DRIVE_PREFIX = /^[A-Za-z]:/;

/**
 * Validates an entry name from an archive and returns its canonical form.
 *
 * The rules are those of an installer writing into a directory on any OS: a name must stay inside
 * that directory on POSIX and on Windows. Hence `..`, a leading `/`, a drive prefix (`C:`, also
 * mid-path, where Windows `os.path.join` would restart from it) and any backslash (a separator on
 * Windows, and the wheel spec only ever uses `/`) are refused.
 *
 * @throws {ArchiveError} `PATH_TRAVERSAL`, `ABSOLUTE_PATH` or `CORRUPT` (empty name, control
 *   characters).
 */
export function normalizeEntryPath(raw: string): EntryPath {
  if (raw.length === 0) throw new ArchiveError("CORRUPT", "archive entry with an empty name", { entry: raw });
  if (CONTROL_CHARACTER.test(raw)) {
    throw new ArchiveError(
      "CORRUPT",
      `archive entry name contains a control character: ${JSON.stringify(raw)}`,
      { entry: raw },
    );
  }
  if (raw.startsWith("/") || raw.startsWith("\\") || DRIVE_PREFIX.test(raw)) {
    throw new ArchiveError("ABSOLUTE_PATH", `archive entry has an absolute path: ${JSON.stringify(raw)}`, {
      entry: raw,
    });
  }
  const rawSegments = raw.split(/[/\\]/);
  if (rawSegments.includes("..")) {
    throw new ArchiveError("PATH_TRAVERSAL", `archive entry escapes its directory: ${JSON.stringify(raw)}`, {
      entry: raw,
    });
  }
  if (raw.includes("\\")) {
    throw new ArchiveError(
      "PATH_TRAVERSAL",
      `archive entry name contains a backslash (a path separator on Windows): ${JSON.stringify(raw)}`,
      { entry: raw },
    );
  }
  const segments = rawSegments.filter((segment) => segment !== "" && segment !== ".");
  if (segments.some((segment) => DRIVE_PREFIX.test(segment))) {
    throw new ArchiveError("ABSOLUTE_PATH", `archive entry contains a drive prefix: ${JSON.stringify(raw)}`, {
      entry: raw,
    });
  }
  const isDirectory = raw.endsWith("/");
  const path = segments.join("/");
  if (path === "" && !isDirectory) {
    throw new ArchiveError("CORRUPT", `archive entry has no file name: ${JSON.stringify(raw)}`, {
      entry: raw,
    });
  }
  return { path, isDirectory };
}

/** Declared facts about one entry, before its name is validated. */
export interface DeclaredEntry {
  rawName: string;
  size: number;
  compressedSize: number;
  isDirectory: boolean;
}

/**
 * Builds the validated listing of an archive: checks each entry's name, its declared size against
 * the limits, and that no two entries land on the same path. Both readers list through it so the
 * rules cannot drift apart between formats.
 */
export class ArchiveCatalog {
  readonly #limits: ArchiveLimits;
  readonly #byName = new Map<string, ArchiveEntry>();
  readonly #list: ArchiveEntry[] = [];
  #declaredTotal = 0;

  constructor(limits: ArchiveLimits) {
    this.#limits = limits;
  }

  /**
   * Adds one entry and returns its validated form, or `undefined` for an entry naming the root
   * directory itself (`./` in many tarballs), which carries nothing.
   */
  add(declared: DeclaredEntry): ArchiveEntry | undefined {
    const { rawName } = declared;
    if (this.#list.length >= this.#limits.maxEntries) {
      throw new ArchiveError("TOO_MANY_ENTRIES", `archive has more than ${this.#limits.maxEntries} entries`);
    }
    const normalized = normalizeEntryPath(rawName);
    const isDirectory = declared.isDirectory || normalized.isDirectory;
    if (normalized.path === "") return undefined;
    if (!Number.isSafeInteger(declared.size) || declared.size < 0) {
      throw new ArchiveError("CORRUPT", `entry ${rawName} declares an impossible size`, { entry: rawName });
    }
    checkEntrySize(this.#limits, rawName, declared.size, declared.compressedSize);
    this.#declaredTotal += declared.size;
    if (this.#declaredTotal > this.#limits.maxTotalUncompressed) {
      throw new ArchiveError(
        "TOO_LARGE",
        `archive declares more than ${this.#limits.maxTotalUncompressed} uncompressed bytes`,
        { entry: rawName },
      );
    }
    // Exact duplicates only: names differing in case or Unicode form are distinct files to the
    // scanner as well, so nothing can hide behind them; the same path twice means an installer
    // keeps one copy while the scanner may look at the other.
    if (this.#byName.has(normalized.path)) {
      throw new ArchiveError("DUPLICATE_NAME", `archive holds ${normalized.path} more than once`, {
        entry: rawName,
      });
    }
    const entry: ArchiveEntry = Object.freeze({
      name: normalized.path,
      size: declared.size,
      compressedSize: declared.compressedSize,
      isDirectory,
    });
    this.#byName.set(entry.name, entry);
    this.#list.push(entry);
    return entry;
  }

  /**
   * Completes the listing; checks that no file is also used as a directory (`a` and `a/b`), which
   * installers resolve by overwriting one with the other.
   */
  finish(): readonly ArchiveEntry[] {
    for (const entry of this.#list) {
      let slash = entry.name.indexOf("/");
      while (slash !== -1) {
        const parent = this.#byName.get(entry.name.slice(0, slash));
        if (parent !== undefined && !parent.isDirectory) {
          throw new ArchiveError("DUPLICATE_NAME", `archive uses file ${parent.name} also as a directory`, {
            entry: entry.name,
          });
        }
        slash = entry.name.indexOf("/", slash + 1);
      }
    }
    return Object.freeze([...this.#list]);
  }

  get(name: string): ArchiveEntry | undefined {
    return this.#byName.get(name);
  }
}

/**
 * Checks one entry's size and compression ratio against the limits. Called with the declared sizes
 * when listing and again with the bytes actually inflated so far while reading.
 */
export function checkEntrySize(
  limits: ArchiveLimits,
  name: string,
  size: number,
  compressedSize: number,
): void {
  if (size > limits.maxEntryUncompressed) {
    throw new ArchiveError(
      "ENTRY_TOO_LARGE",
      `entry ${name} inflates to more than ${limits.maxEntryUncompressed} bytes`,
      { entry: name },
    );
  }
  if (
    size > limits.compressionRatioMinSize &&
    size / Math.max(compressedSize, 1) > limits.maxCompressionRatio
  ) {
    throw new ArchiveError(
      "COMPRESSION_RATIO",
      `entry ${name} inflates more than ${limits.maxCompressionRatio} times its compressed size`,
      { entry: name },
    );
  }
}

/** Looks an entry up by a caller-supplied name, which may be spelled non-canonically. */
export function lookupFile(
  catalog: { get(name: string): ArchiveEntry | undefined },
  name: string,
): ArchiveEntry {
  let entry = catalog.get(name);
  if (entry === undefined) {
    try {
      entry = catalog.get(normalizeEntryPath(name).path);
    } catch {
      entry = undefined;
    }
  }
  if (entry === undefined) {
    throw new ArchiveError("NOT_FOUND", `no entry ${name} in the archive`, { entry: name });
  }
  if (entry.isDirectory) {
    throw new ArchiveError("NOT_FOUND", `${name} is a directory, not a file`, { entry: name });
  }
  return entry;
}
