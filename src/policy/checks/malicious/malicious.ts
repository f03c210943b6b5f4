import { affectsAllVersions, type OsvIndex } from "../../../intel/osv-index.js";
import type { CheckResult, FileFacts, Finding } from "../../check.js";
import { intelMissing } from "../vulnerability/vulnerability.js";

export interface MaliciousContext {
  index: OsvIndex;
  intelMissing: boolean;
  intelRequired: boolean;
  /** Popular projects: a name-only report never blocks them (only their reported versions). */
  isPopular(project: string): boolean;
}

/**
 * `malicious`: OpenSSF malicious-package reports (`MAL-*`). A report matching this version
 * fails; so does a name-only report, unless the project is popular (compromised real projects
 * such as litellm are reported for specific versions only). Withdrawn reports never count.
 */
export function runMalicious(facts: FileFacts, ctx: MaliciousContext): CheckResult {
  const check = "malicious";
  const findings: Finding[] = [];
  for (const advisory of ctx.index.match(facts.project, facts.version)) {
    if (advisory.kind !== "malicious") continue;
    findings.push({
      kind: affectsAllVersions(advisory, facts.project) ? "malicious-project" : "malicious-release",
      message: `${advisory.id}: ${advisory.summary ?? "reported as malicious"}`,
      severity: "critical",
      ids: [advisory.id, ...advisory.aliases],
      evidence: [{ url: advisory.url }],
    });
  }
  if (findings.length === 0) {
    const byName = ctx.index.maliciousByName(facts.project);
    if (byName.length > 0 && !ctx.isPopular(facts.project)) {
      findings.push({
        kind: "malicious-name",
        message: `the name ${facts.project} is reported as malicious (${byName.join(", ")})`,
        severity: "critical",
        ids: byName,
        evidence: byName.map((id) => ({ url: `https://osv.dev/vulnerability/${id}` })),
      });
    }
  }
  if (findings.length > 0) {
    return {
      check,
      status: "fail",
      message: `reported malicious: ${[...new Set(findings.flatMap((f) => f.ids ?? []))].slice(0, 4).join(", ")}`,
      findings,
    };
  }
  if (ctx.intelMissing)
    return intelMissing(check, ctx.intelRequired, "no malicious-package reports or names were ever imported");
  return { check, status: "pass", message: "no malicious-package report", findings: [] };
}
