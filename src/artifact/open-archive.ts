/**
 * Picks the archive reader for a distribution file by its name. The name decides, not the content:
 * an installer also goes by the extension, so a `.whl` holding a tarball is refused rather than
 * read as whatever it turns out to be.
 */
import { basename } from "node:path";
import { ArchiveError } from "./archive-limits.js";
import type { ArchiveReader } from "./archive-reader.js";
import { openTarArchive, type OpenTarOptions } from "./tar-reader.js";
import { openZipArchive, type OpenZipOptions } from "./zip-reader.js";

export type ArchiveFormat = "zip" | "tar";

/**
 * The archive format for a distribution filename: `.whl` and `.zip` are zip, `.tar.gz` and `.tgz`
 * are gzip-compressed tar; anything else (`.egg`, `.exe`, `.tar.bz2`, …) is `undefined`.
 */
export function archiveFormatOf(filename: string): ArchiveFormat | undefined {
  const lower = filename.toLowerCase();
  if (lower.endsWith(".whl") || lower.endsWith(".zip")) return "zip";
  if (lower.endsWith(".tar.gz") || lower.endsWith(".tgz")) return "tar";
  return undefined;
}

export interface OpenArchiveFileOptions extends OpenTarOptions, OpenZipOptions {
  /**
   * The distribution's filename when the file on disk is named otherwise (blob stores name files
   * by digest); defaults to the basename of `path`.
   */
  filename?: string;
}

/**
 * Opens a distribution file with the reader its filename calls for.
 *
 * @throws {ArchiveError} `UNSUPPORTED` for a filename of no known archive type, and whatever the
 *   chosen reader throws.
 *
 * @example
 * const archive = await openArchive(blobPath, { filename: "six-1.17.0.tar.gz" });
 */
export async function openArchive(
  path: string,
  options: OpenArchiveFileOptions = {},
): Promise<ArchiveReader> {
  const filename = options.filename ?? basename(path);
  const format = archiveFormatOf(filename);
  if (format === "zip") return openZipArchive(path, options);
  if (format === "tar") return openTarArchive(path, options);
  throw new ArchiveError("UNSUPPORTED", `${filename} is not a .whl, .zip, .tar.gz or .tgz file`);
}
