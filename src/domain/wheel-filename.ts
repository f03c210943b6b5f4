/**
 * Distribution filenames: what a wheel or sdist filename says about its project, version and
 * compatibility tags. Filenames come from upstream indexes and uploads, so a name that is not
 * exactly one of the specified shapes parses to `null` rather than to a best guess.
 */
import { isValidProjectName, normalizeProjectName } from "./project-name.js";
import { isValidVersion } from "./version.js";

/** What a wheel filename declares (binary distribution format spec, "File name convention"). */
export interface WheelFilename {
  /** The filename as given. */
  filename: string;
  /** The distribution component as spelled in the filename, e.g. `charset_normalizer`. */
  name: string;
  /** The PEP 503 normalised project name, e.g. `charset-normalizer`. */
  project: string;
  /** The version component as spelled in the filename. */
  version: string;
  /** The optional build tag, e.g. `1` or `2abc`; it always starts with a digit. */
  buildTag?: string;
  /** Compressed tag sets split on `.`, e.g. `["py2", "py3"]`. */
  pythonTags: string[];
  abiTags: string[];
  platformTags: string[];
  /** Every `python-abi-platform` triple the compressed sets expand to. */
  tags: string[];
}

/** What an sdist filename declares (PEP 625; legacy names are split at their last `-`). */
export interface SdistFilename {
  filename: string;
  /** The name component as spelled in the filename, e.g. `python-dateutil` or `python_dateutil`. */
  name: string;
  /** The PEP 503 normalised project name. */
  project: string;
  version: string;
  /** PEP 527 leaves these two sdist formats. */
  archive: "tar.gz" | "zip";
}

export type DistFilename = ({ kind: "wheel" } & WheelFilename) | ({ kind: "sdist" } & SdistFilename);

/** Longest filename accepted: the usual file-system limit on a path component. */
const MAX_FILENAME_LENGTH = 255;

// The wheel spec escapes every run of other characters in the distribution name to `_`, so `-`
// cannot occur; packaging's parse_wheel_filename also refuses `__`, which escaping never yields.
const WHEEL_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._]*[A-Za-z0-9])?$/;
const BUILD_TAG = /^[0-9][A-Za-z0-9_.]*$/;
const TAG = /^[A-Za-z0-9_]+$/;

/**
 * Parses a wheel filename: `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`.
 *
 * @returns `null` for anything that is not a well-formed wheel filename, including names with
 *   path separators, NUL or other control characters, a leading `.`, an invalid PEP 440 version
 *   or an empty tag.
 *
 * @example
 * parseWheelFilename("six-1.17.0-py2.py3-none-any.whl")?.tags // ["py2-none-any", "py3-none-any"]
 */
export function parseWheelFilename(filename: string): WheelFilename | null {
  if (!isPlainFilename(filename) || !filename.endsWith(".whl")) return null;
  const parts = filename.slice(0, -".whl".length).split("-");
  if (parts.length !== 5 && parts.length !== 6) return null;
  const [name, version] = parts as [string, string];
  const buildTag = parts.length === 6 ? parts[2]! : undefined;
  const [python, abi, platform] = parts.slice(-3) as [string, string, string];
  if (!WHEEL_NAME.test(name) || name.includes("__")) return null;
  if (!isValidVersion(version)) return null;
  if (buildTag !== undefined && !BUILD_TAG.test(buildTag)) return null;
  const pythonTags = splitTagSet(python);
  const abiTags = splitTagSet(abi);
  const platformTags = splitTagSet(platform);
  if (pythonTags === null || abiTags === null || platformTags === null) return null;
  const tags = pythonTags.flatMap((py) =>
    abiTags.flatMap((ab) => platformTags.map((pl) => `${py}-${ab}-${pl}`)),
  );
  return {
    filename,
    name,
    project: normalizeProjectName(name),
    version,
    ...(buildTag === undefined ? {} : { buildTag }),
    pythonTags,
    abiTags,
    platformTags,
    tags,
  };
}

/**
 * Parses a wheel or sdist filename. Sdists are `{name}-{version}.tar.gz` or `.zip` (PEP 625 names
 * escape `-` to `_`; for legacy names such as `python-dateutil-2.8.2.tar.gz` the version is taken
 * after the last `-`).
 *
 * @returns `null` for anything else, including `.egg`, `.exe` and `.tar.bz2` files.
 *
 * @example
 * parseDistFilename("python-dateutil-2.9.0.tar.gz") // { kind: "sdist", project: "python-dateutil", version: "2.9.0", … }
 */
export function parseDistFilename(filename: string): DistFilename | null {
  if (filename.endsWith(".whl")) {
    const wheel = parseWheelFilename(filename);
    return wheel === null ? null : { kind: "wheel", ...wheel };
  }
  const sdist = parseSdistFilename(filename);
  return sdist === null ? null : { kind: "sdist", ...sdist };
}

/** Parses an sdist filename; see {@link parseDistFilename}. */
export function parseSdistFilename(filename: string): SdistFilename | null {
  if (!isPlainFilename(filename)) return null;
  let archive: SdistFilename["archive"];
  let stem: string;
  if (filename.endsWith(".tar.gz")) {
    archive = "tar.gz";
    stem = filename.slice(0, -".tar.gz".length);
  } else if (filename.endsWith(".zip")) {
    archive = "zip";
    stem = filename.slice(0, -".zip".length);
  } else {
    return null;
  }
  const dash = stem.lastIndexOf("-");
  if (dash <= 0) return null;
  const name = stem.slice(0, dash);
  const version = stem.slice(dash + 1);
  if (!isValidProjectName(name) || !isValidVersion(version)) return null;
  return { filename, name, project: normalizeProjectName(name), version, archive };
}

/**
 * A filename that can only ever mean one file in one directory: no separators, no NUL or other
 * control characters, no leading `.` (hidden files, `..`), no whitespace, bounded length.
 */
function isPlainFilename(filename: string): boolean {
  return (
    filename.length > 0 &&
    filename.length <= MAX_FILENAME_LENGTH &&
    !filename.startsWith(".") &&
    // eslint-disable-next-line no-control-regex
    !/[/\\\s\u0000-\u001f\u007f]/.test(filename)
  );
}

function splitTagSet(component: string): string[] | null {
  const tags = component.split(".");
  return tags.every((tag) => TAG.test(tag)) ? tags : null;
}
