/**
 * Wheel `RECORD` files: parsing, and checking an archive against its RECORD.
 *
 * Binary distribution format spec: RECORD lists every file in the wheel as a CSV row
 * `path,hash,size`, where hash is `<algorithm>=<urlsafe base64 digest without padding>` and the
 * algorithm is sha256 or stronger (never md5 or sha1). RECORD cannot list its own hash, and the
 * signature files `RECORD.jws` and `RECORD.p7s` are not listed at all.
 *
 * An installer need not verify RECORD before writing files, so the gateway does: it reports every
 * disagreement as a problem for policy to weigh rather than failing on the first.
 */
import { createHash } from "node:crypto";
import type { ArchiveReader, ReadOptions } from "./archive-reader.js";
import { isLargeFile, normalizeEntryPath } from "./archive-reader.js";

export interface RecordHash {
  /** Algorithm name as written, lower-cased (`sha256`, `sha3_256`, `blake2b`, …). */
  algorithm: string;
  /** The urlsafe base64 digest as written. */
  digest: string;
}

export interface RecordEntry {
  /** The path as written in RECORD. */
  path: string;
  /** Canonical form, comparable with archive entry names. */
  name: string;
  hash?: RecordHash;
  size?: number;
  /** 1-based line on which the row starts. */
  line: number;
}

export type RecordProblemKind =
  | "MISSING_RECORD"
  | "MALFORMED_LINE"
  | "BAD_PATH"
  | "DUPLICATE_ENTRY"
  | "NOT_IN_RECORD"
  | "NOT_IN_ARCHIVE"
  | "NO_HASH"
  | "WEAK_HASH"
  | "UNKNOWN_HASH"
  | "HASH_MISMATCH"
  | "SIZE_MISMATCH";

/** One disagreement between a RECORD and the spec or the archive; data, not an exception. */
export interface RecordProblem {
  kind: RecordProblemKind;
  message: string;
  /** The archive or RECORD path concerned. */
  path?: string;
  line?: number;
}

export interface ParsedRecord {
  /** Where the RECORD sits in the archive, e.g. `flask-3.1.3.dist-info/RECORD`. */
  path: string;
  entries: RecordEntry[];
  /** Rows that could not be used. */
  problems: RecordProblem[];
}

export interface CsvRow {
  fields: string[];
  /** 1-based line on which the row starts. */
  line: number;
}

/**
 * Splits CSV text into rows the way Python's `csv.reader` does with the default (excel) dialect:
 * `,` separates, `"` quotes, `""` inside quotes is a literal quote, quoted fields may hold commas
 * and line breaks, and `\n`, `\r\n` or `\r` ends a row. Blank lines give rows with no fields.
 */
export function parseCsv(text: string): { rows: CsvRow[]; unterminatedQuoteAt?: number } {
  const rows: CsvRow[] = [];
  // The next \n and \r at or after where the scan is, each searched for once: searching from
  // every line again for a \r the file never holds was quadratic (130 ms of the event loop for
  // the 16,000 lines of cmeel-boost's RECORD). -1: there is none further on.
  let lf = -2;
  let cr = -2;
  const endOfLine = (from: number): number => {
    if (lf !== -1 && lf < from) lf = text.indexOf("\n", from);
    if (cr !== -1 && cr < from) cr = text.indexOf("\r", from);
    if (lf === -1) return cr === -1 ? text.length : cr;
    return cr === -1 ? lf : Math.min(lf, cr);
  };
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const start = line;
    const lineEnd = endOfLine(i);
    const plain = text.slice(i, lineEnd);
    if (!plain.includes('"')) {
      // Nearly every RECORD row has no quotes: split it without walking characters.
      rows.push({ fields: plain === "" ? [] : plain.split(","), line: start });
      i = skipLineBreak(text, lineEnd);
      line++;
      continue;
    }
    const fields: string[] = [];
    let field = "";
    let quoted = false;
    let afterQuote = false;
    for (;;) {
      if (i >= text.length) {
        if (quoted) {
          fields.push(field);
          rows.push({ fields, line: start });
          return { rows, unterminatedQuoteAt: start };
        }
        break;
      }
      const c = text[i]!;
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            quoted = false;
            afterQuote = true;
            i++;
          }
          continue;
        }
        if (c === "\n" || (c === "\r" && text[i + 1] !== "\n")) line++;
        field += c;
        i++;
        continue;
      }
      if (c === ",") {
        fields.push(field);
        field = "";
        afterQuote = false;
        i++;
        continue;
      }
      if (c === "\n" || c === "\r") break;
      // A quote opens quoting only at the start of a field; after a closing quote, or inside an
      // unquoted field, characters are taken literally (csv's non-strict mode).
      if (c === '"' && field === "" && !afterQuote) quoted = true;
      else field += c;
      i++;
    }
    fields.push(field);
    rows.push({ fields, line: start });
    i = skipLineBreak(text, i);
    line++;
  }
  return { rows };
}

function skipLineBreak(text: string, at: number): number {
  if (text[at] === "\r" && text[at + 1] === "\n") return at + 2;
  return at < text.length ? at + 1 : at;
}

/**
 * Parses a RECORD file. Rows that break the format become problems; the rest become entries.
 *
 * @param recordPath where the RECORD sits in the archive, so that it can exempt itself.
 *
 * @example
 * const record = parseRecord(await wheel.read(path), path);
 * const problems = await checkRecord(wheel, record);
 */
export function parseRecord(input: string | Uint8Array, recordPath: string): ParsedRecord {
  const text =
    typeof input === "string"
      ? input
      : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString("utf8");
  const { rows, unterminatedQuoteAt } = parseCsv(text.startsWith("\ufeff") ? text.slice(1) : text);
  const entries: RecordEntry[] = [];
  const problems: RecordProblem[] = [];
  if (unterminatedQuoteAt !== undefined) {
    problems.push({
      kind: "MALFORMED_LINE",
      line: unterminatedQuoteAt,
      message: `RECORD line ${unterminatedQuoteAt} opens a quote it never closes`,
    });
  }
  const seen = new Set<string>();
  // An unterminated quote swallows the rest of the file into one row: that row is reported above.
  const usable = unterminatedQuoteAt === undefined ? rows : rows.slice(0, -1);
  for (const { fields, line } of usable) {
    if (fields.length === 0) continue;
    if (fields.length !== 3) {
      problems.push({
        kind: "MALFORMED_LINE",
        line,
        message: `RECORD line ${line} has ${fields.length} fields, not 3`,
      });
      continue;
    }
    const [path, hashField, sizeField] = fields as [string, string, string];
    let name: string;
    try {
      name = normalizeEntryPath(path).path;
    } catch (err) {
      problems.push({
        kind: "BAD_PATH",
        path,
        line,
        message: `RECORD line ${line}: ${(err as Error).message}`,
      });
      continue;
    }
    const entry: RecordEntry = { path, name, line };
    if (hashField !== "") {
      const eq = hashField.indexOf("=");
      if (eq <= 0 || eq === hashField.length - 1) {
        problems.push({
          kind: "MALFORMED_LINE",
          path,
          line,
          message: `RECORD line ${line}: hash ${JSON.stringify(hashField)} is not algorithm=digest`,
        });
        continue;
      }
      entry.hash = { algorithm: hashField.slice(0, eq).toLowerCase(), digest: hashField.slice(eq + 1) };
    }
    if (sizeField !== "") {
      if (!/^[0-9]{1,15}$/.test(sizeField)) {
        problems.push({
          kind: "MALFORMED_LINE",
          path,
          line,
          message: `RECORD line ${line}: size ${JSON.stringify(sizeField)} is not a number`,
        });
        continue;
      }
      entry.size = Number(sizeField);
    }
    if (seen.has(name)) {
      problems.push({ kind: "DUPLICATE_ENTRY", path, line, message: `RECORD lists ${path} more than once` });
      continue;
    }
    seen.add(name);
    entries.push(entry);
  }
  return { path: recordPath, entries, problems };
}

// hashlib names → Node digest names; the spec allows any hashlib algorithm stronger than sha1.
const ALGORITHMS: ReadonlyMap<string, string> = new Map([
  ["sha224", "sha224"],
  ["sha256", "sha256"],
  ["sha384", "sha384"],
  ["sha512", "sha512"],
  ["sha3_224", "sha3-224"],
  ["sha3_256", "sha3-256"],
  ["sha3_384", "sha3-384"],
  ["sha3_512", "sha3-512"],
  ["blake2b", "blake2b512"],
  ["blake2s", "blake2s256"],
]);
const WEAK_ALGORITHMS: ReadonlySet<string> = new Set(["md5", "sha1"]);

/**
 * Checks an archive against its RECORD: every file listed, every listed file present, and every
 * hash and size right. Reads each file once.
 *
 * @returns all problems found, including the RECORD's own parse problems; empty means consistent.
 * @throws {ArchiveError} only when the archive itself cannot be read.
 */
export async function checkRecord(
  reader: ArchiveReader,
  record: ParsedRecord,
  options: ReadOptions = {},
): Promise<RecordProblem[]> {
  const problems: RecordProblem[] = [...record.problems];
  const exempt = new Set([record.path, `${record.path}.jws`, `${record.path}.p7s`]);
  const listed = new Map(record.entries.map((entry) => [entry.name, entry]));
  const toVerify = new Map<string, { entry: RecordEntry; algorithm: string }>();

  for (const entry of reader.entries()) {
    if (!entry.isDirectory && !listed.has(entry.name) && !exempt.has(entry.name)) {
      problems.push({
        kind: "NOT_IN_RECORD",
        path: entry.name,
        message: `${entry.name} is in the archive but not in RECORD`,
      });
    }
  }
  for (const entry of record.entries) {
    const file = reader.entry(entry.name);
    if (file === undefined || file.isDirectory) {
      problems.push({
        kind: "NOT_IN_ARCHIVE",
        path: entry.path,
        line: entry.line,
        message: `RECORD lists ${entry.path}, which is not in the archive`,
      });
      continue;
    }
    if (exempt.has(entry.name)) continue;
    if (entry.hash === undefined) {
      problems.push({
        kind: "NO_HASH",
        path: entry.path,
        line: entry.line,
        message: `RECORD gives no hash for ${entry.path}`,
      });
    } else if (WEAK_ALGORITHMS.has(entry.hash.algorithm)) {
      problems.push({
        kind: "WEAK_HASH",
        path: entry.path,
        line: entry.line,
        message: `RECORD hashes ${entry.path} with ${entry.hash.algorithm}, which the spec forbids`,
      });
    } else {
      const algorithm = ALGORITHMS.get(entry.hash.algorithm);
      if (algorithm === undefined) {
        problems.push({
          kind: "UNKNOWN_HASH",
          path: entry.path,
          line: entry.line,
          message: `RECORD hashes ${entry.path} with unknown algorithm ${entry.hash.algorithm}`,
        });
      } else {
        toVerify.set(entry.name, { entry, algorithm });
      }
    }
    if (entry.size !== undefined && entry.size !== file.size) {
      problems.push({
        kind: "SIZE_MISMATCH",
        path: entry.path,
        line: entry.line,
        message: `RECORD gives ${entry.path} ${entry.size} bytes, the archive ${file.size}`,
      });
    }
  }

  if (toVerify.size > 0) {
    await reader.forEachFileContent(async (file, content) => {
      const wanted = toVerify.get(file.name);
      if (wanted === undefined) return;
      const hash = createHash(wanted.algorithm);
      if (isLargeFile(content)) for await (const piece of content.pieces()) hash.update(piece);
      else hash.update(content);
      const actual = hash.digest("base64url");
      if (actual !== wanted.entry.hash!.digest.replace(/=+$/, "")) {
        problems.push({
          kind: "HASH_MISMATCH",
          path: wanted.entry.path,
          line: wanted.entry.line,
          message: `${wanted.entry.path} does not match its ${wanted.entry.hash!.algorithm} hash in RECORD`,
        });
      }
    }, options);
  }
  return problems;
}
