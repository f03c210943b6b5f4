import type { Kysely, Selectable, Transaction } from "kysely";
import type { Decision, Outcome, Reason } from "../../policy/decision.js";
import type { PolicyException } from "../../policy/policy-schema.js";
import type { Database, DecisionEventsTable, DecisionsTable } from "./schema.js";

export interface DecisionEvent {
  id: number;
  sha256: string;
  project: string;
  version: string;
  filename: string;
  from: Outcome | null;
  to: Outcome;
  reasons: Reason[];
  at: string;
}

/** Decisions (one per file digest), their change events, artifact reports and exceptions. */
export class DecisionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async get(sha256: string): Promise<Decision | undefined> {
    const row = await this.db
      .selectFrom("decisions")
      .selectAll()
      .where("sha256", "=", sha256)
      .executeTakeFirst();
    return row && toDecision(row);
  }

  async getMany(sha256s: string[]): Promise<Map<string, Decision>> {
    const out = new Map<string, Decision>();
    for (let i = 0; i < sha256s.length; i += 500) {
      const rows = await this.db
        .selectFrom("decisions")
        .selectAll()
        .where("sha256", "in", sha256s.slice(i, i + 500))
        .execute();
      for (const r of rows) out.set(r.sha256, toDecision(r));
    }
    return out;
  }

  async byProject(project: string, version?: string): Promise<Decision[]> {
    let q = this.db.selectFrom("decisions").selectAll().where("project", "=", project);
    if (version !== undefined) q = q.where("version", "=", version);
    return (await q.orderBy("filename").execute()).map(toDecision);
  }

  /** Every stored decision, page by page (re-evaluation walks them all). */
  async *all(pageSize = 1000): AsyncGenerator<Decision> {
    let after = "";
    for (;;) {
      const rows = await this.db
        .selectFrom("decisions")
        .selectAll()
        .where("sha256", ">", after)
        .orderBy("sha256")
        .limit(pageSize)
        .execute();
      for (const r of rows) yield toDecision(r);
      if (rows.length < pageSize) return;
      after = rows.at(-1)!.sha256;
    }
  }

  /**
   * Stores a decision; when the outcome differs from the stored one (or there was none) a
   * `decision.changed` event is recorded in the same transaction. Returns the event, if any.
   */
  async put(d: Decision): Promise<DecisionEvent | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const row: DecisionsTable = {
        sha256: d.sha256,
        project: d.project,
        version: d.version,
        filename: d.filename,
        outcome: d.outcome,
        score: d.score,
        reasons_json: JSON.stringify(d.reasons),
        policy_version: d.policyVersion,
        intel_snapshot: d.intelSnapshot,
        decided_at: d.decidedAt,
        stage: d.stage,
      };
      const prior = await this.claimRow(trx, row);
      if (prior?.outcome === d.outcome) return undefined;
      const event = {
        sha256: d.sha256,
        project: d.project,
        version: d.version,
        filename: d.filename,
        from_outcome: prior?.outcome ?? null,
        to_outcome: d.outcome,
        reasons_json: JSON.stringify(d.reasons.filter((r) => r.action !== "allow" || r.waivedBy)),
        at: d.decidedAt,
      };
      const inserted = await trx
        .insertInto("decision_events")
        .values(event)
        .returning("id")
        .executeTakeFirstOrThrow();
      return {
        id: Number(inserted.id),
        sha256: d.sha256,
        project: d.project,
        version: d.version,
        filename: d.filename,
        from: (prior?.outcome as Outcome | undefined) ?? null,
        to: d.outcome,
        reasons: JSON.parse(event.reasons_json) as Reason[],
        at: d.decidedAt,
      };
    });
  }

  /**
   * Stores `row` and returns the outcome it replaced (undefined: there was none), such that of
   * several instances storing the same file at once exactly one sees each change. A file new to
   * the table is inserted with ON CONFLICT DO NOTHING: the insert that wins is the only one to see
   * "nothing before", and any other waits on its uncommitted row (PostgreSQL's unique index; SQLite
   * serialises writers anyway) and then finds it. A row that exists is locked before it is read
   * (a no-op UPDATE: PostgreSQL's row lock, SQLite's write lock), so the instance that waited
   * reads the outcome the first one stored rather than the one before it. Locking first was not
   * enough alone: while the row does not exist yet the UPDATE locks nothing, and every instance
   * read "nothing before" and recorded the change, each with its own time (seen: 15 of 30 new
   * files told twice by two gateways).
   */
  private async claimRow(
    trx: Transaction<Database>,
    row: DecisionsTable,
  ): Promise<{ outcome: string } | undefined> {
    const inserted = await trx
      .insertInto("decisions")
      .values(row)
      .onConflict((oc) => oc.column("sha256").doNothing())
      .returning("sha256")
      .executeTakeFirst();
    if (inserted) return undefined;
    await trx.updateTable("decisions").set({ sha256: row.sha256 }).where("sha256", "=", row.sha256).execute();
    const prior = await trx
      .selectFrom("decisions")
      .select("outcome")
      .where("sha256", "=", row.sha256)
      .executeTakeFirstOrThrow();
    const { sha256, ...update } = row;
    await trx.updateTable("decisions").set(update).where("sha256", "=", sha256).execute();
    return prior;
  }

  /** Decision changes remediation and notifications have not taken in yet, oldest first. */
  async unhandledEvents(limit: number): Promise<DecisionEvent[]> {
    const rows = await this.db
      .selectFrom("decision_events")
      .selectAll()
      .where("handled_at", "is", null)
      .orderBy("id")
      .limit(limit)
      .execute();
    return rows.map(toEvent);
  }

  /** Marks events as taken in (several instances may both have: their handling is idempotent). */
  async markHandled(ids: number[], at: number): Promise<void> {
    for (let i = 0; i < ids.length; i += 500) {
      await this.db
        .updateTable("decision_events")
        .set({ handled_at: at })
        .where("id", "in", ids.slice(i, i + 500))
        .where("handled_at", "is", null)
        .execute();
    }
  }

  async events(
    options: { afterId?: number; limit?: number; project?: string } = {},
  ): Promise<DecisionEvent[]> {
    let q = this.db
      .selectFrom("decision_events")
      .selectAll()
      .where("id", ">", options.afterId ?? 0);
    if (options.project) q = q.where("project", "=", options.project);
    const rows = await q
      .orderBy("id")
      .limit(options.limit ?? 1000)
      .execute();
    return rows.map(toEvent);
  }

  async getArtifactReport<T>(sha256: string): Promise<T | undefined> {
    const row = await this.db
      .selectFrom("artifact_reports")
      .select("report_json")
      .where("sha256", "=", sha256)
      .executeTakeFirst();
    return row ? (JSON.parse(row.report_json) as T) : undefined;
  }

  async putArtifactReport(
    sha256: string,
    project: string,
    version: string,
    report: unknown,
    at: string,
  ): Promise<void> {
    const report_json = JSON.stringify(report);
    await this.db
      .insertInto("artifact_reports")
      .values({ sha256, project, version, report_json, analyzed_at: at })
      .onConflict((oc) => oc.column("sha256").doUpdateSet({ report_json, analyzed_at: at }))
      .execute();
  }

  /** Artifact reports in sha256 order after `after`: a page of the whole set, for re-analysis. */
  async artifactReportsAfter<T>(after: string, limit: number): Promise<{ sha256: string; report: T }[]> {
    const rows = await this.db
      .selectFrom("artifact_reports")
      .select(["sha256", "report_json"])
      .where("sha256", ">", after)
      .orderBy("sha256")
      .limit(limit)
      .execute();
    return rows.map((r) => ({ sha256: r.sha256, report: JSON.parse(r.report_json) as T }));
  }

  /** The analyser version every stored artifact report is known to be at (1 when never recorded). */
  async analyserLevel(): Promise<number> {
    const row = await this.db
      .selectFrom("meta")
      .select("value")
      .where("key", "=", "artifact_analyser")
      .executeTakeFirst();
    const n = row ? Number.parseInt(row.value, 10) : 1;
    return Number.isInteger(n) ? n : 1;
  }

  async setAnalyserLevel(level: number): Promise<void> {
    const value = String(level);
    await this.db
      .insertInto("meta")
      .values({ key: "artifact_analyser", value })
      .onConflict((oc) => oc.column("key").doUpdateSet({ value }))
      .execute();
  }

  /** Artifact reports of a project's files, for release-drift against earlier releases. */
  async artifactReportsOf<T>(project: string): Promise<{ sha256: string; version: string; report: T }[]> {
    const rows = await this.db
      .selectFrom("artifact_reports")
      .select(["sha256", "version", "report_json"])
      .where("project", "=", project)
      .execute();
    return rows.map((r) => ({
      sha256: r.sha256,
      version: r.version,
      report: JSON.parse(r.report_json) as T,
    }));
  }

  async addException(e: PolicyException, createdAt: string): Promise<number> {
    const row = await this.db
      .insertInto("exceptions")
      .values({
        project: e.project,
        version: e.version ?? null,
        sha256: e.sha256 ?? null,
        checks_json: e.checks ? JSON.stringify(e.checks) : null,
        reason: e.reason,
        approver: e.approver,
        ticket: e.ticket ?? null,
        expires_at: e["expires-at"],
        created_at: createdAt,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    return Number(row.id);
  }

  async exceptions(): Promise<(PolicyException & { id: number })[]> {
    const rows = await this.db.selectFrom("exceptions").selectAll().orderBy("id").execute();
    return rows.map((r) => ({
      id: Number(r.id),
      project: r.project,
      ...(r.version ? { version: r.version } : {}),
      ...(r.sha256 ? { sha256: r.sha256 } : {}),
      ...(r.checks_json ? { checks: JSON.parse(r.checks_json) as string[] } : {}),
      reason: r.reason,
      approver: r.approver,
      ...(r.ticket ? { ticket: r.ticket } : {}),
      "expires-at": r.expires_at,
    }));
  }

  /** A cheap fingerprint of the exceptions table, to notice grants made by other processes. */
  async exceptionsStamp(): Promise<string> {
    const row = await this.db
      .selectFrom("exceptions")
      .select((eb) => [eb.fn.max("id").as("m"), eb.fn.countAll().as("n")])
      .executeTakeFirst();
    return `${row?.m ?? 0}:${row?.n ?? 0}`;
  }

  async recordPolicyVersion(digest: string, source: string, at: string): Promise<void> {
    await this.db
      .insertInto("policy_versions")
      .values({ digest, source, activated_at: at })
      .onConflict((oc) => oc.column("digest").doNothing())
      .execute();
  }
}

function toDecision(r: DecisionsTable): Decision {
  return {
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
  };
}

function toEvent(r: Selectable<DecisionEventsTable>): DecisionEvent {
  return {
    id: Number(r.id),
    sha256: r.sha256,
    project: r.project,
    version: r.version,
    filename: r.filename,
    from: r.from_outcome as Outcome | null,
    to: r.to_outcome as Outcome,
    reasons: JSON.parse(r.reasons_json) as Reason[],
    at: r.at,
  };
}
