import type { DecisionRepository } from "../adapters/db/decision-repository.js";
import type { FileFacts } from "../policy/check.js";
import { REFUSING, summarizeDecision, type Decision } from "../policy/decision.js";
import type { PolicyService } from "./policy-service.js";
import type { ProjectView, ServedFile, ViewCurator } from "./project-index.js";

/** Checks that read a file's bytes (the rest decide from the index and intel alone). */
export const BYTE_CHECKS: ReadonlySet<string> = new Set(["artifact", "licence", "release-drift"]);
const DAY_MS = 24 * 60 * 60 * 1000;
/** Even without a known deadline, curated views are re-judged this often (clock-driven rules). */
const MAX_VIEW_LIFETIME_MS = 5 * 60 * 1000;

/** The facts a check may use about one listed file. */
export function factsOf(view: ProjectView, f: ServedFile): FileFacts {
  return {
    project: view.normalized,
    version: f.version,
    filename: f.filename,
    sha256: f.sha256,
    yanked: f.upstreamYanked ?? f.yanked,
    ...(f.uploadTime ? { uploadTime: f.uploadTime } : {}),
    ...(f.requiresPython ? { requiresPython: f.requiresPython } : {}),
    ...(view.status ? { projectStatus: view.status.status } : {}),
    ...(view.status?.reason ? { projectStatusReason: view.status.reason } : {}),
  };
}

/** The prefix pip shows before a refusal when it lists the file as yanked. */
export const REFUSAL_PREFIX = "Refused by Portcullis: ";

/**
 * Curates project views with the policy: a file is listed as it is while nothing refuses it
 * (admitted, or pending its byte checks); a refused file is listed as yanked with the reason.
 */
export class CatalogCurator implements ViewCurator {
  constructor(
    private readonly deps: { policy: PolicyService; decisions: DecisionRepository; now: () => number },
  ) {}

  get generation(): number {
    return this.deps.policy.generation;
  }

  async curate(view: ProjectView): Promise<{ view: ProjectView; validUntil: number }> {
    const now = this.deps.now();
    let validUntil = now + MAX_VIEW_LIFETIME_MS;
    const stored = await this.deps.decisions.getMany(view.files.map((f) => f.sha256));
    const cooldownDays = this.deps.policy.policyDocument.doc.rules.cooldown.days;
    let refused = 0;
    let firstReason: string | undefined;
    const files = view.files.map((f) => {
      const d = this.decisionFor(view, f, stored.get(f.sha256));
      const cooling = d.reasons.find((r) => r.check === "cooldown" && r.outcome === "fail");
      if (cooling && f.uploadTime) {
        const at = Date.parse(f.uploadTime) + cooldownDays * DAY_MS;
        if (at > now) validUntil = Math.min(validUntil, at);
      }
      // The outcome first, then the raw file's own fields (a raw file has no outcome): V8 then
      // lays every copy out in one shape with its fields in the object (~112 bytes), where
      // `Object.assign({}, f, …)` spills them into a separate property array (~127) and
      // `{ ...f, outcome }` turns each copy into a dictionary (~400).
      if (!REFUSING.has(d.outcome)) return { outcome: d.outcome, ...f };
      refused++;
      const reason = summarizeDecision(d);
      firstReason ??= reason;
      return Object.assign({}, f, { outcome: d.outcome, yanked: REFUSAL_PREFIX + reason });
    });
    const allRefused = files.length > 0 && refused === files.length;
    return {
      view: {
        ...view,
        files,
        ...(allRefused ? { refusedReason: firstReason ?? "nothing admitted" } : {}),
      },
      validUntil,
    };
  }

  /**
   * A current full decision stands. One made under other intel or policy, or whose clock-driven
   * reasons may have lapsed, is replaced by a fresh index judgement, unless its byte checks
   * refused (those only change when the file is judged again, which the file route does).
   */
  private decisionFor(view: ProjectView, f: ServedFile, stored: Decision | undefined): Decision {
    if (stored && stored.stage === "full") {
      if (this.deps.policy.isCurrent(stored)) return stored;
      const bytesRefused = stored.reasons.some(
        (r) => BYTE_CHECKS.has(r.check) && (r.action === "block" || r.action === "quarantine"),
      );
      if (bytesRefused) return stored;
    }
    return this.deps.policy.judgeIndex(factsOf(view, f), { versions: view.versions });
  }
}
