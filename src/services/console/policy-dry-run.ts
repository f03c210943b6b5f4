import type { DecisionRepository } from "../../adapters/db/decision-repository.js";
import type { FileFacts } from "../../policy/check.js";
import { runLicence } from "../../policy/checks/licence/licence.js";
import type { Outcome } from "../../policy/decision.js";
import { decide } from "../../policy/engine.js";
import { parsePolicy, rulesFor } from "../../policy/policy-schema.js";
import { previousRelease, runArtifactChecks, type StoredArtifactReport } from "../artifact-analysis.js";
import { indexCheckContext, indexCheckResults } from "../index-checks.js";
import type { IntelState } from "../intel-service.js";

export interface DryRunChange {
  sha256: string;
  project: string;
  version: string;
  filename: string;
  from: Outcome;
  to: Outcome;
  /** Why the draft decides as it does (refusing reasons), in plain words. */
  reasons: string[];
}

export interface DryRunResult {
  /** sha256 of the draft's text. */
  digest: string;
  checked: number;
  changed: number;
  counts: { current: Record<Outcome, number>; draft: Record<Outcome, number> };
  /** The files whose outcome would change (at most `maxChanges`). */
  changes: DryRunChange[];
}

export interface DryRunDeps {
  decisions: DecisionRepository;
  /** Projects with a decision on their bytes. */
  judgedProjects: () => Promise<string[]>;
  intel: IntelState;
  now: () => number;
}

/**
 * "What would change": judges every file decided on its bytes again, from its stored analysis
 * report, under a draft policy, with the intel and the granted exceptions in force now. The same
 * checks and engine as `PolicyService` (which is not touched: nothing is stored or served).
 * Throws `PolicyError` (with line and column) when the draft does not validate.
 */
export async function dryRunPolicy(
  deps: DryRunDeps,
  source: string,
  maxChanges = 1000,
): Promise<DryRunResult> {
  const policy = parsePolicy(source, "draft");
  const now = deps.now();
  const checks = indexCheckContext(policy, deps.intel);
  const judge = (facts: FileFacts, versions: readonly string[]) =>
    indexCheckResults(checks, facts, versions, now);
  const exceptions = await deps.decisions.exceptions();
  const zero = (): Record<Outcome, number> => ({ admitted: 0, quarantined: 0, blocked: 0, pending: 0 });
  const result: DryRunResult = {
    digest: policy.digest,
    checked: 0,
    changed: 0,
    counts: { current: zero(), draft: zero() },
    changes: [],
  };
  // Project by project: each project's decisions and analysis reports are read once (a file's
  // own report, and the earlier releases release-drift compares with).
  for (const name of await deps.judgedProjects()) {
    const [decisions, reports] = await Promise.all([
      deps.decisions.byProject(name),
      deps.decisions.artifactReportsOf<StoredArtifactReport>(name),
    ]);
    const versions = [...new Set(decisions.map((x) => x.version))];
    const reportOf = new Map(reports.map((r) => [r.sha256, r.report]));
    for (const d of decisions) {
      if (d.stage !== "full") continue;
      const report = reportOf.get(d.sha256);
      if (!report) continue;
      const facts = report.facts;
      const rules = rulesFor(policy.doc, facts.project);
      const byteResults = runArtifactChecks(report, previousRelease(facts, reports), {
        licence: { allow: rules.licence.allow, deny: rules.licence.deny, unknown: rules.licence.unknown },
        drift: { "size-factor": rules["release-drift"]["size-factor"] },
        runLicence,
      });
      const next = decide({
        facts,
        results: [...judge(facts, versions), ...byteResults],
        policy,
        exceptions,
        now,
        intelSnapshot: deps.intel.snapshot,
        stage: "full",
      });
      result.checked++;
      result.counts.current[d.outcome]++;
      result.counts.draft[next.outcome]++;
      if (next.outcome === d.outcome) continue;
      result.changed++;
      if (result.changes.length < maxChanges)
        result.changes.push({
          sha256: d.sha256,
          project: d.project,
          version: d.version,
          filename: d.filename,
          from: d.outcome,
          to: next.outcome,
          reasons: next.reasons
            .filter((r) => r.action === "block" || r.action === "quarantine" || r.action === "warn")
            .map((r) => `${r.check}: ${r.message} (${r.action})`)
            .slice(0, 10),
        });
    }
  }
  return result;
}
