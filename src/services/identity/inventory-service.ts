import type { InventoryRepository, InventoryRow } from "../../adapters/db/inventory-repository.js";
import { normalizeProjectName } from "../../domain/project-name.js";
import { compareVersions, satisfies } from "../../domain/version.js";
import { advisoryAffects } from "../../intel/osv-index.js";
import type { Advisory } from "../../intel/osv-record.js";
import type { Consumer, InventoryReader } from "../audit-entry.js";

/** A who-has query: an advisory id, `name==version`, or a project name. */
export type WhoHasQuery =
  /** `asProject`: the same text read as a project name, when it is one (`cve-bin-tool`). */
  | { kind: "advisory"; id: string; asProject?: string }
  | { kind: "release"; project: string; version: string }
  | { kind: "project"; project: string };

export interface WhoHasResult {
  query: string;
  /**
   * The advisory asked for, when the query named one. An alias (a CVE) that several advisories
   * share answers for all of them: `id` is then the alias and `ids` lists each advisory.
   */
  advisory: {
    id: string;
    /** Every advisory the query answered for (one, unless an alias named several). */
    ids: string[];
    summary: string | null;
    affected: { project: string; versions: string[] }[];
  } | null;
  consumers: (Consumer & { owner: string | null })[];
}

export interface DriftChange {
  kind: "new-project" | "new-version" | "downgrade";
  project: string;
  version: string;
  /** The highest version this consumer pulled before, for new versions and downgrades. */
  previous: string | null;
  filename: string;
  firstPulled: string;
}

export interface ConsumerDrift {
  identity: string | null;
  /**
   * The address of the consumer's latest pull. It names the consumer only when nothing else
   * does (an anonymous caller without an application); see `driftConsumerKey`.
   */
  ip: string;
  application: string | null;
  team: string | null;
  changes: DriftChange[];
}

const ADVISORY_RE = /^(PYSEC|GHSA|CVE|MAL|OSV|PSF|BIT)-[A-Za-z0-9._:-]+$/i;
const NAME_RE = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;

/**
 * Parses what `who-has` takes. Throws a message fit for a user on anything else.
 * @example parseWhoHasQuery("requests==2.19.0") // { kind: "release", project: "requests", version: "2.19.0" }
 */
export function parseWhoHasQuery(q: string): WhoHasQuery {
  const s = q.trim();
  if (ADVISORY_RE.test(s))
    return {
      kind: "advisory",
      id: s.toUpperCase().startsWith("GHSA-") ? `GHSA-${s.slice(5).toLowerCase()}` : s.toUpperCase(),
      ...(NAME_RE.test(s) && s.length <= 200 ? { asProject: normalizeProjectName(s) } : {}),
    };
  const eq = s.indexOf("==");
  if (eq > 0) {
    const name = s.slice(0, eq).trim();
    const version = s.slice(eq + 2).trim();
    if (NAME_RE.test(name) && /^[A-Za-z0-9.+!_-]{1,100}$/.test(version))
      return { kind: "release", project: normalizeProjectName(name), version };
  } else if (NAME_RE.test(s) && s.length <= 200) {
    return { kind: "project", project: normalizeProjectName(s) };
  }
  throw new Error(
    `cannot read ${JSON.stringify(q.slice(0, 100))}: expected an advisory id (PYSEC-…, GHSA-…, CVE-…, MAL-…), NAME==VERSION or NAME`,
  );
}

/**
 * Answers "who has it?" from the inventory aggregate: consumers of files, of a release, of the
 * versions an advisory affects; and posture drift (what a consumer newly pulled).
 */
export class InventoryService implements InventoryReader {
  constructor(
    private readonly deps: {
      repo: InventoryRepository;
      /** The advisory with this id, else every advisory with this alias, from the loaded intel. */
      advisories: (id: string) => readonly Advisory[];
      /** Whether the gate refuses every version of the project on this report (see PolicyService). */
      refusesEveryVersion?: (id: string, project: string) => boolean;
      owners: (projects: string[]) => Promise<Map<string, string>>;
      now: () => number;
    },
  ) {}

  async consumersOfFiles(sha256s: string[]): Promise<Consumer[]> {
    if (sha256s.length === 0) return [];
    return (await this.deps.repo.bySha256(sha256s)).map(toConsumer);
  }

  async whoHas(q: string): Promise<WhoHasResult> {
    return this.answer(parseWhoHasQuery(q), q);
  }

  private async answer(query: WhoHasQuery, q: string): Promise<WhoHasResult> {
    let rows: InventoryRow[];
    let advisory: WhoHasResult["advisory"] = null;
    if (query.kind === "advisory") {
      const found = this.deps.advisories(query.id);
      if (found.length === 0) {
        // `cve-bin-tool` reads like an advisory id but is a project: one whose name is on record
        // is answered as a project.
        const project = query.asProject;
        if (project && (await this.deps.repo.versionsOf(project)).length > 0) {
          return this.answer({ kind: "project", project }, q);
        }
        throw new WhoHasNotFound(`no advisory ${query.id} in the imported intel (portcullis intel import)`);
      }
      rows = [];
      const affected = new Map<string, Set<string>>();
      for (const name of new Set(found.flatMap((a) => a.packages.map((p) => p.name)))) {
        // Judge each version anyone pulled once (the reference matcher is slow), then read only
        // the rows of affected versions.
        // A name-only malicious report refuses every version at the gate: all of them answer.
        const whole = found.some(
          (a) => a.kind === "malicious" && this.deps.refusesEveryVersion?.(a.id, name),
        );
        const versions = (await this.deps.repo.versionsOf(name)).filter(
          (v) => whole || found.some((a) => advisoryAffects(a, name, v)),
        );
        const hits = await this.deps.repo.byProject(name, versions);
        rows.push(...hits);
        affected.set(name, new Set(hits.map((r) => r.version)));
      }
      const single = found.length === 1 ? found[0] : undefined;
      advisory = {
        id: single ? single.id : query.id,
        ids: found.map((a) => a.id),
        summary: single ? (single.summary ?? null) : (found.find((a) => a.summary)?.summary ?? null),
        affected: [...affected].map(([project, versions]) => ({
          project,
          versions: [...versions].sort(compareVersions),
        })),
      };
    } else if (query.kind === "release") {
      // PEP 440 `==`: 1.0 and 1.0.0 name one release, and without a local label it also matches
      // local builds of it (2.1.0 names 2.1.0+cu118 too).
      const versions = (await this.deps.repo.versionsOf(query.project)).filter((v) =>
        satisfies(v, `==${query.version}`, { prereleases: true }),
      );
      rows = await this.deps.repo.byProject(query.project, versions);
    } else {
      rows = await this.deps.repo.byProject(query.project);
    }
    rows.sort((a, b) => b.last_pulled - a.last_pulled);
    const owners = await this.deps.owners(rows.map((r) => r.project));
    return {
      query: q,
      advisory,
      consumers: rows.map((r) => ({ ...toConsumer(r), owner: owners.get(r.project) ?? null })),
    };
  }

  /**
   * Per consumer (see `driftConsumerKey`): what it first pulled since `since` that it had not
   * pulled before: a project never pulled, a version never pulled (above what it had) or a
   * downgrade (below the highest version it had).
   */
  async drift(since: number): Promise<ConsumerDrift[]> {
    const rows = await this.deps.repo.rowsOfConsumersActiveSince(since);
    return computeDrift(rows, since);
  }
}

export class WhoHasNotFound extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WhoHasNotFound";
  }
}

/**
 * Who a consumer is, for drift: an identity with its application (a token's label or the
 * `X-Portcullis-Project` header), wherever it pulls from; an anonymous caller by its application
 * when it names one; the address only when nothing else names the caller. A CI job on throw-away
 * runners pulls from a new address every run: keyed by address, each of its dependencies would be
 * "new" every week. (who-has still lists each host: there the address is what a responder needs.)
 * `InventoryRepository.rowsOfConsumersActiveSince` selects by the same key.
 */
export function driftConsumerKey(r: Pick<InventoryRow, "identity" | "ip" | "application">): string {
  const address = r.identity === "" && r.application === "" ? r.ip : "";
  return `${r.identity}\u0000${r.application}\u0000${address}`;
}

/** The drift over inventory rows (pure). */
export function computeDrift(rows: InventoryRow[], since: number): ConsumerDrift[] {
  const byConsumer = new Map<string, InventoryRow[]>();
  for (const r of rows) {
    const key = driftConsumerKey(r);
    const list = byConsumer.get(key);
    if (list) list.push(r);
    else byConsumer.set(key, [r]);
  }
  const out: ConsumerDrift[] = [];
  for (const list of byConsumer.values()) {
    const before = new Map<string, string[]>();
    for (const r of list) {
      if (r.first_pulled >= since) continue;
      const vs = before.get(r.project);
      if (vs) vs.push(r.version);
      else before.set(r.project, [r.version]);
    }
    const changes: DriftChange[] = [];
    const seen = new Set<string>();
    for (const r of list
      .filter((x) => x.first_pulled >= since)
      .sort((a, b) => a.first_pulled - b.first_pulled || a.project.localeCompare(b.project))) {
      const key = `${r.project}==${r.version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const prior = before.get(r.project);
      if (prior?.some((v) => compareVersions(v, r.version) === 0)) continue;
      const highest = prior ? [...prior].sort(compareVersions).at(-1)! : null;
      // What it pulled earlier in the window is what it had by the time of this pull.
      if (prior) prior.push(r.version);
      else before.set(r.project, [r.version]);
      changes.push({
        kind:
          highest === null
            ? "new-project"
            : compareVersions(r.version, highest) < 0
              ? "downgrade"
              : "new-version",
        project: r.project,
        version: r.version,
        previous: highest,
        filename: r.filename,
        firstPulled: new Date(r.first_pulled).toISOString(),
      });
    }
    if (changes.length === 0) continue;
    // The consumer as last seen: its latest address, and its team now.
    const latest = list.reduce((a, b) => (b.last_pulled > a.last_pulled ? b : a));
    out.push({
      identity: latest.identity || null,
      ip: latest.ip,
      application: latest.application || null,
      team: latest.team,
      changes,
    });
  }
  return out.sort((a, b) => (a.identity ?? a.ip).localeCompare(b.identity ?? b.ip));
}

function toConsumer(r: InventoryRow): Consumer {
  return {
    identity: r.identity || null,
    team: r.team,
    ip: r.ip,
    application: r.application || null,
    client: r.client,
    sha256: r.sha256,
    project: r.project,
    version: r.version,
    filename: r.filename,
    firstPulled: new Date(r.first_pulled).toISOString(),
    lastPulled: new Date(r.last_pulled).toISOString(),
    pulls: r.pulls,
  };
}
