/**
 * Everything the gateway needs to know about a wheel before serving it, read in one pass: the
 * filename's claims, the `.dist-info` directory and its METADATA (byte-exact, for PEP 658), WHEEL,
 * RECORD consistency, entry points and the names the wheel installs at the top of site-packages.
 * Also the PKG-INFO of an sdist.
 */
import { basename } from "node:path";
import { normalizeProjectName } from "../domain/project-name.js";
import { compareVersions, isValidVersion } from "../domain/version.js";
import {
  parseSdistFilename,
  parseWheelFilename,
  type SdistFilename,
  type WheelFilename,
} from "../domain/wheel-filename.js";
import { isArchiveError } from "./archive-limits.js";
import type { ArchiveEntry, ArchiveReader, OpenArchiveOptions } from "./archive-reader.js";
import { parseCoreMetadata, parseHeaders, type CoreMetadata } from "./core-metadata.js";
import { openArchive } from "./open-archive.js";
import { checkRecord, parseRecord, type ParsedRecord, type RecordProblem } from "./record.js";
import { openZipArchive } from "./zip-reader.js";

export type DistributionErrorCode =
  | "BAD_FILENAME"
  | "NO_DIST_INFO"
  | "MULTIPLE_DIST_INFO"
  | "DIST_INFO_MISMATCH"
  | "MISSING_METADATA"
  | "METADATA_MISMATCH"
  | "BAD_WHEEL_FILE"
  | "UNSUPPORTED_WHEEL_VERSION"
  | "NO_PKG_INFO"
  | "AMBIGUOUS_PKG_INFO";

/**
 * A distribution whose archive is readable but whose layout or metadata is not what the specs
 * (and pip) require. Archive-level problems stay {@link ArchiveError}s.
 */
export class DistributionError extends Error {
  override readonly name = "DistributionError";
  readonly code: DistributionErrorCode;

  constructor(code: DistributionErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** The parsed `WHEEL` file of a `.dist-info` directory. */
export interface WheelFileInfo {
  wheelVersion: string;
  generator?: string;
  rootIsPurelib?: boolean;
  tags: string[];
  build?: string;
  /** Every header, keyed by lower-case name. */
  raw: ReadonlyMap<string, readonly string[]>;
}

/** One `entry_points.txt` entry, e.g. `{ group: "console_scripts", name: "flask", value: "flask.cli:main" }`. */
export interface EntryPoint {
  group: string;
  name: string;
  value: string;
}

export interface WheelInfo {
  filename: WheelFilename;
  /** The single `{name}-{version}.dist-info` directory. */
  distInfoDir: string;
  metadata: CoreMetadata;
  /** METADATA exactly as stored in the wheel: the gateway serves these bytes as PEP 658 metadata. */
  metadataBytes: Buffer;
  wheelFile: WheelFileInfo;
  /** The parsed RECORD, absent when the wheel has none. */
  record?: ParsedRecord;
  /** Every disagreement between RECORD, the spec and the archive; empty when all is consistent. */
  recordProblems: RecordProblem[];
  entryPoints: EntryPoint[];
  /**
   * What the wheel installs at the top of site-packages: directories, modules, extension modules and
   * `.pth` files, including those from the `purelib` and `platlib` of every top-level `*.data`
   * directory (pip installs them all); sorted.
   */
  topLevel: string[];
  /** The names in `top_level.txt`, when the wheel has one (setuptools writes it; others do not). */
  declaredTopLevel?: string[];
  /** Every entry of the archive. */
  entries: readonly ArchiveEntry[];
  /** Oddities in METADATA, WHEEL or entry_points.txt that did not stop reading. */
  warnings: string[];
}

export interface ReadDistributionOptions extends OpenArchiveOptions {
  /** The distribution's filename when `path` is named otherwise (blob stores name files by digest). */
  filename?: string;
}

/**
 * Reads and checks a wheel.
 *
 * @throws {DistributionError} for a bad filename or `.dist-info` layout, a missing METADATA or
 *   WHEEL, or metadata naming another project or version than the filename.
 * @throws {ArchiveError} when the zip itself is malformed, hostile or over the limits.
 * @throws {CoreMetadataError} when METADATA has no Name or Version.
 *
 * @example
 * const wheel = await readWheel("/srv/blobs/ab12…", { filename: "flask-3.1.3-py3-none-any.whl" });
 * if (wheel.recordProblems.length > 0) deny(wheel.recordProblems);
 */
export async function readWheel(path: string, options: ReadDistributionOptions = {}): Promise<WheelInfo> {
  const { filename, reader } = await openWheel(path, options);
  try {
    return await inspectWheel(reader, filename, options.signal);
  } finally {
    await reader.close();
  }
}

/** What {@link readWheelMetadata} returns: the part of {@link WheelInfo} that PEP 658 needs. */
export type WheelMetadata = Pick<
  WheelInfo,
  "filename" | "distInfoDir" | "metadata" | "metadataBytes" | "warnings"
>;

/**
 * Reads only what serving PEP 658 metadata needs: the archive is listed and validated and METADATA
 * is checked against the filename, but no other file is inflated, so RECORD goes unchecked.
 *
 * @throws the same errors as {@link readWheel}, except those about WHEEL.
 */
export async function readWheelMetadata(
  path: string,
  options: ReadDistributionOptions = {},
): Promise<WheelMetadata> {
  const { filename, reader } = await openWheel(path, options);
  try {
    return await readDistInfoMetadata(reader, filename, optionalReader(reader, options.signal));
  } finally {
    await reader.close();
  }
}

async function openWheel(
  path: string,
  options: ReadDistributionOptions,
): Promise<{ filename: WheelFilename; reader: ArchiveReader }> {
  const filenameText = options.filename ?? basename(path);
  const filename = parseWheelFilename(filenameText);
  if (filename === null) {
    throw new DistributionError("BAD_FILENAME", `${filenameText} is not a valid wheel filename`);
  }
  return { filename, reader: await openZipArchive(path, options) };
}

/** Reads a file, or `undefined` when the archive has no such file. */
type OptionalReader = (name: string) => Promise<Buffer | undefined>;

function optionalReader(reader: ArchiveReader, signal: AbortSignal | undefined): OptionalReader {
  return async (name) => {
    try {
      return await reader.read(name, signal === undefined ? {} : { signal });
    } catch (err) {
      if (isArchiveError(err, "NOT_FOUND")) return undefined;
      throw err;
    }
  };
}

async function readDistInfoMetadata(
  reader: ArchiveReader,
  filename: WheelFilename,
  readOptional: OptionalReader,
): Promise<WheelMetadata> {
  const distInfoDir = findDistInfoDir(reader.entries(), filename);
  const metadataBytes = await readOptional(`${distInfoDir}/METADATA`);
  if (metadataBytes === undefined) {
    throw new DistributionError("MISSING_METADATA", `${distInfoDir}/METADATA is missing`);
  }
  const metadata = parseCoreMetadata(metadataBytes);
  if (
    normalizeProjectName(metadata.name) !== filename.project ||
    !versionsEqual(metadata.version, filename.version)
  ) {
    throw new DistributionError(
      "METADATA_MISMATCH",
      `METADATA describes ${metadata.name} ${metadata.version}, the filename ${filename.name} ${filename.version}`,
    );
  }
  const warnings = metadata.warnings.map((w) => `METADATA: ${w}`);
  return { filename, distInfoDir, metadata, metadataBytes, warnings };
}

async function inspectWheel(
  reader: ArchiveReader,
  filename: WheelFilename,
  signal?: AbortSignal,
): Promise<WheelInfo> {
  const entries = reader.entries();
  const readAny = optionalReader(reader, signal);
  const { distInfoDir, metadata, metadataBytes, warnings } = await readDistInfoMetadata(
    reader,
    filename,
    readAny,
  );
  const readOptional = (name: string) => readAny(`${distInfoDir}/${name}`);

  const wheelBytes = await readOptional("WHEEL");
  if (wheelBytes === undefined) {
    throw new DistributionError("BAD_WHEEL_FILE", `${distInfoDir}/WHEEL is missing`);
  }
  const wheelFile = parseWheelFile(wheelBytes, warnings);

  const recordPath = `${distInfoDir}/RECORD`;
  const recordBytes = await readOptional("RECORD");
  let record: ParsedRecord | undefined;
  let recordProblems: RecordProblem[];
  if (recordBytes === undefined) {
    recordProblems = [{ kind: "MISSING_RECORD", path: recordPath, message: `${recordPath} is missing` }];
  } else {
    record = parseRecord(recordBytes, recordPath);
    recordProblems = await checkRecord(reader, record, signal === undefined ? {} : { signal });
  }

  const entryPointsBytes = await readOptional("entry_points.txt");
  const entryPoints =
    entryPointsBytes === undefined ? [] : parseEntryPoints(entryPointsBytes.toString("utf8"), warnings);
  const topLevelBytes = await readOptional("top_level.txt");
  const declaredTopLevel = topLevelBytes
    ?.toString("utf8")
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "");

  return {
    filename,
    distInfoDir,
    metadata,
    metadataBytes,
    wheelFile,
    ...(record === undefined ? {} : { record }),
    recordProblems,
    entryPoints,
    topLevel: installedTopLevel(entries, distInfoDir),
    ...(declaredTopLevel === undefined ? {} : { declaredTopLevel }),
    entries,
    warnings,
  };
}

/**
 * pip's rule (`wheel_dist_info_dir`): exactly one top-level directory ends in `.dist-info`. Its
 * `{name}-{version}` must also name the filename's project and version.
 */
export function findDistInfoDir(entries: readonly ArchiveEntry[], filename: WheelFilename): string {
  const candidates = new Set<string>();
  for (const entry of entries) {
    const slash = entry.name.indexOf("/");
    const top = slash === -1 ? (entry.isDirectory ? entry.name : undefined) : entry.name.slice(0, slash);
    if (top?.endsWith(".dist-info")) candidates.add(top);
  }
  if (candidates.size === 0) {
    throw new DistributionError("NO_DIST_INFO", `${filename.filename} has no .dist-info directory`);
  }
  if (candidates.size > 1) {
    throw new DistributionError(
      "MULTIPLE_DIST_INFO",
      `${filename.filename} has several .dist-info directories: ${[...candidates].sort().join(", ")}`,
    );
  }
  const distInfoDir = [...candidates][0]!;
  const stem = distInfoDir.slice(0, -".dist-info".length);
  const dash = stem.lastIndexOf("-");
  const name = dash === -1 ? stem : stem.slice(0, dash);
  const version = dash === -1 ? "" : stem.slice(dash + 1);
  if (normalizeProjectName(name) !== filename.project || !versionsEqual(version, filename.version)) {
    throw new DistributionError(
      "DIST_INFO_MISMATCH",
      `${distInfoDir} does not match ${filename.name} ${filename.version} from the filename`,
    );
  }
  return distInfoDir;
}

/** PEP 440 equality, so `1.0` matches `1.0.0` and `2.9.0.post0` matches `2.9.0post0`. */
function versionsEqual(a: string, b: string): boolean {
  if (a === b) return true;
  return isValidVersion(a) && isValidVersion(b) && compareVersions(a, b) === 0;
}

/** Binary distribution format spec: `WHEEL` is email-header shaped; pip refuses a major version above 1. */
function parseWheelFile(bytes: Buffer, warnings: string[]): WheelFileInfo {
  const { headers, warnings: headerWarnings } = parseHeaders(bytes);
  warnings.push(...headerWarnings.map((w) => `WHEEL: ${w}`));
  const first = (key: string): string | undefined => headers.get(key)?.[0]?.trim() || undefined;
  const wheelVersion = first("wheel-version");
  if (wheelVersion === undefined) throw new DistributionError("BAD_WHEEL_FILE", "WHEEL has no Wheel-Version");
  const major = /^([0-9]+)(?:\.[0-9]+)*$/.exec(wheelVersion)?.[1];
  if (major === undefined) {
    throw new DistributionError("BAD_WHEEL_FILE", `WHEEL has an invalid Wheel-Version ${wheelVersion}`);
  }
  if (Number(major) !== 1) {
    throw new DistributionError(
      "UNSUPPORTED_WHEEL_VERSION",
      `Wheel-Version ${wheelVersion} is not supported (major version 1 only)`,
    );
  }
  const info: WheelFileInfo = {
    wheelVersion,
    tags: (headers.get("tag") ?? []).map((tag) => tag.trim()).filter((tag) => tag !== ""),
    raw: headers,
  };
  const generator = first("generator");
  if (generator !== undefined) info.generator = generator;
  const purelib = first("root-is-purelib")?.toLowerCase();
  if (purelib !== undefined) info.rootIsPurelib = purelib === "true";
  const build = first("build");
  if (build !== undefined) info.build = build;
  return info;
}

/**
 * Every line break Python's `str.splitlines` knows, which is how importlib.metadata and
 * pkg_resources split `entry_points.txt` (after universal newlines): besides `\n`, `\r` and `\r\n`,
 * also VT, FF, FS, GS, RS, NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR.
 */
// eslint-disable-next-line no-control-regex -- the line breaks Python knows
const SPLITLINES = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/;
/** Python's `str.strip()` whitespace (`str.isspace`), which also counts `\x1c`-`\x1f` and NEL. */
// eslint-disable-next-line no-control-regex -- the whitespace Python knows
const PY_SPACE = /^[\s\x1c-\x1f\x85]+|[\s\x1c-\x1f\x85]+$/g;

/**
 * Parses `entry_points.txt` as the installers read it, so that no entry pip would install as a
 * command is missed: lines split as `str.splitlines` does, stripped as `str.strip` does, `#`
 * comments (and `;`, configparser's), `[group]` headers (brackets stripped as importlib.metadata's
 * `strip('[]')` does, whitespace as pkg_resources' `[1:-1].strip()` does) and `name = value`
 * entries split at the first `=`. A header followed by more text on its line (`[group] x`) opens
 * the group as configparser would, with a warning. Lines it cannot use, and line breaks other than
 * `\n`, `\r\n` or `\r` (which tools that split only on those would read differently), become
 * warnings.
 */
export function parseEntryPoints(text: string, warnings: string[] = []): EntryPoint[] {
  const entryPoints: EntryPoint[] = [];
  let group: string | undefined;
  const lines = text.split(SPLITLINES);
  // eslint-disable-next-line no-control-regex -- the line breaks Python knows
  if (/[\v\f\x1c\x1d\x1e\x85\u2028\u2029]/.test(text)) {
    warnings.push("entry_points.txt has line breaks other than \\n, \\r\\n and \\r");
  }
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(PY_SPACE, "");
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    if (line.startsWith("[")) {
      const header = line.endsWith("]") ? line : /^\[(.+)\]/.exec(line)?.[0];
      if (header !== undefined) {
        if (header !== line) {
          warnings.push(
            `entry_points.txt line ${i + 1} has text after its header: ${JSON.stringify(line.slice(0, 80))}`,
          );
        }
        group = header.replace(/^\[+|\]+$/g, "").replace(PY_SPACE, "");
        continue;
      }
    }
    const eq = line.indexOf("=");
    if (group === undefined || eq === -1) {
      warnings.push(`entry_points.txt line ${i + 1} ignored: ${JSON.stringify(line.slice(0, 80))}`);
      continue;
    }
    entryPoints.push({
      group,
      name: line.slice(0, eq).replace(PY_SPACE, ""),
      value: line.slice(eq + 1).replace(PY_SPACE, ""),
    });
  }
  return entryPoints;
}

/** Names a wheel puts at the top of site-packages (`*.data/purelib` and `platlib` install there too). */
function installedTopLevel(entries: readonly ArchiveEntry[], distInfoDir: string): string[] {
  const names = new Set<string>();
  for (const entry of entries) {
    const parts = entry.name.split("/");
    if (parts[0] === distInfoDir) continue;
    // pip takes every top-level `*.data` directory as a data directory, not only `{name}-{version}.data`.
    if (parts.length > 1 && parts[0]!.endsWith(".data")) {
      if ((parts[1] === "purelib" || parts[1] === "platlib") && parts[2] !== undefined) names.add(parts[2]);
      continue;
    }
    names.add(parts[0]!);
  }
  return [...names].sort();
}

export interface SdistInfo {
  filename: SdistFilename;
  /** The top-level directory holding PKG-INFO, e.g. `six-1.17.0`. */
  topDir: string;
  metadata: CoreMetadata;
  /** PKG-INFO exactly as stored. */
  metadataBytes: Buffer;
  warnings: string[];
}

/**
 * Reads the PKG-INFO of an sdist (`.tar.gz` or `.zip`), which the sdist spec places at
 * `{name}-{version}/PKG-INFO`.
 *
 * @throws {DistributionError} for a bad filename, no PKG-INFO, or PKG-INFO naming another project
 *   or version than the filename.
 * @throws {ArchiveError} when the archive itself is malformed, hostile or over the limits.
 * @throws {CoreMetadataError} when PKG-INFO has no Name or Version.
 */
export async function readSdistMetadata(
  path: string,
  options: ReadDistributionOptions = {},
): Promise<SdistInfo> {
  const filenameText = options.filename ?? basename(path);
  const filename = parseSdistFilename(filenameText);
  if (filename === null) {
    throw new DistributionError("BAD_FILENAME", `${filenameText} is not a valid sdist filename`);
  }
  const reader = await openArchive(path, { ...options, filename: filenameText });
  try {
    const candidates = reader
      .entries()
      .filter((entry) => !entry.isDirectory && /^[^/]+\/PKG-INFO$/.test(entry.name));
    const stem = normalizeProjectName(`${filename.name}-${filename.version}`);
    let chosen: ArchiveEntry | undefined;
    if (candidates.length === 1) chosen = candidates[0];
    else if (candidates.length > 1) {
      const matching = candidates.filter((entry) => normalizeProjectName(entry.name.split("/")[0]!) === stem);
      if (matching.length !== 1) {
        throw new DistributionError(
          "AMBIGUOUS_PKG_INFO",
          `${filenameText} has several top-level PKG-INFO files`,
        );
      }
      chosen = matching[0];
    }
    if (chosen === undefined) {
      throw new DistributionError("NO_PKG_INFO", `${filenameText} has no {name}-{version}/PKG-INFO`);
    }
    const metadataBytes = await reader.read(
      chosen.name,
      options.signal === undefined ? {} : { signal: options.signal },
    );
    const metadata = parseCoreMetadata(metadataBytes);
    // The legacy split of the filename at its last "-" can be wrong, so compare the whole stem too.
    const sameStem = normalizeProjectName(`${metadata.name}-${metadata.version}`) === stem;
    if (
      !sameStem &&
      (normalizeProjectName(metadata.name) !== filename.project ||
        !versionsEqual(metadata.version, filename.version))
    ) {
      throw new DistributionError(
        "METADATA_MISMATCH",
        `PKG-INFO describes ${metadata.name} ${metadata.version}, the filename ${filename.name} ${filename.version}`,
      );
    }
    return {
      filename,
      topDir: chosen.name.split("/")[0]!,
      metadata,
      metadataBytes,
      warnings: metadata.warnings.map((w) => `PKG-INFO: ${w}`),
    };
  } finally {
    await reader.close();
  }
}
