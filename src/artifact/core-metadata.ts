/**
 * Parses core metadata (`METADATA` in wheels, `PKG-INFO` in sdists) and the other
 * email-header-shaped files of a distribution (`WHEEL`).
 *
 * The Core Metadata spec defines the format as "what the standard library email.parser module can
 * parse using the compat32 policy", so that is the behaviour followed here: headers until the first
 * blank line, continuation lines start with whitespace, repeated fields are kept in order, the rest
 * is the message body. Upstream metadata is often sloppy, so the parser is liberal: anything odd
 * becomes a warning, and only a missing `Name` or `Version` is an error.
 */

/** Why a metadata file cannot describe a distribution at all. */
export class CoreMetadataError extends Error {
  override readonly name = "CoreMetadataError";
  readonly code: "MISSING_FIELD";
  /** The required field that is missing or empty. */
  readonly field: string;

  constructor(field: string, message: string) {
    super(message);
    this.code = "MISSING_FIELD";
    this.field = field;
  }
}

/** The headers and body of an email-style file; header keys are lower case. */
export interface ParsedHeaders {
  /** Every header's values in file order, keyed by lower-case field name. */
  headers: ReadonlyMap<string, readonly string[]>;
  /** Everything after the first blank line (line endings normalised to `\n`). */
  body: string;
  warnings: string[];
}

export interface ProjectUrl {
  label: string;
  url: string;
}

/** The fields a gateway reasons about, typed; everything else is in `raw`. */
export interface CoreMetadata {
  metadataVersion?: string;
  name: string;
  version: string;
  summary?: string;
  requiresPython?: string;
  requiresDist: string[];
  providesExtra: string[];
  classifiers: string[];
  license?: string;
  /** PEP 639 SPDX expression. */
  licenseExpression?: string;
  licenseFiles: string[];
  author?: string;
  authorEmail?: string;
  maintainer?: string;
  maintainerEmail?: string;
  homePage?: string;
  downloadUrl?: string;
  keywords?: string;
  projectUrls: ProjectUrl[];
  /** From the message body, or from the `Description` header when the body is empty. */
  description?: string;
  descriptionContentType?: string;
  dynamic: string[];
  platforms: string[];
  supportedPlatforms: string[];
  requiresExternal: string[];
  providesDist: string[];
  obsoletesDist: string[];
  /** Every header as written (continuation lines joined with `\n`), keyed by lower-case name. */
  raw: ReadonlyMap<string, readonly string[]>;
  /** Oddities that did not stop parsing: bad UTF-8, repeated single fields, stray lines. */
  warnings: string[];
}

// RFC 5322 field names: printable ASCII except ':' and space, the colon right after the name
// (compat32's headerRE; "Name : x" starts the body there too).
const HEADER_LINE = /^([\x21-\x39\x3b-\x7e]+):(.*)$/;

/**
 * Splits an email-style file into headers and body (email.parser compat32 semantics).
 *
 * A line that is neither a header nor a continuation ends the headers and starts the body, as
 * compat32 does (`MissingHeaderBodySeparatorDefect`).
 */
export function parseHeaders(input: string | Uint8Array): ParsedHeaders {
  const warnings: string[] = [];
  const text = decodeUtf8(input, warnings).replace(/\r\n?/g, "\n");
  const headers = new Map<string, string[]>();
  let current: { key: string; lines: string[] } | undefined;
  const flush = (): void => {
    if (current === undefined) return;
    const values = headers.get(current.key);
    const value = current.lines.join("\n");
    if (values === undefined) headers.set(current.key, [value]);
    else values.push(value);
    current = undefined;
  };

  let offset = 0;
  let body = "";
  while (offset < text.length) {
    const end = text.indexOf("\n", offset);
    const lineEnd = end === -1 ? text.length : end;
    const line = text.slice(offset, lineEnd);
    const next = end === -1 ? text.length : end + 1;
    if (line === "") {
      body = text.slice(next);
      break;
    }
    if (line.startsWith(" ") || line.startsWith("\t")) {
      if (current === undefined)
        warnings.push(`continuation line before any header ignored: ${truncate(line)}`);
      else current.lines.push(line);
      offset = next;
      continue;
    }
    const match = HEADER_LINE.exec(line);
    if (match === null) {
      warnings.push(`headers end at a line that is not a header: ${truncate(line)}`);
      body = text.slice(offset);
      break;
    }
    flush();
    current = { key: match[1]!.toLowerCase(), lines: [match[2]!.replace(/^[ \t]+/, "")] };
    offset = next;
  }
  flush();
  return { headers, body, warnings };
}

/**
 * Parses a `METADATA` or `PKG-INFO` file.
 *
 * @throws {CoreMetadataError} when `Name` or `Version` is missing or empty.
 *
 * @example
 * const meta = parseCoreMetadata(await wheel.read("requests-2.34.2.dist-info/METADATA"));
 * meta.requiresDist; // ["charset_normalizer<4,>=2", …]
 */
export function parseCoreMetadata(input: string | Uint8Array): CoreMetadata {
  const { headers, body, warnings } = parseHeaders(input);
  const single = (field: string): string | undefined => {
    const values = headers.get(field.toLowerCase());
    if (values === undefined) return undefined;
    // Python's email.message returns the first of repeated headers, and so does pip.
    if (values.length > 1) warnings.push(`${field} appears ${values.length} times; the first is used`);
    const value = unfold(values[0]!).trim();
    return value === "" ? undefined : value;
  };
  const multiple = (field: string): string[] =>
    (headers.get(field.toLowerCase()) ?? [])
      .map((value) => unfold(value).trim())
      .filter((value) => value !== "");
  const text = (field: string): string | undefined => {
    const values = headers.get(field.toLowerCase());
    if (values === undefined) return undefined;
    if (values.length > 1) warnings.push(`${field} appears ${values.length} times; the first is used`);
    return unindent(values[0]!);
  };

  const name = single("Name");
  if (name === undefined) throw new CoreMetadataError("Name", "core metadata has no Name");
  const version = single("Version");
  if (version === undefined) throw new CoreMetadataError("Version", "core metadata has no Version");

  let description: string | undefined;
  if (body.trim() !== "") {
    // Metadata 2.1 (PEP 566) moved the description into the body.
    description = body;
    if (headers.has("description"))
      warnings.push("Description given both as a header and as the body; the body is used");
  } else {
    description = text("Description");
  }

  const metadata: CoreMetadata = {
    name,
    version,
    requiresDist: multiple("Requires-Dist"),
    providesExtra: multiple("Provides-Extra"),
    classifiers: multiple("Classifier"),
    licenseFiles: multiple("License-File"),
    projectUrls: multiple("Project-URL").map(parseProjectUrl),
    dynamic: multiple("Dynamic"),
    platforms: multiple("Platform"),
    supportedPlatforms: multiple("Supported-Platform"),
    requiresExternal: multiple("Requires-External"),
    providesDist: multiple("Provides-Dist"),
    obsoletesDist: multiple("Obsoletes-Dist"),
    raw: headers,
    warnings,
  };
  assignDefined(metadata, {
    metadataVersion: single("Metadata-Version"),
    summary: single("Summary"),
    requiresPython: single("Requires-Python"),
    license: text("License"),
    licenseExpression: single("License-Expression"),
    author: single("Author"),
    authorEmail: single("Author-email"),
    maintainer: single("Maintainer"),
    maintainerEmail: single("Maintainer-email"),
    homePage: single("Home-page"),
    downloadUrl: single("Download-URL"),
    keywords: single("Keywords"),
    description,
    descriptionContentType: single("Description-Content-Type"),
  });
  return metadata;
}

function assignDefined<T extends object>(target: T, values: Partial<T>): void {
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) (target as Record<string, unknown>)[key] = value;
  }
}

// Core Metadata spec, "Description": continuation lines are indented by 7 or 8 spaces followed by
// `|` so that blank and indented lines survive (the older distutils form is 8 spaces alone).
const DESCRIPTION_INDENT = /^(?: {7,8}|\t)\|/;
const PLAIN_INDENT = /^(?: {1,8}|\t)/;

/** A multi-line header value with the folding indentation removed and line breaks kept. */
function unindent(value: string): string {
  const [first, ...rest] = value.split("\n");
  const lines = rest.map((line) =>
    DESCRIPTION_INDENT.test(line) ? line.replace(DESCRIPTION_INDENT, "") : line.replace(PLAIN_INDENT, ""),
  );
  return [first!.trim(), ...lines].join("\n").replace(/\s+$/, "");
}

/** A folded single-line value: RFC 5322 unfolding joins the lines with their whitespace. */
function unfold(value: string): string {
  return value.replace(/\n(?=[ \t])/g, "");
}

function parseProjectUrl(value: string): ProjectUrl {
  // Core Metadata 1.2: "label, url"; the label may be missing in old metadata.
  const comma = value.indexOf(",");
  if (comma === -1) return { label: "", url: value.trim() };
  return { label: value.slice(0, comma).trim(), url: value.slice(comma + 1).trim() };
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const utf8Lossy = new TextDecoder("utf-8", { fatal: false, ignoreBOM: false });

function decodeUtf8(input: string | Uint8Array, warnings: string[]): string {
  if (typeof input === "string") return input.startsWith("\ufeff") ? input.slice(1) : input;
  try {
    return utf8.decode(input);
  } catch {
    // The spec requires UTF-8, but old sdists carry Latin-1 PKG-INFO; keep what is readable.
    warnings.push("metadata is not valid UTF-8; invalid bytes were replaced");
    return utf8Lossy.decode(input);
  }
}

function truncate(line: string): string {
  return JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}…` : line);
}
