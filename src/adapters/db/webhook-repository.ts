import { createHash } from "node:crypto";
import type { Kysely, Selectable, SelectQueryBuilder } from "kysely";
import type { Database } from "./schema.js";
import type { WebhookDeliveriesTable } from "./schema-governance.js";

export type WebhookFormat = "json" | "slack";

/** A webhook as shown: never its secret. */
export interface Webhook {
  id: number;
  url: string;
  format: WebhookFormat;
  /** Event types it receives; null: every event. */
  events: string[] | null;
  createdAt: number;
  createdBy: string | null;
}

export interface WebhookWithSecret extends Webhook {
  secret: string;
}

export type DeliveryState = "pending" | "delivered" | "failed";

export interface Delivery {
  id: number;
  webhookId: number;
  eventId: string;
  eventType: string;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
}

export interface DeliveryAttempt {
  attempt: number;
  at: number;
  status: number | null;
  error: string | null;
  durationMs: number;
}

/** A delivery claimed for sending, with what is needed to send it. */
export interface ClaimedDelivery extends Delivery {
  body: string;
  url: string;
  secret: string;
  format: WebhookFormat;
}

/**
 * Webhooks and their delivery queue. Deliveries are claimed with a compare-and-set on
 * `claimed_until` (a lease), so several instances on one PostgreSQL never send the same attempt
 * twice, and a lease left by a crashed instance runs out and the delivery is taken up again.
 */
export class WebhookRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async add(w: NewWebhook): Promise<Webhook> {
    return insertWebhook(this.db, w);
  }

  /**
   * Registers a webhook unless an active one has the same URL and the same event set (in any
   * order; null, every event, only equals null): then that one is returned and nothing is added.
   * The check and the insert are one serializable transaction (on SQLite it takes the write lock
   * at BEGIN: see sqlite-connection-lock.ts), retried on PostgreSQL's serialization failure, so
   * two instances or CLI commands adding the same webhook at once add it once, and neither fails.
   */
  async addUnlessDuplicate(w: NewWebhook): Promise<{ added: Webhook } | { duplicateOf: Webhook }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db
          .transaction()
          .setIsolationLevel("serializable")
          .execute(async (trx) => {
            const same = await trx
              .selectFrom("webhooks")
              .selectAll()
              .where("url", "=", w.url)
              .where("removed_at", "is", null)
              .orderBy("id")
              .execute();
            const duplicate = same.map(toWebhook).find((h) => sameEventSet(h.events, w.events));
            if (duplicate) return { duplicateOf: duplicate };
            return { added: await insertWebhook(trx, w) };
          });
      } catch (err) {
        // PostgreSQL's serialization_failure: another transaction added a webhook meanwhile.
        if ((err as { code?: string }).code !== "40001" || attempt >= 5) throw err;
      }
    }
  }

  async get(id: number): Promise<Webhook | undefined> {
    const row = await this.db
      .selectFrom("webhooks")
      .selectAll()
      .where("id", "=", id)
      .where("removed_at", "is", null)
      .executeTakeFirst();
    return row && toWebhook(row);
  }

  /**
   * A webhook whether or not it was removed, with when (null: active): a removed webhook's
   * deliveries stay, as evidence of what was sent.
   */
  async getEvenRemoved(id: number): Promise<(Webhook & { removedAt: number | null }) | undefined> {
    const row = await this.db.selectFrom("webhooks").selectAll().where("id", "=", id).executeTakeFirst();
    return row && { ...toWebhook(row), removedAt: row.removed_at === null ? null : Number(row.removed_at) };
  }

  /** Active webhooks by id; one page when given `afterId` (the last id seen) or `limit`. */
  async list(opts: { afterId?: number; limit?: number } = {}): Promise<Webhook[]> {
    let q = this.db.selectFrom("webhooks").selectAll().where("removed_at", "is", null);
    if (opts.afterId !== undefined) q = q.where("id", ">", opts.afterId);
    if (opts.limit !== undefined) q = q.limit(opts.limit);
    const rows = await q.orderBy("id").execute();
    return rows.map(toWebhook);
  }

  /** Removes a webhook; its pending deliveries are dropped (marked failed). False when unknown. */
  async remove(id: number, at: number): Promise<boolean> {
    const res = await this.db
      .updateTable("webhooks")
      .set({ removed_at: at })
      .where("id", "=", id)
      .where("removed_at", "is", null)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) return false;
    await this.db
      .updateTable("webhook_deliveries")
      .set({ state: "failed", last_error: "webhook removed" })
      .where("webhook_id", "=", id)
      .where("state", "=", "pending")
      .execute();
    return true;
  }

  /**
   * Queues one event for one webhook, once per `eventKey` (a second instance that saw the same
   * event adds nothing). Returns whether it was queued.
   */
  async enqueue(d: {
    webhookId: number;
    eventKey: string;
    eventId: string;
    eventType: string;
    body: string;
    at: number;
  }): Promise<boolean> {
    const row = await this.db
      .insertInto("webhook_deliveries")
      .values({
        webhook_id: d.webhookId,
        event_key: storedEventKey(d.eventKey),
        event_id: d.eventId,
        event_type: d.eventType,
        body: d.body,
        state: "pending",
        attempts: 0,
        next_attempt_at: d.at,
        claimed_until: null,
        claimed_by: null,
        last_status: null,
        last_error: null,
        created_at: d.at,
        delivered_at: null,
      })
      .onConflict((oc) => oc.columns(["webhook_id", "event_key"]).doNothing())
      .returning("id")
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Claims up to `limit` deliveries due at `now` for `leaseMs`, for the instance `claimer`. Each
   * claim counts as an attempt.
   */
  async claimDue(
    now: number,
    limit: number,
    leaseMs: number,
    claimer: string,
    /** How many more each webhook may take (absent: `perWebhook`), so one dead endpoint never holds every slot. */
    opts: { perWebhook?: number; taken?: ReadonlyMap<number, number> } = {},
  ): Promise<ClaimedDelivery[]> {
    if (limit <= 0) return [];
    const perWebhook = opts.perWebhook ?? limit;
    const due = <Q extends SelectQueryBuilder<Database, "webhook_deliveries", object>>(q: Q): Q =>
      q
        .where("state", "=", "pending")
        .where("next_attempt_at", "<=", now)
        .where((eb) => eb.or([eb("claimed_until", "is", null), eb("claimed_until", "<", now)])) as Q;
    // Candidates are picked per webhook, the one waiting longest first, each up to what it may
    // still take: a window over the oldest due rows of all webhooks would fill with a hanging
    // endpoint's backlog and starve the healthy ones behind it.
    const hooks = await due(
      this.db
        .selectFrom("webhook_deliveries")
        .select((eb) => ["webhook_id", eb.fn.min("next_attempt_at").as("oldest")])
        .where("webhook_id", "in", (eb) =>
          eb.selectFrom("webhooks").select("id").where("removed_at", "is", null),
        )
        .groupBy("webhook_id"),
    ).execute();
    hooks.sort((a, b) => Number(a.oldest) - Number(b.oldest) || Number(a.webhook_id) - Number(b.webhook_id));
    const candidates: { id: number; attempts: number; webhook_id: number }[] = [];
    for (const h of hooks) {
      const room = Math.min(limit, perWebhook - (opts.taken?.get(Number(h.webhook_id)) ?? 0));
      if (room <= 0) continue;
      candidates.push(
        ...(await due(
          this.db
            .selectFrom("webhook_deliveries")
            .select(["id", "attempts", "webhook_id"])
            .where("webhook_id", "=", h.webhook_id),
        )
          .orderBy("next_attempt_at")
          .orderBy("id")
          // A few spare: another instance may claim some of these first.
          .limit(room * 2)
          .execute()),
      );
    }
    const claimed: ClaimedDelivery[] = [];
    const taken = new Map(opts.taken ?? []);
    for (const c of candidates) {
      if (claimed.length >= limit) break;
      const hook = Number(c.webhook_id);
      if ((taken.get(hook) ?? 0) >= perWebhook) continue;
      const res = await this.db
        .updateTable("webhook_deliveries")
        .set({ claimed_until: now + leaseMs, claimed_by: claimer, attempts: Number(c.attempts) + 1 })
        .where("id", "=", c.id)
        .where("state", "=", "pending")
        .where("attempts", "=", c.attempts)
        .where((eb) => eb.or([eb("claimed_until", "is", null), eb("claimed_until", "<", now)]))
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) continue;
      taken.set(hook, (taken.get(hook) ?? 0) + 1);
      const row = await this.db
        .selectFrom("webhook_deliveries as d")
        .innerJoin("webhooks as w", "w.id", "d.webhook_id")
        .selectAll("d")
        .select(["w.url", "w.secret", "w.format"])
        .where("d.id", "=", c.id)
        .executeTakeFirst();
      if (row)
        claimed.push({
          ...toDelivery(row),
          body: row.body,
          url: row.url,
          secret: row.secret,
          format: row.format as WebhookFormat,
        });
    }
    return claimed;
  }

  /**
   * Extends the lease of a claim still held (same claimer, same attempt, still pending) to
   * `until`, for an attempt still in flight. False when the claim is no longer ours: completed,
   * the webhook removed, or taken by another instance.
   */
  async renewClaim(id: number, claimer: string, attempts: number, until: number): Promise<boolean> {
    const res = await this.db
      .updateTable("webhook_deliveries")
      .set({ claimed_until: until })
      .where("id", "=", id)
      .where("claimed_by", "=", claimer)
      .where("attempts", "=", attempts)
      .where("state", "=", "pending")
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  /**
   * Records one attempt's result: delivered, retried at `retryAt`, or failed for good (no
   * `retryAt`). Only the holder of the claim may record it.
   */
  async complete(
    id: number,
    claimer: string,
    attempt: DeliveryAttempt,
    outcome: { delivered: true } | { delivered: false; retryAt: number | null },
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const res = await trx
        .updateTable("webhook_deliveries")
        .set({
          state: outcome.delivered ? "delivered" : outcome.retryAt === null ? "failed" : "pending",
          claimed_until: null,
          claimed_by: null,
          last_status: attempt.status,
          last_error: attempt.error,
          ...(outcome.delivered ? { delivered_at: attempt.at } : {}),
          ...(!outcome.delivered && outcome.retryAt !== null ? { next_attempt_at: outcome.retryAt } : {}),
        })
        .where("id", "=", id)
        .where("claimed_by", "=", claimer)
        // Removing the webhook while this attempt was in flight marked it failed: it stays so.
        .where("state", "=", "pending")
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return;
      await trx
        .insertInto("webhook_attempts")
        .values({
          delivery_id: id,
          attempt: attempt.attempt,
          at: attempt.at,
          status: attempt.status,
          error: attempt.error,
          duration_ms: Math.round(attempt.durationMs),
        })
        .execute();
    });
  }

  /** A webhook's deliveries, newest first, one page. */
  async deliveries(webhookId: number, opts: { beforeId?: number; limit?: number } = {}): Promise<Delivery[]> {
    let q = this.db.selectFrom("webhook_deliveries").selectAll().where("webhook_id", "=", webhookId);
    if (opts.beforeId !== undefined) q = q.where("id", "<", opts.beforeId);
    const rows = await q
      .orderBy("id", "desc")
      .limit(opts.limit ?? 50)
      .execute();
    return rows.map(toDelivery);
  }

  async attempts(deliveryId: number): Promise<DeliveryAttempt[]> {
    const rows = await this.db
      .selectFrom("webhook_attempts")
      .selectAll()
      .where("delivery_id", "=", deliveryId)
      .orderBy("attempt")
      .execute();
    return rows.map((r) => ({
      attempt: r.attempt,
      at: Number(r.at),
      status: r.status,
      error: r.error,
      durationMs: r.duration_ms,
    }));
  }

  /** Deliveries still waiting, for every webhook. */
  async pendingCount(): Promise<number> {
    const row = await this.db
      .selectFrom("webhook_deliveries")
      .select((eb) => eb.fn.countAll().as("n"))
      .where("state", "=", "pending")
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }
}

/** What registering a webhook takes. */
export interface NewWebhook {
  url: string;
  secret: string;
  format: WebhookFormat;
  /** null: every event. */
  events: string[] | null;
  at: number;
  by: string | null;
}

async function insertWebhook(db: Kysely<Database>, w: NewWebhook): Promise<Webhook> {
  const row = await db
    .insertInto("webhooks")
    .values({
      url: w.url,
      secret: w.secret,
      format: w.format,
      events_json: w.events ? JSON.stringify(w.events) : null,
      created_at: w.at,
      created_by: w.by,
      removed_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toWebhook(row);
}

/** Whether two subscriptions name the same events (order and repeats aside; null is every event). */
export function sameEventSet(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === null || b === null) return a === b;
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((e) => right.has(e));
}

function toWebhook(r: {
  id: number;
  url: string;
  format: string;
  events_json: string | null;
  created_at: number;
  created_by: string | null;
}): Webhook {
  return {
    id: Number(r.id),
    url: r.url,
    format: r.format as WebhookFormat,
    events: r.events_json ? (JSON.parse(r.events_json) as string[]) : null,
    createdAt: Number(r.created_at),
    createdBy: r.created_by,
  };
}

function toDelivery(r: Selectable<WebhookDeliveriesTable>): Delivery {
  return {
    id: Number(r.id),
    webhookId: Number(r.webhook_id),
    eventId: r.event_id,
    eventType: r.event_type,
    state: r.state as DeliveryState,
    attempts: r.attempts,
    nextAttemptAt: Number(r.next_attempt_at),
    lastStatus: r.last_status,
    lastError: r.last_error,
    createdAt: Number(r.created_at),
    deliveredAt: r.delivered_at === null ? null : Number(r.delivered_at),
  };
}

/**
 * The key as stored (the column holds 300 characters). A longer key (an advisory naming many
 * versions) is not cut, which could make two different events collide and drop the second: its
 * first 235 characters are kept, readable, and a SHA-256 of the whole key is appended.
 */
export function storedEventKey(key: string): string {
  if (key.length <= 300) return key;
  return `${key.slice(0, 235)}#${createHash("sha256").update(key).digest("hex")}`;
}
