import type { Requirement } from "../../domain/requirement.js";
import { pypiPurl } from "../../domain/installed-distribution.js";
import type { StoredArtifactReport } from "../artifact-analysis.js";
import type { TargetEnvironment } from "../resolver/target-environment.js";
import { vetRequirements, type PolicyCandidateSource, type VetReport } from "../vet.js";
import type { GovernedDistribution } from "./inventory-check.js";
import {
  componentOfInstalled,
  dedupeVulnerabilities,
  licenceOf,
  linkByRequiresDist,
  vexOf,
  type SbomComponent,
  type SbomDocument,
} from "./sbom-document.js";

/** The version the SBOMs name as their producing tool. */
export const PORTCULLIS_VERSION = "0.1.0";

export type SbomDeps = ConstructorParameters<typeof PolicyCandidateSource>[0];

/** A requirements SBOM that cannot be built: the resolution failed. */
export class SbomResolutionError extends Error {
  constructor(
    message: string,
    readonly report: VetReport,
  ) {
    super(message);
    this.name = "SbomResolutionError";
  }
}

/**
 * The SBOM of a set of requirements resolved against the catalog with the policy as veto: each
 * node carries the hash of the file the target would install, its licence, its edges and the VEX
 * statements of its decision.
 *
 * @throws {SbomResolutionError} when the requirements do not resolve
 */
export async function buildRequirementsSbom(
  deps: SbomDeps,
  requirements: Requirement[] | string[],
  target: TargetEnvironment,
  subject: string,
  now: () => number,
): Promise<{ doc: SbomDocument; report: VetReport }> {
  const report = await vetRequirements(deps, requirements, target);
  if (report.error) throw new SbomResolutionError(report.error, report);
  const purlOf = new Map(report.nodes.map((n) => [n.project, pypiPurl(n.project, n.version)]));
  const components: SbomComponent[] = [];
  const vulnerabilities: SbomDocument["vulnerabilities"] = [];
  for (const n of report.nodes) {
    const purl = purlOf.get(n.project)!;
    const artifact = await deps.decisions.getArtifactReport<StoredArtifactReport>(n.sha256);
    const decision = await deps.decisions.get(n.sha256);
    if (decision) vulnerabilities.push(...vexOf(decision, purl));
    components.push({
      project: n.project,
      name: n.project,
      version: n.version,
      purl,
      // Only an admitted file's digest is vouched for by the gateway.
      files: n.outcome === "admitted" ? [{ filename: n.filename, sha256: n.sha256 }] : [],
      licence: licenceOf(artifact?.licence),
      dependsOn: n.dependsOn.map((p) => purlOf.get(p)).filter((p): p is string => p !== undefined),
      status: n.outcome === "admitted" ? "admitted" : n.outcome,
      ...(n.outcome === "admitted" ? {} : { statusReason: n.summary }),
      ...(artifact?.metadata?.summary ? { summary: artifact.metadata.summary } : {}),
    });
  }
  return {
    report,
    doc: {
      subject,
      kind: "requirements",
      createdAt: new Date(now()).toISOString(),
      toolVersion: PORTCULLIS_VERSION,
      policyVersion: deps.policy.status().policyVersion,
      roots: report.nodes.filter((n) => n.depth === 0).map((n) => purlOf.get(n.project)!),
      components,
      vulnerabilities: dedupeVulnerabilities(vulnerabilities),
    },
  };
}

/**
 * The SBOM of the whole catalog: every judged release, with the digests of its admitted files,
 * its licence, edges from Requires-Dist to the catalog's releases that satisfy them, and VEX.
 */
export async function buildCatalogSbom(deps: SbomDeps, now: () => number): Promise<SbomDocument> {
  const byRelease = new Map<string, { component: SbomComponent; requiresDist: string[] }>();
  const vulnerabilities: SbomDocument["vulnerabilities"] = [];
  for await (const d of deps.decisions.all()) {
    const key = `${d.project}\u0000${d.version}`;
    const purl = pypiPurl(d.project, d.version);
    let entry = byRelease.get(key);
    if (!entry) {
      entry = {
        component: {
          project: d.project,
          name: d.project,
          version: d.version,
          purl,
          files: [],
          licence: { names: [] },
          dependsOn: [],
          status: d.outcome === "admitted" ? "admitted" : d.outcome,
        },
        requiresDist: [],
      };
      byRelease.set(key, entry);
    }
    vulnerabilities.push(...vexOf(d, purl));
    if (d.outcome === "admitted") {
      entry.component.files.push({ filename: d.filename, sha256: d.sha256 });
      entry.component.status = "admitted";
      delete entry.component.statusReason;
      const artifact = await deps.decisions.getArtifactReport<StoredArtifactReport>(d.sha256);
      if (artifact) {
        if (!entry.component.licence.expression && !entry.component.licence.names.length)
          entry.component.licence = licenceOf(artifact.licence);
        if (!entry.requiresDist.length && artifact.metadata)
          entry.requiresDist = artifact.metadata.requiresDist;
        if (artifact.metadata?.summary) entry.component.summary ??= artifact.metadata.summary;
      }
    } else if (entry.component.status !== "admitted" && !entry.component.statusReason) {
      entry.component.statusReason = `${d.filename}: ${d.outcome}`;
    }
  }
  const entries = [...byRelease.values()].sort(
    (a, b) =>
      a.component.project.localeCompare(b.component.project) ||
      a.component.version.localeCompare(b.component.version),
  );
  for (const e of entries) e.component.files.sort((a, b) => a.filename.localeCompare(b.filename));
  const requires = new Map(entries.map((e) => [e.component, e.requiresDist]));
  const components = entries.map((e) => e.component);
  linkByRequiresDist(components, (c) => requires.get(c) ?? []);
  return {
    subject: "catalog",
    kind: "catalog",
    createdAt: new Date(now()).toISOString(),
    toolVersion: PORTCULLIS_VERSION,
    policyVersion: deps.policy.status().policyVersion,
    roots: components.map((c) => c.purl),
    components,
    vulnerabilities: dedupeVulnerabilities(vulnerabilities),
  };
}

/** The SBOM of an installed environment, its distributions governed against the catalog. */
export function buildEnvironmentSbom(
  governed: readonly GovernedDistribution[],
  subject: string,
  now: () => number,
  policyVersion?: string,
): SbomDocument {
  const requires = new Map<SbomComponent, readonly string[]>();
  const components: SbomComponent[] = [];
  const seen = new Set<string>();
  for (const g of governed) {
    const c = componentOfInstalled(g.distribution);
    // One environment can list a release twice (two site-packages): keep one component.
    if (seen.has(c.purl)) continue;
    seen.add(c.purl);
    if (g.file) c.files = [g.file];
    c.status = g.status;
    if (g.status !== "admitted") c.statusReason = g.reason;
    requires.set(c, g.distribution.requiresDist);
    components.push(c);
  }
  linkByRequiresDist(components, (c) => requires.get(c) ?? []);
  const required = new Set(components.flatMap((c) => c.dependsOn));
  return {
    subject,
    kind: "environment",
    createdAt: new Date(now()).toISOString(),
    toolVersion: PORTCULLIS_VERSION,
    ...(policyVersion ? { policyVersion } : {}),
    // What nothing else in the environment requires was installed on purpose (or left behind).
    roots: components.filter((c) => !required.has(c.purl)).map((c) => c.purl),
    components,
    vulnerabilities: dedupeVulnerabilities(governed.flatMap((g) => g.vulnerabilities)),
  };
}
