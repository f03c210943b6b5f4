import { redactUrl } from "../../domain/url-secrets.js";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { Agent, fetch } from "undici";
import type {
  ClaimedDelivery,
  Delivery,
  DeliveryAttempt,
  Webhook,
  WebhookRepository,
} from "../../adapters/db/webhook-repository.js";
import type { Actor } from "../../domain/identity.js";
import type { AuditRecorder } from "../audit-entry.js";
import type { GatewayEvent } from "../event-bus.js";
import {
  CUT_OFF_BY_SHUTDOWN,
  MAX_ATTEMPTS,
  SIGNATURE_HEADER,
  WEBHOOK_EVENT_TYPES,
  WEBHOOK_FORMATS,
  attemptsUsedUp,
  backoffMs,
  eventKey,
  isCutOffByShutdown,
  renderBody,
  signBody,
  wants,
  type WebhookMessageFormat,
} from "./webhook-message.js";
import { forbiddenWebhookAddress, guardedLookup } from "./webhook-address.js";
import { hasControlCharacters } from "../../domain/control-characters.js";

/** A webhook request that cannot be honoured, with a reason for the CLI and the API. */
export class WebhookInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookInputError";
  }
}

/** A webhook that would repeat an active one (same URL, same events): 409 in the API. */
export class WebhookConflictError extends WebhookInputError {
  constructor(
    message: string,
    /** The id of the webhook already registered. */
    readonly existingId: number,
  ) {
    super(message);
    this.name = "WebhookConflictError";
  }
}

export interface WebhookServiceDeps {
  repo: WebhookRepository;
  audit: AuditRecorder;
  log: Logger;
  now: () => number;
}

/**
 * Webhooks: registration (admin), and turning bus events into queued deliveries. Queuing writes
 * one row per subscribed webhook and never waits on an endpoint: sending is the dispatcher's job.
 */
export class WebhookService {
  private readonly inflight = new Set<Promise<void>>();
  /** Called after something was queued (a running gateway kicks its dispatcher). */
  onQueued: () => void = () => {};
  /** The gateway's public URL, linked from chat messages (set by a running gateway). */
  publicUrl: () => string | undefined = () => undefined;

  constructor(private readonly deps: WebhookServiceDeps) {}

  /**
   * Registers a webhook. The URL must be http(s); the secret at least 16 characters and not
   * blank (it keys the HMAC the receiver checks); events, when given, a non-empty subset of the
   * known types (absent or null: every event). A webhook with the same URL and the same events as
   * an active one is refused ({@link WebhookConflictError}): each event would be sent twice.
   */
  async add(
    input: { url: string; secret: string; format?: string; events?: string[] | null },
    actor: Actor,
  ): Promise<Webhook> {
    // The URL parser silently drops tabs and line breaks and trims other controls: the URL stored
    // (and shown) would not be the one given.
    if (hasControlCharacters(input.url))
      throw new WebhookInputError(
        `the webhook URL must not contain control characters (escape sequences, tabs or line breaks), got ${JSON.stringify(input.url)}`,
      );
    let url: URL;
    try {
      url = new URL(input.url);
    } catch {
      throw new WebhookInputError(`not a URL: ${JSON.stringify(input.url)}`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new WebhookInputError(`a webhook URL must be http or https, got ${url.protocol}`);
    const forbidden = forbiddenWebhookAddress(url.hostname);
    if (forbidden) throw new WebhookInputError(forbidden);
    if (url.username || url.password)
      throw new WebhookInputError("put no credentials in the URL: the secret signs every delivery");
    checkWebhookSettings(input);
    const format = (input.format ?? "json") as WebhookMessageFormat;
    const events = input.events ? [...new Set(input.events)] : null;
    const result = await this.deps.repo.addUnlessDuplicate({
      url: url.href,
      secret: input.secret,
      format,
      events,
      at: this.deps.now(),
      by: actor.user,
    });
    if ("duplicateOf" in result) {
      const existing = result.duplicateOf;
      throw new WebhookConflictError(
        `webhook ${existing.id} already sends ${events ? `the same events (${events.join(", ")})` : "every event"} to ${redactUrl(existing.url)}; a second one would deliver each event twice (to change its secret or format, remove webhook ${existing.id} first)`,
        existing.id,
      );
    }
    const hook = result.added;
    this.deps.audit.record({
      action: "webhook.add",
      actor,
      outcome: "ok",
      detail: { id: hook.id, url: redactUrl(hook.url), format, events },
    });
    return hook;
  }

  /** Active webhooks by id: all of them, or one page after `afterId` (the last id seen). */
  list(opts: { afterId?: number; limit?: number } = {}): Promise<Webhook[]> {
    return this.deps.repo.list(opts);
  }

  async remove(id: number, actor: Actor): Promise<boolean> {
    const removed = await this.deps.repo.remove(id, this.deps.now());
    this.deps.audit.record({
      action: "webhook.remove",
      actor,
      outcome: removed ? "ok" : "not-found",
      detail: { id },
    });
    return removed;
  }

  async deliveries(
    webhookId: number,
    opts: { beforeId?: number; limit?: number } = {},
  ): Promise<(Delivery & { log: DeliveryAttempt[] })[] | undefined> {
    // A removed webhook's log stays readable: what was sent (or dropped) is evidence.
    if (!(await this.deps.repo.getEvenRemoved(webhookId))) return undefined;
    const list = await this.deps.repo.deliveries(webhookId, opts);
    return Promise.all(list.map(async (d) => ({ ...d, log: await this.deps.repo.attempts(d.id) })));
  }

  /** When a webhook was removed (null: it is active), or undefined when there never was one. */
  async removedAt(webhookId: number): Promise<number | null | undefined> {
    return (await this.deps.repo.getEvenRemoved(webhookId))?.removedAt;
  }

  /** Queues `event` for every webhook that wants it, once per idempotency key. */
  async enqueue(event: GatewayEvent, key = eventKey(event)): Promise<number> {
    const hooks = (await this.deps.repo.list()).filter((h) => wants(h.events, event.type));
    let queued = 0;
    for (const hook of hooks) {
      const eventId = randomUUID();
      const body = renderBody(event, hook.format, eventId, this.publicUrl());
      const ok = await this.deps.repo.enqueue({
        webhookId: hook.id,
        eventKey: key,
        eventId,
        eventType: event.type,
        body,
        at: this.deps.now(),
      });
      if (ok) queued++;
    }
    if (queued) this.onQueued();
    return queued;
  }

  /**
   * Queues in the background (the publisher never waits); failures are logged. `flush` waits for
   * what is being queued (a clean shutdown loses nothing).
   */
  enqueueLater(event: GatewayEvent, key?: string): void {
    const p: Promise<void> = this.enqueue(event, key)
      .then(() => undefined)
      .catch((err: Error) =>
        this.deps.log.error({ err: err.message, event: event.type }, "could not queue a webhook delivery"),
      )
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  async flush(): Promise<void> {
    while (this.inflight.size) await Promise.all([...this.inflight]);
  }
}

export interface WebhookDispatcherDeps {
  repo: WebhookRepository;
  log: Logger;
  now: () => number;
  /** Deliveries sent at once by this instance. */
  concurrency?: number;
  /** Deliveries sent at once to one webhook (a dead endpoint holds no more slots than this). */
  perWebhook?: number;
  /** Per-request time-out. */
  timeoutMs?: number;
  /** How often an attempt in flight renews its lease (default a third of the lease). */
  renewEveryMs?: number;
  random?: () => number;
  /** Names this instance in claims. */
  instance?: string;
}

/**
 * What a claim's lease holds beyond the attempt's time-out: the time between the claim and the
 * request, recording the result, and clocks of several instances that differ a little.
 */
export const LEASE_MARGIN_MS = 30_000;

/**
 * Sends queued deliveries: claims due ones (a lease, safe with several instances), posts each
 * with its signature, a time-out and bounded concurrency, and records the attempt: delivered,
 * retried with exponential back-off, or failed after {@link MAX_ATTEMPTS}. A lease outlasts the
 * longest attempt (time-out plus {@link LEASE_MARGIN_MS}) and is renewed while the attempt is in
 * flight, so no other instance takes a delivery being sent; a crashed instance's lease runs out.
 * Delivery is at least once: a send cut off by a shutdown, or whose answer was lost, is sent
 * again with the same delivery id (`X-Portcullis-Delivery`), by which the receiver drops repeats.
 */
export class WebhookDispatcher {
  private active = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private readonly sending = new Set<Promise<void>>();
  private readonly concurrency: number;
  private readonly perWebhook: number;
  /** Sends in flight per webhook id. */
  private readonly busy = new Map<number, number>();
  private readonly timeoutMs: number;
  private readonly leaseMs: number;
  private readonly renewEveryMs: number;
  private readonly instance: string;
  private readonly abort = new AbortController();
  /** Sockets whose names resolve only to addresses a webhook may reach (see webhook-address.ts). */
  private readonly agent = new Agent({ connect: { lookup: guardedLookup } });

  constructor(private readonly deps: WebhookDispatcherDeps) {
    this.concurrency = deps.concurrency ?? 8;
    this.perWebhook = deps.perWebhook ?? 2;
    this.timeoutMs = deps.timeoutMs ?? 10_000;
    this.leaseMs = this.timeoutMs + LEASE_MARGIN_MS;
    this.renewEveryMs = deps.renewEveryMs ?? Math.floor(this.leaseMs / 3);
    this.instance = deps.instance ?? randomUUID();
  }

  /**
   * Claims what is due now (up to the free slots) and sends it; resolves when those sends are
   * recorded. Returns how many were sent.
   */
  async runOnce(): Promise<number> {
    if (this.stopped) return 0;
    const free = this.concurrency - this.active;
    if (free <= 0) return 0;
    this.active += free;
    let claimed: ClaimedDelivery[];
    try {
      claimed = await this.deps.repo.claimDue(this.deps.now(), free, this.leaseMs, this.instance, {
        perWebhook: this.perWebhook,
        taken: this.busy,
      });
    } catch (err) {
      this.active -= free;
      throw err;
    }
    this.active -= free - claimed.length;
    await Promise.all(
      claimed.map((d) => {
        this.busy.set(d.webhookId, (this.busy.get(d.webhookId) ?? 0) + 1);
        const p = this.send(d).finally(() => {
          this.active--;
          const left = (this.busy.get(d.webhookId) ?? 1) - 1;
          if (left) this.busy.set(d.webhookId, left);
          else this.busy.delete(d.webhookId);
          this.sending.delete(p);
        });
        this.sending.add(p);
        return p;
      }),
    );
    return claimed.length;
  }

  /** Polls every `intervalMs` (a running gateway); `kick` sends at once. */
  start(intervalMs: number): void {
    this.timer = setInterval(() => this.kick(), intervalMs);
    this.timer.unref();
    this.kick();
  }

  kick(): void {
    if (this.stopped) return;
    this.runOnce().catch((err: Error) =>
      this.deps.log.error({ err: err.message }, "webhook dispatch failed; retrying on the next tick"),
    );
  }

  /**
   * Stops claiming; sends in flight get `graceMs` to finish (a gateway gives its shutdown grace,
   * which its downloads share), then are cut off and recorded as such: due again at once, for
   * another instance or the next start (see {@link CUT_OFF_BY_SHUTDOWN}). Calling it again waits
   * for the first call.
   */
  stop(graceMs: number): Promise<void> {
    this.stopping ??= this.halt(graceMs);
    return this.stopping;
  }

  private async halt(graceMs: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.sending]),
      new Promise<void>((resolve) => {
        grace = setTimeout(resolve, Math.max(0, graceMs));
        grace.unref();
      }),
    ]);
    clearTimeout(grace);
    this.abort.abort();
    await Promise.allSettled([...this.sending]);
    await this.agent.close().catch(() => undefined);
  }

  private async send(d: ClaimedDelivery): Promise<void> {
    const letGo = this.holdLease(d);
    let attempt: DeliveryAttempt;
    try {
      attempt = await this.post(d);
    } finally {
      await letGo();
    }
    // The last renewal left most of a lease for this: recording takes a write or two.
    await this.record(d, attempt);
  }

  /**
   * Renews the claim on `d` every {@link renewEveryMs} until the returned function is called (it
   * waits for a renewal under way). A renewal that finds the claim gone (the webhook removed, or
   * the lease lost while this process stalled) stops renewing: the result is then not recorded.
   */
  private holdLease(d: ClaimedDelivery): () => Promise<void> {
    let renewing: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      renewing = renewing
        .then(() =>
          this.deps.repo.renewClaim(d.id, this.instance, d.attempts, this.deps.now() + this.leaseMs),
        )
        .then((held) => {
          if (held) return;
          clearInterval(timer);
          this.deps.log.warn(
            { delivery: d.id, url: redactUrl(d.url) },
            "webhook delivery no longer held by this instance (its webhook removed, or its lease lost); its lease is not renewed",
          );
        })
        .catch((err: Error) =>
          this.deps.log.error(
            { err: err.message, delivery: d.id },
            "could not renew a webhook delivery's lease; retrying",
          ),
        );
    }, this.renewEveryMs);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await renewing;
    };
  }

  /** Posts `d` once, within the time-out; what happened, as an attempt to record. */
  private async post(d: ClaimedDelivery): Promise<DeliveryAttempt> {
    const started = this.deps.now();
    const t0 = performance.now();
    let status: number | null = null;
    let error: string | null = null;
    // A timer of our own, not AbortSignal.timeout inside AbortSignal.any: the combined signal holds
    // the timeout signal only weakly, so it can be collected before it fires and the attempt then
    // waits for undici's 300 s header timeout (seen in CI).
    const timer = new AbortController();
    const deadline = setTimeout(
      () => timer.abort(new DOMException("timeout", "TimeoutError")),
      this.timeoutMs,
    );
    try {
      // A literal address is connected to without a lookup: checked here (the URL was checked
      // when added; this holds for rows older than that check).
      const forbidden = forbiddenWebhookAddress(new URL(d.url).hostname);
      if (forbidden) throw Object.assign(new Error(forbidden), { cause: { message: forbidden } });
      const res = await fetch(d.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "portcullis-webhook/1",
          [SIGNATURE_HEADER]: signBody(d.secret, d.body),
          "X-Portcullis-Event": d.eventType,
          "X-Portcullis-Delivery": d.eventId,
          "X-Portcullis-Timestamp": String(Math.floor(started / 1000)),
        },
        body: d.body,
        // A webhook URL never sends us elsewhere.
        redirect: "manual",
        signal: AbortSignal.any([timer.signal, this.abort.signal]),
        dispatcher: this.agent,
      });
      status = res.status;
      await res.body?.cancel().catch(() => undefined);
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      error =
        e.name === "TimeoutError"
          ? `no answer within ${this.timeoutMs} ms`
          : this.abort.signal.aborted && !timer.signal.aborted
            ? `${CUT_OFF_BY_SHUTDOWN} after ${Math.round(performance.now() - t0)} ms: the receiver may have it; sent again with the same delivery id`
            : (e.cause?.code ?? e.cause?.message ?? e.message);
    } finally {
      clearTimeout(deadline);
    }
    return { attempt: d.attempts, at: started, status, error, durationMs: performance.now() - t0 };
  }

  /**
   * Records an attempt: delivered, retried after its back-off, or given up; a send cut off by
   * shutdown is due again at once and never counts toward giving up (the receiver did nothing
   * wrong, and may not have it).
   */
  private async record(d: ClaimedDelivery, attempt: DeliveryAttempt): Promise<void> {
    const { error } = attempt;
    if (error === null) {
      await this.deps.repo.complete(d.id, this.instance, attempt, { delivered: true });
      return;
    }
    if (isCutOffByShutdown(attempt)) {
      this.deps.log.warn(
        { delivery: d.id, url: redactUrl(d.url) },
        "webhook delivery cut off by shutdown; due again at once",
      );
      await this.deps.repo.complete(d.id, this.instance, attempt, {
        delivered: false,
        retryAt: this.deps.now(),
      });
      return;
    }
    const retryAt = (await this.usedUp(d)) ? null : this.deps.now() + backoffMs(d.attempts, this.deps.random);
    if (retryAt === null)
      this.deps.log.warn({ delivery: d.id, url: redactUrl(d.url), error }, "webhook delivery given up");
    await this.deps.repo.complete(d.id, this.instance, attempt, { delivered: false, retryAt });
  }

  /** Whether `d`, whose attempt just failed, has used up its attempts (the log read only then). */
  private async usedUp(d: ClaimedDelivery): Promise<boolean> {
    if (d.attempts < MAX_ATTEMPTS) return false;
    const cutOff = (await this.deps.repo.attempts(d.id)).filter(isCutOffByShutdown).length;
    return attemptsUsedUp(d.attempts, cutOff);
  }
}

/**
 * The checks of a webhook's secret, format and events (the URL is checked where it will be
 * posted to, by `WebhookService.add`), with the messages the API and the CLI give; pure, so the
 * CLI makes them before it sends anything to a gateway. Throws WebhookInputError.
 */
export function checkWebhookSettings(input: {
  secret: string;
  format?: string;
  events?: string[] | null;
}): void {
  if (input.secret.trim() === "")
    throw new WebhookInputError(
      "the secret is blank (only whitespace): give at least 16 characters the receiver also knows (it keys the HMAC signature)",
    );
  if (input.secret.length < 16)
    throw new WebhookInputError("the secret must be at least 16 characters (it keys the HMAC signature)");
  // A stray line break (`echo` into a file) keys a signature the receiver cannot reproduce.
  if (hasControlCharacters(input.secret))
    throw new WebhookInputError(
      "the webhook secret must not contain control characters (escape sequences, tabs or line breaks)",
    );
  if (!(WEBHOOK_FORMATS as readonly string[]).includes(input.format ?? "json"))
    throw new WebhookInputError(`format must be one of ${WEBHOOK_FORMATS.join(", ")}, got ${input.format}`);
  if (input.events && input.events.length === 0)
    throw new WebhookInputError(
      `the event list is empty, which would send nothing: leave events out to receive every event, or name at least one of ${WEBHOOK_EVENT_TYPES.join(", ")}`,
    );
  for (const e of input.events ?? []) {
    if (!(WEBHOOK_EVENT_TYPES as readonly string[]).includes(e))
      throw new WebhookInputError(
        `unknown event ${JSON.stringify(e)} (known: ${WEBHOOK_EVENT_TYPES.join(", ")})`,
      );
  }
}
