import { openArchive } from "../../artifact/open-archive.js";
import type { DecisionRepository } from "../../adapters/db/decision-repository.js";
import type { FsBlobStore } from "../../adapters/blob/fs-blob-store.js";
import {
  compareWithWheelRecord,
  pypiPurl,
  type GovernanceStatus,
  type InstalledDistribution,
} from "../../domain/installed-distribution.js";
import { normalizeProjectName } from "../../domain/project-name.js";
import { normalizeVersion } from "../../domain/version.js";
import { REFUSING, summarizeDecision, type Decision } from "../../policy/decision.js";
import type { Kysely } from "kysely";
import { ReleaseLookupRepository } from "../../adapters/db/release-lookup-repository.js";
import type { Database } from "../../adapters/db/schema.js";
import { factsOf } from "../catalog-curator.js";
import type { PolicyService } from "../policy-service.js";
import type { ProjectIndexService } from "../project-index.js";
import { parseInstalledRecord } from "./dist-info-reader.js";
import { vexOf, type SbomVulnerability } from "./sbom-document.js";

/** What the gateway knows about one `name==version`. */
export interface InventoryVerdict {
  project: string;
  version: string;
  status: "admitted" | "blocked" | "quarantined" | "pending" | "not-in-catalog";
  reason: string;
  /** Every judged file of that release. */
  files: { filename: string; sha256: string; outcome: Decision["outcome"] }[];
  /** RECORD of each admitted wheel in the store (path → hex sha256), when asked for. */
  records?: { filename: string; sha256: string; entries: Record<string, string> }[];
  vulnerabilities: SbomVulnerability[];
}

export interface InventoryCheckDeps {
  decisions: DecisionRepository;
  db: { db: Kysely<Database> };
  blobs: FsBlobStore;
  /** With these, a release never judged on its bytes gets the index-stage judgement of a known project. */
  projects?: ProjectIndexService;
  policy?: PolicyService;
}

/**
 * Index-stage decisions for the files of one release of a project the gateway already knows
 * (never for unknown projects: a scan must not fan out to the upstream for every stray package).
 */
async function indexDecisions(
  deps: InventoryCheckDeps,
  known: ReadonlySet<string>,
  project: string,
  version: string,
): Promise<Decision[]> {
  if (!deps.projects || !deps.policy || !known.has(project)) return [];
  try {
    const view = await deps.projects.getRawProject(project);
    if (!view) return [];
    return view.files
      .filter((f) => f.version !== undefined && (normalizeVersion(f.version) ?? f.version) === version)
      .map((f) => deps.policy!.judgeIndex(factsOf(view, f), { versions: view.versions }));
  } catch {
    // The upstream being down leaves the answer at what the stored decisions say.
    return [];
  }
}

const recordCache = new Map<string, Record<string, string> | null>();

/** The RECORD of a stored wheel as path → hex sha256 (null when it has none or is unreadable). */
async function wheelRecord(
  blobs: FsBlobStore,
  sha256: string,
  filename: string,
): Promise<Record<string, string> | null> {
  const cached = recordCache.get(sha256);
  if (cached !== undefined) return cached;
  let entries: Record<string, string> | null = null;
  try {
    const archive = await openArchive(blobs.localPath(sha256), { filename });
    try {
      const record = archive.entries().find((e) => /^[^/]+\.dist-info\/RECORD$/.test(e.name));
      if (record) {
        entries = {};
        for (const f of parseInstalledRecord((await archive.read(record.name)).toString("utf8")))
          if (f.sha256) entries[f.path] = f.sha256;
      }
    } finally {
      await archive.close();
    }
  } catch {
    entries = null;
  }
  // Stored files are immutable (named by digest), so the cache never goes stale.
  if (recordCache.size > 5000) recordCache.clear();
  recordCache.set(sha256, entries);
  return entries;
}

/**
 * Judges a list of `name==version` against the catalog: admitted when any file of the release is
 * admitted, else the refusal (blocked, quarantined), pending, or not in the catalog at all.
 */
export async function checkInventory(
  deps: InventoryCheckDeps,
  items: readonly { name: string; version: string }[],
  opts: { records?: boolean } = {},
): Promise<InventoryVerdict[]> {
  const lookup = new ReleaseLookupRepository(deps.db.db);
  const projects = [...new Set(items.map((i) => normalizeProjectName(i.name)))];
  const byProject = await lookup.decisionsOfProjects(projects);
  const known = deps.projects && deps.policy ? await lookup.knownProjects(projects) : new Set<string>();
  const out: InventoryVerdict[] = [];
  for (const item of items) {
    const project = normalizeProjectName(item.name);
    const all = byProject.get(project) ?? [];
    const wanted = normalizeVersion(item.version) ?? item.version;
    let decisions = all.filter((d) => (normalizeVersion(d.version) ?? d.version) === wanted);
    if (!decisions.length)
      // Only refusals count from the index: an index-stage "admitted" was never judged on its bytes.
      decisions = (await indexDecisions(deps, known, project, wanted)).filter((d) => REFUSING.has(d.outcome));
    const purl = pypiPurl(project, item.version);
    const files = decisions.map((d) => ({ filename: d.filename, sha256: d.sha256, outcome: d.outcome }));
    const admitted = decisions.filter((d) => d.outcome === "admitted");
    const refused =
      decisions.find((d) => d.outcome === "blocked") ?? decisions.find((d) => d.outcome === "quarantined");
    let status: InventoryVerdict["status"];
    let reason: string;
    if (admitted.length) {
      status = "admitted";
      reason = `${admitted.length} admitted file(s)`;
    } else if (refused) {
      status = refused.outcome as "blocked" | "quarantined";
      reason = summarizeDecision(refused);
    } else if (decisions.length) {
      status = "pending";
      reason = "known to the gateway but not yet judged on its bytes";
    } else {
      status = "not-in-catalog";
      reason = "never went through the gateway";
    }
    const verdict: InventoryVerdict = {
      project,
      version: item.version,
      status,
      reason,
      files,
      vulnerabilities: decisions.flatMap((d) => vexOf(d, purl)),
    };
    if (opts.records && admitted.length) {
      verdict.records = [];
      for (const d of admitted) {
        if (!d.filename.endsWith(".whl")) continue;
        const entries = await wheelRecord(deps.blobs, d.sha256, d.filename);
        if (entries) verdict.records.push({ filename: d.filename, sha256: d.sha256, entries });
      }
    }
    out.push(verdict);
  }
  return out;
}

/** An installed distribution with the catalog's verdict, after comparing its files. */
export interface GovernedDistribution {
  distribution: InstalledDistribution;
  status: GovernanceStatus;
  reason: string;
  /** The admitted file it matches, when one does. */
  file?: { filename: string; sha256: string };
  vulnerabilities: SbomVulnerability[];
}

/**
 * Combines the catalog's verdict with the installed RECORD: an admitted release whose installed
 * files match none of its admitted wheels is `hash-differs` (built or fetched elsewhere, or changed
 * since). Without a verdict (no gateway asked) the status is `unknown`.
 */
export function governDistribution(
  d: InstalledDistribution,
  verdict: InventoryVerdict | undefined,
): GovernedDistribution {
  if (!verdict)
    return {
      distribution: d,
      status: "unknown",
      reason: "not checked against a gateway",
      vulnerabilities: [],
    };
  const base = { distribution: d, vulnerabilities: verdict.vulnerabilities };
  if (verdict.status !== "admitted") return { ...base, status: verdict.status, reason: verdict.reason };
  const records = verdict.records ?? [];
  if (!d.files || records.length === 0) {
    const only = verdict.files.find((f) => f.outcome === "admitted");
    return {
      ...base,
      status: "admitted",
      reason: d.files
        ? "admitted (no stored wheel RECORD to compare)"
        : "admitted (no installed RECORD to compare)",
      ...(only ? { file: { filename: only.filename, sha256: only.sha256 } } : {}),
    };
  }
  let closest: { differing: string[]; extra: string[] } | undefined;
  for (const r of records) {
    const cmp = compareWithWheelRecord(d.files, r.entries);
    if (cmp.matches)
      return {
        ...base,
        status: "admitted",
        reason: `matches ${r.filename}`,
        file: { filename: r.filename, sha256: r.sha256 },
      };
    if (!closest || cmp.differing.length + cmp.extra.length < closest.differing.length + closest.extra.length)
      closest = cmp;
  }
  const what = closest?.differing.length
    ? `${closest.differing.length} file(s) differ from the admitted wheel, e.g. ${closest.differing[0]}`
    : closest?.extra.length
      ? `${closest.extra.length} file(s) not in the admitted wheel, e.g. ${closest.extra[0]}`
      : "no installed file could be compared";
  return {
    ...base,
    status: "hash-differs",
    reason: `${what}${d.directUrl ? `; installed from ${d.directUrl}` : ""}`,
  };
}
