import { compareVersions } from "../domain/version.js";
import type { CheckResult, FileFacts } from "../policy/check.js";
import { runCooldown } from "../policy/checks/cooldown/cooldown.js";
import { runMalicious } from "../policy/checks/malicious/malicious.js";
import { runProjectStatus } from "../policy/checks/project-status/project-status.js";
import {
  createTyposquatDetector,
  runTyposquat,
  type TyposquatDetector,
} from "../policy/checks/typosquat/typosquat.js";
import { runVulnerability } from "../policy/checks/vulnerability/vulnerability.js";
import { runYanked } from "../policy/checks/yanked/yanked.js";
import { rulesFor, type Policy } from "../policy/policy-schema.js";
import type { IntelState } from "./intel-service.js";

/** What the index-stage checks need beyond a file's facts: built once per policy and intel. */
export interface IndexCheckContext {
  policy: Policy;
  intel: IntelState;
  /** Absent when no popular-project list was imported. */
  detector: TyposquatDetector | undefined;
  popularNames: ReadonlySet<string>;
}

/** The typo-squat detector and popular names a policy and intel give (the policy's allow-list). */
export function indexCheckContext(policy: Policy, intel: IntelState): IndexCheckContext {
  const popular = intel.popular.slice(0, policy.doc.rules.typosquat["popular-count"]);
  // Admitted on purpose: named in the policy. (An exception waives the check itself, and only until it expires.)
  const allowed = Object.entries(policy.doc.projects)
    .filter(([, p]) => p["not-a-typosquat"])
    .map(([name]) => name);
  return {
    policy,
    intel,
    detector: popular.length ? createTyposquatDetector({ popular, allowed }) : undefined,
    popularNames: new Set(intel.popular.map((p) => p.name)),
  };
}

/**
 * The index-stage checks: what the name, version, upload time and intel alone decide. One
 * implementation for the serving policy (PolicyService) and a draft's dry run.
 */
export function indexCheckResults(
  ctx: IndexCheckContext,
  facts: FileFacts,
  versions: readonly string[],
  now: number,
): CheckResult[] {
  const { policy, intel } = ctx;
  const rules = rulesFor(policy.doc, facts.project);
  const required = policy.doc.intel.required;
  const intelCtx = { index: intel.index, intelRequired: required };
  return [
    runMalicious(facts, {
      ...intelCtx,
      intelMissing: intel.missingFor.malicious,
      isPopular: (p) => ctx.popularNames.has(p),
    }),
    runVulnerability(facts, rules.vulnerability, {
      ...intelCtx,
      intelMissing: intel.missingFor.vulnerability,
      versions: [...versions],
    }),
    ctx.detector
      ? runTyposquat(facts, ctx.detector)
      : {
          check: "typosquat",
          // Under intel.required a missing list fails closed like the other intel checks.
          status: required ? "error" : "skip",
          message: "no popular-project list imported, so typo-squats cannot be recognised",
          findings: [],
        },
    runCooldown(facts, rules.cooldown, { now, fixesAdvisories: advisoriesFixedBy(intel, facts, versions) }),
    runYanked(facts),
    runProjectStatus(facts),
  ];
}

/**
 * Advisories this release fixes for users of the release just before it: those that affect the
 * newest earlier version but not this one. Only then is the fix urgent enough to skip the
 * cooldown; an advisory some older version had, long since fixed by releases in between, does
 * not make every new release skip it.
 */
export function advisoriesFixedBy(
  intel: IntelState,
  facts: Pick<FileFacts, "project" | "version">,
  versions: readonly string[],
): string[] {
  if (intel.missing) return [];
  // One pass (no sort): this runs for every file of every page curated.
  let previous: string | undefined;
  for (const v of versions)
    if (compareVersions(v, facts.version) < 0 && (previous === undefined || compareVersions(v, previous) > 0))
      previous = v;
  if (previous === undefined) return [];
  const affectingThis = new Set(intel.index.match(facts.project, facts.version).map((a) => a.id));
  return [
    ...new Set(
      intel.index
        .match(facts.project, previous)
        .map((a) => a.id)
        .filter((id) => !affectingThis.has(id)),
    ),
  ];
}
