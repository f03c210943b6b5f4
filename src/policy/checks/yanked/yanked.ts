import type { CheckResult, FileFacts } from "../../check.js";

/** `yanked`: PEP 592 yanked files (pip installs them only when pinned). */
export function runYanked(facts: FileFacts): CheckResult {
  if (facts.yanked === false) return { check: "yanked", status: "pass", message: "not yanked", findings: [] };
  const why = typeof facts.yanked === "string" && facts.yanked ? `: ${facts.yanked}` : "";
  return {
    check: "yanked",
    status: "fail",
    message: `yanked by its maintainers${why}`,
    findings: [{ kind: "yanked", message: `the upstream marks this file yanked${why}` }],
  };
}
