import type { Kysely, Selectable } from "kysely";
import type { Database } from "./schema.js";
import type { PackageRequestsTable } from "./schema-console.js";

export const REQUEST_STATES = ["pending", "approved", "denied"] as const;
export type RequestState = (typeof REQUEST_STATES)[number];

/** An exception a request's approval (or an explicit grant) put in force. */
export interface GrantedException {
  id: number;
  project: string;
  version?: string;
  sha256?: string;
  checks?: string[];
  reason: string;
  ticket?: string;
  expiresAt: string;
}

/** A request as lists show it: without its report, with the report's verdict. */
export interface RequestSummary {
  id: number;
  project: string;
  version: string | null;
  reason: string;
  state: RequestState;
  requester: string;
  requesterTeam: string | null;
  decidedBy: string | null;
  decisionReason: string | null;
  exceptions: GrantedException[];
  createdAt: number;
  updatedAt: number;
  ok: boolean;
  treeScore: number;
}

/** The verdict of a report, stored beside it. */
export interface ReportVerdict {
  ok: boolean;
  treeScore: number;
}

/** A request for a package to enter the catalog, as stored. `report` is the vetting report. */
export interface PackageRequest<R = unknown> {
  id: number;
  project: string;
  version: string | null;
  reason: string;
  state: RequestState;
  requester: string;
  requesterTeam: string | null;
  report: R;
  decidedBy: string | null;
  decisionReason: string | null;
  exceptions: GrantedException[];
  createdAt: number;
  updatedAt: number;
}

export interface NewRequest<R extends ReportVerdict> {
  project: string;
  version: string | null;
  reason: string;
  state: RequestState;
  requester: string;
  requesterTeam: string | null;
  report: R;
  decidedBy?: string | null;
  now: number;
}

/** Package requests (migration 0008-console). */
export class RequestRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async create<R extends ReportVerdict>(r: NewRequest<R>): Promise<number> {
    const row = await this.db
      .insertInto("package_requests")
      .values({
        project: r.project,
        version: r.version,
        reason: r.reason,
        state: r.state,
        requester: r.requester,
        requester_team: r.requesterTeam,
        report_json: JSON.stringify(r.report),
        report_ok: r.report.ok ? 1 : 0,
        tree_score: r.report.treeScore,
        decided_by: r.decidedBy ?? null,
        decision_reason: null,
        exceptions_json: null,
        created_at: r.now,
        updated_at: r.now,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    return Number(row.id);
  }

  async get<R = unknown>(id: number): Promise<PackageRequest<R> | undefined> {
    const row = await this.db
      .selectFrom("package_requests")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row && toRequest<R>(row);
  }

  /** Newest first; `beforeId` pages on. Each filter is served by an index on (column, id). */
  async list(opts: {
    state?: RequestState;
    requester?: string;
    beforeId?: number;
    limit: number;
  }): Promise<RequestSummary[]> {
    let q = this.db
      .selectFrom("package_requests")
      .select([
        "id",
        "project",
        "version",
        "reason",
        "state",
        "requester",
        "requester_team",
        "decided_by",
        "decision_reason",
        "exceptions_json",
        "created_at",
        "updated_at",
        "report_ok",
        "tree_score",
      ])
      .orderBy("id", "desc")
      .limit(opts.limit);
    if (opts.state) q = q.where("state", "=", opts.state);
    if (opts.requester !== undefined) q = q.where("requester", "=", opts.requester);
    if (opts.beforeId !== undefined) q = q.where("id", "<", opts.beforeId);
    return (await q.execute()).map((r) => ({
      id: Number(r.id),
      project: r.project,
      version: r.version,
      reason: r.reason,
      state: r.state as RequestState,
      requester: r.requester,
      requesterTeam: r.requester_team,
      decidedBy: r.decided_by,
      decisionReason: r.decision_reason,
      exceptions: r.exceptions_json ? (JSON.parse(r.exceptions_json) as GrantedException[]) : [],
      createdAt: Number(r.created_at),
      updatedAt: Number(r.updated_at),
      ok: Number(r.report_ok) === 1,
      treeScore: Number(r.tree_score),
    }));
  }

  async countByState(state: RequestState): Promise<number> {
    const row = await this.db
      .selectFrom("package_requests")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("state", "=", state)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /**
   * Moves a request out of `from` (compare-and-set, so two approvers cannot both decide it).
   * Returns false when the request was not in state `from` any more.
   */
  async transition<R extends ReportVerdict>(
    id: number,
    from: RequestState,
    change: {
      state: RequestState;
      decidedBy: string;
      decisionReason: string;
      report?: R;
      exceptions?: GrantedException[];
      now: number;
    },
  ): Promise<boolean> {
    const res = await this.db
      .updateTable("package_requests")
      .set({
        state: change.state,
        decided_by: change.decidedBy,
        decision_reason: change.decisionReason,
        updated_at: change.now,
        ...(change.report !== undefined
          ? {
              report_json: JSON.stringify(change.report),
              report_ok: change.report.ok ? 1 : 0,
              tree_score: change.report.treeScore,
            }
          : {}),
        ...(change.exceptions !== undefined ? { exceptions_json: JSON.stringify(change.exceptions) } : {}),
      })
      .where("id", "=", id)
      .where("state", "=", from)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }
}

function toRequest<R>(r: Selectable<PackageRequestsTable>): PackageRequest<R> {
  return {
    id: Number(r.id),
    project: r.project,
    version: r.version,
    reason: r.reason,
    state: r.state as RequestState,
    requester: r.requester,
    requesterTeam: r.requester_team,
    report: JSON.parse(r.report_json) as R,
    decidedBy: r.decided_by,
    decisionReason: r.decision_reason,
    exceptions: r.exceptions_json ? (JSON.parse(r.exceptions_json) as GrantedException[]) : [],
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}
