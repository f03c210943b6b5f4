import { compareVersions, isPrerelease, isValidVersion } from "../domain/version.js";
import { REFUSING, summarizeDecision, type Decision } from "../policy/decision.js";
import { factsOf } from "./catalog-curator.js";
import type { PolicyService } from "./policy-service.js";
import type { ProjectIndexService, ProjectView } from "./project-index.js";
import type { DecisionRepository } from "../adapters/db/decision-repository.js";

/**
 * Whether two versions are the same release by PEP 440 (`2.19.0` and `2.19.0.0`, `1.0rc1` and
 * `1.0-RC1`); versions that are not PEP 440 only when their text is equal.
 */
export function sameVersion(a: string, b: string): boolean {
  return a === b || (isValidVersion(a) && isValidVersion(b) && compareVersions(a, b) === 0);
}

/**
 * The nearest version a user can take instead of a refused one: the lowest newer version with a
 * file nothing refuses, else the highest older one. Pre-releases only when the asked version is one.
 */
export function nearestAdmittedVersion(
  view: ProjectView,
  version: string,
  policy: PolicyService,
  stored: ReadonlyMap<string, Decision>,
): string | undefined {
  const ok = (v: string) =>
    view.files
      .filter((f) => f.version === v)
      .some((f) => {
        const d = stored.get(f.sha256);
        const decision =
          d?.stage === "full" ? d : policy.judgeIndex(factsOf(view, f), { versions: view.versions });
        return !REFUSING.has(decision.outcome);
      });
  const candidates = [...new Set(view.files.map((f) => f.version))].filter(
    (v) => v && !sameVersion(v, version) && (isPrerelease(version) || !isPrerelease(v)),
  );
  const newer = candidates.filter((v) => compareVersions(v, version) > 0).sort(compareVersions);
  const older = candidates
    .filter((v) => compareVersions(v, version) < 0)
    .sort((a, b) => compareVersions(b, a));
  return newer.find(ok) ?? older.find(ok);
}

const MARK: Record<string, string> = {
  pass: "ok  ",
  skip: "--  ",
  warn: "warn",
  fail: "FAIL",
  error: "ERR ",
};

/** Plain words for `portcullis explain`: each file's outcome, each check, its evidence. */
export function formatExplanation(
  project: string,
  version: string,
  decisions: Decision[],
  alternative: string | undefined,
): string {
  const lines: string[] = [`${project}==${version}`];
  if (decisions.length === 0) lines.push("  no files of this version are listed by the upstream");
  for (const d of decisions) {
    lines.push(
      "",
      `  ${d.filename}`,
      `    ${d.outcome.toUpperCase()} (risk ${d.score}/100)${d.stage === "index" ? "  [judged from the index; the bytes are judged when first downloaded]" : ""}`,
    );
    if (REFUSING.has(d.outcome)) lines.push(`    why: ${summarizeDecision(d)}`);
    for (const r of d.reasons) {
      const acted =
        r.outcome === "pass" || r.outcome === "skip"
          ? ""
          : ` -> ${r.action}${r.wouldHave ? ` (audit: would ${r.wouldHave})` : ""}`;
      lines.push(`    [${MARK[r.outcome] ?? r.outcome}] ${r.check}: ${r.message}${acted}`);
      if (r.waivedBy) {
        lines.push(
          `           waived by exception: ${r.waivedBy.reason} (approved by ${r.waivedBy.approver}${r.waivedBy.ticket ? `, ${r.waivedBy.ticket}` : ""}, expires ${r.waivedBy.expiresAt})`,
        );
      }
      if (r.outcome === "pass" || r.outcome === "skip") continue;
      for (const e of r.evidence.slice(0, 8)) {
        const where = e.file ? `${e.file}${e.line ? `:${e.line}` : ""}` : "";
        const parts = [where, e.detail, e.excerpt ? `"${e.excerpt}"` : "", e.url].filter(Boolean);
        lines.push(`           ${parts.join("  ")}`);
      }
    }
    lines.push(
      `    policy ${d.policyVersion.slice(0, 12)}, intel ${d.intelSnapshot}, decided ${d.decidedAt}`,
    );
  }
  const refused = decisions.length > 0 && decisions.every((d) => REFUSING.has(d.outcome));
  if (refused) {
    lines.push(
      "",
      alternative
        ? `  instead: ${project}==${alternative} is not refused; or request an exception from the security team`
        : "  no other version is admitted; request an exception from the security team",
    );
  }
  return lines.join("\n") + "\n";
}

/** Stored full decisions, and index-stage ones for listed files not yet judged on their bytes. */
export async function decisionsFor(
  deps: { decisions: DecisionRepository; projects: ProjectIndexService; policy: PolicyService },
  project: string,
  version?: string,
): Promise<Decision[] | null> {
  const view = await deps.projects.getRawProject(project);
  // Versions are matched by PEP 440 equality, not text: the stored and listed spelling (from the
  // file name) may differ from the one asked for.
  const matches = (v: string) => version === undefined || sameVersion(v, version);
  const stored = new Map(
    (await deps.decisions.byProject(project)).filter((d) => matches(d.version)).map((d) => [d.sha256, d]),
  );
  if (!view) return stored.size ? [...stored.values()] : null;
  const out: Decision[] = [];
  for (const f of view.files) {
    if (!matches(f.version)) continue;
    const d = stored.get(f.sha256);
    out.push(d?.stage === "full" ? d : deps.policy.judgeIndex(factsOf(view, f), { versions: view.versions }));
  }
  return out;
}
