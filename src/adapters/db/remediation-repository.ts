import type { Insertable, Kysely, Selectable, Transaction } from "kysely";
import type { Severity } from "../../policy/check.js";
import { SYSTEM_ACTOR_NAME, type RemediationState } from "../../services/governance/remediation-rules.js";
import type { RemediationEventsTable, RemediationItemsTable } from "./schema-governance.js";
import type { Database } from "./schema.js";

/** A consumer of the refused file, as an item keeps it (a snapshot taken when it opened). */
export interface ItemConsumer {
  identity: string | null;
  ip: string;
  team: string | null;
  application: string | null;
  client: string | null;
  lastPulled: string;
}

export interface RemediationItem {
  id: number;
  sha256: string;
  cause: string;
  project: string;
  version: string;
  filename: string;
  severity: Severity;
  owner: string | null;
  state: RemediationState;
  summary: string;
  advisoryIds: string[];
  consumers: ItemConsumer[];
  fixedVersion: string | null;
  openedAt: number;
  dueAt: number;
  stateChangedAt: number;
  stateChangedBy: string | null;
  note: string | null;
  acceptedUntil: number | null;
  resolvedAt: number | null;
  resolution: string | null;
  /** Every state it has been in, oldest first (only where asked for: one item, not a list). */
  history?: RemediationEvent[];
}

/** One state an item moved to, by whom and why; or (`owner` set) a new owning team. */
export interface RemediationEvent {
  at: number;
  /** The state it left: null for an opening (and for the one change kept of an item older than the history). */
  from: RemediationState | null;
  state: RemediationState;
  by: string | null;
  /** The note, or an accepted risk's reason. */
  note: string | null;
  acceptedUntil: number | null;
  resolution: string | null;
  /**
   * Set for an owner change only: the team the item moved to (`from` and `state` are its state
   * then, unchanged; `note` names the team before).
   */
  owner: string | null;
}

export type NewRemediationItem = Omit<
  RemediationItem,
  | "id"
  | "state"
  | "stateChangedAt"
  | "stateChangedBy"
  | "note"
  | "acceptedUntil"
  | "resolvedAt"
  | "resolution"
  | "history"
>;

export interface RemediationFilter {
  state?: RemediationState;
  severity?: Severity;
  project?: string;
  owner?: string;
  /** Items with an id below this (pages run newest first). */
  beforeId?: number;
  limit?: number;
}

/** Remediation items; one per (sha256, cause), enforced by a unique index. */
export class RemediationRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Opens an item, once: when another instance (or an earlier event) already opened it, nothing
   * changes, except that a fixed item for the same file and cause reopens. Returns the item and
   * whether this call opened (or reopened) it.
   */
  async open(item: NewRemediationItem): Promise<{ item: RemediationItem; opened: boolean }> {
    const row = {
      sha256: item.sha256,
      cause: item.cause,
      project: item.project,
      version: item.version,
      filename: item.filename,
      severity: item.severity,
      owner: item.owner,
      state: "open",
      summary: item.summary,
      advisory_ids_json: JSON.stringify(item.advisoryIds),
      consumers_json: JSON.stringify(item.consumers),
      fixed_version: item.fixedVersion,
      opened_at: item.openedAt,
      due_at: item.dueAt,
      state_changed_at: item.openedAt,
      state_changed_by: null,
      note: null,
      accepted_until: null,
      resolved_at: null,
      resolution: null,
      due_notified_at: null,
      overdue_notified_at: null,
    };
    const opened = (from: RemediationState | null) => ({
      at: item.openedAt,
      from,
      state: "open" as const,
      by: SYSTEM_ACTOR_NAME,
      note: from === null ? null : "refused again",
      acceptedUntil: null,
      resolution: null,
      owner: null,
    });
    const done = await this.db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto("remediation_items")
        .values(row)
        .onConflict((oc) => oc.columns(["sha256", "cause"]).doNothing())
        .returning("id")
        .executeTakeFirst();
      if (inserted) {
        await insertEvent(trx, Number(inserted.id), opened(null));
        return { id: Number(inserted.id), opened: true };
      }
      const existing = await trx
        .selectFrom("remediation_items")
        .select(["id", "state"])
        .where("sha256", "=", item.sha256)
        .where("cause", "=", item.cause)
        .executeTakeFirstOrThrow();
      if (existing.state === "fixed") {
        const { sha256: _s, cause: _c, ...update } = row;
        const res = await trx
          .updateTable("remediation_items")
          .set(update)
          .where("id", "=", existing.id)
          .where("state", "=", "fixed")
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) === 1) {
          await insertEvent(trx, Number(existing.id), opened("fixed"));
          return { id: Number(existing.id), opened: true };
        }
      }
      return { id: Number(existing.id), opened: false };
    });
    return { item: (await this.get(done.id))!, opened: done.opened };
  }

  /** The states an item has been in, oldest first (empty for an unknown item). */
  async history(id: number): Promise<RemediationEvent[]> {
    const rows = await this.db
      .selectFrom("remediation_events")
      .selectAll()
      .where("item_id", "=", id)
      .orderBy("id")
      .execute();
    return rows.map(toEvent);
  }

  async get(id: number): Promise<RemediationItem | undefined> {
    const row = await this.db
      .selectFrom("remediation_items")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row && toItem(row);
  }

  /** Items newest first, filtered, one page. */
  async list(filter: RemediationFilter = {}): Promise<RemediationItem[]> {
    let q = this.db.selectFrom("remediation_items").selectAll();
    if (filter.state) q = q.where("state", "=", filter.state);
    if (filter.severity) q = q.where("severity", "=", filter.severity);
    if (filter.project) q = q.where("project", "=", filter.project);
    if (filter.owner) q = q.where("owner", "=", filter.owner);
    if (filter.beforeId !== undefined) q = q.where("id", "<", filter.beforeId);
    const rows = await q
      .orderBy("id", "desc")
      .limit(filter.limit ?? 50)
      .execute();
    return rows.map(toItem);
  }

  /** What the report needs of every item. */
  async facts(): Promise<
    {
      state: RemediationState;
      severity: Severity;
      openedAt: number;
      dueAt: number;
      resolvedAt: number | null;
    }[]
  > {
    const rows = await this.db
      .selectFrom("remediation_items")
      .select(["state", "severity", "opened_at", "due_at", "resolved_at"])
      .execute();
    return rows.map((r) => ({
      state: r.state as RemediationState,
      severity: r.severity as Severity,
      openedAt: Number(r.opened_at),
      dueAt: Number(r.due_at),
      resolvedAt: r.resolved_at === null ? null : Number(r.resolved_at),
    }));
  }

  /**
   * Moves an item to a new state if it is still in `from` (compare-and-set: two approvers, or two
   * instances, never both win). Returns whether it moved.
   */
  async transition(
    id: number,
    from: RemediationState,
    to: {
      state: RemediationState;
      at: number;
      by: string | null;
      note?: string | null;
      acceptedUntil?: number | null;
      resolution?: string | null;
    },
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const res = await trx
        .updateTable("remediation_items")
        .set({
          state: to.state,
          state_changed_at: to.at,
          state_changed_by: to.by,
          ...(to.note !== undefined ? { note: to.note } : {}),
          accepted_until: to.state === "accepted-risk" ? (to.acceptedUntil ?? null) : null,
          resolved_at: to.state === "fixed" ? to.at : null,
          resolution: to.state === "fixed" ? (to.resolution ?? "manual") : null,
          // Back from an accepted risk the item is live again: its due and overdue notices go out
          // anew (it is usually overdue by then), rather than staying silent because they went out
          // once before the acceptance.
          ...(from === "accepted-risk" && to.state === "open"
            ? { due_notified_at: null, overdue_notified_at: null }
            : {}),
        })
        .where("id", "=", id)
        .where("state", "=", from)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return false;
      await insertEvent(trx, id, {
        at: to.at,
        from,
        state: to.state,
        by: to.by,
        note: to.note ?? null,
        acceptedUntil: to.state === "accepted-risk" ? (to.acceptedUntil ?? null) : null,
        resolution: to.state === "fixed" ? (to.resolution ?? "manual") : null,
        owner: null,
      });
      return true;
    });
  }

  /** The items of a file that are not fixed yet (to close them when it is admitted again). */
  async unresolvedOf(sha256: string): Promise<RemediationItem[]> {
    const rows = await this.db
      .selectFrom("remediation_items")
      .selectAll()
      .where("sha256", "=", sha256)
      .where("state", "!=", "fixed")
      .execute();
    return rows.map(toItem);
  }

  /** Accepted risks whose expiry has passed. */
  async expiredAcceptances(now: number): Promise<RemediationItem[]> {
    const rows = await this.db
      .selectFrom("remediation_items")
      .selectAll()
      .where("state", "=", "accepted-risk")
      .where("accepted_until", "<=", now)
      .execute();
    return rows.map(toItem);
  }

  /** Open or acknowledged items due before `until` that still lack the given notice. */
  async needingNotice(kind: "due" | "overdue", until: number): Promise<RemediationItem[]> {
    const column = kind === "due" ? "due_notified_at" : "overdue_notified_at";
    const rows = await this.db
      .selectFrom("remediation_items")
      .selectAll()
      .where("state", "in", ["open", "acknowledged"])
      .where(column, "is", null)
      .where("due_at", "<=", until)
      .orderBy("id")
      .limit(500)
      .execute();
    return rows.map(toItem);
  }

  /** Marks a notice sent; true for the one caller (of several instances) that marked it first. */
  async markNotified(id: number, kind: "due" | "overdue", at: number): Promise<boolean> {
    const column = kind === "due" ? "due_notified_at" : "overdue_notified_at";
    const res = await this.db
      .updateTable("remediation_items")
      .set({ [column]: at })
      .where("id", "=", id)
      .where(column, "is", null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }
}

function toItem(r: Selectable<RemediationItemsTable>): RemediationItem {
  const num = (v: number | null) => (v === null ? null : Number(v));
  return {
    id: Number(r.id),
    sha256: r.sha256,
    cause: r.cause,
    project: r.project,
    version: r.version,
    filename: r.filename,
    severity: r.severity as Severity,
    owner: r.owner,
    state: r.state as RemediationState,
    summary: r.summary,
    advisoryIds: JSON.parse(r.advisory_ids_json) as string[],
    consumers: JSON.parse(r.consumers_json) as ItemConsumer[],
    fixedVersion: r.fixed_version,
    openedAt: Number(r.opened_at),
    dueAt: Number(r.due_at),
    stateChangedAt: Number(r.state_changed_at),
    stateChangedBy: r.state_changed_by,
    note: r.note,
    acceptedUntil: num(r.accepted_until),
    resolvedAt: num(r.resolved_at),
    resolution: r.resolution,
  };
}

async function insertEvent(trx: Transaction<Database>, itemId: number, e: RemediationEvent): Promise<void> {
  await trx.insertInto("remediation_events").values(eventRow(itemId, e)).execute();
}

/** An event as its `remediation_events` row. */
export function eventRow(itemId: number, e: RemediationEvent): Insertable<RemediationEventsTable> {
  return {
    item_id: itemId,
    at: e.at,
    from_state: e.from,
    state: e.state,
    changed_by: e.by,
    note: e.note,
    accepted_until: e.acceptedUntil,
    resolution: e.resolution,
    owner: e.owner,
  };
}

function toEvent(r: Selectable<RemediationEventsTable>): RemediationEvent {
  return {
    at: Number(r.at),
    from: r.from_state as RemediationState | null,
    state: r.state as RemediationState,
    by: r.changed_by,
    note: r.note,
    acceptedUntil: r.accepted_until === null ? null : Number(r.accepted_until),
    resolution: r.resolution,
    owner: r.owner,
  };
}
