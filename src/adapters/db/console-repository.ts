import { sql, type Kysely } from "kysely";
import type { Outcome, Reason } from "../../policy/decision.js";
import type { Database } from "./schema.js";

const REFUSED = ["blocked", "quarantined"] as const;

export interface ProjectRow {
  name: string;
  displayName: string;
  lastSerial: number;
  updatedAt: number;
}

export interface ProjectStats {
  versions: number;
  files: number;
  outcomes: Partial<Record<Outcome, number>>;
}

export interface CatalogFileRow {
  sha256: string;
  project: string;
  filename: string;
  version: string;
  size: number | null;
  uploadTime: string | null;
  stored: boolean;
}

/**
 * The console's read queries (overview, catalog browser, project page, policy history). Each
 * answers from an index (decision events by time and by outcome, files by project, projects by
 * name) with a bounded number of queries per call: the dashboard's p95 target is 200 ms with
 * 50,000 files.
 */
export class ConsoleRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async startDryRun(digest: string, requestedBy: string, at: number): Promise<number> {
    const row = await this.db
      .insertInto("policy_dry_runs")
      .values({ state: "running", digest, requested_by: requestedBy, requested_at: at })
      .returning("id")
      .executeTakeFirstOrThrow();
    return Number(row.id);
  }

  async finishDryRun(
    id: number,
    at: number,
    outcome: { result: unknown } | { error: string },
  ): Promise<void> {
    await this.db
      .updateTable("policy_dry_runs")
      .set(
        "result" in outcome
          ? { state: "done", finished_at: at, result_json: JSON.stringify(outcome.result) }
          : { state: "failed", finished_at: at, error: outcome.error.slice(0, 2000) },
      )
      .where("id", "=", id)
      .execute();
  }

  async getDryRun(id: number) {
    return this.db.selectFrom("policy_dry_runs").selectAll().where("id", "=", id).executeTakeFirst();
  }

  async outcomeCounts(): Promise<Record<Outcome, number>> {
    const rows = await this.db
      .selectFrom("decisions")
      .select(["outcome", (eb) => eb.fn.countAll<number>().as("n")])
      .groupBy("outcome")
      .execute();
    const out: Record<Outcome, number> = { admitted: 0, quarantined: 0, blocked: 0, pending: 0 };
    for (const r of rows) if (r.outcome in out) out[r.outcome as Outcome] = Number(r.n);
    return out;
  }

  /** Decision changes per UTC day since `sinceIso`, by the outcome changed to. */
  async historySince(sinceIso: string): Promise<{ day: string; outcome: string; n: number }[]> {
    const day = sql<string>`substr(${sql.ref("at")}, 1, 10)`;
    const rows = await this.db
      .selectFrom("decision_events")
      .select([day.as("day"), "to_outcome", (eb) => eb.fn.countAll<number>().as("n")])
      .where("at", ">=", sinceIso)
      .groupBy([day, "to_outcome"])
      .execute();
    return rows.map((r) => ({ day: r.day, outcome: r.to_outcome, n: Number(r.n) }));
  }

  /** The newest decision event's id: any change of outcome adds one, so it keys caches. */
  async lastEventId(): Promise<number> {
    const row = await this.db
      .selectFrom("decision_events")
      .select((eb) => eb.fn.max("id").as("m"))
      .executeTakeFirst();
    return Number(row?.m ?? 0);
  }

  /** The reasons of refused files (newest decisions first, at most `limit`). */
  async refusedReasons(limit: number): Promise<Reason[][]> {
    const rows = await this.db
      .selectFrom("decisions")
      .select("reasons_json")
      .where("outcome", "in", [...REFUSED])
      .limit(limit)
      .execute();
    return rows.map((r) => JSON.parse(r.reasons_json) as Reason[]);
  }

  /** The newest refusals; one index range per outcome (`to_outcome, id`), merged. */
  async recentRefusals(limit: number): Promise<
    {
      project: string;
      version: string;
      filename: string;
      sha256: string;
      outcome: string;
      reasons: Reason[];
      at: string;
      /** The file's decision now (a refusal may have been lifted since): null when it has none. */
      now: string | null;
    }[]
  > {
    const rows = (
      await Promise.all(
        REFUSED.map((outcome) =>
          this.db
            .selectFrom("decision_events")
            .selectAll()
            .where("to_outcome", "=", outcome)
            .orderBy("id", "desc")
            .limit(limit)
            .execute(),
        ),
      )
    )
      .flat()
      .sort((a, b) => Number(b.id) - Number(a.id))
      .slice(0, limit);
    const shas = [...new Set(rows.map((r) => r.sha256))];
    const current = new Map(
      shas.length === 0
        ? []
        : (
            await this.db
              .selectFrom("decisions")
              .select(["sha256", "outcome"])
              .where("sha256", "in", shas)
              .execute()
          ).map((d) => [d.sha256, d.outcome]),
    );
    return rows.map((r) => ({
      project: r.project,
      version: r.version,
      filename: r.filename,
      sha256: r.sha256,
      outcome: r.to_outcome,
      reasons: JSON.parse(r.reasons_json) as Reason[],
      at: r.at,
      now: current.get(r.sha256) ?? null,
    }));
  }

  /** Projects with a decision on their bytes, for walks that go project by project. */
  async judgedProjects(): Promise<string[]> {
    const rows = await this.db
      .selectFrom("decisions")
      .select("project")
      .distinct()
      .where("stage", "=", "full")
      .orderBy("project")
      .execute();
    return rows.map((r) => r.project);
  }

  /** Projects by name after `after`, whose normalised name contains `q` (already normalised). */
  async listProjects(opts: { q?: string; after?: string; limit: number }): Promise<ProjectRow[]> {
    let query = this.db
      .selectFrom("projects")
      .select(["name", "display_name", "last_serial", "updated_at"])
      .orderBy("name")
      .limit(opts.limit);
    if (opts.after !== undefined) query = query.where("name", ">", opts.after);
    if (opts.q) query = query.where(sql<boolean>`name like ${`%${escapeLike(opts.q)}%`} escape '\\'`);
    const rows = await query.execute();
    return rows.map((r) => ({
      name: r.name,
      displayName: r.display_name,
      lastSerial: Number(r.last_serial),
      updatedAt: Number(r.updated_at),
    }));
  }

  async getProject(name: string): Promise<ProjectRow | undefined> {
    const r = await this.db
      .selectFrom("projects")
      .select(["name", "display_name", "last_serial", "updated_at"])
      .where("name", "=", name)
      .executeTakeFirst();
    return (
      r && {
        name: r.name,
        displayName: r.display_name,
        lastSerial: Number(r.last_serial),
        updatedAt: Number(r.updated_at),
      }
    );
  }

  /** File, version and decision counts of several projects, in two grouped queries. */
  async projectStats(names: string[]): Promise<Map<string, ProjectStats>> {
    const out = new Map<string, ProjectStats>(names.map((n) => [n, { versions: 0, files: 0, outcomes: {} }]));
    if (names.length === 0) return out;
    const files = await this.db
      .selectFrom("dist_files")
      .select([
        "project",
        (eb) => eb.fn.countAll<number>().as("files"),
        (eb) => eb.fn.count<number>("version").distinct().as("versions"),
      ])
      .where("project", "in", names)
      .groupBy("project")
      .execute();
    for (const f of files) {
      const s = out.get(f.project);
      if (s) {
        s.files = Number(f.files);
        s.versions = Number(f.versions);
      }
    }
    const decided = await this.db
      .selectFrom("decisions")
      .select(["project", "outcome", (eb) => eb.fn.countAll<number>().as("n")])
      .where("project", "in", names)
      .groupBy(["project", "outcome"])
      .execute();
    for (const d of decided) {
      const s = out.get(d.project);
      if (s) s.outcomes[d.outcome as Outcome] = Number(d.n);
    }
    return out;
  }

  async filesOf(projects: string[]): Promise<CatalogFileRow[]> {
    if (projects.length === 0) return [];
    const out: CatalogFileRow[] = [];
    for (let i = 0; i < projects.length; i += 500) {
      const rows = await this.db
        .selectFrom("dist_files")
        .select(["sha256", "project", "filename", "version", "size", "upload_time", "stored_at"])
        .where("project", "in", projects.slice(i, i + 500))
        .execute();
      for (const r of rows)
        out.push({
          sha256: r.sha256,
          project: r.project,
          filename: r.filename,
          version: r.version,
          size: r.size === null ? null : Number(r.size),
          uploadTime: r.upload_time,
          stored: r.stored_at !== null,
        });
    }
    return out;
  }

  /** Catalog projects some imported advisory names (a join on the advisory index). */
  async projectsWithAdvisories(): Promise<string[]> {
    const rows = await this.db
      .selectFrom("advisory_packages")
      .innerJoin("projects", "projects.name", "advisory_packages.project")
      .select("advisory_packages.project")
      .distinct()
      .execute();
    return rows.map((r) => r.project);
  }

  async policyVersions(opts: {
    before?: { at: string; digest: string };
    limit: number;
  }): Promise<{ digest: string; source: string; activatedAt: string }[]> {
    let q = this.db
      .selectFrom("policy_versions")
      .selectAll()
      .orderBy("activated_at", "desc")
      .orderBy("digest", "desc")
      .limit(opts.limit);
    const before = opts.before;
    if (before)
      q = q.where((eb) =>
        eb.or([
          eb("activated_at", "<", before.at),
          eb.and([eb("activated_at", "=", before.at), eb("digest", "<", before.digest)]),
        ]),
      );
    const rows = await q.execute();
    return rows.map((r) => ({ digest: r.digest, source: r.source, activatedAt: r.activated_at }));
  }

  async policyVersion(digest: string): Promise<{ digest: string; activatedAt: string } | undefined> {
    const r = await this.db
      .selectFrom("policy_versions")
      .select(["digest", "activated_at"])
      .where("digest", "=", digest)
      .executeTakeFirst();
    return r && { digest: r.digest, activatedAt: r.activated_at };
  }
}

/** `s` matched literally by LIKE … ESCAPE '\\' (a `%` in a search is a `%`, not "anything"). */
function escapeLike(s: string): string {
  return s.replace(/[%_\\]/g, (c) => `\\${c}`);
}
