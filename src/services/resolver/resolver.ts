/**
 * The dependency resolver: from a few requirements to the exact set of releases pip would install
 * on a target machine, with the file of each. `portcullis vet`, `lock`, `sbom -r` and request
 * handling all use this one implementation, so they agree with one another and with pip.
 *
 * Semantics follow pip's resolver: newest version first; a version counts only if one of its
 * files fits the target (the best-ranked wheel, else an sdist) and its Requires-Python admits the
 * target; yanked versions only when pinned with `==`/`===` (PEP 592); pre-releases only when a
 * specifier names one, when nothing else satisfies, or when asked (PEP 440); extras and markers
 * decide which Requires-Dist lines apply (PEP 508).
 *
 * The search is a depth-first assignment of one version per project with conflict-directed
 * backjumping: every constraint remembers which decisions introduced it, so a conflict returns
 * straight to the latest decision that can change it rather than retrying everything in between.
 * Each dead end is remembered as a set of pins that cannot coexist (a "nogood"), so the same
 * failure is never explored twice. The number of rounds is capped.
 *
 * Two rules are not monotone: a new `==` pin can re-admit a yanked version and a new specifier
 * naming a pre-release can re-admit pre-releases. Like pip, the resolver applies them to the
 * constraints known when it picks a project's version, so in contrived cases it may miss a
 * solution that only such a late constraint would allow.
 */
import { evaluateMarker, formatMarker, type MarkerEnvironment } from "../../domain/marker.js";
import { normalizeProjectName } from "../../domain/project-name.js";
import { formatRequirement, parseRequirement, type Requirement } from "../../domain/requirement.js";
import {
  compareVersions,
  isPrerelease,
  isValidVersion,
  parseSpecifier,
  satisfies,
} from "../../domain/version.js";
import { parseDistFilename } from "../../domain/wheel-filename.js";
import {
  compileTarget,
  requiresPythonMatches,
  type CompiledTarget,
  type TargetEnvironment,
} from "./target-environment.js";

/** One distribution file of a release, as the index lists it. */
export interface CandidateFile {
  filename: string;
  sha256: string;
  /** PEP 503 `data-requires-python`. */
  requiresPython?: string;
  /** PEP 592 / PEP 691: `false`, `true`, or the reason string. */
  yanked: boolean | string;
  uploadTime?: string;
}

/** One release of a project. */
export interface Candidate {
  /** The PEP 503 normalised project name. */
  project: string;
  version: string;
  files: CandidateFile[];
}

/** Where the resolver learns what exists: the gateway's curated index, or a test double. */
export interface CandidateSource {
  /** Every version the index offers (any order); may throw (the resolver wraps the error into the result). */
  candidates(project: string, signal?: AbortSignal): Promise<Candidate[]>;
  /** Requires-Dist lines of one version, from the file it picked (a wheel when one fits, else an sdist). */
  dependencies(
    project: string,
    version: string,
    file: CandidateFile,
    signal?: AbortSignal,
  ): Promise<string[]>;
  /** Optional veto: return a reason string to make this version unusable (the policy engine plugs in here). */
  reject?(project: string, version: string, file: CandidateFile): Promise<string | undefined>;
}

export interface ResolveOptions {
  /** Allow pre-releases everywhere (pip's `--pre`). Default `false`: the PEP 440 rule applies. */
  prereleases?: boolean;
  /** Whether a version whose only fitting file is an sdist counts. Default `true`. */
  sdists?: boolean;
  /** Give up after this many rounds (version trials and project selections). Default 20,000. */
  maxRounds?: number;
  /**
   * How many index requests may run ahead of the search (candidate lists of newly required
   * projects and the metadata of their likely pick). Default 8; `0` asks only when needed.
   */
  prefetch?: number;
  signal?: AbortSignal;
}

/** Who asked for a project: another node, or `<root>` for the requirements given to {@link resolve}. */
export const ROOT = "<root>";

export interface ResolvedDependency {
  /** The normalised project name. */
  project: string;
  /** The Requires-Dist line as written. */
  requirement: string;
  specifier: string;
  /** Normalised extras requested by this line. */
  extras: string[];
  /** The line's marker in canonical spelling, when it has one (it was true for the target). */
  marker?: string;
}

export interface RequiredBy {
  /** The requiring project, or {@link ROOT}. */
  project: string;
  /** The requiring project's version; absent for roots. */
  version?: string;
  requirement: string;
}

/** One project of the result: the chosen release and file, and the edges around it. */
export interface ResolvedNode {
  project: string;
  version: string;
  /** The file whose metadata was used and which the target would install. */
  file: CandidateFile;
  /** Normalised extras requested for this project, merged over every requirer; sorted. */
  extras: string[];
  /** The Requires-Dist lines that apply on the target with these extras. */
  dependencies: ResolvedDependency[];
  requiredBy: RequiredBy[];
  /** Shortest distance from a root requirement; roots are 0. */
  depth: number;
}

/** A version the {@link CandidateSource.reject} veto refused; the resolver moved on to the next one. */
export interface Rejection {
  project: string;
  version: string;
  reason: string;
}

/** One dead end met during the search, explained. */
export interface ResolutionConflict {
  project: string;
  /** A sentence naming the conflicting requirements and who required them. */
  message: string;
  /** Every requirement on the project at that point. */
  requirements: { requirement: string; specifier: string; requiredBy: string }[];
}

export type ResolutionErrorCode =
  /** No combination of versions satisfies the requirements on this target. */
  | "RESOLUTION_IMPOSSIBLE"
  /** The round cap was hit before a solution or a proof that none exists (pip's ResolutionTooDeep). */
  | "RESOLUTION_TOO_COMPLEX"
  /** The candidate source threw. */
  | "SOURCE_ERROR"
  /** A root requirement could not be parsed or is a direct URL reference. */
  | "INVALID_REQUIREMENT";

export interface ResolutionStats {
  rounds: number;
  /** How many times the search returned to an earlier decision. */
  backtracks: number;
  candidateRequests: number;
  dependencyRequests: number;
}

export interface ResolutionSuccess {
  ok: true;
  /** Every project to install, keyed by normalised name, roots first then breadth-first. */
  nodes: Map<string, ResolvedNode>;
  /** Normalised names of the root requirements that apply on the target, in the order given. */
  roots: string[];
  rejected: Rejection[];
  stats: ResolutionStats;
}

export interface ResolutionFailure {
  ok: false;
  code: ResolutionErrorCode;
  /** One line: what could not be resolved, for which target, and the decisive conflict. */
  error: string;
  /** Distinct dead ends, most recent first (at most 20). */
  conflicts: ResolutionConflict[];
  /** The largest consistent set of pins the search reached, when it got anywhere. */
  partial?: Map<string, ResolvedNode>;
  roots: string[];
  rejected: Rejection[];
  stats: ResolutionStats;
}

export type Resolution = ResolutionSuccess | ResolutionFailure;

const DEFAULT_MAX_ROUNDS = 20_000;
const DEFAULT_PREFETCH = 8;
const MAX_CONFLICTS = 20;
const SDIST_RANK = Number.MAX_SAFE_INTEGER;

/** One version the index offers, with its files. */
interface VersionEntry {
  version: string;
  files: CandidateFile[];
  valid: boolean;
  prerelease: boolean;
  /** Which file the target would install, worked out on first use: big projects have thousands. */
  choice?: FileChoice;
}

/** What one version offers the target, independent of any requirement. */
interface FileChoice {
  /** The file the target would install; absent when none fits. */
  file?: CandidateFile;
  yanked: boolean;
  /** Why no file fits, for messages. */
  unusable?: string;
}

interface ParsedDependency {
  text: string;
  requirement: Requirement;
  extras: string[];
  /** Whether the line applies with no extra requested. */
  base: boolean;
}

type DependencyInfo = { ok: true; dependencies: ParsedDependency[] } | { ok: false; reason: string };

interface Pin {
  project: string;
  version: string;
  file: CandidateFile;
  level: number;
  depth: number;
  extras: Set<string>;
  /** For each extra, the decisions that caused it to be requested. */
  extraCulprits: Map<string, readonly number[]>;
  dependencies: ParsedDependency[];
  /** Indexes into `dependencies` of the lines that apply. */
  active: Set<number>;
}

interface Constraint {
  project: string;
  text: string;
  specifier: string;
  extras: string[];
  /** The pin whose Requires-Dist this is; absent for a root requirement. */
  parent?: Pin;
  depth: number;
  /** The decision levels this constraint exists because of; empty for roots. */
  culprits: readonly number[];
}

interface Level {
  index: number;
  project: string;
  /** Every version of the project, newest first; candidates are picked from it lazily. */
  entries: readonly VersionEntry[];
  /** The constraints on the project when the level opened (they are the same whenever it resumes). */
  constraints: readonly Constraint[];
  prereleases: boolean;
  /** Without `prereleases`, phase 0 walks the final releases and phase 1 the pre-releases. */
  phase: 0 | 1;
  next: number;
  /** Whether a final release passed every filter, which rules out pre-releases (PEP 440). */
  sawFinal: boolean;
  attempted: number;
  /** Earlier levels whose decisions, together, leave this project without a working version. */
  conflictSet: Set<number>;
  /** Trail length before this level's pin. */
  mark: number;
  /** Candidates that failed on their own (veto, bad metadata), for messages. */
  failures: string[];
  sawConflict: boolean;
}

interface Failure {
  culprits: readonly number[];
}

/** The source threw; the search stops. */
class SourceFailure extends Error {}

/** The round cap was reached. */
class TooComplex extends Error {}

function maxOf(levels: readonly number[]): number {
  let max = -1;
  for (const level of levels) if (level > max) max = level;
  return max;
}

function union(a: readonly number[], b: readonly number[]): number[] {
  return [...new Set([...a, ...b])];
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// packaging's `Specifier.prereleases`: a clause naming a pre-release opts in, except `!=`.
function namesPrerelease(specifier: string): boolean {
  return (parseSpecifier(specifier) ?? []).some(
    (clause) =>
      clause.operator !== "!=" &&
      isPrerelease(clause.version.endsWith(".*") ? clause.version.slice(0, -2) : clause.version),
  );
}

// PEP 592: a yanked release may be used when a specifier pins exactly that version.
function pinsExactly(version: string, specifier: string): boolean {
  return (parseSpecifier(specifier) ?? []).some(
    (clause) =>
      ((clause.operator === "==" && !clause.version.endsWith(".*")) || clause.operator === "===") &&
      satisfies(version, `${clause.operator}${clause.version}`, { prereleases: true }),
  );
}

function joinAnd(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

function pinLabel(pin: Pin): string {
  const extras = pin.extras.size > 0 ? `[${[...pin.extras].sort().join(",")}]` : "";
  return `${pin.project}${extras}==${pin.version}`;
}

function requiredByLabel(constraint: Constraint): string {
  return constraint.parent ? pinLabel(constraint.parent) : ROOT;
}

class Resolver {
  private readonly markers: MarkerEnvironment;
  private readonly maxRounds: number;
  private readonly prefetchLimit: number;
  private readonly sdists: boolean;
  private readonly signal: AbortSignal | undefined;

  private readonly candidateRequests = new Map<string, Promise<Candidate[]>>();
  private readonly projectEntries = new Map<string, VersionEntry[]>();
  private readonly dependencyRequests = new Map<string, Promise<string[]>>();
  private readonly parsedDependencies = new Map<string, DependencyInfo>();
  private readonly vetoes = new Map<string, Promise<string | undefined>>();
  private readonly satisfied = new Map<string, boolean>();
  private readonly prefetchQueue: (() => Promise<unknown>)[] = [];
  private inFlight = 0;
  private finished = false;

  private readonly pins = new Map<string, Pin>();
  private readonly constraints = new Map<string, Constraint[]>();
  private readonly firstSeen = new Map<string, number>();
  private readonly trail: (() => void)[] = [];
  private readonly levels: Level[] = [];
  private readonly nogoods = new Map<string, [string, string][][]>();
  private readonly conflicts: ResolutionConflict[] = [];
  private readonly rejected = new Map<string, Rejection>();
  private partial: Map<string, ResolvedNode> | undefined;
  private partialSize = 0;
  private rounds = 0;
  private backtracks = 0;
  private roots: string[] = [];

  constructor(
    private readonly source: CandidateSource,
    private readonly target: CompiledTarget,
    private readonly options: ResolveOptions,
  ) {
    this.markers = target.markers;
    this.maxRounds = options.maxRounds ?? DEFAULT_MAX_ROUNDS;
    this.prefetchLimit = options.prefetch ?? DEFAULT_PREFETCH;
    this.sdists = options.sdists ?? true;
    this.signal = options.signal;
  }

  async run(requirements: readonly Requirement[]): Promise<Resolution> {
    try {
      return await this.search(requirements);
    } catch (error) {
      if (this.signal?.aborted) throw this.signal.reason;
      if (error instanceof SourceFailure) return this.failure("SOURCE_ERROR", error.message);
      if (error instanceof TooComplex) {
        const latest = this.conflicts[0];
        return this.failure(
          "RESOLUTION_TOO_COMPLEX",
          `ResolutionTooComplex: gave up on ${this.rootsText(requirements)} for ${this.target.label} after ` +
            `${this.maxRounds} rounds without a solution or a proof that none exists` +
            (latest ? `; latest conflict: ${latest.message}` : "") +
            "; pin some versions to narrow the search",
        );
      }
      throw error;
    } finally {
      this.finished = true;
    }
  }

  private async search(requirements: readonly Requirement[]): Promise<Resolution> {
    const roots = new Set<string>();
    for (const requirement of requirements) {
      if (requirement.marker && !evaluateMarker(requirement.marker, this.markers)) continue;
      roots.add(requirement.normalizedName);
      this.addConstraint({
        project: requirement.normalizedName,
        text: formatRequirement(requirement),
        specifier: requirement.specifier,
        extras: requirement.extras.map(normalizeProjectName),
        depth: 0,
        culprits: [],
      });
    }
    this.roots = [...roots];

    for (;;) {
      this.tick();
      const project = this.selectNext();
      if (project === undefined) {
        return {
          ok: true,
          nodes: this.buildNodes(),
          roots: this.roots,
          rejected: this.rejections(),
          stats: this.stats(),
        };
      }
      let level = await this.openLevel(project);
      while (!(await this.advance(level))) {
        const conflictSet = level.conflictSet;
        if (conflictSet.size === 0) {
          const latest = this.conflicts[0];
          return this.failure(
            "RESOLUTION_IMPOSSIBLE",
            `Cannot resolve ${this.rootsText(requirements)} for ${this.target.label}: ` +
              (latest?.message ?? `no version of ${project} can be used`),
          );
        }
        const back = maxOf([...conflictSet]);
        this.learn(conflictSet);
        this.backtracks++;
        const previous = this.levels[back] as Level;
        this.undoTo(previous.mark);
        this.levels.length = back + 1;
        for (const culprit of conflictSet) if (culprit !== back) previous.conflictSet.add(culprit);
        level = previous;
      }
    }
  }

  private tick(): void {
    this.signal?.throwIfAborted();
    if (++this.rounds > this.maxRounds) throw new TooComplex();
  }

  // Breadth-first, in the order projects were first met: roots before their dependencies, and a
  // stable order across backtracking.
  private selectNext(): string | undefined {
    let best: string | undefined;
    let bestDepth = Infinity;
    let bestSeen = Infinity;
    for (const [project, list] of this.constraints) {
      if (list.length === 0 || this.pins.has(project)) continue;
      let depth = Infinity;
      for (const constraint of list) if (constraint.depth < depth) depth = constraint.depth;
      const seen = this.firstSeen.get(project) ?? Infinity;
      if (depth < bestDepth || (depth === bestDepth && seen < bestSeen)) {
        best = project;
        bestDepth = depth;
        bestSeen = seen;
      }
    }
    return best;
  }

  private async openLevel(project: string): Promise<Level> {
    const entries = await this.projectVersions(project);
    const constraints = [...(this.constraints.get(project) ?? [])];
    const level: Level = {
      index: this.levels.length,
      project,
      entries,
      constraints,
      prereleases: this.options.prereleases === true || constraints.some((c) => namesPrerelease(c.specifier)),
      phase: 0,
      next: 0,
      sawFinal: false,
      attempted: 0,
      conflictSet: new Set(),
      mark: this.trail.length,
      failures: [],
      sawConflict: false,
    };
    // One requirer belongs to every conflict set: it is why the project needs a version at all.
    let requirer: readonly number[] | undefined;
    for (const constraint of constraints) {
      if (requirer === undefined || maxOf(constraint.culprits) < maxOf(requirer)) {
        requirer = constraint.culprits;
      }
    }
    for (const culprit of requirer ?? []) level.conflictSet.add(culprit);
    this.levels.push(level);
    return level;
  }

  /**
   * The next version to try at a level, best first, or `undefined` when none is left. Every
   * version passed over adds the decision levels responsible for leaving it out to the level's
   * conflict set.
   */
  private nextCandidate(level: Level): VersionEntry | undefined {
    for (;;) {
      if (level.next >= level.entries.length) {
        if (level.phase === 1 || level.prereleases) return undefined;
        level.phase = 1;
        level.next = 0;
        if (level.sawFinal) {
          // PEP 440: pre-releases only when no final release satisfies the specifiers.
          if (level.entries.some((entry) => entry.valid && entry.prerelease)) this.blameAll(level);
          level.next = level.entries.length;
        }
        continue;
      }
      const entry = level.entries[level.next++] as VersionEntry;
      if (!entry.valid) continue;
      if (!level.prereleases && entry.prerelease !== (level.phase === 1)) continue;
      let excludedBy: readonly number[] | undefined;
      for (const constraint of level.constraints) {
        if (this.satisfies(entry.version, constraint.specifier)) continue;
        if (excludedBy === undefined || maxOf(constraint.culprits) < maxOf(excludedBy)) {
          excludedBy = constraint.culprits;
        }
      }
      if (excludedBy !== undefined) {
        for (const culprit of excludedBy) level.conflictSet.add(culprit);
        continue;
      }
      const choice = this.choose(level.project, entry);
      if (choice.file === undefined) continue;
      if (choice.yanked && !level.constraints.some((c) => pinsExactly(entry.version, c.specifier))) {
        this.blameAll(level);
        continue;
      }
      if (!entry.prerelease) level.sawFinal = true;
      return entry;
    }
  }

  // Yanked and pre-release exclusions depend on the whole set of constraints, not on one of them.
  private blameAll(level: Level): void {
    for (const constraint of level.constraints) {
      for (const culprit of constraint.culprits) level.conflictSet.add(culprit);
    }
  }

  private async advance(level: Level): Promise<boolean> {
    for (let entry = this.nextCandidate(level); entry !== undefined; entry = this.nextCandidate(level)) {
      this.tick();
      this.undoTo(level.mark);
      level.attempted++;
      const file = (entry.choice as FileChoice).file as CandidateFile;
      const veto = await this.veto(level.project, entry.version, file);
      if (veto !== undefined) {
        const key = `${level.project}==${entry.version}`;
        if (!this.rejected.has(key)) {
          this.rejected.set(key, { project: level.project, version: entry.version, reason: veto });
        }
        level.failures.push(`${entry.version} was rejected: ${veto}`);
        continue;
      }
      const dependencies = await this.dependencies(level.project, entry.version, file);
      if (!dependencies.ok) {
        level.failures.push(`${entry.version} ${dependencies.reason}`);
        continue;
      }
      const failure = this.pin(level, entry.version, file, dependencies.dependencies);
      if (failure === undefined) return true;
      level.sawConflict = true;
      for (const culprit of failure.culprits) if (culprit !== level.index) level.conflictSet.add(culprit);
    }
    this.undoTo(level.mark);
    if (level.attempted === 0) {
      this.recordConflict(
        level.project,
        level.constraints,
        this.describeNoCandidates(level.project, level.entries, level.constraints),
      );
    } else if (!level.sawConflict && level.failures.length > 0) {
      this.recordConflict(
        level.project,
        level.constraints,
        `no usable version of ${level.project} matches ${this.describeConstraints(level.constraints)}: ` +
          level.failures.slice(0, 4).join("; "),
      );
    }
    return false;
  }

  private pin(
    level: Level,
    version: string,
    file: CandidateFile,
    dependencies: ParsedDependency[],
  ): Failure | undefined {
    const list = this.constraints.get(level.project) ?? [];
    const extras = new Set<string>();
    const extraCulprits = new Map<string, readonly number[]>();
    let depth = Infinity;
    for (const constraint of list) {
      if (constraint.depth < depth) depth = constraint.depth;
      for (const extra of constraint.extras) {
        const known = extraCulprits.get(extra);
        if (known === undefined || maxOf(constraint.culprits) < maxOf(known)) {
          extras.add(extra);
          extraCulprits.set(extra, constraint.culprits);
        }
      }
    }
    const pin: Pin = {
      project: level.project,
      version,
      file,
      level: level.index,
      depth,
      extras,
      extraCulprits,
      dependencies,
      active: new Set(),
    };
    this.pins.set(pin.project, pin);
    this.trail.push(() => this.pins.delete(pin.project));
    return this.checkNogoods(pin) ?? this.activate(pin);
  }

  /** Adds the constraints of every dependency line of `pin` that newly applies. */
  private activate(pin: Pin): Failure | undefined {
    for (let i = 0; i < pin.dependencies.length; i++) {
      if (pin.active.has(i)) continue;
      const dependency = pin.dependencies[i] as ParsedDependency;
      let culprits: readonly number[] | undefined;
      if (dependency.base) culprits = [pin.level];
      else if (dependency.requirement.marker) {
        for (const extra of pin.extras) {
          if (evaluateMarker(dependency.requirement.marker, this.markers, [extra])) {
            culprits = union([pin.level], pin.extraCulprits.get(extra) ?? []);
            break;
          }
        }
      }
      if (culprits === undefined) continue;
      pin.active.add(i);
      this.trail.push(() => pin.active.delete(i));
      if (dependency.requirement.url !== undefined) {
        const project = dependency.requirement.normalizedName;
        this.recordConflict(
          project,
          [],
          `${pinLabel(pin)} depends on a direct reference (${dependency.text}), which an index cannot provide`,
        );
        return { culprits };
      }
      const failure = this.addConstraint({
        project: dependency.requirement.normalizedName,
        text: dependency.text,
        specifier: dependency.requirement.specifier,
        extras: dependency.extras,
        parent: pin,
        depth: pin.depth + 1,
        culprits,
      });
      if (failure) return failure;
    }
    return undefined;
  }

  private addConstraint(constraint: Constraint): Failure | undefined {
    const { project } = constraint;
    let list = this.constraints.get(project);
    if (list === undefined) {
      list = [];
      this.constraints.set(project, list);
    }
    const target = list;
    target.push(constraint);
    this.trail.push(() => target.pop());
    if (!this.firstSeen.has(project)) {
      this.firstSeen.set(project, this.firstSeen.size);
      this.prefetch(project);
    }

    const pinned = this.pins.get(project);
    if (pinned === undefined) return undefined;
    if (!this.satisfies(pinned.version, constraint.specifier)) {
      this.recordConflict(project, target, this.describePinConflict(pinned, constraint, target));
      return { culprits: union(constraint.culprits, [pinned.level]) };
    }
    let added = false;
    for (const extra of constraint.extras) {
      if (pinned.extras.has(extra)) continue;
      pinned.extras.add(extra);
      pinned.extraCulprits.set(extra, constraint.culprits);
      this.trail.push(() => {
        pinned.extras.delete(extra);
        pinned.extraCulprits.delete(extra);
      });
      added = true;
    }
    return added ? this.activate(pinned) : undefined;
  }

  private undoTo(mark: number): void {
    while (this.trail.length > mark) (this.trail.pop() as () => void)();
  }

  /** Remembers that the pins at `conflictSet` cannot all hold at once. */
  private learn(conflictSet: ReadonlySet<number>): void {
    const members: [string, string][] = [];
    for (const index of conflictSet) {
      const pin = this.pins.get((this.levels[index] as Level).project);
      if (pin === undefined) return;
      members.push([pin.project, pin.version]);
    }
    for (const [project, version] of members) {
      const key = `${project}==${version}`;
      const known = this.nogoods.get(key);
      if (known) known.push(members);
      else this.nogoods.set(key, [members]);
    }
  }

  private checkNogoods(pin: Pin): Failure | undefined {
    for (const members of this.nogoods.get(`${pin.project}==${pin.version}`) ?? []) {
      const levels: number[] = [];
      for (const [project, version] of members) {
        const other = this.pins.get(project);
        if (other === undefined || other.version !== version) break;
        levels.push(other.level);
      }
      if (levels.length === members.length) return { culprits: levels };
    }
    return undefined;
  }

  private satisfies(version: string, specifier: string): boolean {
    if (specifier === "") return true;
    const key = `${specifier}\u0000${version}`;
    let result = this.satisfied.get(key);
    if (result === undefined) {
      // pip checks a chosen candidate with prereleases=True: the pre-release rule already chose it.
      result = satisfies(version, specifier, { prereleases: true });
      this.satisfied.set(key, result);
    }
    return result;
  }

  // --- The source, asked at most once per project and per version ---

  private candidatesOf(project: string): Promise<Candidate[]> {
    let request = this.candidateRequests.get(project);
    if (request === undefined) {
      this.inFlight++;
      request = Promise.resolve().then(() => this.source.candidates(project, this.signal));
      this.candidateRequests.set(project, request);
      request
        .finally(() => {
          this.inFlight--;
          this.pump();
        })
        .catch(() => undefined);
    }
    return request;
  }

  private async projectVersions(project: string): Promise<VersionEntry[]> {
    const known = this.projectEntries.get(project);
    if (known) return known;
    let candidates: Candidate[];
    try {
      candidates = await this.candidatesOf(project);
    } catch (error) {
      throw new SourceFailure(`could not list the versions of ${project}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    return this.entriesOf(project, candidates);
  }

  private entriesOf(project: string, candidates: readonly Candidate[]): VersionEntry[] {
    const cached = this.projectEntries.get(project);
    if (cached) return cached;
    const files = new Map<string, CandidateFile[]>();
    for (const candidate of candidates) {
      const known = files.get(candidate.version);
      if (known) known.push(...candidate.files);
      else files.set(candidate.version, [...candidate.files]);
    }
    const entries = [...files].map(([version, list]): VersionEntry => {
      const valid = isValidVersion(version);
      return { version, files: list, valid, prerelease: valid && isPrerelease(version) };
    });
    // Indexes list versions oldest first, which this sort reverses in one pass.
    entries.sort((a, b) => compareVersions(b.version, a.version) || (a.version < b.version ? 1 : -1));
    this.projectEntries.set(project, entries);
    return entries;
  }

  /** Picks the file the target would install: the best-ranked wheel, else an sdist; non-yanked first. */
  private choose(project: string, entry: VersionEntry): FileChoice {
    entry.choice ??= this.chooseFile(project, entry);
    return entry.choice;
  }

  private chooseFile(project: string, { version, files, valid }: VersionEntry): FileChoice {
    if (!valid) return { yanked: false, unusable: "is not a valid PEP 440 version" };
    let best: { file: CandidateFile; rank: number; yanked: boolean } | undefined;
    let pythonMismatch: string | undefined;
    const otherTags: string[] = [];
    let sdistsRefused = false;
    for (const file of files) {
      const dist = parseDistFilename(file.filename);
      if (dist === null || dist.project !== project) continue;
      if (dist.version !== version && compareVersions(dist.version, version) !== 0) continue;
      let rank: number | undefined;
      if (dist.kind === "wheel") {
        for (const tag of dist.tags) {
          const tagRank = this.target.tagRanks.get(tag.toLowerCase());
          if (tagRank !== undefined && (rank === undefined || tagRank < rank)) rank = tagRank;
        }
        if (rank === undefined) otherTags.push(...dist.tags);
      } else if (this.sdists) rank = SDIST_RANK;
      else sdistsRefused = true;
      if (rank === undefined) continue;
      if (!requiresPythonMatches(file.requiresPython, this.target.environment)) {
        pythonMismatch ??= file.requiresPython;
        continue;
      }
      // PEP 691: `yanked` is true or a reason string when the file is yanked.
      const yanked = file.yanked !== false;
      if (best === undefined || (best.yanked && !yanked) || (best.yanked === yanked && rank < best.rank)) {
        best = { file, rank, yanked };
      }
    }
    if (best) return { file: best.file, yanked: best.yanked };
    if (pythonMismatch !== undefined) return { yanked: false, unusable: `requires Python ${pythonMismatch}` };
    let unusable = `has no file for ${this.target.label}`;
    const tags = [...new Set(otherTags)];
    if (tags.length > 0) {
      const shown = `${tags.slice(0, 3).join(", ")}${tags.length > 3 ? ", …" : ""}`;
      unusable += ` (wheels: ${shown}; ${sdistsRefused ? "sdists not allowed" : "no sdist"})`;
    } else if (sdistsRefused) unusable += " (only an sdist, and sdists are not allowed)";
    return { yanked: false, unusable };
  }

  private async dependencies(project: string, version: string, file: CandidateFile): Promise<DependencyInfo> {
    const key = `${project}==${version}`;
    const known = this.parsedDependencies.get(key);
    if (known) return known;
    let lines: string[];
    try {
      lines = await this.dependencyLinesOf(project, version, file);
    } catch (error) {
      throw new SourceFailure(
        `could not read the dependencies of ${project} ${version}: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    const parsed = this.parseDependencies(lines);
    this.parsedDependencies.set(key, parsed);
    return parsed;
  }

  private dependencyLinesOf(project: string, version: string, file: CandidateFile): Promise<string[]> {
    const key = `${project}==${version}`;
    let request = this.dependencyRequests.get(key);
    if (request === undefined) {
      this.inFlight++;
      request = Promise.resolve().then(() => this.source.dependencies(project, version, file, this.signal));
      this.dependencyRequests.set(key, request);
      request
        .finally(() => {
          this.inFlight--;
          this.pump();
        })
        .catch(() => undefined);
    }
    return request;
  }

  private parseDependencies(lines: readonly string[]): DependencyInfo {
    const dependencies: ParsedDependency[] = [];
    for (const line of lines) {
      const text = line.trim();
      if (text === "") continue;
      let requirement: Requirement;
      try {
        requirement = parseRequirement(text);
      } catch (error) {
        // A dependency that cannot be read cannot be honoured; dropping it would install a broken set.
        return {
          ok: false,
          reason: `has an invalid Requires-Dist ${JSON.stringify(text)}: ${errorMessage(error)}`,
        };
      }
      dependencies.push({
        text,
        requirement,
        extras: requirement.extras.map(normalizeProjectName),
        base: requirement.marker === undefined || evaluateMarker(requirement.marker, this.markers),
      });
    }
    return { ok: true, dependencies };
  }

  private veto(project: string, version: string, file: CandidateFile): Promise<string | undefined> {
    if (this.source.reject === undefined) return Promise.resolve(undefined);
    const key = `${project}==${version}`;
    let request = this.vetoes.get(key);
    if (request === undefined) {
      const reject = this.source.reject.bind(this.source);
      request = Promise.resolve()
        .then(() => reject(project, version, file))
        .catch((error: unknown) => {
          throw new SourceFailure(`could not check ${project} ${version}: ${errorMessage(error)}`, {
            cause: error,
          });
        });
      this.vetoes.set(key, request);
    }
    return request;
  }

  // Index round-trips dominate real resolutions, so the versions of every newly required project,
  // and the metadata of the version it will most likely get, are fetched while the search goes on.
  private prefetch(project: string): void {
    if (this.prefetchLimit <= 0 || this.candidateRequests.has(project)) return;
    this.prefetchQueue.push(async () => {
      if (this.candidateRequests.has(project)) return;
      const candidates = await this.candidatesOf(project);
      if (this.finished || this.pins.has(project)) return;
      const list = this.constraints.get(project) ?? [];
      const prereleases = this.options.prereleases === true || list.some((c) => namesPrerelease(c.specifier));
      const likely = this.entriesOf(project, candidates).find(
        (entry) =>
          entry.valid &&
          (prereleases || !entry.prerelease) &&
          list.every((c) => this.satisfies(entry.version, c.specifier)) &&
          this.choose(project, entry).file !== undefined &&
          !this.choose(project, entry).yanked,
      );
      const file = likely?.choice?.file;
      if (likely === undefined || file === undefined) return;
      if (this.dependencyRequests.has(`${project}==${likely.version}`)) return;
      this.prefetchQueue.push(() => this.dependencyLinesOf(project, likely.version, file));
      this.pump();
    });
    this.pump();
  }

  private pump(): void {
    while (!this.finished && this.inFlight < this.prefetchLimit && this.prefetchQueue.length > 0) {
      const job = this.prefetchQueue.shift() as () => Promise<unknown>;
      job().catch(() => undefined);
    }
  }

  // --- Results and messages ---

  private recordConflict(project: string, list: readonly Constraint[], message: string): void {
    if (this.pins.size > this.partialSize) {
      this.partialSize = this.pins.size;
      this.partial = this.buildNodes();
    }
    const existing = this.conflicts.findIndex((conflict) => conflict.message === message);
    if (existing !== -1) this.conflicts.splice(existing, 1);
    this.conflicts.unshift({
      project,
      message,
      requirements: list.map((constraint) => ({
        requirement: constraint.text,
        specifier: constraint.specifier,
        requiredBy: requiredByLabel(constraint),
      })),
    });
    if (this.conflicts.length > MAX_CONFLICTS) this.conflicts.length = MAX_CONFLICTS;
  }

  private describeConstraints(list: readonly Constraint[]): string {
    const seen = new Set<string>();
    const parts: string[] = [];
    for (const constraint of list) {
      const part = `${constraint.specifier === "" ? "any version" : constraint.specifier} (required by ${requiredByLabel(constraint)})`;
      if (!seen.has(part)) {
        seen.add(part);
        parts.push(part);
      }
    }
    return joinAnd(parts);
  }

  private describeNoCandidates(
    project: string,
    entries: readonly VersionEntry[],
    list: readonly Constraint[],
  ): string {
    if (entries.length === 0) {
      const requirers = [...new Set(list.map(requiredByLabel))];
      return `no versions of ${project} are available from the index (required by ${joinAnd(requirers)})`;
    }
    const matching = entries.filter(
      (entry) => entry.valid && list.every((c) => this.satisfies(entry.version, c.specifier)),
    );
    if (matching.length === 0) {
      const available = entries.slice(0, 8).map((entry) => entry.version);
      return (
        `no version of ${project} satisfies ${this.describeConstraints(list)} ` +
        `(available: ${available.join(", ")}${entries.length > available.length ? ", …" : ""})`
      );
    }
    const reasons = matching.slice(0, 4).map((entry) => {
      const choice = this.choose(project, entry);
      if (choice.unusable !== undefined) return `${entry.version} ${choice.unusable}`;
      if (choice.yanked) return `${entry.version} is yanked and not pinned with ==`;
      return `${entry.version} is a pre-release`;
    });
    if (matching.length > reasons.length) reasons.push(`${matching.length - reasons.length} more`);
    return `no usable version of ${project} matches ${this.describeConstraints(list)}: ${reasons.join("; ")}`;
  }

  private describePinConflict(pinned: Pin, constraint: Constraint, list: readonly Constraint[]): string {
    const entries = this.projectEntries.get(pinned.project) ?? [];
    const any = entries.some(
      (entry) =>
        entry.valid &&
        list.every((c) => this.satisfies(entry.version, c.specifier)) &&
        this.choose(pinned.project, entry).file !== undefined,
    );
    if (!any) return `no version of ${pinned.project} satisfies ${this.describeConstraints(list)}`;
    const others = list.filter((c) => c !== constraint);
    return (
      `${requiredByLabel(constraint)} requires ${pinned.project}${constraint.specifier}, but ${pinned.project}==${pinned.version} ` +
      `was chosen for ${this.describeConstraints(others)}`
    );
  }

  private rootsText(requirements: readonly Requirement[]): string {
    const texts = requirements.map(formatRequirement);
    return texts.length > 5
      ? `${texts.slice(0, 5).join(", ")} and ${texts.length - 5} more`
      : texts.join(", ");
  }

  private buildNodes(): Map<string, ResolvedNode> {
    const order: string[] = [];
    const depths = new Map<string, number>();
    for (const root of this.roots) {
      if (this.pins.has(root) && !depths.has(root)) {
        depths.set(root, 0);
        order.push(root);
      }
    }
    for (let i = 0; i < order.length; i++) {
      const pin = this.pins.get(order[i] as string) as Pin;
      const depth = depths.get(pin.project) as number;
      for (const index of [...pin.active].sort((a, b) => a - b)) {
        const child = (pin.dependencies[index] as ParsedDependency).requirement.normalizedName;
        if (this.pins.has(child) && !depths.has(child)) {
          depths.set(child, depth + 1);
          order.push(child);
        }
      }
    }
    for (const project of this.pins.keys()) {
      if (!depths.has(project)) {
        depths.set(project, (this.pins.get(project) as Pin).depth);
        order.push(project);
      }
    }
    const nodes = new Map<string, ResolvedNode>();
    for (const project of order) {
      const pin = this.pins.get(project) as Pin;
      nodes.set(project, {
        project,
        version: pin.version,
        file: pin.file,
        extras: [...pin.extras].sort(),
        dependencies: [...pin.active]
          .sort((a, b) => a - b)
          .map((index) => {
            const { text, requirement, extras } = pin.dependencies[index] as ParsedDependency;
            return {
              project: requirement.normalizedName,
              requirement: text,
              specifier: requirement.specifier,
              extras,
              ...(requirement.marker ? { marker: formatMarker(requirement.marker) } : {}),
            };
          }),
        requiredBy: (this.constraints.get(project) ?? []).map((constraint) => ({
          project: constraint.parent?.project ?? ROOT,
          ...(constraint.parent ? { version: constraint.parent.version } : {}),
          requirement: constraint.text,
        })),
        depth: depths.get(project) as number,
      });
    }
    return nodes;
  }

  private rejections(): Rejection[] {
    return [...this.rejected.values()];
  }

  private stats(): ResolutionStats {
    return {
      rounds: this.rounds,
      backtracks: this.backtracks,
      candidateRequests: this.candidateRequests.size,
      dependencyRequests: this.dependencyRequests.size,
    };
  }

  private failure(code: ResolutionErrorCode, error: string): ResolutionFailure {
    return {
      ok: false,
      code,
      error,
      conflicts: [...this.conflicts],
      ...(this.partial ? { partial: this.partial } : {}),
      roots: this.roots,
      rejected: this.rejections(),
      stats: this.stats(),
    };
  }
}

function invalidRoots(error: string, roots: string[]): ResolutionFailure {
  return {
    ok: false,
    code: "INVALID_REQUIREMENT",
    error,
    conflicts: [],
    roots,
    rejected: [],
    stats: { rounds: 0, backtracks: 0, candidateRequests: 0, dependencyRequests: 0 },
  };
}

/**
 * Resolves requirements to one release per project for a target machine, as pip would.
 * Failures are data: `ok: false` with an explanation naming the conflicting requirements.
 *
 * @example
 * const result = await resolve(["flask"], source, { pythonVersion: "3.11", platform: "linux", machine: "x86_64" });
 * if (result.ok) console.log(formatTree(result));
 * @throws {TargetError} when `env` is not a valid target
 * @throws the signal's reason when `options.signal` aborts
 */
export async function resolve(
  roots: readonly Requirement[] | readonly string[],
  source: CandidateSource,
  env: TargetEnvironment,
  options: ResolveOptions = {},
): Promise<Resolution> {
  const target = compileTarget(env);
  const requirements: Requirement[] = [];
  for (const root of roots) {
    if (typeof root !== "string") {
      requirements.push(root);
      continue;
    }
    try {
      requirements.push(parseRequirement(root.trim()));
    } catch (error) {
      return invalidRoots(`Invalid requirement ${JSON.stringify(root)}: ${errorMessage(error)}`, []);
    }
  }
  const direct = requirements.find((requirement) => requirement.url !== undefined);
  if (direct) {
    return invalidRoots(
      `Direct references cannot be resolved from an index: ${formatRequirement(direct)}`,
      requirements.map((requirement) => requirement.normalizedName),
    );
  }
  return new Resolver(source, target, options).run(requirements);
}

function nodeLabel(project: string, extras: readonly string[], version: string): string {
  return `${project}${extras.length > 0 ? `[${extras.join(",")}]` : ""}==${version}`;
}

/**
 * Prints a resolution as an indented tree, like `pipdeptree`: each edge shows the requirement's
 * specifier, a subtree already printed is marked `(see above)` and a dependency cycle `(cycle)`.
 * A failure prints its explanation and the conflicts met.
 *
 * @example
 * // flask==3.1.3
 * // ├── blinker==1.9.0 (>=1.9.0)
 * // ├── jinja2==3.1.6 (>=3.1.2)
 * // │   └── markupsafe==3.0.3 (>=2.0)
 * // └── werkzeug==3.1.9 (>=3.1.0)
 * //     └── markupsafe==3.0.3 (>=2.1.1)
 */
export function formatTree(resolution: Resolution): string {
  if (!resolution.ok) {
    const lines = [`Resolution failed (${resolution.code}): ${resolution.error}`];
    if (resolution.conflicts.length > 0) {
      lines.push("Conflicts:");
      for (const conflict of resolution.conflicts) lines.push(`  - ${conflict.message}`);
    }
    if (resolution.rejected.length > 0) {
      lines.push("Rejected:");
      for (const rejection of resolution.rejected) {
        lines.push(`  - ${rejection.project}==${rejection.version}: ${rejection.reason}`);
      }
    }
    return `${lines.join("\n")}\n`;
  }

  const { nodes } = resolution;
  const lines: string[] = [];
  const expanded = new Set<string>();
  const path = new Set<string>();

  const children = (node: ResolvedNode): { project: string; specifier: string; extras: string[] }[] => {
    const merged = new Map<string, { project: string; specifiers: string[]; extras: Set<string> }>();
    for (const dependency of node.dependencies) {
      let entry = merged.get(dependency.project);
      if (entry === undefined) {
        entry = { project: dependency.project, specifiers: [], extras: new Set() };
        merged.set(dependency.project, entry);
      }
      if (dependency.specifier !== "" && !entry.specifiers.includes(dependency.specifier)) {
        entry.specifiers.push(dependency.specifier);
      }
      for (const extra of dependency.extras) entry.extras.add(extra);
    }
    return [...merged.values()].map((entry) => ({
      project: entry.project,
      specifier: entry.specifiers.join(","),
      extras: [...entry.extras].sort(),
    }));
  };

  const walk = (node: ResolvedNode, prefix: string): void => {
    expanded.add(node.project);
    path.add(node.project);
    const edges = children(node);
    edges.forEach((edge, i) => {
      const last = i === edges.length - 1;
      const child = nodes.get(edge.project);
      const spec = edge.specifier === "" ? "any" : edge.specifier;
      const head = `${prefix}${last ? "└── " : "├── "}`;
      if (child === undefined) {
        lines.push(`${head}${edge.project} (${spec}) (missing)`);
        return;
      }
      const label = `${head}${nodeLabel(child.project, edge.extras, child.version)} (${spec})`;
      if (path.has(child.project)) lines.push(`${label} (cycle)`);
      else if (expanded.has(child.project) && child.dependencies.length > 0)
        lines.push(`${label} (see above)`);
      else {
        lines.push(label);
        walk(child, `${prefix}${last ? "    " : "│   "}`);
      }
    });
    path.delete(node.project);
  };

  for (const root of resolution.roots) {
    const node = nodes.get(root);
    if (node === undefined) continue;
    const label = nodeLabel(node.project, node.extras, node.version);
    if (expanded.has(root) && node.dependencies.length > 0) {
      lines.push(`${label} (see above)`);
      continue;
    }
    lines.push(label);
    walk(node, "");
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}
