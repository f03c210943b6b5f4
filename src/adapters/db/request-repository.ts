import type { Kysely, Selectable } from "kysely";
import { waives } from "../../policy/engine.js";
import { RULE_IDS, type PolicyException } from "../../policy/policy-schema.js";
import { DecisionRepository } from "./decision-repository.js";
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

/** An exception a decision puts in force: the engine's row and the request's record of it. */
export interface ExceptionToGrant {
  exception: PolicyException;
  granted: Omit<GrantedException, "id">;
}

/** What a decision that won put in force; `created` is false where one already in force covered it. */
export interface GrantOutcome {
  exception: GrantedException;
  created: boolean;
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
    const row = await this.insert(r).returning("id").executeTakeFirstOrThrow();
    return Number(row.id);
  }

  /**
   * Creates a request, but a pending one only when the requester has none pending for the same
   * project and version: then that one is answered (`created: false`) and nothing is inserted.
   * Atomic where a look-up before the insert is not: the partial unique index of migration
   * 0011-pending-request-once lets exactly one of two identical inserts at the same moment win,
   * and the other finds the winner's row. A request created `approved` is always inserted.
   */
  async createOrFindPending<R extends ReportVerdict>(
    r: NewRequest<R>,
  ): Promise<{ id: number; created: boolean }> {
    if (r.state !== "pending") return { id: await this.create(r), created: true };
    // The row that won can be decided between our insert and our look-up: then insert again.
    for (let round = 0; round < 3; round++) {
      const row = await this.insert(r)
        .onConflict((oc) => oc.doNothing())
        .returning("id")
        .executeTakeFirst();
      if (row) return { id: Number(row.id), created: true };
      const waiting = await this.findPending(r);
      if (waiting) return { id: waiting.id, created: false };
    }
    throw new Error(
      `could not create a pending request for ${r.project} ${r.version ?? "(any version)"} by ${r.requester}: another one kept taking its place and being decided`,
    );
  }

  private insert<R extends ReportVerdict>(r: NewRequest<R>) {
    return this.db.insertInto("package_requests").values({
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
    });
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

  /**
   * The oldest pending request of `requester` for exactly this project and version (null: no
   * version named), if any: asking again while one waits for an approver returns it.
   */
  async findPending<R = unknown>(q: {
    project: string;
    version: string | null;
    requester: string;
  }): Promise<PackageRequest<R> | undefined> {
    const row = await this.db
      .selectFrom("package_requests")
      .selectAll()
      .where("state", "=", "pending")
      .where("project", "=", q.project)
      .where("requester", "=", q.requester)
      .where("version", q.version === null ? "is" : "=", q.version)
      .orderBy("id")
      .executeTakeFirst();
    return row && toRequest<R>(row);
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

  /**
   * Decides a pending request and puts the exceptions it grants in force, in one transaction:
   * the compare-and-set on the request's state comes first, and the exceptions are inserted only
   * when it won, so a decision that lost the race (to another approver or a denial) changes
   * nothing. A grant that an exception already in force covers (same file or version, same
   * checks, lasting at least as long) reuses it rather than adding a duplicate. The request
   * lists the exceptions it put in force. Returns undefined when the request was not in state
   * `from` any more.
   */
  async decide(
    id: number,
    from: RequestState,
    change: { state: RequestState; decidedBy: string; decisionReason: string; now: number },
    grants: readonly ExceptionToGrant[],
  ): Promise<GrantOutcome[] | undefined> {
    return this.db.transaction().execute(async (trx) => {
      // The compare-and-set also locks the row (PostgreSQL's row lock, SQLite's write lock):
      // a concurrent decision waits for this one and then finds the request decided.
      if (!(await new RequestRepository(trx).transition(id, from, change))) return undefined;
      const listed = await listedExceptions(trx, id);
      const exceptions = new DecisionRepository(trx);
      const createdAt = new Date(change.now).toISOString();
      const out: GrantOutcome[] = [];
      for (const g of grants) {
        const existing = await coveringException(trx, g.exception);
        const granted = existing ?? {
          id: await exceptions.addException(g.exception, createdAt),
          ...g.granted,
        };
        if (!listed.some((e) => e.id === granted.id)) listed.push(granted);
        out.push({ exception: granted, created: existing === undefined });
      }
      await trx
        .updateTable("package_requests")
        .set({ exceptions_json: JSON.stringify(listed) })
        .where("id", "=", id)
        .execute();
      return out;
    });
  }

  /**
   * Denies a pending request (compare-and-set) and, in the same transaction, revokes (deletes)
   * the exceptions it put in force: those an exception or a re-vetted approval granted through
   * it while it was pending. An exception the request reused (granted through another request)
   * stays, and so does one of its own that another request, not denied, also relies on. The
   * request then lists no exception. Returns the revoked exceptions, or undefined when the
   * request was not pending any more.
   */
  async deny(
    id: number,
    change: { decidedBy: string; decisionReason: string; now: number },
  ): Promise<GrantedException[] | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const repo = new RequestRepository(trx);
      if (!(await repo.transition(id, "pending", { ...change, state: "denied" }))) return undefined;
      const listed = await listedExceptions(trx, id);
      const revoked: GrantedException[] = [];
      for (const e of listed) {
        const own = await trx
          .selectFrom("exceptions")
          .select(["id", "reason"])
          .where("id", "=", e.id)
          .executeTakeFirst();
        // toGrant (request-service) writes "request <id>: <reason>" into what a request grants.
        if (!own || !own.reason.startsWith(`request ${id}: `)) continue;
        if (await repo.listedElsewhere(id, e.id)) continue;
        await trx.deleteFrom("exceptions").where("id", "=", e.id).execute();
        revoked.push(e);
      }
      await trx.updateTable("package_requests").set({ exceptions_json: null }).where("id", "=", id).execute();
      return revoked;
    });
  }

  /** Whether a request other than `id`, and not denied, lists exception `exceptionId`. */
  private async listedElsewhere(id: number, exceptionId: number): Promise<boolean> {
    // exceptions_json is a JSON array of objects whose first key is the id (see decide).
    const row = await this.db
      .selectFrom("package_requests")
      .select("id")
      .where("id", "!=", id)
      .where("state", "!=", "denied")
      .where("exceptions_json", "like", `%{"id":${exceptionId},%`)
      .executeTakeFirst();
    return row !== undefined;
  }
}

/** An exception in force that already waives everything `e` would, if any. */
async function coveringException(
  db: Kysely<Database>,
  e: PolicyException,
): Promise<GrantedException | undefined> {
  let q = db
    .selectFrom("exceptions")
    .selectAll()
    .where("project", "=", e.project)
    .where("expires_at", ">=", e["expires-at"])
    .orderBy("id");
  q = e.sha256 !== undefined ? q.where("sha256", "=", e.sha256) : q.where("sha256", "is", null);
  q = e.version !== undefined ? q.where("version", "=", e.version) : q.where("version", "is", null);
  for (const r of await q.execute()) {
    const checks = r.checks_json ? (JSON.parse(r.checks_json) as string[]) : [];
    // It covers the grant when it waives every check the grant would (the engine's own rule: a
    // version exception listing no checks still waives neither `malicious` nor `artifact`).
    const held = { ...(r.sha256 !== null ? { sha256: r.sha256 } : {}), ...(checks.length ? { checks } : {}) };
    const covers = RULE_IDS.every((c) => !waives(e, c) || waives(held, c));
    if (!covers) continue;
    return {
      id: Number(r.id),
      project: r.project,
      ...(r.version !== null ? { version: r.version } : {}),
      ...(r.sha256 !== null ? { sha256: r.sha256 } : {}),
      ...(checks.length ? { checks } : {}),
      reason: r.reason,
      ...(r.ticket !== null ? { ticket: r.ticket } : {}),
      expiresAt: r.expires_at,
    };
  }
  return undefined;
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

/** The exceptions a request lists (granted through it, or reused by it). */
async function listedExceptions(db: Kysely<Database>, id: number): Promise<GrantedException[]> {
  const row = await db
    .selectFrom("package_requests")
    .select("exceptions_json")
    .where("id", "=", id)
    .executeTakeFirstOrThrow();
  return row.exceptions_json ? (JSON.parse(row.exceptions_json) as GrantedException[]) : [];
}
