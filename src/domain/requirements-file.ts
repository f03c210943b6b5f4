/**
 * pip requirements files (`requirements.txt`, constraints files), read the way pip reads them:
 * physical lines are joined on a trailing `\`, comments are stripped, and each logical line is
 * either a requirement with its own options (`--hash`) or a line of file-wide options. Nothing is
 * followed or fetched here: `-r`/`-c` come back as includes for the caller to resolve, and forms the
 * gateway cannot serve (editables, bare URLs and paths) come back as unsupported entries.
 *
 * The format is pip's, not a standard: https://pip.pypa.io/en/stable/reference/requirements-file-format/
 */
import { RequirementParseError, parseRequirement, type Requirement } from "./requirement.js";

/** Largest file accepted, in UTF-16 code units; real requirements files are a few kilobytes. */
export const MAX_REQUIREMENTS_FILE_LENGTH = 1024 * 1024;

/** A requirement line, with the `--hash` values pinned to it. */
export interface RequirementsFileEntry {
  req: Requirement;
  /** `--hash` values as written, `algorithm:hexdigest`. */
  hashes: string[];
  /** 1-based number of the line the entry starts on. */
  line: number;
}

/** A `-r` (another requirements file) or `-c` (a constraints file) line; never followed here. */
export interface RequirementsFileInclude {
  kind: "requirements" | "constraints";
  path: string;
  line: number;
}

/** Any other option, under its long name (`-i` becomes `--index-url`); `value` is absent for flags. */
export interface RequirementsFileOption {
  name: string;
  value?: string;
  line: number;
}

/** A line pip would install but the gateway cannot serve from an index. */
export interface RequirementsFileUnsupported {
  kind: "editable" | "url" | "path";
  text: string;
  line: number;
}

export interface RequirementsFileError {
  line: number;
  message: string;
}

export interface RequirementsFile {
  requirements: RequirementsFileEntry[];
  includes: RequirementsFileInclude[];
  options: RequirementsFileOption[];
  unsupported: RequirementsFileUnsupported[];
  errors: RequirementsFileError[];
}

interface OptionSpec {
  name: string;
  takesValue: boolean;
}

// The options pip accepts on a line of their own, keyed by every spelling.
const FILE_OPTIONS = optionTable([
  [["-i", "--index-url"], true],
  [["--extra-index-url"], true],
  [["--no-index"], false],
  [["-c", "--constraint"], true],
  [["-r", "--requirement"], true],
  [["-e", "--editable"], true],
  [["-f", "--find-links"], true],
  [["--no-binary"], true],
  [["--only-binary"], true],
  [["--prefer-binary"], false],
  [["--require-hashes"], false],
  [["--pre"], false],
  [["--trusted-host"], true],
  [["--use-feature"], true],
]);

// The options pip accepts after a requirement, applying to it alone.
const REQUIREMENT_OPTIONS = optionTable([
  [["--hash"], true],
  [["--global-option"], true],
  [["-C", "--config-settings"], true],
]);

function optionTable(rows: [string[], boolean][]): ReadonlyMap<string, OptionSpec> {
  const table = new Map<string, OptionSpec>();
  for (const [spellings, takesValue] of rows) {
    const name = spellings[spellings.length - 1] as string;
    for (const spelling of spellings) table.set(spelling, { name, takesValue });
  }
  return table;
}

// pip: `--hash` only takes the strong algorithms, so a pinned file cannot fall back to md5.
const HASH = /^(sha256|sha384|sha512):[0-9a-fA-F]+$/;

interface LogicalLine {
  line: number;
  text: string;
}

// pip's `join_lines`: a line ending in `\` continues on the next, unless it is a comment line.
function joinLines(physical: readonly string[]): LogicalLine[] {
  const logical: LogicalLine[] = [];
  let pending: string[] = [];
  let pendingLine = 0;
  physical.forEach((text, index) => {
    const isComment = /^\s*#/.test(text);
    if (!text.endsWith("\\") || isComment) {
      // pip prefixes a comment with a space so it is still taken as a comment once joined.
      const piece = isComment ? ` ${text}` : text;
      if (pending.length > 0) {
        logical.push({ line: pendingLine, text: pending.join("") + piece });
        pending = [];
      } else {
        logical.push({ line: index + 1, text: piece });
      }
    } else {
      if (pending.length === 0) pendingLine = index + 1;
      pending.push(text.replace(/^\\+|\\+$/g, ""));
    }
  });
  if (pending.length > 0) logical.push({ line: pendingLine, text: pending.join("") });
  return logical;
}

// pip: `#` starts a comment at the start of a line or after whitespace, so `#egg=` in a URL
// survives. Scanned by hand: the regex pip uses backtracks quadratically on long runs of spaces.
function stripComment(text: string): string {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "#" && (i === 0 || /\s/.test(text[i - 1] as string))) return text.slice(0, i);
  }
  return text;
}

// pip's `break_args_options`: the requirement is every space-separated token before the first one
// that starts with `-`.
function splitArgsAndOptions(text: string): { args: string; options: string } {
  const tokens = text.split(" ");
  const firstOption = tokens.findIndex((token) => token.startsWith("-"));
  if (firstOption < 0) return { args: text, options: "" };
  return { args: tokens.slice(0, firstOption).join(" "), options: tokens.slice(firstOption).join(" ") };
}

// Splits option text on whitespace, keeping quoted parts together (pip uses `shlex.split`).
function tokenize(text: string): string[] | null {
  const tokens: string[] = [];
  let current: string | null = null;
  let quote: string | null = null;
  for (const char of text) {
    if (quote !== null) {
      if (char === quote) quote = null;
      else current += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      current ??= "";
    } else if (/\s/.test(char)) {
      if (current !== null) tokens.push(current);
      current = null;
    } else {
      current = (current ?? "") + char;
    }
  }
  if (quote !== null) return null;
  if (current !== null) tokens.push(current);
  return tokens;
}

interface ParsedOption {
  spec: OptionSpec;
  value?: string;
}

// Reads `--name=value`, `--name value`, `-xvalue` and `-x value` against one option table; `null`
// (after reporting) if any option is wrong, so a half-understood line is never acted on.
function readOptions(
  tokens: readonly string[],
  table: ReadonlyMap<string, OptionSpec>,
  onError: (message: string) => void,
): ParsedOption[] | null {
  const parsed: ParsedOption[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    let spelling = token;
    let attached: string | undefined;
    if (token.startsWith("--")) {
      const eq = token.indexOf("=");
      if (eq >= 0) {
        spelling = token.slice(0, eq);
        attached = token.slice(eq + 1);
      }
    } else if (token.startsWith("-") && token.length > 2) {
      spelling = token.slice(0, 2);
      attached = token.slice(2);
    }
    const spec = table.get(spelling);
    if (!spec) {
      const other = table === FILE_OPTIONS ? REQUIREMENT_OPTIONS : FILE_OPTIONS;
      onError(
        other.has(spelling)
          ? `Option ${spelling} is not allowed ${table === FILE_OPTIONS ? "without a requirement" : "after a requirement"}`
          : token.startsWith("-")
            ? `Unknown option ${spelling}`
            : `Unexpected ${truncate(token)}`,
      );
      return null;
    }
    if (!spec.takesValue) {
      if (attached !== undefined) {
        onError(`Option ${spelling} takes no value`);
        return null;
      }
      parsed.push({ spec });
      continue;
    }
    const value = attached ?? tokens[++i];
    if (value === undefined || value === "") {
      onError(`Option ${spelling} needs a value`);
      return null;
    }
    parsed.push({ spec, value });
  }
  return parsed;
}

function looksLikeUrl(text: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text);
}

const ARCHIVE = /\.(whl|zip|tar\.gz|tgz|tar\.bz2|tbz|tar\.xz|txz|tar)$/i;

// pip installs from a path when the text names a directory or an archive.
function looksLikePath(text: string): boolean {
  return /[/\\]/.test(text) || /^[.~]/.test(text) || ARCHIVE.test(text);
}

// pip (`_get_url_from_path`): a bare archive file name is a file to install, even though
// `pkg-1.0-py3-none-any.whl` is also a well-formed project name.
function isArchiveName(text: string): boolean {
  return !text.includes("@") && ARCHIVE.test(text.split(/[\s;]/, 1)[0] ?? "");
}

function truncate(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/**
 * Parses the text of a pip requirements file. Never throws: a line that cannot be read becomes an
 * entry in `errors` and the rest of the file is still read. Environment variables (`${VAR}`) are
 * left as written.
 *
 * @example parseRequirementsFile("requests==2.31.0 \\\n    --hash=sha256:58cd...\n-r base.txt\n")
 * // { requirements: [{ req: { name: "requests", … }, hashes: ["sha256:58cd..."], line: 1 }],
 * //   includes: [{ kind: "requirements", path: "base.txt", line: 3 }], options: [], unsupported: [], errors: [] }
 */
export function parseRequirementsFile(text: string): RequirementsFile {
  const result: RequirementsFile = {
    requirements: [],
    includes: [],
    options: [],
    unsupported: [],
    errors: [],
  };
  if (text.length > MAX_REQUIREMENTS_FILE_LENGTH) {
    result.errors.push({
      line: 0,
      message: `File is larger than ${MAX_REQUIREMENTS_FILE_LENGTH} characters`,
    });
    return result;
  }

  const physical = text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
  for (const { line, text: raw } of joinLines(physical)) {
    const content = stripComment(raw).trim();
    if (content === "") continue;
    const onError = (message: string): void => {
      result.errors.push({ line, message });
    };

    const { args, options } = splitArgsAndOptions(content);
    const tokens = tokenize(options);
    if (tokens === null) {
      onError("Unterminated quote in options");
      continue;
    }

    if (args.trim() === "") {
      for (const { spec, value } of readOptions(tokens, FILE_OPTIONS, onError) ?? []) {
        if (spec.name === "--requirement" || spec.name === "--constraint") {
          const kind = spec.name === "--requirement" ? "requirements" : "constraints";
          result.includes.push({ kind, path: value as string, line });
        } else if (spec.name === "--editable") {
          result.unsupported.push({ kind: "editable", text: value as string, line });
        } else {
          result.options.push(
            value === undefined ? { name: spec.name, line } : { name: spec.name, value, line },
          );
        }
      }
      continue;
    }

    const lineOptions = readOptions(tokens, REQUIREMENT_OPTIONS, onError);
    if (lineOptions === null) continue;
    const candidate = args.trim();
    if (isArchiveName(candidate)) {
      result.unsupported.push({ kind: looksLikeUrl(candidate) ? "url" : "path", text: candidate, line });
      continue;
    }
    let req: Requirement;
    try {
      req = parseRequirement(candidate);
    } catch (error) {
      if (!(error instanceof RequirementParseError)) throw error;
      if (looksLikeUrl(candidate)) result.unsupported.push({ kind: "url", text: candidate, line });
      else if (looksLikePath(candidate)) result.unsupported.push({ kind: "path", text: candidate, line });
      else onError(error.message);
      continue;
    }

    const hashes: string[] = [];
    let valid = true;
    for (const { spec, value } of lineOptions) {
      if (spec.name !== "--hash") {
        result.options.push({ name: spec.name, value: value as string, line });
      } else if (HASH.test(value as string)) {
        hashes.push(value as string);
      } else {
        onError(
          `Invalid --hash ${truncate(value as string)}: expected sha256, sha384 or sha512 and a hex digest`,
        );
        valid = false;
      }
    }
    if (valid) result.requirements.push({ req, hashes, line });
  }
  return result;
}
