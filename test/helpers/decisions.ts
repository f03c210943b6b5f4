import type { Decision } from "../../src/policy/decision.js";

/** A stored decision on acme 1.0's file, as repositories keep them; `overrides` name another file. */
export function testDecision(
  outcome: Decision["outcome"],
  decidedAt: string,
  overrides: Partial<Decision> = {},
): Decision {
  return {
    sha256: "d".repeat(64),
    filename: "acme-1.0-py3-none-any.whl",
    project: "acme",
    version: "1.0",
    outcome,
    score: outcome === "admitted" ? 0 : 90,
    reasons: [],
    policyVersion: "p",
    intelSnapshot: "none",
    decidedAt,
    stage: "full",
    ...overrides,
  };
}
