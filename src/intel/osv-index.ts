/**
 * An in-memory index of advisories for answering "is `project==version` affected?" fast.
 *
 * Matching follows the OSV evaluation algorithm (https://ossf.github.io/osv-schema/#evaluation):
 * a version is affected when it is in the advisory's explicit `versions` list, or inside one of its
 * ECOSYSTEM ranges. Range events are ordered by PEP 440; `introduced` opens a range (`"0"` means
 * from the very start), `fixed` closes it before that version, `last_affected` closes it after that
 * version. `limit` is ignored: PyPI versions are one line, not branches. Withdrawn advisories are
 * held (for stats and lookups) but never match.
 *
 * Speed comes from doing the work once: every version met (in events, in lists, in queries) is
 * turned into a PEP 440 sort key, a string whose code-unit order is the PEP 440 order, so a range
 * check is a few string comparisons on pre-sorted events, with no parsing per call.
 */
import { explain } from "@renovatebot/pep440";
import { normalizeProjectName } from "../domain/project-name.js";
import { compareVersions, isPrerelease, MAX_VERSION_LENGTH } from "../domain/version.js";
import type { Advisory, AffectedPackage } from "./osv-record.js";

// ---------------------------------------------------------------------------------------------
// PEP 440 sort keys.

/** Sorts before every key: `introduced: "0"`, which the OSV spec defines as before all versions. */
const BEFORE_ALL = "";
/** Prefix of the key of a string that is not a PEP 440 version: such keys sort before valid ones. */
const INVALID = "\u0000";

// A non-negative integer as a self-delimiting key: its digit count, then its digits, so that
// code-unit order is numeric order (9 < 10 because "A9" < "B10").
function num(n: number): string {
  const digits = Number.isSafeInteger(n) ? String(n) : BigInt(n).toString();
  return String.fromCharCode(0x40 + digits.length) + digits;
}

/**
 * What `explain` returns at run time. The library's typings declare `pre`, `post` and `dev` as
 * arrays, but `explain` gives `[letter, number]`, a number and a number (or null).
 */
interface ExplainedVersion {
  epoch: number;
  release: number[];
  pre: [string, number] | null;
  post: number | null;
  dev: number | null;
  local: string | null;
}

const PRE_LETTER: Record<string, string> = { a: "\u0002", b: "\u0003", rc: "\u0004" };

/**
 * A string key whose code-unit order (`<`, `===`) is the PEP 440 order of the versions; two
 * versions PEP 440 calls equal (`1.0`, `1.0.0`, `v1.0`) get the same key. Invalid versions get
 * keys that sort before every valid one and among themselves by code unit, as
 * {@link compareVersions} orders them.
 *
 * The key follows pypa/packaging's `_cmpkey`: epoch; release without trailing zeros; pre-release
 * (a dev release with neither pre nor post sorts before every pre-release, no pre-release sorts
 * after all of them); post-release (none first); dev release (none last); local label (none first,
 * numeric segments above alphanumeric ones).
 *
 * @example pep440SortKey("1.0a1") < pep440SortKey("1.0") // true
 * @example pep440SortKey("1.0") === pep440SortKey("1.0.0") // true
 */
export function pep440SortKey(version: string): string {
  const trimmed = version.trim();
  const v =
    trimmed.length <= MAX_VERSION_LENGTH ? (explain(trimmed) as unknown as ExplainedVersion | null) : null;
  if (!v) return INVALID + version;
  let key = num(v.epoch);
  let end = v.release.length;
  while (end > 0 && v.release[end - 1] === 0) end--;
  for (let i = 0; i < end; i++) key += "\u0002" + num(v.release[i]!);
  key += "\u0001";
  if (v.pre) key += PRE_LETTER[v.pre[0]]! + num(v.pre[1]);
  else key += v.post === null && v.dev !== null ? "\u0001" : "\u0005";
  key += v.post === null ? "\u0001" : "\u0002" + num(v.post);
  key += v.dev === null ? "\u0002" : "\u0001" + num(v.dev);
  if (v.local === null) return key + "\u0001";
  key += "\u0002";
  for (const part of v.local.split(".")) {
    key += /^\d+$/.test(part) ? "\u0003" + num(Number(part)) : "\u0002" + part;
  }
  return key + "\u0001";
}

// ---------------------------------------------------------------------------------------------
// Compiled advisories.

const INTRODUCED = 0;
const FIXED = 1;
const LAST_AFFECTED = 2;

interface CompiledRange {
  /** Event version keys, ascending (ties: introduced, fixed, last_affected). */
  keys: string[];
  kinds: Uint8Array;
  /** Nothing below the first event is affected. */
  lo: string;
  /** When the last event is a closer: its key; nothing above it is affected. */
  hi: string | undefined;
  hiInclusive: boolean;
}

interface Entry {
  advisory: Advisory;
  ranges: CompiledRange[];
  /** Range events whose version is not PEP 440. */
  invalidEvents: number;
  /** Set while one `match` call runs: this entry lists the queried version explicitly. */
  stamp: number;
}

interface PackageTable {
  entries: Entry[];
  /** Sort key of an explicitly listed version → the entries that list it. */
  byVersion: Map<string, Entry[]>;
}

export interface OsvIndexStats {
  /** Advisories held, withdrawn included (one per id). */
  advisories: number;
  /** Distinct projects with at least one advisory that can match. */
  packages: number;
  withdrawn: number;
  /** Malicious-package reports (`MAL-`) that are not withdrawn. */
  malicious: number;
  /** Names in the name-only malicious list ({@link OsvIndex.addMaliciousNames}). */
  maliciousNames: number;
  /**
   * Range events of matchable advisories whose version is not PEP 440 (e.g. `fixed: "2019-09-12"`);
   * they are ordered before every valid version, as packaging's legacy versions were.
   */
  invalidEventVersions: number;
}

export interface NearestFixedOptions {
  /** Whether pre-releases may be suggested; by default only when `version` is itself one. */
  prereleases?: boolean;
}

const NO_ADVISORIES: readonly Advisory[] = Object.freeze([]);
/** Past this many distinct versions the key cache starts over, so hostile input cannot grow it. */
const KEY_CACHE_LIMIT = 100_000;

/**
 * The advisory index. Build it once from every source, then query it per request.
 *
 * @example
 * const index = new OsvIndex();
 * for await (const item of readOsvSource(zipPath)) if (item.ok) index.add(toAdvisory(item.record));
 * index.match("django", "1.0.1").map((a) => a.id) // ["PYSEC-2007-1", …]
 * index.nearestFixed("requests", "2.30.0", ["2.30.0", "2.31.0", "2.32.3"]) // "2.31.0"
 */
export class OsvIndex {
  readonly #byId = new Map<string, Advisory>();
  readonly #tables = new Map<string, PackageTable>();
  readonly #keys = new Map<string, string>();
  readonly #maliciousNames = new Map<string, string>();
  #stamp = 0;

  /**
   * Adds an advisory. An advisory with an id already held replaces it when its `modified` is not
   * older, so loading OSV's `all.zip` on top of a PYSEC export keeps the newest copy of each record.
   */
  add(advisory: Advisory): void {
    const existing = this.#byId.get(advisory.id);
    if (existing) {
      if ((existing.modified ?? "") > (advisory.modified ?? "")) return;
      this.#remove(existing);
    }
    this.#byId.set(advisory.id, advisory);
    if (advisory.withdrawn !== undefined) return;
    for (const pkg of advisory.packages) {
      const entry: Entry = { advisory, ranges: [], invalidEvents: 0, stamp: 0 };
      this.#compileRanges(pkg, entry);
      let table = this.#tables.get(pkg.name);
      if (!table) {
        table = { entries: [], byVersion: new Map() };
        this.#tables.set(pkg.name, table);
      }
      table.entries.push(entry);
      for (const key of new Set(pkg.versions.map((v) => this.#key(v)))) {
        const listed = table.byVersion.get(key);
        if (listed) listed.push(entry);
        else table.byVersion.set(key, [entry]);
      }
    }
  }

  /**
   * Adds a name-only list of malicious projects (normalised name → report id), as loaded by
   * `loadMaliciousNames`. See {@link maliciousByName} for what such a listing means.
   */
  addMaliciousNames(names: ReadonlyMap<string, string>): void {
    for (const [name, id] of names) this.#maliciousNames.set(normalizeProjectName(name), id);
  }

  /** Every advisory held, withdrawn ones included, in the order first added. */
  advisories(): IterableIterator<Advisory> {
    return this.#byId.values();
  }

  /** The advisory with this id (withdrawn ones included). */
  get(id: string): Advisory | undefined {
    return this.#byId.get(id);
  }

  /**
   * The advisory with this id; else every advisory that lists it as an alias, in the order first
   * added (one CVE is often the alias of a PYSEC and a GHSA record, or of records for two projects).
   */
  lookup(id: string): Advisory[] {
    const direct = this.#byId.get(id);
    if (direct) return [direct];
    const wanted = id.toUpperCase();
    const out: Advisory[] = [];
    for (const a of this.#byId.values()) if (a.aliases.some((x) => x.toUpperCase() === wanted)) out.push(a);
    return out;
  }

  /**
   * The advisories that affect `project` at `version`, in the order they were added. `project` may
   * be any spelling of the name (`Django`, `django`). A version that is not PEP 440 sorts before
   * every valid one (as {@link compareVersions} has it), so it falls inside ranges that open at
   * `introduced: "0"`; it also matches where it is listed.
   */
  match(project: string, version: string): readonly Advisory[] {
    const table = this.#tables.get(project) ?? this.#tables.get(normalizeProjectName(project));
    if (!table) return NO_ADVISORIES;
    const key = this.#key(version);
    const listed = table.byVersion.get(key);
    const stamp = ++this.#stamp;
    if (listed) for (const entry of listed) entry.stamp = stamp;
    let out: Advisory[] | undefined;
    for (const entry of table.entries) {
      if (entry.stamp === stamp || inRanges(entry.ranges, key)) (out ??= []).push(entry.advisory);
    }
    return out ?? NO_ADVISORIES;
  }

  /**
   * The versions that fix what affects `project==version`: for each matching advisory, its lowest
   * `fixed` version above `version` (see {@link firstFixedAbove}); deduplicated under PEP 440
   * equality and sorted oldest first. The last one fixes every advisory that names a fix; whether a
   * release exists there and is clean of other advisories is {@link nearestFixed}'s question.
   */
  fixedVersionsFor(project: string, version: string): string[] {
    const advisories = this.match(project, version);
    if (advisories.length === 0) return [];
    const name = normalizeProjectName(project);
    const current = this.#key(version);
    const byKey = new Map<string, string>();
    for (const advisory of advisories) {
      const fix = lowestFixedAbove(advisory, name, current, (v) => this.#key(v));
      if (fix && !byKey.has(fix.key)) byKey.set(fix.key, fix.version);
    }
    return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  }

  /**
   * The lowest of `candidates` (typically the project's published versions) that is above
   * `version` and that no advisory affects: what to offer instead ("use 2.31.0"). Invalid versions
   * are never offered; pre-releases follow {@link NearestFixedOptions.prereleases}.
   */
  nearestFixed(
    project: string,
    version: string,
    candidates: readonly string[],
    options: NearestFixedOptions = {},
  ): string | undefined {
    const current = this.#key(version);
    const prereleases = options.prereleases ?? isPrerelease(version);
    const above = candidates
      .map((candidate) => ({ candidate, key: this.#key(candidate) }))
      .filter(
        ({ candidate, key }) =>
          key > current && !key.startsWith(INVALID) && (prereleases || !isPrerelease(candidate)),
      )
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return above.find(({ candidate }) => this.match(project, candidate).length === 0)?.candidate;
  }

  /**
   * The ids of malicious-package reports naming `project`: from the name-only list and from `MAL-`
   * advisories that are not withdrawn. A hit means the name was reported at least once, not that
   * every version is malicious: compromised popular projects (litellm, telnyx, …) are listed too.
   * Block by name only when the report covers every version ({@link affectsAllVersions}).
   */
  maliciousByName(project: string): string[] {
    const name = normalizeProjectName(project);
    const ids = new Set<string>();
    const listed = this.#maliciousNames.get(name);
    if (listed !== undefined) ids.add(listed);
    for (const entry of this.#tables.get(name)?.entries ?? []) {
      if (entry.advisory.kind === "malicious") ids.add(entry.advisory.id);
    }
    return [...ids];
  }

  stats(): OsvIndexStats {
    let withdrawn = 0;
    let malicious = 0;
    let invalidEventVersions = 0;
    for (const table of this.#tables.values()) {
      for (const entry of table.entries) invalidEventVersions += entry.invalidEvents;
    }
    for (const advisory of this.#byId.values()) {
      if (advisory.withdrawn !== undefined) withdrawn++;
      else if (advisory.kind === "malicious") malicious++;
    }
    return {
      advisories: this.#byId.size,
      packages: this.#tables.size,
      withdrawn,
      malicious,
      maliciousNames: this.#maliciousNames.size,
      invalidEventVersions,
    };
  }

  #key(version: string): string {
    let key = this.#keys.get(version);
    if (key === undefined) {
      if (this.#keys.size >= KEY_CACHE_LIMIT) this.#keys.clear();
      key = pep440SortKey(version);
      this.#keys.set(version, key);
    }
    return key;
  }

  #compileRanges(pkg: AffectedPackage, entry: Entry): void {
    for (const range of pkg.ranges) {
      const events: { key: string; kind: number }[] = [];
      for (const event of range.events) {
        if (event.kind === "limit") continue;
        if (event.kind === "introduced" && event.version === "0") {
          events.push({ key: BEFORE_ALL, kind: INTRODUCED });
          continue;
        }
        const key = this.#key(event.version);
        if (key.startsWith(INVALID)) entry.invalidEvents++;
        events.push({
          key,
          kind: event.kind === "introduced" ? INTRODUCED : event.kind === "fixed" ? FIXED : LAST_AFFECTED,
        });
      }
      // A range without an `introduced` event affects nothing.
      if (!events.some((event) => event.kind === INTRODUCED)) continue;
      events.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.kind - b.kind));
      const last = events[events.length - 1]!;
      entry.ranges.push({
        keys: events.map((event) => event.key),
        kinds: Uint8Array.from(events, (event) => event.kind),
        lo: events[0]!.key,
        hi: last.kind === INTRODUCED ? undefined : last.key,
        hiInclusive: last.kind === LAST_AFFECTED,
      });
    }
  }

  #remove(advisory: Advisory): void {
    for (const pkg of advisory.packages) {
      const table = this.#tables.get(pkg.name);
      if (!table) continue;
      table.entries = table.entries.filter((entry) => entry.advisory !== advisory);
      if (table.entries.length === 0) {
        this.#tables.delete(pkg.name);
        continue;
      }
      for (const [key, listed] of table.byVersion) {
        const kept = listed.filter((entry) => entry.advisory !== advisory);
        if (kept.length === 0) table.byVersion.delete(key);
        else table.byVersion.set(key, kept);
      }
    }
  }
}

// OSV "IncludedInRanges" on pre-sorted keys. Events above `v` change nothing (`v >= e` and `v > e`
// are false for them), so the walk stops at the first one.
function inRanges(ranges: readonly CompiledRange[], v: string): boolean {
  for (const range of ranges) {
    if (v < range.lo) continue;
    if (range.hi !== undefined && (v > range.hi || (v === range.hi && !range.hiInclusive))) continue;
    const { keys, kinds } = range;
    let affected = false;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (k > v) break;
      const kind = kinds[i];
      if (kind === INTRODUCED) affected = true;
      else if (kind === FIXED || v > k) affected = false;
    }
    if (affected) return true;
  }
  return false;
}

/**
 * The fix `advisory` names for `project==version`: its lowest `fixed` event above `version`, which
 * for a version inside a range is the event that closes that range. `undefined` when the advisory
 * names no fix above it (unfixed, or only `last_affected`).
 *
 * @example firstFixedAbove(pysec2022_190, "django", "3.2.12") // "3.2.13", not "4.0.4"
 */
export function firstFixedAbove(advisory: Advisory, project: string, version: string): string | undefined {
  return lowestFixedAbove(advisory, normalizeProjectName(project), pep440SortKey(version), pep440SortKey)
    ?.version;
}

function lowestFixedAbove(
  advisory: Advisory,
  name: string,
  current: string,
  key: (version: string) => string,
): { key: string; version: string } | undefined {
  let best: { key: string; version: string } | undefined;
  for (const pkg of advisory.packages) {
    if (pkg.name !== name) continue;
    for (const fixed of pkg.fixed) {
      const k = key(fixed);
      if (k > current && (best === undefined || k < best.key)) best = { key: k, version: fixed };
    }
  }
  return best;
}

/**
 * Whether `advisory` covers every version of `project`: it is not withdrawn and one of its
 * ECOSYSTEM ranges opens at `introduced: "0"` and never closes (no `fixed`, no `last_affected`).
 * This is what makes a name-only block safe: typosquats are reported this way, compromised
 * releases of real projects are not.
 */
export function affectsAllVersions(advisory: Advisory, project: string): boolean {
  if (advisory.withdrawn !== undefined) return false;
  const name = normalizeProjectName(project);
  return advisory.packages.some(
    (pkg) =>
      pkg.name === name &&
      pkg.ranges.some(
        (range) =>
          range.events.some((event) => event.kind === "introduced" && event.version === "0") &&
          !range.events.some((event) => event.kind === "fixed" || event.kind === "last_affected"),
      ),
  );
}

/**
 * The OSV evaluation pseudocode applied to one advisory, literally: no index, no caches, versions
 * compared with {@link compareVersions} on every step. Slow; it is the reference that
 * {@link OsvIndex.match} is tested against, and is handy to explain a single verdict.
 */
export function advisoryAffects(advisory: Advisory, project: string, version: string): boolean {
  if (advisory.withdrawn !== undefined) return false;
  const name = normalizeProjectName(project);
  const rank = { introduced: 0, fixed: 1, last_affected: 2, limit: 3 } as const;
  for (const pkg of advisory.packages) {
    if (pkg.name !== name) continue;
    if (pkg.versions.some((listed) => compareVersions(version, listed) === 0)) return true;
    for (const range of pkg.ranges) {
      const events = range.events
        .filter((event) => event.kind !== "limit")
        .sort((a, b) => {
          const zeroA = a.kind === "introduced" && a.version === "0";
          const zeroB = b.kind === "introduced" && b.version === "0";
          if (zeroA !== zeroB) return zeroA ? -1 : 1;
          return compareVersions(a.version, b.version) || rank[a.kind] - rank[b.kind];
        });
      let affected = false;
      for (const event of events) {
        const isZero = event.kind === "introduced" && event.version === "0";
        const cmp = isZero ? 1 : compareVersions(version, event.version);
        if (event.kind === "introduced" && cmp >= 0) affected = true;
        else if (event.kind === "fixed" && cmp >= 0) affected = false;
        else if (event.kind === "last_affected" && cmp > 0) affected = false;
      }
      if (affected) return true;
    }
  }
  return false;
}
