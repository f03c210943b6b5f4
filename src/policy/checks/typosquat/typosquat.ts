/**
 * Typo-squat detection: does a project name imitate a popular one? Attackers upload `reqeusts`,
 * `python-requests` or `requests-py` and wait for a typo or a guess. The detector compares a name
 * with a list of popular names (most downloaded first) and reports the most popular one it
 * imitates and how.
 *
 * Checking one name must stay well under a millisecond against 15,000 popular names, so nothing
 * here scans the whole list: exact forms (separator-free, confusable-folded, affix-stripped) are
 * Map lookups, distance 1 uses a symmetric-delete index (as in SymSpell), and distance 2 scans
 * only the long names within two characters of the candidate's length with a banded,
 * early-exit edit distance.
 */

import { normalizeProjectName } from "../../../domain/project-name.js";
import type { CheckResult, Evidence, FileFacts, Finding } from "../../check.js";
import type { PopularProject } from "./popular-names.js";

/** How a name imitates a popular one; doubles as the finding's `kind`. */
export type TyposquatTechnique =
  "edit-distance" | "separator" | "affix" | "homoglyph" | "keyboard" | "transposition";

/** A name found to imitate a popular project. */
export interface TyposquatMatch {
  /** The checked name, PEP 503 normalised. */
  name: string;
  /** The popular project it imitates, normalised. */
  target: string;
  /** 1-based popularity rank of `target` in the list the detector was built with. */
  rank: number;
  /** Download count of `target`, when the list carried one. */
  downloads?: number;
  technique: TyposquatTechnique;
  /** Optimal-string-alignment distance between `name` and `target` (separators included). */
  distance: number;
  /** What differs, in a few plain words, e.g. `one transposition ("eu" for "ue")`. */
  description: string;
}

export interface TyposquatDetectorOptions {
  /** Popular projects, most popular first (names or `{ name, downloads }`); normalised here. */
  popular: readonly (string | PopularProject)[];
  /** Projects admitted on purpose: never flagged, whatever they resemble. */
  allowed?: readonly string[];
  /** Shortest popular name that one edit may imitate (default 5: `numpy` yes, `six` no). */
  minLengthForOneEdit?: number;
  /** Shortest popular name that two edits may imitate (default 10). */
  minLengthForTwoEdits?: number;
  /**
   * Shortest popular name that one swap of adjacent letters may imitate when it is too short for
   * any one edit (default 4: `tqmd` → `tqdm`; three-letter names are too crowded).
   */
  minLengthForTransposition?: number;
}

export interface TyposquatDetector {
  /** Returns the popular project `project` imitates, or null. `project` need not be normalised. */
  check(project: string): TyposquatMatch | null;
  /** How many distinct popular names the detector holds. */
  readonly size: number;
}

// Project names that look like wrapper packages of another one: `python-requests`, `requests-py`,
// `pyrequests`, `requests2`. A name with one of these around a popular name, or a popular name
// without the one it carries (`dateutil` for `python-dateutil`), is reported as an affix squat.
const PREFIXES = ["python-", "py-", "python", "py"] as const;
const SUFFIXES = [
  "-python3",
  "-python",
  "-py3",
  "-py",
  "-lib",
  "-dev",
  "-api",
  "-sdk",
  "-client",
  "python",
  "py",
  "lib",
  "-2",
  "-3",
  "2",
  "3",
] as const;
/** Shorter affix bases are ordinary words (`api`, `dev`), not imitations of a project. */
const MIN_AFFIX_BASE_LENGTH = 4;

// ASCII look-alikes, folded to one representative: `rn` renders like `m`, `vv` like `w`, `cl`
// like `d`; `1`, `i` and `|` like `l`; `0` like `o`.
const CONFUSABLE_PAIRS: ReadonlyMap<string, string> = new Map([
  ["rn", "m"],
  ["vv", "w"],
  ["cl", "d"],
]);
const CONFUSABLE_SINGLES: ReadonlyMap<string, string> = new Map([
  ["1", "l"],
  ["i", "l"],
  ["|", "l"],
  ["0", "o"],
  // Letters of other scripts that render like Latin ones. The core metadata name regex is ASCII
  // only, so these reach us only from a caller that skipped validation; folding them is cheap.
  ["а", "a"], // Cyrillic
  ["в", "b"],
  ["с", "c"],
  ["ԁ", "d"],
  ["е", "e"],
  ["һ", "h"],
  ["і", "l"], // like i, which folds to l
  ["ј", "j"],
  ["к", "k"],
  ["м", "m"],
  ["н", "h"],
  ["о", "o"],
  ["р", "p"],
  ["ԛ", "q"],
  ["ѕ", "s"],
  ["т", "t"],
  ["υ", "u"], // Greek upsilon
  ["ѵ", "v"],
  ["ԝ", "w"],
  ["х", "x"],
  ["у", "y"],
  ["ο", "o"], // Greek omicron
  ["α", "a"],
  ["ν", "v"],
]);
const SINGLE_CONFUSABLE_PAIRS = new Set(["1l", "l1", "1i", "i1", "il", "li", "0o", "o0"]);

const QWERTY_ROWS = ["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"];
const QWERTY_ROW_OFFSETS = [0, 0.5, 0.75, 1.25];
const QWERTY_POSITIONS = new Map<string, readonly [x: number, y: number]>();
QWERTY_ROWS.forEach((row, y) => {
  [...row].forEach((key, col) => QWERTY_POSITIONS.set(key, [col + (QWERTY_ROW_OFFSETS[y] ?? 0), y]));
});

/** Whether `a` and `b` are adjacent keys on a US QWERTY keyboard (same row, or touching rows). */
export function areQwertyNeighbours(a: string, b: string): boolean {
  const pa = QWERTY_POSITIONS.get(a);
  const pb = QWERTY_POSITIONS.get(b);
  if (pa === undefined || pb === undefined || a === b) return false;
  const dx = Math.abs(pa[0] - pb[0]);
  const dy = Math.abs(pa[1] - pb[1]);
  return dy === 0 ? dx === 1 : dy === 1 && dx <= 1;
}

function withoutSeparators(name: string): string {
  return name.replaceAll("-", "");
}

function foldConfusables(name: string): string {
  let out = "";
  for (let i = 0; i < name.length; i++) {
    const ch = name[i] ?? "";
    const pair = CONFUSABLE_PAIRS.get(ch + (name[i + 1] ?? ""));
    if (pair !== undefined) {
      out += pair;
      i++;
    } else {
      out += CONFUSABLE_SINGLES.get(ch) ?? ch;
    }
  }
  return out;
}

/** One way to take known affixes off a name. */
interface AffixBase {
  /** What is left, without separators. */
  key: string;
  /** What was taken off, quoted for a message: `"python-"`, or `"py-" and "-lib"`. */
  affix: string;
  /** Only a version digit was taken off (`boto3` -> `boto`). */
  digitsOnly: boolean;
}

/** Every way to take one known affix off `name`, or one prefix and one suffix. */
function affixBases(name: string): AffixBase[] {
  const bases: AffixBase[] = [];
  const add = (rest: string, affix: string, digitsOnly: boolean): void => {
    const key = withoutSeparators(rest);
    if (key.length >= MIN_AFFIX_BASE_LENGTH) bases.push({ key, affix, digitsOnly });
  };
  const suffixStripped: { rest: string; suffix: string }[] = [];
  for (const suffix of SUFFIXES) {
    if (name.length > suffix.length && name.endsWith(suffix)) {
      const rest = name.slice(0, -suffix.length);
      suffixStripped.push({ rest, suffix });
      add(rest, `"${suffix}"`, /^-?\d$/.test(suffix));
    }
  }
  for (const prefix of PREFIXES) {
    if (name.length <= prefix.length || !name.startsWith(prefix)) continue;
    add(name.slice(prefix.length), `"${prefix}"`, false);
    for (const { rest, suffix } of suffixStripped) {
      if (rest.length > prefix.length && rest.startsWith(prefix)) {
        add(rest.slice(prefix.length), `"${prefix}" and "${suffix}"`, false);
      }
    }
  }
  return bases;
}

/**
 * Whether one substitution only changes a multi-digit number: `nvidia-cudnn-cu11` next to
 * `nvidia-cudnn-cu12`, `rfc3987` next to `rfc3986` are sibling projects, not typos.
 */
function isNumberVariant(name: string, target: string): boolean {
  if (name.length !== target.length) return false;
  let i = 0;
  while (i < name.length && name[i] === target[i]) i++;
  const isDigit = (ch: string | undefined): boolean => ch !== undefined && ch >= "0" && ch <= "9";
  return isDigit(name[i]) && isDigit(target[i]) && (isDigit(name[i - 1]) || isDigit(name[i + 1]));
}

/**
 * A 32-bit set of the characters in `name` (letters one bit each, digits and `-` folded onto the
 * rest). One edit changes at most two bits, so names two edits apart differ in at most four: a
 * check that rules out most pairs before any distance is computed.
 */
function characterMask(name: string): number {
  let mask = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 97 && c <= 122) mask |= 1 << (c - 97);
    else if (c >= 48 && c <= 57) mask |= 1 << (26 + ((c - 48) % 5));
    else mask |= 1 << 31;
  }
  return mask;
}

function bitCount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/**
 * The part of `target` left once the hyphen-separated segments it shares with `name` at both
 * ends are set aside: for `mypy-boto3-sqs` against `mypy-boto3-s3` it is `s3`. Two edits are a
 * typo of a long word, but rewrite a short one (`sqs`, `smtp`/`http`), so the length threshold
 * for two edits applies to this part, not to the whole name.
 */
function differingSegments(name: string, target: string): string {
  const a = name.split("-");
  const b = target.split("-");
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let end = 0;
  while (end < a.length - start && end < b.length - start && a[a.length - 1 - end] === b[b.length - 1 - end])
    end++;
  return b.slice(start, b.length - end).join("-");
}

// Rows reused across calls: the distance-2 scan computes thousands of distances per check.
let scratch: [Int32Array, Int32Array, Int32Array] = [
  new Int32Array(64),
  new Int32Array(64),
  new Int32Array(64),
];

/**
 * Optimal string alignment distance (Damerau-Levenshtein where a transposed pair is not edited
 * again), computed only inside the diagonal band that can stay within `max`, and abandoned as
 * soon as a whole row exceeds it. Returns `max + 1` for "more than `max`".
 */
export function osaDistanceWithin(a: string, b: string, max: number): number {
  const n = a.length;
  const m = b.length;
  const over = max + 1;
  if (Math.abs(n - m) > max) return over;
  if (n === 0 || m === 0) return Math.max(n, m);
  if (scratch[0].length < m + 2)
    scratch = [new Int32Array(m + 2), new Int32Array(m + 2), new Int32Array(m + 2)];
  let [before, prev, cur] = scratch;
  for (let j = 0; j <= m + 1; j++) prev[j] = j <= max ? j : over;
  for (let i = 1; i <= n; i++) {
    const lo = Math.max(1, i - max);
    const hi = Math.min(m, i + max);
    cur[0] = i <= max ? i : over;
    cur[lo - 1] = lo === 1 ? cur[0] : over;
    let rowMin = lo === 1 ? cur[0] : over;
    const ai = a.charCodeAt(i - 1);
    const aPrev = i > 1 ? a.charCodeAt(i - 2) : -1;
    for (let j = lo; j <= hi; j++) {
      const bj = b.charCodeAt(j - 1);
      let v = (prev[j - 1] ?? over) + (ai === bj ? 0 : 1);
      const del = (prev[j] ?? over) + 1;
      if (del < v) v = del;
      const ins = (cur[j - 1] ?? over) + 1;
      if (ins < v) v = ins;
      if (j > 1 && ai === b.charCodeAt(j - 2) && aPrev === bj) {
        const tr = (before[j - 2] ?? over) + 1;
        if (tr < v) v = tr;
      }
      if (v > over) v = over;
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (hi < m) cur[hi + 1] = over;
    if (rowMin > max) return over;
    [before, prev, cur] = [prev, cur, before];
  }
  return Math.min(prev[m] ?? over, over);
}

/** Describes the single edit between two names at OSA distance 1, and names its technique. */
function describeOneEdit(
  name: string,
  target: string,
): { technique: TyposquatTechnique; description: string } {
  let i = 0;
  while (i < name.length && i < target.length && name[i] === target[i]) i++;
  if (name.length === target.length) {
    const got = name[i] ?? "";
    const want = target[i] ?? "";
    if (name[i + 1] === want && target[i + 1] === got && name.slice(i + 2) === target.slice(i + 2)) {
      return {
        technique: "transposition",
        description: `one transposition ("${got}${want}" for "${want}${got}")`,
      };
    }
    if (SINGLE_CONFUSABLE_PAIRS.has(got + want)) {
      return { technique: "homoglyph", description: `one look-alike character ("${got}" for "${want}")` };
    }
    if (areQwertyNeighbours(got, want)) {
      return {
        technique: "keyboard",
        description: `one keyboard slip ("${got}" for "${want}", neighbours on a QWERTY keyboard)`,
      };
    }
    return { technique: "edit-distance", description: `one substituted character ("${got}" for "${want}")` };
  }
  if (name.length > target.length) {
    const extra = name[i] ?? "";
    const doubled = name[i - 1] === extra || name[i + 1] === extra;
    return {
      technique: "edit-distance",
      description: doubled ? `one doubled character ("${extra}")` : `one added character ("${extra}")`,
    };
  }
  return { technique: "edit-distance", description: `one missing character ("${target[i] ?? ""}")` };
}

/**
 * Builds a detector over a popular-names list.
 *
 * Rules: a popular name is never flagged (so `cattrs` is not a squat of `attrs` when both are
 * in the list), nor is an allowed one; among the imitated projects the most popular wins.
 *
 * @example
 * const detector = createTyposquatDetector({ popular: ["boto3", "requests"] });
 * detector.check("reqeusts")?.technique; // "transposition"
 * detector.check("requests"); // null
 */
export function createTyposquatDetector(options: TyposquatDetectorOptions): TyposquatDetector {
  const minOne = options.minLengthForOneEdit ?? 5;
  const minTwo = options.minLengthForTwoEdits ?? 10;
  const minSwap = options.minLengthForTransposition ?? 4;

  const names: string[] = [];
  const downloads: (number | undefined)[] = [];
  const rankOf = new Map<string, number>();
  for (const entry of options.popular) {
    const name = normalizeProjectName(typeof entry === "string" ? entry : entry.name);
    if (name === "" || rankOf.has(name)) continue;
    rankOf.set(name, names.length);
    names.push(name);
    downloads.push(typeof entry === "string" ? undefined : entry.downloads);
  }
  const allowed = new Set((options.allowed ?? []).map(normalizeProjectName));

  // Each index maps a derived form to the most popular name that has it (first one set wins).
  const bySeparatorFree = new Map<string, number>();
  const byFolded = new Map<string, number>();
  // `boto` may shorten `boto3`, but `cbor2` -> `cbor3` swapping digits is a sibling, not a squat.
  const byAffixBase = new Map<string, { index: number; affix: string }>();
  const bySwapBase = new Map<string, { index: number; affix: string }>();
  const byDeletion = new Map<string, number[]>();
  // Names too short for any one edit (a substitution in `tqdm` is often another real acronym)
  // still have their adjacent swaps: `tqmd` is a typo, and swaps of real short names rarely are
  // names themselves (4 of the projects ranked 5,001-15,000 are a swap of a top-5,000 name).
  const byShortSwap = new Map<string, number>();
  const longByLength = new Map<number, number[]>();
  const masks: number[] = [];
  const longest = names.reduce((max, name) => Math.max(max, name.length), 0);
  const setFirst = <T>(map: Map<string, T>, key: string, value: T): void => {
    if (!map.has(key)) map.set(key, value);
  };

  names.forEach((name, index) => {
    const bare = withoutSeparators(name);
    masks.push(characterMask(name));
    setFirst(bySeparatorFree, bare, index);
    setFirst(byFolded, foldConfusables(bare), index);
    for (const base of affixBases(name)) {
      setFirst(byAffixBase, base.key, { index, affix: base.affix });
      if (!base.digitsOnly) setFirst(bySwapBase, base.key, { index, affix: base.affix });
    }
    if (name.length >= minOne) {
      for (let i = -1; i < name.length; i++) {
        // Deleting either letter of a double letter gives the same key: skip the repeat.
        if (i > 0 && name[i] === name[i - 1]) continue;
        const key = i < 0 ? name : name.slice(0, i) + name.slice(i + 1);
        const list = byDeletion.get(key);
        if (list === undefined) byDeletion.set(key, [index]);
        else if (list[list.length - 1] !== index) list.push(index);
      }
    }
    if (name.length >= minSwap && name.length < minOne) {
      for (let i = 0; i + 1 < name.length; i++) {
        if (name[i] === name[i + 1]) continue;
        setFirst(byShortSwap, name.slice(0, i) + name[i + 1] + name[i] + name.slice(i + 2), index);
      }
    }
    if (name.length >= minTwo) {
      const list = longByLength.get(name.length);
      if (list === undefined) longByLength.set(name.length, [index]);
      else list.push(index);
    }
  });

  const match = (
    name: string,
    index: number,
    technique: TyposquatTechnique,
    description: string,
    distance?: number,
  ): TyposquatMatch => {
    const target = names[index] ?? "";
    const count = downloads[index];
    return {
      name,
      target,
      rank: index + 1,
      ...(count === undefined ? {} : { downloads: count }),
      technique,
      distance: distance ?? osaDistanceWithin(name, target, Math.max(name.length, target.length)),
      description,
    };
  };

  /** The most popular name within one edit, via the symmetric-delete index. */
  const nearestOneEdit = (name: string): number | undefined => {
    let best: number | undefined;
    const consider = (key: string): void => {
      const list = byDeletion.get(key);
      if (list === undefined) return;
      for (const index of list) {
        if (best !== undefined && index >= best) break; // lists are in popularity order
        const target = names[index] ?? "";
        if (target !== name && osaDistanceWithin(name, target, 1) <= 1 && !isNumberVariant(name, target)) {
          best = index;
        }
      }
    };
    consider(name);
    for (let i = 0; i < name.length; i++) consider(name.slice(0, i) + name.slice(i + 1));
    return best;
  };

  /** The most popular long name two edits away, scanning only the lengths that can be. */
  const nearestTwoEdits = (name: string): number | undefined => {
    let best: number | undefined;
    const mask = characterMask(name);
    for (let length = Math.max(minTwo, name.length - 2); length <= name.length + 2; length++) {
      for (const index of longByLength.get(length) ?? []) {
        if (best !== undefined && index >= best) break;
        if (bitCount(mask ^ (masks[index] ?? 0)) > 4) continue;
        const target = names[index] ?? "";
        if (
          osaDistanceWithin(name, target, 2) <= 2 &&
          differingSegments(name, target).length >= minTwo &&
          !isNumberVariant(name, target)
        ) {
          best = index;
        }
      }
    }
    return best;
  };

  const check = (project: string): TyposquatMatch | null => {
    const name = normalizeProjectName(project);
    if (name === "" || rankOf.has(name) || allowed.has(name)) return null;
    const bare = withoutSeparators(name);

    // Strongest evidence first: a form equal to a popular name's beats a nearby spelling.
    const sameLetters = bySeparatorFree.get(bare);
    if (sameLetters !== undefined) {
      return match(name, sameLetters, "separator", "the same letters with different separators");
    }

    const folded = byFolded.get(foldConfusables(bare));
    if (folded !== undefined) {
      return match(name, folded, "homoglyph", "look-alike characters (such as rn/m, l/1/i, 0/o, vv/w)");
    }

    let affix: { index: number; description: string } | undefined;
    const offer = (index: number, description: string): void => {
      if (affix === undefined || index < affix.index) affix = { index, description };
    };
    for (const base of affixBases(name)) {
      const plain = bySeparatorFree.get(base.key);
      if (plain !== undefined) offer(plain, `${base.affix} added`);
      const swapped = base.digitsOnly ? undefined : bySwapBase.get(base.key);
      if (swapped !== undefined) offer(swapped.index, `${base.affix} in place of ${swapped.affix}`);
    }
    const shortened = byAffixBase.get(bare);
    if (shortened !== undefined) offer(shortened.index, `${shortened.affix} left out`);
    if (affix !== undefined) return match(name, affix.index, "affix", affix.description);

    // Nothing longer than the longest popular name plus two is within two edits of one; the
    // bound also keeps an absurdly long input from costing quadratic time below.
    if (name.length > longest + 2) return null;
    const swap = byShortSwap.get(name);
    const nearest = nearestOneEdit(name);
    const one = swap !== undefined && (nearest === undefined || swap < nearest) ? swap : nearest;
    if (one !== undefined) {
      const { technique, description } = describeOneEdit(name, names[one] ?? "");
      return match(name, one, technique, description, 1);
    }

    if (name.length >= minTwo - 2) {
      const two = nearestTwoEdits(name);
      if (two !== undefined) return match(name, two, "edit-distance", "two edits", 2);
    }
    return null;
  };

  return { check, size: names.length };
}

/** The typo-squat policy check: decided from the project name alone, at the index stage. */
export const typosquatCheck = {
  id: "typosquat",
  stage: "index",
  run: runTyposquat,
} as const;

/**
 * Runs the typo-squat check on one file's index facts.
 *
 * @example runTyposquat(facts, detector).status // "fail" for project "reqeusts"
 */
export function runTyposquat(facts: FileFacts, detector: TyposquatDetector): CheckResult {
  const found = detector.check(facts.project);
  if (found === null) {
    return {
      check: typosquatCheck.id,
      status: "pass",
      message: `"${facts.project}" does not imitate a popular project`,
      findings: [],
    };
  }
  const message = `"${found.name}" looks like a typo-squat of "${found.target}" (#${found.rank} most downloaded): ${found.description}`;
  const evidence: Evidence = {
    detail:
      `imitates "${found.target}", popularity rank ${found.rank}` +
      (found.downloads === undefined ? "" : `, ${found.downloads} downloads`) +
      `; technique ${found.technique}, edit distance ${found.distance}`,
    url: `https://pypi.org/project/${found.target}/`,
  };
  const finding: Finding = {
    kind: found.technique,
    message,
    severity: "high",
    evidence: [evidence],
  };
  return { check: typosquatCheck.id, status: "fail", message, findings: [finding] };
}
