/**
 * PEP 508 dependency specifiers, as found in `Requires-Dist`, `pyproject.toml` and requirements
 * files: `name [extras] (version specifier | @ url) ; marker`.
 *
 * Hand-written for the reason given in `marker.ts`: no maintained npm package parses these and
 * evaluates their markers. The parser follows the PEP 508 grammar, with packaging's choices where
 * the grammar is loose (a URL runs to the next whitespace; each version clause must be a valid PEP
 * 440 specifier). It reads each character a bounded number of times and refuses overlong input, so
 * hostile metadata cannot make it hang.
 */
import { MarkerParseError, formatMarker, parseMarkerAt, type MarkerNode } from "./marker.js";
import { normalizeProjectName } from "./project-name.js";
import { isValidSpecifier } from "./version.js";

/** A parsed dependency specifier. */
export interface Requirement {
  /** The project name as written. */
  name: string;
  /** The PEP 503 normalised name, for lookups. */
  normalizedName: string;
  /** Extras as written, in order; compare them after PEP 503 normalisation (PEP 685). */
  extras: string[];
  /** The PEP 440 specifier set with whitespace removed (`<4,>=2`), or `""` for any version. */
  specifier: string;
  /** The direct reference after `@`, when there is one (then `specifier` is `""`). */
  url?: string;
  /** The environment marker after `;`, when there is one. */
  marker?: MarkerNode;
}

/** Longest dependency specifier accepted; real ones, URL included, are well under a kilobyte. */
export const MAX_REQUIREMENT_LENGTH = 8192;

/** A dependency specifier that does not follow PEP 508; `position` is a 0-based offset into `input`. */
export class RequirementParseError extends Error {
  override readonly name = "RequirementParseError";
  readonly code = "INVALID_REQUIREMENT";

  constructor(
    readonly reason: string,
    readonly input: string,
    readonly position: number,
    options?: ErrorOptions,
  ) {
    super(`${reason} at position ${position}`, options);
  }
}

// PEP 508 `identifier`: letters and digits, with runs of `-_.` only between them.
const IDENTIFIER = /[A-Za-z0-9](?:[-_.]*[A-Za-z0-9])*/y;

// Longest first, so `===` is not read as `==` followed by `=`.
const VERSION_OPERATORS = ["===", "~=", "==", "!=", "<=", ">=", "<", ">"] as const;

const OPERATOR_START = new Set(["<", ">", "=", "!", "~"]);

class RequirementParser {
  private pos = 0;

  constructor(private readonly input: string) {}

  parse(): Requirement {
    this.skipSpace();
    const name = this.readIdentifier();
    if (name === null) this.fail("Expected a package name");
    this.skipSpace();
    const extras = this.peek() === "[" ? this.parseExtras() : [];
    this.skipSpace();

    const requirement: Requirement = {
      name,
      normalizedName: normalizeProjectName(name),
      extras,
      specifier: "",
    };

    if (this.peek() === "@") {
      this.pos++;
      this.skipSpace();
      requirement.url = this.parseUrl();
      this.skipSpace();
      if (this.atEnd()) return requirement;
      // PEP 508: `;` is a valid URL character, so only whitespace can end the URL before a marker.
      if (this.peek() !== ";") this.fail("Expected ';' or the end after the URL and a space");
    } else {
      requirement.specifier = this.parseVersionSpec();
      this.skipSpace();
      if (this.atEnd()) return requirement;
      if (this.peek() !== ";") {
        this.fail(
          requirement.specifier === ""
            ? "Expected a version specifier, '[', '@', ';' or the end after the name"
            : "Expected ',', ';' or the end after the version specifier",
        );
      }
    }

    this.pos++;
    requirement.marker = this.parseMarker();
    return requirement;
  }

  private fail(reason: string, position = this.pos): never {
    throw new RequirementParseError(reason, this.input, position);
  }

  private peek(): string | undefined {
    return this.input[this.pos];
  }

  private atEnd(): boolean {
    return this.pos >= this.input.length;
  }

  // PEP 508 `wsp` is a space or a tab, nothing else.
  private skipSpace(): void {
    while (this.peek() === " " || this.peek() === "\t") this.pos++;
  }

  private readIdentifier(): string | null {
    IDENTIFIER.lastIndex = this.pos;
    const word = IDENTIFIER.exec(this.input)?.[0] ?? null;
    if (word !== null) this.pos += word.length;
    return word;
  }

  private parseExtras(): string[] {
    const open = this.pos++;
    const extras: string[] = [];
    this.skipSpace();
    if (this.peek() === "]") {
      this.pos++;
      return extras;
    }
    for (;;) {
      this.skipSpace();
      const extra = this.readIdentifier();
      if (extra === null) this.fail("Expected an extra name");
      extras.push(extra);
      this.skipSpace();
      if (this.peek() === ",") {
        this.pos++;
        continue;
      }
      if (this.peek() === "]") {
        this.pos++;
        return extras;
      }
      this.fail(
        this.atEnd()
          ? `Expected ']' to close the '[' at position ${open}`
          : "Expected ',' or ']' after an extra name",
      );
    }
  }

  private parseUrl(): string {
    const start = this.pos;
    while (!this.atEnd() && this.peek() !== " " && this.peek() !== "\t") this.pos++;
    if (this.pos === start) this.fail("Expected a URL after '@'");
    return this.input.slice(start, this.pos);
  }

  // PEP 508 `versionspec`: clauses joined by commas, optionally inside one pair of parentheses.
  private parseVersionSpec(): string {
    if (this.peek() !== "(") return OPERATOR_START.has(this.peek() ?? "") ? this.parseClauses() : "";
    const open = this.pos++;
    this.skipSpace();
    const specifier = this.peek() === ")" ? "" : this.parseClauses();
    this.skipSpace();
    if (this.peek() !== ")") {
      this.fail(
        this.atEnd()
          ? `Expected ')' to close the '(' at position ${open}`
          : "Expected ',' or ')' in the version specifier",
      );
    }
    this.pos++;
    return specifier;
  }

  private parseClauses(): string {
    const clauses: string[] = [];
    for (;;) {
      this.skipSpace();
      const start = this.pos;
      const operator = VERSION_OPERATORS.find((op) => this.input.startsWith(op, this.pos));
      if (operator === undefined) this.fail("Expected a version operator (~=, ==, !=, <=, >=, <, >, ===)");
      this.pos += operator.length;
      this.skipSpace();
      const versionStart = this.pos;
      while (!this.atEnd() && !/[\s,;()]/.test(this.peek() ?? "")) this.pos++;
      if (this.pos === versionStart) this.fail(`Expected a version after '${operator}'`);
      const clause = operator + this.input.slice(versionStart, this.pos);
      if (!isValidSpecifier(clause)) this.fail(`Invalid version specifier '${truncate(clause)}'`, start);
      clauses.push(clause);
      this.skipSpace();
      if (this.peek() !== ",") return clauses.join(",");
      this.pos++;
    }
  }

  private parseMarker(): MarkerNode {
    try {
      return parseMarkerAt(this.input, this.pos);
    } catch (error) {
      if (error instanceof MarkerParseError) {
        throw new RequirementParseError(error.reason, this.input, error.position, { cause: error });
      }
      throw error;
    }
  }
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/**
 * Parses a PEP 508 dependency specifier. Comments are not part of PEP 508: strip them first (the
 * requirements-file parser does).
 *
 * @example parseRequirement(`PySocks!=1.5.7,>=1.5.6; extra == "socks"`)
 * // { name: "PySocks", normalizedName: "pysocks", extras: [], specifier: "!=1.5.7,>=1.5.6", marker: { … } }
 * @throws {RequirementParseError} with the offset of the first character that does not fit
 */
export function parseRequirement(text: string): Requirement {
  if (text.length > MAX_REQUIREMENT_LENGTH) {
    throw new RequirementParseError(
      `Dependency specifier is longer than ${MAX_REQUIREMENT_LENGTH} characters`,
      text.slice(0, 200),
      MAX_REQUIREMENT_LENGTH,
    );
  }
  return new RequirementParser(text).parse();
}

/**
 * Prints a requirement back as a PEP 508 string, in packaging's spelling: no space before the
 * specifier, `; ` before the marker, and ` @ url ;` with the space the grammar needs after a URL.
 *
 * @example formatRequirement(parseRequirement("name [fred,bar] @ http://foo.com ; python_version=='2.7'"))
 * // `name[fred,bar] @ http://foo.com ; python_version == "2.7"`
 */
export function formatRequirement(requirement: Requirement): string {
  let text = requirement.name;
  if (requirement.extras.length > 0) text += `[${requirement.extras.join(",")}]`;
  if (requirement.url !== undefined) {
    text += ` @ ${requirement.url}`;
    if (requirement.marker) text += ` ; ${formatMarker(requirement.marker)}`;
    return text;
  }
  text += requirement.specifier;
  if (requirement.marker) text += `; ${formatMarker(requirement.marker)}`;
  return text;
}

/** Dependencies as a project page shows them: what every install needs, and what each extra adds. */
export interface DependencyGroups {
  /** Requires-Dist entries whose marker names no extra (or that do not parse), as written. */
  requires: string[];
  /**
   * For each extra a marker names (PEP 685 normalised, in order of first mention), its entries:
   * as written, but without the marker when all it says is that extra (`pytest>=8`, not
   * `pytest>=8; extra == "test"` under "test").
   */
  extras: { name: string; dependencies: string[] }[];
}

/**
 * Splits `Requires-Dist` entries by the extras their markers name (`pytest; extra == "test"`):
 * most projects list their test, doc and dev tools this way, and a page that runs them all into
 * one line hides what an install actually pulls in. An entry naming two extras is in both.
 */
export function groupByExtra(requiresDist: readonly string[]): DependencyGroups {
  const requires: string[] = [];
  const extras = new Map<string, string[]>();
  for (const text of requiresDist) {
    let names: string[] = [];
    let shown = text;
    try {
      const requirement = parseRequirement(text);
      if (requirement.marker) names = [...new Set(extrasNamed(requirement.marker))];
      if (requirement.marker?.type === "compare" && names.length === 1)
        shown = formatRequirement({ ...requirement, marker: undefined });
    } catch {
      // Shown as written, with what every install needs: the page does not judge metadata.
    }
    if (names.length === 0) requires.push(text);
    for (const name of names) {
      const list = extras.get(name) ?? [];
      list.push(shown);
      extras.set(name, list);
    }
  }
  return { requires, extras: [...extras].map(([name, dependencies]) => ({ name, dependencies })) };
}

/** The extras a marker asks for (`extra == "x"`, either way round). */
function extrasNamed(node: MarkerNode): string[] {
  if (node.type !== "compare") return node.operands.flatMap(extrasNamed);
  const { left, right } = node;
  if (node.operator !== "==" && node.operator !== "===") return [];
  if (left.type === "variable" && left.name === "extra" && right.type === "string")
    return [normalizeProjectName(right.value)];
  if (right.type === "variable" && right.name === "extra" && left.type === "string")
    return [normalizeProjectName(left.value)];
  return [];
}
