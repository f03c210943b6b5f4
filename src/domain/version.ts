/**
 * PEP 440 versions and version specifiers.
 *
 * Parsing and ordering come from `@renovatebot/pep440`. Specifier matching does not:
 * that library's `satisfies` gets several PEP 440 cases wrong (`1.0a1` is not `<1.0rc1`,
 * `1.0.post2` is not `>1.0.post1`, `1.0` is not `<1!1.0`, `==1.0+abc` matches `1.0+def`, and
 * `>=1.0a1,<2` rejects `1.5a1` because it decides pre-release inclusion per clause). A gateway that
 * allows or denies by version range cannot afford those, so matching below follows PEP 440 and
 * pypa/packaging's `Specifier`, using the library only to parse and compare single versions.
 */
import { compare, explain, type Pep440Version } from "@renovatebot/pep440";

/**
 * The longest version string looked at. Real versions are a few dozen characters; the cap keeps
 * hostile input away from the parser's regex.
 */
export const MAX_VERSION_LENGTH = 256;

/** The PEP 440 comparison operators. */
export type SpecifierOperator = "~=" | "==" | "!=" | "<=" | ">=" | "<" | ">" | "===";

/** One clause of a specifier set, e.g. `>=1.0` or `==2.*`; `version` is as written, trimmed. */
export interface SpecifierClause {
  operator: SpecifierOperator;
  version: string;
}

export interface SatisfiesOptions {
  /**
   * Whether pre-releases can match. Left out, PEP 440's default applies: a pre-release matches only
   * if a clause names a pre-release (`>=1.0b1`). A check that asks "is this version inside the
   * range" (a deny list, say) should pass `true`, or pre-releases slip past it.
   */
  prereleases?: boolean;
}

// Longest first, so `===` is not read as `==` followed by `=`.
const CLAUSE = /^(===|~=|==|!=|<=|>=|<|>)\s*(.*)$/s;

function explainVersion(version: string): Pep440Version | null {
  if (version.length > MAX_VERSION_LENGTH) return null;
  // packaging's `Version` ignores surrounding whitespace (PEP 440, "Leading and trailing whitespace").
  return explain(version.trim());
}

/** Whether `version` is a valid PEP 440 version (surrounding whitespace ignored, as packaging does). */
export function isValidVersion(version: string): boolean {
  return explainVersion(version) !== null;
}

/**
 * The PEP 440 normal form of `version`, or `null` if it is not a valid version.
 *
 * @example normalizeVersion("1.0-1") // "1.0.post1"
 * @example normalizeVersion("v1.0RC1") // "1.0rc1"
 */
export function normalizeVersion(version: string): string | null {
  const parsed = explainVersion(version);
  if (!parsed) return null;
  if (parsed.local === null) return parsed.public;
  // The library's own `clean` prints local labels with commas (`1.0+ubuntu,1`), so the label is
  // rebuilt here: PEP 440 lowercases it, joins on `.` and drops leading zeros from numeric parts.
  const label = version.trim().slice(version.trim().indexOf("+") + 1);
  const parts = label
    .toLowerCase()
    .split(/[-_.]/)
    .map((part) => (/^\d+$/.test(part) ? part.replace(/^0+(?=\d)/, "") : part));
  return `${parsed.public}+${parts.join(".")}`;
}

/** Whether `version` is a valid PEP 440 pre-release or development release; `false` if invalid. */
export function isPrerelease(version: string): boolean {
  return explainVersion(version)?.is_prerelease ?? false;
}

/**
 * Orders two versions for sorting, never throwing. Valid versions compare by PEP 440 (so `1.0` and
 * `1.0.0` are equal); invalid ones sort before every valid one and among themselves by code unit,
 * so a page with junk versions still sorts the same way every time.
 */
export function compareVersions(a: string, b: string): number {
  const validA = isValidVersion(a);
  const validB = isValidVersion(b);
  if (validA && validB) return Math.sign(compare(a.trim(), b.trim()));
  if (validA) return 1;
  if (validB) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A sorted copy of `versions`, oldest first. Versions PEP 440 calls equal (`1.0`, `1.0.0`) are
 * ordered by their text, so the result does not depend on the input order.
 */
export function sortVersions(versions: readonly string[]): string[] {
  return [...versions].sort((a, b) => compareVersions(a, b) || (a < b ? -1 : a > b ? 1 : 0));
}

function parseClause(text: string): SpecifierClause | null {
  const match = CLAUSE.exec(text.trim());
  if (!match) return null;
  const operator = match[1] as SpecifierOperator;
  const version = (match[2] ?? "").trim();
  if (version.length === 0 || version.length > MAX_VERSION_LENGTH) return null;

  // PEP 440 arbitrary equality compares strings, so anything without a separator goes.
  if (operator === "===") return /^[^\s;)]+$/.test(version) ? { operator, version } : null;

  if (version.endsWith(".*")) {
    // Prefix matching is only for `==` and `!=`, and (as in packaging) only on a release segment.
    if (operator !== "==" && operator !== "!=") return null;
    const base = explainVersion(version.slice(0, -2));
    if (!base || base.pre || base.is_postrelease || base.is_devrelease || base.local !== null) return null;
    return { operator, version };
  }

  const parsed = explainVersion(version);
  if (!parsed) return null;
  // PEP 440: local labels are allowed only with `==` and `!=`.
  if (parsed.local !== null && operator !== "==" && operator !== "!=") return null;
  // PEP 440: `~=` needs at least two release segments (`~=1` is invalid).
  if (operator === "~=" && parsed.release.length < 2) return null;
  return { operator, version };
}

/**
 * Splits a PEP 440 specifier set (`>=1.0, !=1.3.*, <2`) into clauses, or `null` if any clause is
 * invalid. An empty or blank specifier is the empty set of clauses: it places no constraint.
 */
export function parseSpecifier(specifier: string): SpecifierClause[] | null {
  if (specifier.trim() === "") return [];
  const clauses: SpecifierClause[] = [];
  for (const part of specifier.split(",")) {
    const clause = parseClause(part);
    if (!clause) return null;
    clauses.push(clause);
  }
  return clauses;
}

/** Whether `specifier` is a valid PEP 440 specifier set; the empty specifier is valid. */
export function isValidSpecifier(specifier: string): boolean {
  return parseSpecifier(specifier) !== null;
}

// packaging's `Specifier.prereleases` (since pypa/packaging#788 also for `<` and `>`): a clause that
// names a pre-release opts in, except `!=`, which excludes one rather than asking for it.
function clauseAllowsPrereleases(clause: SpecifierClause): boolean {
  if (clause.operator === "!=") return false;
  const version = clause.version.endsWith(".*") ? clause.version.slice(0, -2) : clause.version;
  return explainVersion(version)?.is_prerelease ?? false;
}

// PEP 440 prefix matching: the candidate's release, padded with zeros, starts with the prefix.
function matchesPrefix(candidate: Pep440Version, epoch: number, prefix: readonly number[]): boolean {
  if (candidate.epoch !== epoch) return false;
  return prefix.every((part, i) => (candidate.release[i] ?? 0) === part);
}

function matchesClause(raw: string, candidate: Pep440Version | null, clause: SpecifierClause): boolean {
  const { operator, version } = clause;
  // PEP 440: arbitrary equality is a case-insensitive string match, valid version or not.
  if (operator === "===") return raw.toLowerCase() === version.toLowerCase();
  if (!candidate) return false;

  if (operator === "==" || operator === "!=") {
    let equal: boolean;
    if (version.endsWith(".*")) {
      const prefix = explainVersion(version.slice(0, -2)) as Pep440Version;
      equal = matchesPrefix(candidate, prefix.epoch, prefix.release);
    } else {
      // PEP 440: a specifier without a local label ignores the candidate's local label.
      const spec = explainVersion(version) as Pep440Version;
      equal = compare(spec.local === null ? candidate.public : raw, version) === 0;
    }
    return operator === "==" ? equal : !equal;
  }

  const spec = explainVersion(version) as Pep440Version;
  switch (operator) {
    case "~=":
      // PEP 440: `~=2.2.post3` means `>=2.2.post3, ==2.*`.
      return (
        compare(candidate.public, version) >= 0 &&
        matchesPrefix(candidate, spec.epoch, spec.release.slice(0, -1))
      );
    case "<=":
      return compare(candidate.public, version) <= 0;
    case ">=":
      return compare(candidate.public, version) >= 0;
    case "<": {
      // PEP 440: `<V` excludes pre-releases of V itself unless V is a pre-release.
      if (compare(raw, version) >= 0) return false;
      const sameBase = compare(candidate.base_version, spec.base_version) === 0;
      return !(sameBase && candidate.is_prerelease && !spec.is_prerelease);
    }
    case ">": {
      // PEP 440: `>V` excludes post-releases of V unless V is one, and local versions of V.
      if (compare(raw, version) <= 0) return false;
      const sameBase = compare(candidate.base_version, spec.base_version) === 0;
      if (sameBase && candidate.is_postrelease && !spec.is_postrelease) return false;
      return !(sameBase && candidate.local !== null);
    }
  }
}

/**
 * Whether `version` is in the specifier set `specifier`. An empty specifier places no constraint;
 * an invalid version or specifier never matches (except `===`, which PEP 440 defines for any
 * string). Pre-releases follow {@link SatisfiesOptions.prereleases}.
 *
 * @example satisfies("2.31.0", ">=2.0,<3") // true
 * @example satisfies("3.0b1", ">=2.0") // false: pre-releases are excluded by default
 * @example satisfies("3.0b1", ">=2.0", { prereleases: true }) // true
 */
export function satisfies(version: string, specifier: string, options: SatisfiesOptions = {}): boolean {
  const clauses = parseSpecifier(specifier);
  if (!clauses) return false;
  const raw = version.trim();
  const candidate = explainVersion(raw);
  if (!candidate && clauses.length === 0) return false;
  // PEP 440 / packaging `SpecifierSet`: one clause naming a pre-release opts the whole set in.
  const prereleases = options.prereleases ?? clauses.some(clauseAllowsPrereleases);
  if (candidate?.is_prerelease && !prereleases) return false;
  return clauses.every((clause) => matchesClause(raw, candidate, clause));
}
