import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
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
  MAX_ATTEMPTS,
  SIGNATURE_HEADER,
  WEBHOOK_EVENT_TYPES,
  WEBHOOK_FORMATS,
  backoffMs,
  eventKey,
  renderBody,
  signBody,
  wants,
  type WebhookMessageFormat,
} from "./webhook-message.js";

/** A webhook request that cannot be honoured, with a reason for the CLI and the API. */
export class WebhookInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookInputError";
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
   * Registers a webhook. The URL must be http(s); the secret at least 16 characters (it keys
   * the HMAC the receiver checks); events a subset of the known types.
   */
  async add(
    input: { url: string; secret: string; format?: string; events?: string[] | null },
    actor: Actor,
  ): Promise<Webhook> {
    let url: URL;
    try {
      url = new URL(input.url);
    } catch {
      throw new WebhookInputError(`not a URL: ${JSON.stringify(input.url)}`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new WebhookInputError(`a webhook URL must be http or https, got ${url.protocol}`);
    if (url.username || url.password)
      throw new WebhookInputError("put no credentials in the URL: the secret signs every delivery");
    if (input.secret.length < 16)
      throw new WebhookInputError("the secret must be at least 16 characters (it keys the HMAC signature)");
    const format = (input.format ?? "json") as WebhookMessageFormat;
    if (!WEBHOOK_FORMATS.includes(format))
      throw new WebhookInputError(`format must be one of ${WEBHOOK_FORMATS.join(", ")}, got ${input.format}`);
    const events = input.events?.length ? [...new Set(input.events)] : null;
    for (const e of events ?? []) {
      if (!(WEBHOOK_EVENT_TYPES as readonly string[]).includes(e))
        throw new WebhookInputError(
          `unknown event ${JSON.stringify(e)} (known: ${WEBHOOK_EVENT_TYPES.join(", ")})`,
        );
    }
    const hook = await this.deps.repo.add({
      url: url.href,
      secret: input.secret,
      format,
      events,
      at: this.deps.now(),
      by: actor.user,
    });
    this.deps.audit.record({
      action: "webhook.add",
      actor,
      outcome: "ok",
      detail: { id: hook.id, url: redactUrl(hook.url), format, events },
    });
    return hook;
  }

  list(): Promise<Webhook[]> {
    return this.deps.repo.list();
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
    if (!(await this.deps.repo.get(webhookId))) return undefined;
    const list = await this.deps.repo.deliveries(webhookId, opts);
    return Promise.all(list.map(async (d) => ({ ...d, log: await this.deps.repo.attempts(d.id) })));
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
  random?: () => number;
  /** Names this instance in claims. */
  instance?: string;
}

/**
 * Sends queued deliveries: claims due ones (a lease, safe with several instances), posts each
 * with its signature, a time-out and bounded concurrency, and records the attempt: delivered,
 * retried with exponential back-off, or failed after {@link MAX_ATTEMPTS}.
 */
export class WebhookDispatcher {
  private active = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly sending = new Set<Promise<void>>();
  private readonly concurrency: number;
  private readonly perWebhook: number;
  /** Sends in flight per webhook id. */
  private readonly busy = new Map<number, number>();
  private readonly timeoutMs: number;
  private readonly instance: string;
  private readonly abort = new AbortController();

  constructor(private readonly deps: WebhookDispatcherDeps) {
    this.concurrency = deps.concurrency ?? 8;
    this.perWebhook = deps.perWebhook ?? 2;
    this.timeoutMs = deps.timeoutMs ?? 10_000;
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
      claimed = await this.deps.repo.claimDue(
        this.deps.now(),
        free,
        this.timeoutMs * 2 + 30_000,
        this.instance,
        { perWebhook: this.perWebhook, taken: this.busy },
      );
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
   * Stops polling; sends in flight get `graceMs` to finish, then are given up (recorded as failed
   * attempts, or left to their lease: another run resumes them either way).
   */
  async stop(graceMs = 2_000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.sending]),
      new Promise<void>((resolve) => {
        grace = setTimeout(resolve, graceMs);
        grace.unref();
      }),
    ]);
    clearTimeout(grace);
    this.abort.abort();
    await Promise.allSettled([...this.sending]);
  }

  private async send(d: ClaimedDelivery): Promise<void> {
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
      });
      status = res.status;
      await res.body?.cancel().catch(() => undefined);
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      error =
        e.name === "TimeoutError"
          ? `no answer within ${this.timeoutMs} ms`
          : (e.cause?.code ?? e.cause?.message ?? e.message);
    } finally {
      clearTimeout(deadline);
    }
    const attempt: DeliveryAttempt = {
      attempt: d.attempts,
      at: started,
      status,
      error,
      durationMs: performance.now() - t0,
    };
    if (error === null) {
      await this.deps.repo.complete(d.id, this.instance, attempt, { delivered: true });
      return;
    }
    const retryAt =
      d.attempts >= MAX_ATTEMPTS ? null : this.deps.now() + backoffMs(d.attempts, this.deps.random);
    if (retryAt === null)
      this.deps.log.warn({ delivery: d.id, url: redactUrl(d.url), error }, "webhook delivery given up");
    await this.deps.repo.complete(d.id, this.instance, attempt, { delivered: false, retryAt });
  }
}

/** A URL without its query string (which may carry a token), for logs and the audit trail. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}${u.search ? "?…" : ""}`;
  } catch {
    return "(invalid URL)";
  }
}
