/**
 * The format-neutral SBOM every source (a resolution, an installed environment, the catalog)
 * builds, and the writers (CycloneDX 1.6, SPDX 2.3) read. VEX states come from decisions.
 */
import type { GovernanceStatus, InstalledDistribution } from "../../domain/installed-distribution.js";
import { pypiPurl } from "../../domain/installed-distribution.js";
import { parseRequirement } from "../../domain/requirement.js";
import { satisfies } from "../../domain/version.js";
import type { Decision } from "../../policy/decision.js";
import type { LicenceInfo } from "../../policy/checks/licence/licence.js";

export interface SbomComponent {
  /** PEP 503 normalised name. */
  project: string;
  /** The name as the distribution writes it. */
  name: string;
  version: string;
  purl: string;
  /** The files this component stands for (admitted files; the installed one when known). */
  files: { filename: string; sha256: string }[];
  licence: { expression?: string; names: string[] };
  /** purls of the components it requires. */
  dependsOn: string[];
  status?: GovernanceStatus;
  statusReason?: string;
  summary?: string;
}

/**
 * CycloneDX 1.6 `analysis.state` values used here: `exploitable` for a version blocked by an
 * advisory, `not_affected` for one an approved exception waives, `in_triage` while undecided or
 * only warned about.
 */
export type VexState = "exploitable" | "not_affected" | "in_triage";

export interface SbomVulnerability {
  /** The advisory id (OSV, GHSA, PYSEC, CVE, MAL). */
  id: string;
  /** The component's purl. */
  affects: string;
  state: VexState;
  /** CycloneDX analysis justification, for `not_affected`. */
  justification?: "code_not_reachable";
  detail: string;
}

export interface SbomDocument {
  /** What the SBOM describes: `requirements.txt`, an environment path, `catalog`. */
  subject: string;
  kind: "requirements" | "environment" | "catalog";
  /** ISO 8601. */
  createdAt: string;
  /** Version of the tool writing it. */
  toolVersion: string;
  policyVersion?: string;
  /** purls of the components named directly (root requirements); all of them when none are. */
  roots: string[];
  components: SbomComponent[];
  vulnerabilities: SbomVulnerability[];
}

/** Licence in SBOM terms: the SPDX expression when the metadata gives a valid one, else names. */
export function licenceOf(info: LicenceInfo | undefined): SbomComponent["licence"] {
  if (!info) return { names: [] };
  if (info.expression) return { expression: info.expression, names: [] };
  const raw = info.raw?.split("\n")[0]?.trim();
  return { names: raw && raw.toUpperCase() !== "UNKNOWN" ? [raw.slice(0, 200)] : [] };
}

const ADVISORY_CHECKS = new Set(["vulnerability", "malicious"]);

/**
 * The VEX statements a decision makes about one component: each advisory a check matched, with
 * the state the policy put it in.
 */
export function vexOf(decision: Decision, purl: string): SbomVulnerability[] {
  const out: SbomVulnerability[] = [];
  for (const r of decision.reasons) {
    if (!ADVISORY_CHECKS.has(r.check) || !r.ids?.length) continue;
    if (r.outcome === "pass" || r.outcome === "skip") continue;
    let state: VexState;
    let detail: string;
    let justification: SbomVulnerability["justification"];
    if (r.waivedBy) {
      state = "not_affected";
      // An approver's exception asserts the advisory does not apply here; CycloneDX wants one of
      // its justification codes, and the approver's own words go in the detail.
      justification = "code_not_reachable";
      detail = `waived by ${r.waivedBy.approver}: ${r.waivedBy.reason}${r.waivedBy.ticket ? ` (${r.waivedBy.ticket})` : ""}; expires ${r.waivedBy.expiresAt}`;
    } else if (decision.outcome === "pending" || r.action === "warn" || r.action === "allow") {
      state = "in_triage";
      detail = `${r.check}: ${r.message} (${decision.outcome === "pending" ? "decision pending" : `policy action ${r.action}`})`;
    } else {
      state = "exploitable";
      detail = `${r.check}: ${r.message} (${decision.outcome} by policy)`;
    }
    for (const id of r.ids)
      out.push({ id, affects: purl, state, detail, ...(justification ? { justification } : {}) });
  }
  return out;
}

/** Merges VEX statements: one per (advisory, component), the most severe state winning. */
export function dedupeVulnerabilities(list: SbomVulnerability[]): SbomVulnerability[] {
  const rank: Record<VexState, number> = { exploitable: 0, in_triage: 1, not_affected: 2 };
  const best = new Map<string, SbomVulnerability>();
  for (const v of list) {
    const key = `${v.id}\u0000${v.affects}`;
    const have = best.get(key);
    if (!have || rank[v.state] < rank[have.state]) best.set(key, v);
  }
  return [...best.values()].sort((a, b) => a.affects.localeCompare(b.affects) || a.id.localeCompare(b.id));
}

/** Names of the projects a list of Requires-Dist lines names, normalised (markers are not judged). */
export function requiredProjects(requiresDist: readonly string[]): { project: string; specifier: string }[] {
  const out: { project: string; specifier: string }[] = [];
  for (const line of requiresDist) {
    try {
      const r = parseRequirement(line);
      out.push({ project: r.normalizedName, specifier: r.specifier });
    } catch {
      // An unparseable Requires-Dist line names no edge.
    }
  }
  return out;
}

/**
 * Links components by Requires-Dist: each line points at the components of that project whose
 * version satisfies it (markers and extras are not evaluated, so optional edges appear too).
 */
export function linkByRequiresDist(
  components: SbomComponent[],
  requiresDistOf: (c: SbomComponent) => readonly string[],
): void {
  const byProject = new Map<string, SbomComponent[]>();
  for (const c of components) {
    const list = byProject.get(c.project) ?? [];
    list.push(c);
    byProject.set(c.project, list);
  }
  for (const c of components) {
    const deps = new Set<string>();
    for (const { project, specifier } of requiredProjects(requiresDistOf(c))) {
      for (const target of byProject.get(project) ?? []) {
        if (target === c) continue;
        if (specifier === "" || satisfies(target.version, specifier, { prereleases: true }))
          deps.add(target.purl);
      }
    }
    c.dependsOn = [...deps].sort();
  }
}

/** The component of one installed distribution, before the catalog has been asked about it. */
export function componentOfInstalled(d: InstalledDistribution): SbomComponent {
  return {
    project: d.project,
    name: d.name,
    version: d.version,
    purl: pypiPurl(d.project, d.version),
    files: [],
    licence: d.licence,
    dependsOn: [],
    ...(d.summary ? { summary: d.summary } : {}),
  };
}
