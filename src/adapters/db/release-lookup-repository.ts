import type { Kysely } from "kysely";
import type { Decision, Outcome, Reason } from "../../policy/decision.js";
import type { Database } from "./schema.js";

/** Batched reads for checking many installed releases at once (a scan asks about thousands). */
export class ReleaseLookupRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Every stored decision of these projects, by project. */
  async decisionsOfProjects(projects: readonly string[]): Promise<Map<string, Decision[]>> {
    const out = new Map<string, Decision[]>();
    for (let i = 0; i < projects.length; i += 500) {
      const rows = await this.db
        .selectFrom("decisions")
        .selectAll()
        .where("project", "in", projects.slice(i, i + 500))
        .orderBy("filename")
        .execute();
      for (const r of rows) {
        const list = out.get(r.project) ?? [];
        list.push({
          sha256: r.sha256,
          filename: r.filename,
          project: r.project,
          version: r.version,
          outcome: r.outcome as Outcome,
          score: r.score,
          reasons: JSON.parse(r.reasons_json) as Reason[],
          policyVersion: r.policy_version,
          intelSnapshot: r.intel_snapshot,
          decidedAt: r.decided_at,
          stage: r.stage as "index" | "full",
        });
        out.set(r.project, list);
      }
    }
    return out;
  }

  /** Which of these normalised names the gateway knows (has served or cached a page of). */
  async knownProjects(names: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < names.length; i += 500) {
      const rows = await this.db
        .selectFrom("projects")
        .select("name")
        .where("name", "in", names.slice(i, i + 500))
        .execute();
      for (const r of rows) out.add(r.name);
    }
    return out;
  }
}
