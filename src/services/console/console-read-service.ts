import type { CatalogFileRow, ConsoleRepository } from "../../adapters/db/console-repository.js";
import type { DecisionRepository } from "../../adapters/db/decision-repository.js";
import type { CatalogRepository } from "../../adapters/db/catalog-repository.js";
import { groupByExtra } from "../../domain/requirement.js";
import { compareVersions } from "../../domain/version.js";
import type { Decision, Outcome, Reason } from "../../policy/decision.js";
import type { Severity } from "../../policy/check.js";
import type { StoredArtifactReport } from "../artifact-analysis.js";
import type { InventoryReader, OwnerDirectory } from "../audit-entry.js";
import type { PolicyService } from "../policy-service.js";

const DAY_MS = 24 * 3600 * 1000;

export interface Overview {
  counts: Record<Outcome, number>;
  requests: { pending: number };
  history: { day: string; admitted: number; quarantined: number; blocked: number }[];
  topReasons: { code: string; count: number }[];
  recentBlocks: {
    project: string;
    version: string;
    filename: string;
    sha256: string;
    outcome: string;
    reasons: string[];
    at: string;
    /** The file's decision now: a refusal lifted since (new analysis, an exception) shows here. */
    now: string | null;
  }[];
}

export interface ProjectSummary {
  name: string;
  displayName: string;
  versions: number;
  files: number;
  outcomes: Record<Outcome, number>;
  owner: string | null;
  updatedAt: string;
}

export interface ProjectFile {
  filename: string;
  sha256: string;
  size: number | null;
  uploadTime: string | null;
  stored: boolean;
  decision: Decision | null;
  links: { download: string; decision: string; attestation: string };
}

export interface ProjectDetail {
  name: string;
  displayName: string;
  owner: string | null;
  summary: string | null;
  updatedAt: string;
  versions: {
    version: string;
    requiresPython: string | null;
    licence: string | null;
    /** Every Requires-Dist entry, as written. */
    dependencies: string[];
    /** The entries behind no extra, as written: what every install pulls in. */
    requires: string[];
    /** The entries behind an extra (`extra == "test"`), by extra: see groupByExtra. */
    extras: { name: string; dependencies: string[] }[];
    files: ProjectFile[];
  }[];
  /** Who pulled the project's files: for approvers and admins only (absent for others). */
  consumers?: {
    identity: string | null;
    team: string | null;
    version: string;
    lastPulled: string;
    pulls: number;
  }[];
}

export interface AdvisorySummary {
  id: string;
  kind: string;
  summary: string | null;
  severity: Severity | null;
  aliases: string[];
  url: string;
  published: string | null;
  projects: {
    project: string;
    owner: string | null;
    fixedIn: string[];
    files: { sha256: string; filename: string; version: string; outcome: Outcome | null }[];
    consumers: number;
  }[];
}

export interface ConsoleReadDeps {
  consoleRepo: ConsoleRepository;
  repo: CatalogRepository;
  decisions: DecisionRepository;
  policy: PolicyService;
  owners: OwnerDirectory;
  /** Owners of several projects in one query (absent projects have none). */
  ownersOf: (projects: string[]) => Promise<Map<string, string>>;
  inventory: InventoryReader;
  pendingRequests: () => Promise<number>;
  now: () => number;
}

/**
 * What the dashboard reads, assembled from bounded queries: the overview, the catalog browser,
 * a project's page, the advisories that affect catalog files, the policy and its history.
 */
export class ConsoleReadService {
  private advisoryMemo: { key: string; list: AdvisoryMatch[] } | undefined;
  private reasonsMemo: { key: number; list: Overview["topReasons"] } | undefined;
  private overviewMemo:
    | {
        key: string;
        counts: Overview["counts"];
        rows: Awaited<ReturnType<ConsoleRepository["historySince"]>>;
        topReasons: Overview["topReasons"];
        recent: Awaited<ReturnType<ConsoleRepository["recentRefusals"]>>;
      }
    | undefined;

  constructor(private readonly deps: ConsoleReadDeps) {}

  async overview(days = 30): Promise<Overview> {
    const { consoleRepo } = this.deps;
    const today = Math.floor(this.deps.now() / DAY_MS) * DAY_MS;
    const since = today - (days - 1) * DAY_MS;
    // Counts, history, reasons and recent refusals change only with a decision event: kept
    // until the next one (or the next day), so the overview costs two indexed reads.
    const [lastEvent, pending] = await Promise.all([consoleRepo.lastEventId(), this.deps.pendingRequests()]);
    const key = `${lastEvent}:${since}`;
    if (this.overviewMemo?.key !== key) {
      const [counts, rows, topReasons, recent] = await Promise.all([
        consoleRepo.outcomeCounts(),
        consoleRepo.historySince(new Date(since).toISOString()),
        this.topReasons(),
        consoleRepo.recentRefusals(20),
      ]);
      this.overviewMemo = { key, counts, rows, topReasons, recent };
    }
    const { counts, rows, topReasons, recent } = this.overviewMemo;
    // Every day of the window, so charts need not fill gaps.
    const byDay = new Map<string, Overview["history"][number]>();
    for (let t = since; t <= today; t += DAY_MS) {
      const day = new Date(t).toISOString().slice(0, 10);
      byDay.set(day, { day, admitted: 0, quarantined: 0, blocked: 0 });
    }
    for (const r of rows) {
      const entry = byDay.get(r.day);
      if (entry && (r.outcome === "admitted" || r.outcome === "quarantined" || r.outcome === "blocked"))
        entry[r.outcome] += r.n;
    }
    return {
      counts,
      requests: { pending },
      history: [...byDay.values()],
      topReasons,
      recentBlocks: recent.map((r) => ({
        project: r.project,
        version: r.version,
        filename: r.filename,
        sha256: r.sha256,
        outcome: r.outcome,
        reasons: r.reasons
          .filter((x) => x.action === "block" || x.action === "quarantine")
          .map((x) => `${x.check}: ${x.message}`),
        at: r.at,
        now: r.now,
      })),
    };
  }

  /**
   * The checks refusing the most files. Reading every refused decision's reasons costs more
   * than the dashboard's budget on a large catalog, so the tally is kept until an outcome changes
   * (every change adds a decision event).
   */
  private async topReasons(): Promise<Overview["topReasons"]> {
    const key = await this.deps.consoleRepo.lastEventId();
    if (this.reasonsMemo?.key === key) return this.reasonsMemo.list;
    const tally = new Map<string, number>();
    for (const list of await this.deps.consoleRepo.refusedReasons(100_000))
      for (const check of new Set(refusingChecks(list))) tally.set(check, (tally.get(check) ?? 0) + 1);
    const list = [...tally]
      .map(([code, count]) => ({ code, count }))
      .sort((a, b) => b.count - a.count || a.code.localeCompare(b.code))
      .slice(0, 10);
    this.reasonsMemo = { key, list };
    return list;
  }

  async listProjects(opts: {
    q?: string;
    after?: string;
    limit: number;
  }): Promise<{ items: ProjectSummary[]; last: string | undefined }> {
    const q = opts.q
      ?.trim()
      .toLowerCase()
      .replace(/[-_.]+/g, "-");
    const rows = await this.deps.consoleRepo.listProjects({
      ...(q ? { q } : {}),
      ...(opts.after !== undefined ? { after: opts.after } : {}),
      limit: opts.limit + 1,
    });
    const page = rows.slice(0, opts.limit);
    const names = page.map((r) => r.name);
    const [stats, owners] = await Promise.all([
      this.deps.consoleRepo.projectStats(names),
      this.deps.ownersOf(names),
    ]);
    const items = page.map((r) => {
      const s = stats.get(r.name)!;
      return {
        name: r.name,
        displayName: r.displayName,
        versions: s.versions,
        files: s.files,
        outcomes: { admitted: 0, quarantined: 0, blocked: 0, pending: 0, ...s.outcomes },
        owner: owners.get(r.name) ?? null,
        updatedAt: new Date(r.updatedAt).toISOString(),
      };
    });
    return { items, last: rows.length > opts.limit ? page.at(-1)?.name : undefined };
  }

  /**
   * One project. `withConsumers` adds who pulled its files (who-has data, for approvers and
   * admins); without it the inventory is not read at all.
   */
  async project(name: string, opts: { withConsumers: boolean }): Promise<ProjectDetail | undefined> {
    const row = await this.deps.consoleRepo.getProject(name);
    if (!row) return undefined;
    const [files, decisions, reports, owner] = await Promise.all([
      this.deps.consoleRepo.filesOf([name]),
      this.deps.decisions.byProject(name),
      this.deps.decisions.artifactReportsOf<StoredArtifactReport>(name),
      this.deps.owners.ownerOf(name),
    ]);
    const decisionOf = new Map(decisions.map((d) => [d.sha256, d]));
    const reportOf = new Map(reports.map((r) => [r.sha256, r.report]));
    const byVersion = new Map<string, CatalogFileRow[]>();
    for (const f of files) {
      const list = byVersion.get(f.version) ?? [];
      list.push(f);
      byVersion.set(f.version, list);
    }
    const consumers = opts.withConsumers
      ? await this.deps.inventory.consumersOfFiles(files.map((f) => f.sha256))
      : undefined;
    let summary: string | null = null;
    const versions = [...byVersion.entries()]
      .sort(([a], [b]) => compareVersions(b, a))
      .map(([version, list]) => {
        // Core metadata of any analysed file of the version (wheels of one release agree).
        const md = list.map((f) => reportOf.get(f.sha256)).find((r) => r?.metadata);
        summary ??= md?.metadata?.summary ?? null;
        return {
          version,
          requiresPython: md?.metadata?.requiresPython ?? null,
          licence: md?.licence.ids.length ? md.licence.ids.join(" AND ") : (md?.metadata?.license ?? null),
          dependencies: md?.metadata?.requiresDist ?? [],
          ...groupByExtra(md?.metadata?.requiresDist ?? []),
          files: list
            .sort((a, b) => a.filename.localeCompare(b.filename))
            .map((f) => ({
              filename: f.filename,
              sha256: f.sha256,
              size: f.size,
              uploadTime: f.uploadTime,
              stored: f.stored,
              decision: decisionOf.get(f.sha256) ?? null,
              links: {
                download: `/files/${f.sha256}/${encodeURIComponent(f.filename)}`,
                decision: `/api/v1/decisions/${f.sha256}`,
                attestation: `/attestations/${f.sha256}`,
              },
            })),
        };
      });
    return {
      name: row.name,
      displayName: row.displayName,
      owner,
      summary,
      updatedAt: new Date(row.updatedAt).toISOString(),
      versions,
      ...(consumers
        ? {
            consumers: consumers.slice(0, 100).map((c) => ({
              identity: c.identity,
              team: c.team,
              version: c.version,
              lastPulled: c.lastPulled,
              pulls: c.pulls,
            })),
          }
        : {}),
    };
  }

  /**
   * Advisories that affect a catalog file (matched with the policy's intel index, the matcher
   * the vulnerability check uses), newest id last. Computed once per intel generation and
   * catalog serial.
   */
  async advisories(opts: {
    after?: string;
    limit: number;
  }): Promise<{ items: AdvisorySummary[]; last: string | undefined }> {
    const list = await this.advisoryMatches();
    const start = opts.after === undefined ? 0 : list.findIndex((a) => a.advisory.id > opts.after!);
    const slice = start < 0 ? [] : list.slice(start, start + opts.limit + 1);
    const page = slice.slice(0, opts.limit);
    const sha256s = page.flatMap((a) => a.projects.flatMap((p) => p.files.map((f) => f.sha256)));
    const projects = [...new Set(page.flatMap((a) => a.projects.map((p) => p.project)))];
    const [consumers, ownerOf, decisions] = await Promise.all([
      this.deps.inventory.consumersOfFiles(sha256s),
      this.deps.ownersOf(projects),
      this.deps.decisions.getMany(sha256s),
    ]);
    const items = page.map(({ advisory: a, projects: ps }) => ({
      id: a.id,
      kind: a.kind,
      summary: a.summary ?? null,
      severity: a.severity ?? null,
      aliases: a.aliases,
      url: a.url,
      published: a.published ?? null,
      projects: ps.map((p) => {
        const files = new Set(p.files.map((f) => f.sha256));
        const who = new Set(
          consumers.filter((c) => files.has(c.sha256)).map((c) => c.identity ?? `ip:${c.ip}`),
        );
        return {
          project: p.project,
          owner: ownerOf.get(p.project) ?? null,
          fixedIn: p.fixedIn,
          files: p.files.map((f) => ({ ...f, outcome: decisions.get(f.sha256)?.outcome ?? null })),
          consumers: who.size,
        };
      }),
    }));
    return { items, last: slice.length > opts.limit ? page.at(-1)?.advisory.id : undefined };
  }

  private async advisoryMatches(): Promise<AdvisoryMatch[]> {
    const key = `${this.deps.policy.generation}:${await this.deps.repo.lastSerial()}`;
    if (this.advisoryMemo?.key === key) return this.advisoryMemo.list;
    const index = this.deps.policy.intelState.index;
    const projects = await this.deps.consoleRepo.projectsWithAdvisories();
    const files = await this.deps.consoleRepo.filesOf(projects);
    const byId = new Map<string, AdvisoryMatch>();
    for (const f of files) {
      for (const a of index.match(f.project, f.version)) {
        let m = byId.get(a.id);
        if (!m) byId.set(a.id, (m = { advisory: a, projects: [] }));
        let p = m.projects.find((x) => x.project === f.project);
        if (!p) {
          const fixedIn = a.packages.filter((x) => x.name === f.project).flatMap((x) => x.fixed);
          m.projects.push((p = { project: f.project, fixedIn, files: [] }));
        }
        p.files.push({ sha256: f.sha256, filename: f.filename, version: f.version });
      }
    }
    const list = [...byId.values()].sort((a, b) => (a.advisory.id < b.advisory.id ? -1 : 1));
    this.advisoryMemo = { key, list };
    return list;
  }

  async activePolicy(): Promise<{
    digest: string;
    source: string;
    activatedAt: string | null;
    intel: { snapshot: string; missing: boolean };
  }> {
    const p = this.deps.policy.policyDocument;
    const status = this.deps.policy.status();
    const row = await this.deps.consoleRepo.policyVersion(p.digest);
    return {
      digest: p.digest,
      source: p.source,
      activatedAt: row?.activatedAt ?? null,
      intel: { snapshot: status.intelSnapshot, missing: status.intelMissing },
    };
  }
}

interface AdvisoryMatch {
  advisory: ReturnType<PolicyService["intelState"]["index"]["match"]>[number];
  projects: {
    project: string;
    fixedIn: string[];
    files: { sha256: string; filename: string; version: string }[];
  }[];
}

function refusingChecks(reasons: Reason[]): string[] {
  return reasons.filter((r) => r.action === "block" || r.action === "quarantine").map((r) => r.check);
}
