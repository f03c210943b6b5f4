import type { Kysely, Selectable } from "kysely";
import type { Database } from "./schema.js";
import type { EnvironmentsTable } from "./schema-discovery.js";

/**
 * One distribution of a reported environment, as the dashboard lists it. As stored, `status` and
 * `reason` are the gateway's verdict; `reportedStatus`/`reportedReason` what the client claimed,
 * when that differs.
 */
export interface ReportedDistribution {
  name: string;
  version: string;
  status: string;
  reason: string;
  sha256?: string;
  reportedStatus?: string;
  reportedReason?: string;
}

export interface EnvironmentSummary {
  id: number;
  host: string;
  path: string;
  kind: string;
  pythonVersion: string | null;
  owner: string | null;
  reportedBy: string;
  firstReportedAt: number;
  reportedAt: number;
  total: number;
  ungoverned: number;
  counts: Record<string, number>;
}

export interface EnvironmentDetail extends EnvironmentSummary {
  distributions: ReportedDistribution[];
}

export interface EnvironmentReport {
  host: string;
  path: string;
  kind: string;
  pythonVersion?: string;
  owner?: string;
  reportedBy: string;
  distributions: ReportedDistribution[];
  ungoverned: number;
}

function summaryOf(r: Omit<Selectable<EnvironmentsTable>, "inventory_json">): EnvironmentSummary {
  return {
    id: Number(r.id),
    host: r.host,
    path: r.path,
    kind: r.kind,
    pythonVersion: r.python_version,
    owner: r.owner,
    reportedBy: r.reported_by,
    firstReportedAt: Number(r.first_reported_at),
    reportedAt: Number(r.reported_at),
    total: r.total,
    ungoverned: r.ungoverned,
    counts: JSON.parse(r.counts_json) as Record<string, number>,
  };
}

const SUMMARY_COLUMNS = [
  "id",
  "host",
  "path",
  "kind",
  "python_version",
  "owner",
  "reported_by",
  "first_reported_at",
  "reported_at",
  "total",
  "ungoverned",
  "counts_json",
] as const;

/** Environments reported by `portcullis scan --report`: one row per host and path. */
export class EnvironmentRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores a report, replacing the inventory of an earlier report of the same place. */
  async upsert(
    report: EnvironmentReport,
    now: number,
    opts: { replaceOthers?: boolean } = {},
  ): Promise<{ id: number; created: boolean } | { refused: string }> {
    const counts: Record<string, number> = {};
    for (const d of report.distributions) counts[d.status] = (counts[d.status] ?? 0) + 1;
    const values = {
      kind: report.kind,
      python_version: report.pythonVersion ?? null,
      reported_by: report.reportedBy,
      reported_at: now,
      total: report.distributions.length,
      ungoverned: report.ungoverned,
      counts_json: JSON.stringify(counts),
      inventory_json: JSON.stringify(report.distributions),
    };
    return this.db.transaction().execute(async (tx) => {
      const existing = await tx
        .selectFrom("environments")
        .select(["id", "path", "reported_by"])
        .where("host", "=", report.host)
        .execute();
      const same = existing.find((e) => e.path === report.path);
      if (same) {
        // Only whoever reported a place (or an approver) replaces its inventory, and a report never
        // changes the owner: that is an approver's assignment (POST …/owner).
        if (same.reported_by !== report.reportedBy && !opts.replaceOthers)
          return { refused: `reported by ${same.reported_by}; only they or an approver may replace it` };
        await tx.updateTable("environments").set(values).where("id", "=", same.id).execute();
        return { id: Number(same.id), created: false };
      }
      const row = await tx
        .insertInto("environments")
        .values({
          ...values,
          host: report.host,
          path: report.path,
          owner: report.owner ?? null,
          first_reported_at: now,
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      return { id: Number(row.id), created: true };
    });
  }

  /** Newest reports first; `after` is the last (reported_at, id) of the previous page. */
  async list(
    limit: number,
    after?: { reportedAt: number; id: number },
    filter: { owner?: string | null } = {},
  ): Promise<EnvironmentSummary[]> {
    let q = this.db.selectFrom("environments").select(SUMMARY_COLUMNS);
    if (after)
      q = q.where((eb) =>
        eb.or([
          eb("reported_at", "<", after.reportedAt),
          eb.and([eb("reported_at", "=", after.reportedAt), eb("id", "<", after.id)]),
        ]),
      );
    if (filter.owner === null) q = q.where("owner", "is", null);
    else if (filter.owner !== undefined) q = q.where("owner", "=", filter.owner);
    const rows = await q.orderBy("reported_at", "desc").orderBy("id", "desc").limit(limit).execute();
    return rows.map(summaryOf);
  }

  async get(id: number): Promise<EnvironmentDetail | undefined> {
    const row = await this.db.selectFrom("environments").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) return undefined;
    return {
      ...summaryOf(row),
      distributions: JSON.parse(row.inventory_json) as ReportedDistribution[],
    };
  }

  /** Assigns an owner; false when there is no such environment. */
  async setOwner(id: number, owner: string): Promise<boolean> {
    const res = await this.db
      .updateTable("environments")
      .set({ owner })
      .where("id", "=", id)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }
}
