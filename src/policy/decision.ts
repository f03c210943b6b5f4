import type { CheckResult, CheckStatus, Evidence, Severity } from "./check.js";
import type { Action, Mode } from "./policy-schema.js";

export type Outcome = "admitted" | "quarantined" | "blocked" | "pending";
export const REFUSING: ReadonlySet<Outcome> = new Set(["quarantined", "blocked"]);

/** One check's part in a decision: what it found and what the policy made of it. */
export interface Reason {
  check: string;
  /** What the check found. */
  outcome: CheckStatus;
  /** What the policy did with it: the rule's action, or `allow` when waived, `warn` in audit mode. */
  action: Action;
  mode: Mode;
  /** In audit mode: the action that enforcement would have taken. */
  wouldHave?: Action;
  message: string;
  severity?: Severity;
  ids?: string[];
  fixedIn?: string[];
  evidence: Evidence[];
  /** The exception that waived this check, when one did. */
  waivedBy?: { reason: string; approver: string; ticket?: string; expiresAt: string };
}

/**
 * The decision record every later feature reads (explain, dashboard, SBOM VEX, webhooks,
 * attestations): one per distribution file, stuck to its sha256.
 */
export interface Decision {
  sha256: string;
  filename: string;
  project: string;
  version: string;
  outcome: Outcome;
  /** 0 (no risk found) to 100. */
  score: number;
  reasons: Reason[];
  /** sha256 of the policy text in force. */
  policyVersion: string;
  /** Identifies the intel the checks saw (import generation and counts), or `none`. */
  intelSnapshot: string;
  /** ISO 8601. */
  decidedAt: string;
  /** `index`: judged from the index and intel only; `full`: its bytes were judged too. */
  stage: "index" | "full";
}

/** Plain words for a refusal, as pip shows them in the status line and the yanked reason. */
export function summarizeDecision(d: Pick<Decision, "outcome" | "reasons">): string {
  const deciding = d.reasons.filter((r) => r.action === "block" || r.action === "quarantine");
  const what =
    d.outcome === "blocked" ? "blocked" : d.outcome === "quarantined" ? "quarantined for review" : d.outcome;
  if (deciding.length === 0) return what;
  return `${what} by policy: ${deciding.map((r) => `${r.check}: ${r.message}`).join("; ")}`;
}

export type { CheckResult };
