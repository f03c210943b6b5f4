import type { CheckResult, Finding, FileFacts, Severity } from "./check.js";
import type { Decision, Outcome, Reason } from "./decision.js";
import { rulesFor, type Action, type Policy, type PolicyException, type RuleId } from "./policy-schema.js";

const ACTION_RANK: Record<Action, number> = { allow: 0, warn: 1, quarantine: 2, block: 3 };
const SEVERITY_POINTS: Record<Severity, number> = { low: 5, medium: 15, high: 30, critical: 45 };

export interface DecideInput {
  facts: FileFacts;
  results: CheckResult[];
  policy: Policy;
  /** Exceptions granted outside the policy file (approvals); the policy's own are added. */
  exceptions?: PolicyException[];
  now: number;
  intelSnapshot: string;
  stage: "index" | "full";
}

/**
 * Turns check results into a decision under a policy: each failing check gets its rule's action
 * (or `allow` when an unexpired exception waives it, or `warn` in audit mode), and the strongest
 * action decides. A check that broke (`error`) refuses: the engine fails closed.
 */
export function decide(input: DecideInput): Decision {
  const { facts, policy, now } = input;
  const rules = rulesFor(policy.doc, facts.project);
  const exceptions = [...policy.doc.exceptions, ...(input.exceptions ?? [])];
  const reasons: Reason[] = [];
  let strongest: Action = "allow";
  let score = 0;
  for (const result of input.results) {
    const rule = (rules as Record<string, { action: Action; mode: "enforce" | "audit" } | undefined>)[
      result.check
    ];
    const ruleAction: Action = rule?.action ?? "block";
    const mode = rule?.mode ?? "enforce";
    let action: Action;
    switch (result.status) {
      case "fail":
        action = ruleAction;
        break;
      case "warn":
        action = ruleAction === "allow" ? "allow" : "warn";
        break;
      case "error":
        // Fail closed: a check that could not run refuses at least for review.
        action = ACTION_RANK[ruleAction] >= ACTION_RANK.quarantine ? ruleAction : "quarantine";
        break;
      default:
        action = "allow";
    }
    const reason: Reason = {
      check: result.check,
      outcome: result.status,
      action,
      mode,
      message: result.message,
      evidence: result.findings.flatMap((f) => f.evidence ?? []).slice(0, 50),
      ...summarizeFindings(result.findings),
    };
    if (result.status === "fail" || result.status === "warn" || result.status === "error") {
      score += riskPoints(result);
      const waiver = findException(exceptions, facts, result.check, now);
      if (waiver && action !== "allow") {
        reason.action = "allow";
        reason.waivedBy = {
          reason: waiver.reason,
          approver: waiver.approver,
          ...(waiver.ticket ? { ticket: waiver.ticket } : {}),
          expiresAt: waiver["expires-at"],
        };
      } else if (mode === "audit" && ACTION_RANK[action] > ACTION_RANK.warn) {
        reason.wouldHave = action;
        reason.action = "warn";
      }
    }
    if (ACTION_RANK[reason.action] > ACTION_RANK[strongest]) strongest = reason.action;
    reasons.push(reason);
  }
  const outcome: Outcome =
    strongest === "block"
      ? "blocked"
      : strongest === "quarantine"
        ? "quarantined"
        : input.stage === "index"
          ? "pending"
          : "admitted";
  return {
    sha256: facts.sha256,
    filename: facts.filename,
    project: facts.project,
    version: facts.version,
    outcome,
    score: Math.min(100, Math.round(score)),
    reasons,
    policyVersion: input.policy.digest,
    intelSnapshot: input.intelSnapshot,
    decidedAt: new Date(now).toISOString(),
    stage: input.stage,
  };
}

function summarizeFindings(findings: Finding[]): Pick<Reason, "severity" | "ids" | "fixedIn"> {
  const out: Pick<Reason, "severity" | "ids" | "fixedIn"> = {};
  const ids = [...new Set(findings.flatMap((f) => f.ids ?? []))];
  const fixed = [...new Set(findings.flatMap((f) => f.fixedIn ?? []))];
  let severity: Severity | undefined;
  for (const f of findings) {
    if (f.severity && (!severity || SEVERITY_POINTS[f.severity] > SEVERITY_POINTS[severity]))
      severity = f.severity;
  }
  if (ids.length) out.ids = ids;
  if (fixed.length) out.fixedIn = fixed;
  if (severity) out.severity = severity;
  return out;
}

/** Risk points of one result: malicious and typo-squat findings weigh most; warnings half. */
function riskPoints(result: CheckResult): number {
  if (result.status === "error") return 20;
  const factor = result.status === "warn" ? 0.5 : 1;
  // A malicious-package report is the worst there is. A warning is not a report: the check could
  // not look (no intel imported), and it counts as any check's warning does.
  if (result.check === "malicious" && result.status === "fail") return 100;
  if (result.check === "typosquat") return 60 * factor;
  let points = 0;
  for (const f of result.findings) points += SEVERITY_POINTS[f.severity ?? "medium"];
  return Math.min(points || 10, 80) * factor;
}

/** An unexpired exception for this project and this version or exact file, covering the check. */
export function findException(
  exceptions: readonly PolicyException[],
  facts: Pick<FileFacts, "project" | "version" | "sha256">,
  check: string,
  now: number,
): PolicyException | undefined {
  return exceptions.find(
    (e) =>
      e.project.toLowerCase().replace(/[-_.]+/g, "-") === facts.project &&
      (e.sha256 ? e.sha256 === facts.sha256 : e.version === facts.version) &&
      waives(e, check) &&
      Date.parse(e["expires-at"]) > now,
  );
}

/**
 * Checks a version-wide exception never waives unless it names them: a malicious-package report
 * is waived only on purpose. `artifact` (what the bytes hold) is waived only for one exact file:
 * a version exception would also cover a wheel added to the release later, payload and all.
 */
const NAMED_ONLY = new Set(["malicious"]);
export const FILE_ONLY_CHECKS: ReadonlySet<string> = new Set(["artifact"]);

/** Whether exception `e` waives `check` (for the files its project and version or sha256 name). */
export function waives(e: Pick<PolicyException, "sha256" | "checks">, check: string): boolean {
  if (!e.sha256 && FILE_ONLY_CHECKS.has(check)) return false;
  if (!e.checks || e.checks.length === 0) return e.sha256 !== undefined || !NAMED_ONLY.has(check);
  return e.checks.includes(check);
}

export type { RuleId };
