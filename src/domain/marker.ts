/**
 * PEP 508 environment markers: parsing, evaluation and printing.
 *
 * Hand-written because no maintained npm package both parses PEP 508 markers and evaluates them:
 * `pip-requirements-js` parses requirement lines (via ohm-js) but has no evaluator, and nothing else
 * on the registry covers the grammar. The grammar is small, so a recursive-descent parser with
 * explicit length and nesting limits is less risk than a dependency, and it never hangs on hostile
 * metadata.
 */
import { normalizeProjectName } from "./project-name.js";
import { isValidSpecifier, isValidVersion, satisfies } from "./version.js";

/** The marker variables PEP 508 defines. */
export type MarkerVariable =
  | "python_version"
  | "python_full_version"
  | "os_name"
  | "sys_platform"
  | "platform_release"
  | "platform_system"
  | "platform_version"
  | "platform_machine"
  | "platform_python_implementation"
  | "implementation_name"
  | "implementation_version"
  | "extra";

/** The operators PEP 508 allows between two marker values. */
export type MarkerOperator = "<" | "<=" | "!=" | "==" | ">=" | ">" | "~=" | "===" | "in" | "not in";

/** One side of a comparison: a variable, or a quoted string literal (quotes removed). */
export type MarkerValue = { type: "variable"; name: MarkerVariable } | { type: "string"; value: string };

/**
 * A parsed marker. `and`/`or` nodes hold two or more operands; chains of the same operator are
 * flattened, so `a or b or c` is one `or` node with three operands.
 */
export type MarkerNode =
  | { type: "and"; operands: MarkerNode[] }
  | { type: "or"; operands: MarkerNode[] }
  | { type: "compare"; left: MarkerValue; operator: MarkerOperator; right: MarkerValue };

/** The values of the marker variables for one target environment (`extra` is given separately). */
export interface MarkerEnvironment {
  python_version: string;
  python_full_version: string;
  os_name: string;
  sys_platform: string;
  platform_release: string;
  platform_system: string;
  platform_version: string;
  platform_machine: string;
  platform_python_implementation: string;
  implementation_name: string;
  implementation_version: string;
}

/** Longest marker accepted; real ones are well under a kilobyte. */
export const MAX_MARKER_LENGTH = 8192;

/** Deepest parenthesis nesting accepted, which also bounds the recursion of parse and evaluate. */
export const MAX_MARKER_DEPTH = 32;

/** A marker that does not follow the PEP 508 grammar; `position` is a 0-based offset into `input`. */
export class MarkerParseError extends Error {
  override readonly name = "MarkerParseError";
  readonly code = "INVALID_MARKER";

  constructor(
    readonly reason: string,
    readonly input: string,
    readonly position: number,
  ) {
    super(`${reason} at position ${position}`);
  }
}

const VARIABLES: ReadonlySet<string> = new Set<MarkerVariable>([
  "python_version",
  "python_full_version",
  "os_name",
  "sys_platform",
  "platform_release",
  "platform_system",
  "platform_version",
  "platform_machine",
  "platform_python_implementation",
  "implementation_name",
  "implementation_version",
  "extra",
]);

// PEP 345 spelled some variables with dots; packaging still accepts these spellings.
const LEGACY_ALIASES: Readonly<Record<string, MarkerVariable>> = {
  "os.name": "os_name",
  "sys.platform": "sys_platform",
  "platform.version": "platform_version",
  "platform.machine": "platform_machine",
  "platform.python_implementation": "platform_python_implementation",
  python_implementation: "platform_python_implementation",
};

// Longest first, so `===` is not read as `==`.
const SYMBOL_OPERATORS = ["===", "==", "!=", "<=", ">=", "~=", "<", ">"] as const;

const WORD = /[A-Za-z_][A-Za-z0-9_.]*/y;

class MarkerParser {
  private pos: number;

  constructor(
    private readonly input: string,
    start: number,
  ) {
    this.pos = start;
  }

  parse(): MarkerNode {
    const node = this.parseOr(0);
    this.skipSpace();
    if (this.pos < this.input.length) {
      if (this.input[this.pos] === ")") this.fail("Unmatched ')'");
      this.fail("Expected 'and', 'or' or the end of the marker");
    }
    return node;
  }

  private fail(reason: string, position = this.pos): never {
    throw new MarkerParseError(reason, this.input, position);
  }

  private skipSpace(): void {
    while (this.input[this.pos] === " " || this.input[this.pos] === "\t") this.pos++;
  }

  private peekWord(): string | null {
    WORD.lastIndex = this.pos;
    return WORD.exec(this.input)?.[0] ?? null;
  }

  private parseOr(depth: number): MarkerNode {
    const operands = [this.parseAnd(depth)];
    for (;;) {
      this.skipSpace();
      if (this.peekWord() !== "or") break;
      this.pos += 2;
      operands.push(this.parseAnd(depth));
    }
    return operands.length === 1 ? (operands[0] as MarkerNode) : flatten("or", operands);
  }

  // PEP 508: `and` binds tighter than `or`.
  private parseAnd(depth: number): MarkerNode {
    const operands = [this.parseAtom(depth)];
    for (;;) {
      this.skipSpace();
      if (this.peekWord() !== "and") break;
      this.pos += 3;
      operands.push(this.parseAtom(depth));
    }
    return operands.length === 1 ? (operands[0] as MarkerNode) : flatten("and", operands);
  }

  private parseAtom(depth: number): MarkerNode {
    this.skipSpace();
    if (this.input[this.pos] !== "(") return this.parseComparison();
    if (depth >= MAX_MARKER_DEPTH) this.fail(`Markers nested deeper than ${MAX_MARKER_DEPTH} levels`);
    const open = this.pos++;
    const node = this.parseOr(depth + 1);
    this.skipSpace();
    if (this.input[this.pos] !== ")") this.fail(`Expected ')' to close the '(' at position ${open}`);
    this.pos++;
    return node;
  }

  private parseComparison(): MarkerNode {
    const left = this.parseValue();
    const operator = this.parseOperator();
    const right = this.parseValue();
    return { type: "compare", left, operator, right };
  }

  private parseValue(): MarkerValue {
    this.skipSpace();
    const start = this.pos;
    const quote = this.input[start];
    if (quote === "'" || quote === '"') {
      const end = this.input.indexOf(quote, start + 1);
      if (end < 0) this.fail("Unterminated string", start);
      this.pos = end + 1;
      return { type: "string", value: this.input.slice(start + 1, end) };
    }
    const word = this.peekWord();
    if (word === null) {
      if (this.pos >= this.input.length)
        this.fail("Expected a marker variable or a quoted string, found the end");
      this.fail("Expected a marker variable or a quoted string");
    }
    const name = VARIABLES.has(word) ? (word as MarkerVariable) : LEGACY_ALIASES[word];
    if (name === undefined) this.fail(`Unknown marker variable '${truncate(word)}'`);
    this.pos += word.length;
    return { type: "variable", name };
  }

  private parseOperator(): MarkerOperator {
    this.skipSpace();
    const word = this.peekWord();
    if (word === "in") {
      this.pos += 2;
      return "in";
    }
    if (word === "not") {
      const start = this.pos;
      this.pos += 3;
      const beforeSpace = this.pos;
      this.skipSpace();
      // PEP 508: `not` and `in` are separate words, so at least one space between them.
      if (this.pos === beforeSpace || this.peekWord() !== "in") this.fail("Expected 'in' after 'not'", start);
      this.pos += 2;
      return "not in";
    }
    for (const operator of SYMBOL_OPERATORS) {
      if (this.input.startsWith(operator, this.pos)) {
        this.pos += operator.length;
        return operator;
      }
    }
    return this.fail("Expected a marker operator (<, <=, !=, ==, >=, >, ~=, ===, in, not in)");
  }
}

function flatten(type: "and" | "or", operands: MarkerNode[]): MarkerNode {
  const flat = operands.flatMap((node) => (node.type === type ? node.operands : [node]));
  return { type, operands: flat };
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/**
 * Parses the marker that starts at `start` and runs to the end of `input`; errors carry positions
 * in `input`. This is how the requirement parser hands over the part after `;`.
 */
export function parseMarkerAt(input: string, start: number): MarkerNode {
  if (input.length - start > MAX_MARKER_LENGTH) {
    throw new MarkerParseError(`Marker is longer than ${MAX_MARKER_LENGTH} characters`, input, start);
  }
  return new MarkerParser(input, start).parse();
}

/**
 * Parses a PEP 508 marker expression (the part after `;`).
 *
 * @example parseMarker(`python_version < "3.10"`)
 * // { type: "compare", left: { type: "variable", name: "python_version" }, operator: "<", right: { type: "string", value: "3.10" } }
 * @throws {MarkerParseError} when the text is not a valid marker
 */
export function parseMarker(text: string): MarkerNode {
  return parseMarkerAt(text, 0);
}

const VERSION_OPERATORS: ReadonlySet<MarkerOperator> = new Set([
  "<",
  "<=",
  "!=",
  "==",
  ">=",
  ">",
  "~=",
  "===",
]);

// Python's string operators, which PEP 508 falls back to when the sides are not both versions.
function compareStrings(left: string, operator: MarkerOperator, right: string): boolean {
  switch (operator) {
    case "==":
    case "===":
      return left === right;
    case "!=":
      return left !== right;
    case "<":
      return left < right;
    case "<=":
      return left <= right;
    case ">":
      return left > right;
    case ">=":
      return left >= right;
    case "in":
      return right.includes(left);
    case "not in":
      return !right.includes(left);
    case "~=":
      // PEP 508: no string meaning is defined, so an error would be raised; a marker we cannot
      // evaluate selects nothing rather than stopping the caller.
      return false;
  }
}

function compareValues(left: string, operator: MarkerOperator, right: string): boolean {
  // PEP 508: version rules apply when both sides are versions. As packaging does, that is tested by
  // building the specifier `<op><right>` and checking `left` against it, pre-releases included.
  // A comma in `right` would turn one clause into a set, so such a value is only ever a string.
  if (VERSION_OPERATORS.has(operator) && !right.includes(",")) {
    const specifier = `${operator}${right}`;
    if (isValidSpecifier(specifier) && (operator === "===" || isValidVersion(left))) {
      return satisfies(left, specifier, { prereleases: true });
    }
  }
  return compareStrings(left, operator, right);
}

function evaluateNode(node: MarkerNode, env: MarkerEnvironment, extra: string | undefined): boolean {
  switch (node.type) {
    case "and":
      return node.operands.every((operand) => evaluateNode(operand, env, extra));
    case "or":
      return node.operands.some((operand) => evaluateNode(operand, env, extra));
    case "compare": {
      const usesExtra = isExtra(node.left) || isExtra(node.right);
      if (usesExtra && extra === undefined) return false;
      const left = resolve(node.left, env, extra);
      const right = resolve(node.right, env, extra);
      // PEP 685: extra names compare after PEP 503 normalisation, never as versions.
      if (usesExtra)
        return compareStrings(normalizeProjectName(left), node.operator, normalizeProjectName(right));
      return compareValues(left, node.operator, right);
    }
  }
}

function isExtra(value: MarkerValue): boolean {
  return value.type === "variable" && value.name === "extra";
}

function resolve(value: MarkerValue, env: MarkerEnvironment, extra: string | undefined): string {
  if (value.type === "string") return value.value;
  if (value.name === "extra") return extra ?? "";
  return env[value.name];
}

/**
 * Evaluates a marker for one environment and a set of requested extras.
 *
 * As pip does, the marker is evaluated once per requested extra and is true if any evaluation is.
 * With no extras requested, every comparison that involves `extra` is false, so
 * `requests; extra == "socks"` is not selected unless `socks` is asked for.
 *
 * @example evaluateMarker(parseMarker(`sys_platform == "win32"`), markerEnvironmentFor({ pythonVersion: "3.12", platform: "windows", machine: "x86_64" })) // true
 */
export function evaluateMarker(
  node: MarkerNode,
  env: MarkerEnvironment,
  extras: readonly string[] = [],
): boolean {
  if (extras.length === 0) return evaluateNode(node, env, undefined);
  return extras.some((extra) => evaluateNode(node, env, extra));
}

function formatValue(value: MarkerValue): string {
  if (value.type === "variable") return value.name;
  // PEP 508 strings have no escapes, so a value holding `"` can only be written in single quotes.
  return value.value.includes('"') ? `'${value.value}'` : `"${value.value}"`;
}

/**
 * Prints a marker in the canonical spelling: double quotes, spaces around operators, legacy
 * variable names replaced, and parentheses only where `and` would otherwise capture an `or`.
 *
 * @example formatMarker(parseMarker("os.name=='a' and (sys_platform=='b' or sys_platform=='c')"))
 * // `os_name == "a" and (sys_platform == "b" or sys_platform == "c")`
 */
export function formatMarker(node: MarkerNode): string {
  switch (node.type) {
    case "compare":
      return `${formatValue(node.left)} ${node.operator} ${formatValue(node.right)}`;
    case "and":
      return node.operands
        .map((operand) => (operand.type === "or" ? `(${formatMarker(operand)})` : formatMarker(operand)))
        .join(" and ");
    case "or":
      return node.operands.map(formatMarker).join(" or ");
  }
}

/** Which platforms {@link markerEnvironmentFor} knows. */
export type MarkerPlatform = "linux" | "macos" | "windows";

/** Which CPU architectures {@link markerEnvironmentFor} knows; `arm64` and `aarch64` are the same. */
export type MarkerMachine = "x86_64" | "aarch64" | "arm64";

export interface MarkerTarget {
  /** `3.11`, or a full version such as `3.11.4` or `3.13.0rc1`. */
  pythonVersion: string;
  platform: MarkerPlatform;
  machine: MarkerMachine;
}

// The values CPython reports on each platform (`os.name`, `sys.platform`, `platform.system()`,
// `platform.release()`, `platform.version()`), from a typical current release of each.
const PLATFORMS: Readonly<
  Record<
    MarkerPlatform,
    Pick<
      MarkerEnvironment,
      "os_name" | "sys_platform" | "platform_system" | "platform_release" | "platform_version"
    >
  >
> = {
  linux: {
    os_name: "posix",
    sys_platform: "linux",
    platform_system: "Linux",
    platform_release: "6.1.0-28-amd64",
    platform_version: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)",
  },
  macos: {
    os_name: "posix",
    sys_platform: "darwin",
    platform_system: "Darwin",
    platform_release: "23.6.0",
    platform_version: "Darwin Kernel Version 23.6.0: Mon Jul 29 21:14:30 PDT 2024",
  },
  windows: {
    os_name: "nt",
    sys_platform: "win32",
    platform_system: "Windows",
    platform_release: "10",
    platform_version: "10.0.19045",
  },
};

// `platform.machine()` spells the same CPU differently on each platform.
const MACHINES: Readonly<Record<MarkerPlatform, Record<"x86_64" | "aarch64", string>>> = {
  linux: { x86_64: "x86_64", aarch64: "aarch64" },
  macos: { x86_64: "x86_64", aarch64: "arm64" },
  windows: { x86_64: "AMD64", aarch64: "ARM64" },
};

const PYTHON_VERSION = /^(\d+)\.(\d+)(?:\.(\d+)((?:a|b|rc)\d+)?)?$/;

/**
 * A realistic CPython marker environment for a target, for deciding which dependencies a client on
 * that target would install.
 *
 * @example markerEnvironmentFor({ pythonVersion: "3.11", platform: "linux", machine: "x86_64" }).python_full_version // "3.11.0"
 * @throws {RangeError} when `pythonVersion` is not `X.Y`, `X.Y.Z` or `X.Y.Z` with a pre-release suffix
 */
export function markerEnvironmentFor(target: MarkerTarget): MarkerEnvironment {
  const match = PYTHON_VERSION.exec(target.pythonVersion);
  if (!match) throw new RangeError(`Not a Python version: ${truncate(target.pythonVersion)}`);
  const [, major, minor, micro] = match;
  // packaging: python_full_version always has a patch level, defaulting to 0.
  const fullVersion = micro === undefined ? `${major}.${minor}.0` : target.pythonVersion;
  const machine = target.machine === "arm64" ? "aarch64" : target.machine;
  return {
    python_version: `${major}.${minor}`,
    python_full_version: fullVersion,
    ...PLATFORMS[target.platform],
    platform_machine: MACHINES[target.platform][machine],
    platform_python_implementation: "CPython",
    implementation_name: "cpython",
    implementation_version: fullVersion,
  };
}
