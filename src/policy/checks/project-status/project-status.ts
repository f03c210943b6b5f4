import type { CheckResult, FileFacts } from "../../check.js";

/**
 * `project-status`: PEP 792 markers. `quarantined` (the index itself suspects the project) and
 * `archived` (no more updates, including security fixes) fail; `deprecated` warns.
 */
export function runProjectStatus(facts: FileFacts): CheckResult {
  const check = "project-status";
  const status = facts.projectStatus ?? "active";
  const why = facts.projectStatusReason ? `: ${facts.projectStatusReason}` : "";
  if (status === "active") return { check, status: "pass", message: "project is active", findings: [] };
  const finding = { kind: status, message: `the upstream marks the project ${status}${why}` };
  if (status === "deprecated")
    return { check, status: "warn", message: `project is deprecated${why}`, findings: [finding] };
  return { check, status: "fail", message: `project is ${status} upstream${why}`, findings: [finding] };
}
