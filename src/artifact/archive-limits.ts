/**
 * Resource limits for reading untrusted archives, and the one error type the archive readers throw.
 *
 * Every distribution the gateway vets is hostile until proven otherwise, so the readers bound the
 * work an archive can demand (entries, bytes, compression ratio) before and while inflating it.
 */

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Bounds on how much an archive may make a reader do. All sizes are in bytes. */
export interface ArchiveLimits {
  /** Most entries (files, directories) an archive may hold. */
  readonly maxEntries: number;
  /** Most bytes all entries together may inflate to. */
  readonly maxTotalUncompressed: number;
  /** Most bytes one entry may inflate to. */
  readonly maxEntryUncompressed: number;
  /**
   * Most bytes one entry may inflate to where a reader must hold it whole in memory: every tar
   * member, and a zip entry asked for with `read` or `forEachFile`. `forEachFileContent` hands a
   * larger zip entry over in pieces instead (see LargeFile), so only `maxEntryUncompressed`
   * bounds it there.
   */
  readonly maxBufferedEntry: number;
  /** Highest uncompressed/compressed ratio allowed for one entry (or a whole `.tar.gz` stream). */
  readonly maxCompressionRatio: number;
  /**
   * The ratio is only judged above this many uncompressed bytes: small files of repeated text
   * compress very well and are no threat.
   */
  readonly compressionRatioMinSize: number;
}

/**
 * Defaults sized for real wheels, giant binary ones included: triton, jaxlib, libtpu and
 * tensorflow-cpu each hold one shared library of 330–750 MiB, tensorflow-cpu 15,600 files
 * (1.2 GiB) and cmeel-boost 16,200; onnx ships a 2.4 MiB test tensor of zeros that compresses
 * 1,000:1. Memory stays bounded all the same: no more than `maxBufferedEntry` of one entry is
 * held at once, larger zip entries are read in pieces. A bomb is still refused: a declared
 * 200:1 ratio over 4 MiB, more than 8 GiB in all, or bytes past what the listing declared.
 */
export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = Object.freeze({
  maxEntries: 100_000,
  maxTotalUncompressed: 8 * GiB,
  maxEntryUncompressed: 4 * GiB,
  maxBufferedEntry: 256 * MiB,
  maxCompressionRatio: 200,
  compressionRatioMinSize: 4 * MiB,
});

/**
 * Fills in defaults for the limits a caller did not set.
 *
 * @throws {RangeError} when a given limit is not a positive number; limits are our own
 *   configuration, so a bad one is a programming error, not hostile input.
 */
export function resolveArchiveLimits(overrides?: Partial<ArchiveLimits>): ArchiveLimits {
  const limits = { ...DEFAULT_ARCHIVE_LIMITS, ...definedOnly(overrides) };
  for (const [key, value] of Object.entries(limits)) {
    if (typeof value !== "number" || !(value > 0)) {
      throw new RangeError(`archive limit ${key} must be a positive number, got ${String(value)}`);
    }
  }
  return Object.freeze(limits);
}

function definedOnly(overrides: Partial<ArchiveLimits> | undefined): Partial<ArchiveLimits> {
  if (overrides === undefined) return {};
  return Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
}

/** Stable codes for everything that can be wrong with an archive; safe to persist and match on. */
export type ArchiveErrorCode =
  | "TOO_MANY_ENTRIES"
  | "TOO_LARGE"
  | "ENTRY_TOO_LARGE"
  | "COMPRESSION_RATIO"
  | "PATH_TRAVERSAL"
  | "ABSOLUTE_PATH"
  | "SYMLINK"
  | "DUPLICATE_NAME"
  | "CORRUPT"
  | "UNSUPPORTED"
  | "NOT_FOUND";

/** All codes, for exhaustive tests and for schemas that persist them. */
export const ARCHIVE_ERROR_CODES: readonly ArchiveErrorCode[] = Object.freeze([
  "TOO_MANY_ENTRIES",
  "TOO_LARGE",
  "ENTRY_TOO_LARGE",
  "COMPRESSION_RATIO",
  "PATH_TRAVERSAL",
  "ABSOLUTE_PATH",
  "SYMLINK",
  "DUPLICATE_NAME",
  "CORRUPT",
  "UNSUPPORTED",
  "NOT_FOUND",
]);

/**
 * Why an archive cannot be read safely. The `code` is for programs, the message for people.
 *
 * @example
 * try { await openArchive(path) } catch (err) {
 *   if (err instanceof ArchiveError && err.code === "PATH_TRAVERSAL") deny(err.message);
 *   else throw err;
 * }
 */
export class ArchiveError extends Error {
  override readonly name = "ArchiveError";
  readonly code: ArchiveErrorCode;
  /** The offending entry name as the archive spells it, when one entry is to blame. */
  readonly entry?: string;

  constructor(code: ArchiveErrorCode, message: string, options?: { entry?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options?.entry !== undefined) this.entry = options.entry;
  }
}

/** Whether `err` is an {@link ArchiveError}, optionally with the given code. */
export function isArchiveError(err: unknown, code?: ArchiveErrorCode): err is ArchiveError {
  return err instanceof ArchiveError && (code === undefined || err.code === code);
}
