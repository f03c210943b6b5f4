import type { Requirement } from "../domain/requirement.js";
import { REFUSING, summarizeDecision, type Decision } from "../policy/decision.js";
import { factsOf } from "./catalog-curator.js";
import type { FileAccessService } from "./file-access.js";
import { GatewayError } from "./gateway-error.js";
import type { PolicyService } from "./policy-service.js";
import type { ProjectIndexService } from "./project-index.js";
import type { DecisionRepository } from "../adapters/db/decision-repository.js";
import type { StoredArtifactReport } from "./artifact-analysis.js";
import {
  formatTree,
  resolve,
  type Candidate,
  type CandidateSource,
  type Resolution,
} from "./resolver/resolver.js";
import { describeTarget, type TargetEnvironment } from "./resolver/target-environment.js";

export interface VetNode {
  project: string;
  version: string;
  filename: string;
  sha256: string;
  depth: number;
  outcome: Decision["outcome"];
  score: number;
  summary: string;
  /** Normalised names of the projects this node requires on the target. */
  dependsOn: string[];
  /** Who requires it: normalised project names, or `<root>` for a requirement given directly. */
  requiredBy: string[];
}

export interface VetReport {
  ok: boolean;
  target: string;
  /** The resolved tree, printed. */
  tree: string;
  nodes: VetNode[];
  /** Versions the resolver passed over because the policy refuses them. */
  rejected: { project: string; version: string; reason: string }[];
  /**
   * The tree's risk: the riskiest node, plus a tenth of the others' scores (a deep tree of small
   * risks still adds up), capped at 100.
   */
  treeScore: number;
  error?: string;
}

/**
 * The one resolver over the gateway's view of the upstream, with the policy as its veto: versions
 * the policy refuses are passed over, as pip passes over files the gateway lists as yanked. Each
 * picked file is fetched, verified and judged on its bytes; its Requires-Dist comes from there.
 */
export class PolicyCandidateSource implements CandidateSource {
  constructor(
    private readonly deps: {
      projects: ProjectIndexService;
      policy: PolicyService;
      access: FileAccessService;
      decisions: DecisionRepository;
    },
  ) {}

  async candidates(project: string): Promise<Candidate[]> {
    const view = await this.deps.projects.getRawProject(project);
    if (!view) return [];
    const byVersion = new Map<string, Candidate>();
    for (const f of view.files) {
      if (!f.version) continue;
      let c = byVersion.get(f.version);
      if (!c) byVersion.set(f.version, (c = { project, version: f.version, files: [] }));
      c.files.push({
        filename: f.filename,
        sha256: f.sha256,
        yanked: f.upstreamYanked ?? f.yanked,
        ...(f.requiresPython ? { requiresPython: f.requiresPython } : {}),
        ...(f.uploadTime ? { uploadTime: f.uploadTime } : {}),
      });
    }
    return [...byVersion.values()];
  }

  async reject(
    project: string,
    version: string,
    file: { filename: string; sha256: string },
  ): Promise<string | undefined> {
    const view = await this.deps.projects.getRawProject(project);
    const served = view?.files.find((f) => f.sha256 === file.sha256);
    if (view && served) {
      const early = this.deps.policy.judgeIndex(factsOf(view, served), { versions: view.versions });
      if (REFUSING.has(early.outcome)) return summarizeDecision(early);
    }
    try {
      await this.deps.access.open(file.sha256, file.filename);
    } catch (err) {
      if (err instanceof GatewayError && err.code === "POLICY_REFUSED") return err.message;
      throw err;
    }
    return undefined;
  }

  async dependencies(
    project: string,
    version: string,
    file: { filename: string; sha256: string },
  ): Promise<string[]> {
    await this.deps.access.open(file.sha256, file.filename);
    const report = await this.deps.decisions.getArtifactReport<StoredArtifactReport>(file.sha256);
    if (!report?.metadata) {
      throw new Error(
        `${project}==${version}: no readable metadata in ${file.filename}${report?.metadataError ? `: ${report.metadataError}` : ""}`,
      );
    }
    return report.metadata.requiresDist;
  }
}

/** The environments `vet` judges when none is named: Linux x86_64, CPython 3.10 to 3.13. */
export const DEFAULT_VET_TARGETS: TargetEnvironment[] = ["3.10", "3.11", "3.12", "3.13"].map(
  (pythonVersion) => ({
    pythonVersion,
    platform: "linux",
    machine: "x86_64",
  }),
);

export interface MultiVetReport {
  ok: boolean;
  reports: VetReport[];
}

/** Vets for several target environments, sharing one candidate source (each file judged once). */
export async function vetForTargets(
  deps: ConstructorParameters<typeof PolicyCandidateSource>[0],
  requirements: Requirement[] | string[],
  targets: TargetEnvironment[],
): Promise<MultiVetReport> {
  const source = new PolicyCandidateSource(deps);
  const reports: VetReport[] = [];
  for (const target of targets) reports.push(await vetRequirements(deps, requirements, target, source));
  return { ok: reports.every((r) => r.ok), reports };
}

/** Resolves requirements for one target, judging every node; `ok` only when all are admitted. */
export async function vetRequirements(
  deps: ConstructorParameters<typeof PolicyCandidateSource>[0],
  requirements: Requirement[] | string[],
  target: TargetEnvironment,
  source: CandidateSource = new PolicyCandidateSource(deps),
): Promise<VetReport> {
  const resolution: Resolution = await resolve(requirements, source, target);
  const label = describeTarget(target);
  if (!resolution.ok) {
    return {
      ok: false,
      target: label,
      tree: formatTree(resolution),
      nodes: [],
      rejected: resolution.rejected,
      treeScore: 100,
      error: resolution.error,
    };
  }
  const nodes: VetNode[] = [];
  for (const node of resolution.nodes.values()) {
    const d = await deps.decisions.get(node.file.sha256);
    nodes.push({
      project: node.project,
      version: node.version,
      filename: node.file.filename,
      sha256: node.file.sha256,
      depth: node.depth,
      outcome: d?.outcome ?? "pending",
      score: d?.score ?? 0,
      summary: d ? summarizeDecision(d) : "not judged",
      dependsOn: [...new Set(node.dependencies.map((x) => x.project))].sort(),
      requiredBy: [...new Set(node.requiredBy.map((x) => x.project))],
    });
  }
  nodes.sort((a, b) => a.depth - b.depth || a.project.localeCompare(b.project));
  const scores = nodes.map((n) => n.score).sort((a, b) => b - a);
  const treeScore = Math.min(
    100,
    Math.round((scores[0] ?? 0) + scores.slice(1).reduce((s, x) => s + x, 0) / 10),
  );
  const ok = nodes.every((n) => n.outcome === "admitted");
  return { ok, target: label, tree: formatTree(resolution), nodes, rejected: resolution.rejected, treeScore };
}

export function formatVetReport(r: VetReport): string {
  const lines = [`Target: ${r.target}`, "", r.tree.trimEnd(), ""];
  if (r.nodes.length) {
    lines.push("Verdicts:");
    for (const n of r.nodes)
      lines.push(
        `  ${n.outcome.padEnd(11)} ${String(n.score).padStart(3)}  ${n.project}==${n.version}  ${n.filename}`,
      );
    lines.push("");
  }
  if (r.rejected.length) {
    lines.push("Passed over by policy:");
    for (const x of r.rejected) lines.push(`  ${x.project}==${x.version}: ${x.reason}`);
    lines.push("");
  }
  lines.push(
    r.ok
      ? `OK: every node admitted; tree risk ${r.treeScore}/100`
      : `NOT ADMITTED: ${r.error ?? "some nodes are refused"}; tree risk ${r.treeScore}/100`,
  );
  return lines.join("\n") + "\n";
}
