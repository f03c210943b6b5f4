import type {} from "@fastify/swagger";
import type { FastifyInstance } from "fastify";
import type { Delivery, DeliveryAttempt, Webhook } from "../../adapters/db/webhook-repository.js";
import { WEBHOOK_EVENT_TYPES, WEBHOOK_FORMATS } from "../../services/governance/webhook-message.js";
import {
  WebhookConflictError,
  WebhookInputError,
  type WebhookService,
} from "../../services/governance/webhook-service.js";
import {
  API_PREFIX,
  decodeCursor,
  encodeCursor,
  errorResponses,
  pageQuerySchema,
  pageSchema,
  sendApiError,
} from "../api-conventions.js";
import { actorOf } from "../auth-context.js";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A webhook as the API shows it: never its secret. */
export function webhookToJson(w: Webhook): Record<string, unknown> {
  return {
    id: w.id,
    url: w.url,
    format: w.format,
    events: w.events,
    createdAt: iso(w.createdAt),
    createdBy: w.createdBy,
  };
}

function deliveryToJson(d: Delivery & { log: DeliveryAttempt[] }): Record<string, unknown> {
  return {
    id: d.id,
    eventId: d.eventId,
    eventType: d.eventType,
    state: d.state,
    attempts: d.attempts,
    nextAttemptAt: d.state === "pending" ? iso(d.nextAttemptAt) : null,
    lastStatus: d.lastStatus,
    lastError: d.lastError,
    createdAt: iso(d.createdAt),
    deliveredAt: iso(d.deliveredAt),
    log: d.log.map((a) => ({
      attempt: a.attempt,
      at: iso(a.at),
      status: a.status,
      error: a.error,
      durationMs: a.durationMs,
    })),
  };
}

const nullableString = { type: ["string", "null"] } as const;
const webhookSchema = {
  type: "object",
  required: ["id", "url", "format", "events", "createdAt"],
  properties: {
    id: { type: "integer" },
    url: { type: "string" },
    format: { type: "string", enum: [...WEBHOOK_FORMATS] },
    events: { type: ["array", "null"], items: { type: "string" } },
    createdAt: { type: "string", format: "date-time" },
    createdBy: nullableString,
  },
} as const;
const deliverySchema = {
  type: "object",
  required: ["id", "eventId", "eventType", "state", "attempts"],
  properties: {
    id: { type: "integer" },
    eventId: { type: "string" },
    eventType: { type: "string" },
    state: { type: "string", enum: ["pending", "delivered", "failed"] },
    attempts: { type: "integer" },
    nextAttemptAt: nullableString,
    lastStatus: { type: ["integer", "null"] },
    lastError: nullableString,
    createdAt: { type: "string", format: "date-time" },
    deliveredAt: nullableString,
    log: {
      type: "array",
      items: {
        type: "object",
        properties: {
          attempt: { type: "integer" },
          at: { type: "string", format: "date-time" },
          status: { type: ["integer", "null"] },
          error: nullableString,
          durationMs: { type: "integer" },
        },
      },
    },
  },
} as const;
const idParams = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "integer", minimum: 1 } },
} as const;

const deliveryPageSchema = {
  type: "object",
  required: ["items", "next", "webhookRemovedAt"],
  properties: {
    items: { type: "array", items: deliverySchema },
    next: { type: ["string", "null"] },
    webhookRemovedAt: {
      type: ["string", "null"],
      description: "when the webhook was removed; null while it is active",
    },
  },
} as const;

/**
 * `GET/POST /api/v1/webhooks`, `DELETE /api/v1/webhooks/{id}`, `GET /api/v1/webhooks/{id}/deliveries`:
 * admin only. Secrets go in and never come back out.
 */
export function registerWebhookRoutes(app: FastifyInstance, webhooks: WebhookService): void {
  app.get<{ Querystring: { limit: number; cursor?: string } }>(
    `${API_PREFIX}/webhooks`,
    {
      config: { role: "admin" },
      schema: {
        tags: ["webhooks"],
        summary: "Registered webhooks (without their secrets), oldest first",
        querystring: { type: "object", additionalProperties: false, properties: { ...pageQuerySchema } },
        response: { 200: pageSchema(webhookSchema), ...errorResponses },
      },
    },
    async (req, reply) => {
      const afterId = decodeCursor<number>(req.query.cursor);
      if (req.query.cursor && typeof afterId !== "number")
        return sendApiError(reply, 400, "VALIDATION", "cursor is not one this API gave");
      const list = await webhooks.list({
        ...(afterId !== undefined ? { afterId } : {}),
        limit: req.query.limit + 1,
      });
      const page = list.slice(0, req.query.limit);
      return reply.header("cache-control", "no-store").send({
        items: page.map(webhookToJson),
        next: list.length > req.query.limit ? encodeCursor(page.at(-1)!.id) : null,
      });
    },
  );

  app.post<{ Body: { url: string; secret: string; format?: string; events?: string[] } }>(
    `${API_PREFIX}/webhooks`,
    {
      config: { role: "admin" },
      schema: {
        tags: ["webhooks"],
        summary:
          "Register a webhook; each delivery is signed with X-Portcullis-Signature (HMAC-SHA256 of the body); 409 when an active webhook has the same URL and events",
        body: {
          type: "object",
          required: ["url", "secret"],
          additionalProperties: false,
          properties: {
            url: { type: "string", minLength: 1, maxLength: 2000 },
            secret: { type: "string", minLength: 16, maxLength: 500 },
            format: { type: "string", enum: [...WEBHOOK_FORMATS] },
            events: {
              type: "array",
              description: "event types to receive; leave out for every event (an empty list is refused)",
              items: { type: "string", enum: [...WEBHOOK_EVENT_TYPES] },
              maxItems: 20,
            },
          },
        },
        response: { 201: webhookSchema, 409: { $ref: "ApiError#" }, ...errorResponses },
      },
    },
    async (req, reply) => {
      try {
        const hook = await webhooks.add(req.body, actorOf(req));
        return reply.code(201).header("cache-control", "no-store").send(webhookToJson(hook));
      } catch (err) {
        if (err instanceof WebhookConflictError) return sendApiError(reply, 409, "CONFLICT", err.message);
        if (err instanceof WebhookInputError) return sendApiError(reply, 400, "VALIDATION", err.message);
        throw err;
      }
    },
  );

  app.delete<{ Params: { id: number } }>(
    `${API_PREFIX}/webhooks/:id`,
    {
      config: { role: "admin" },
      schema: {
        tags: ["webhooks"],
        summary: "Remove a webhook (its pending deliveries are dropped; its delivery log stays readable)",
        params: idParams,
        response: {
          200: { type: "object", required: ["removed"], properties: { removed: { type: "integer" } } },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      if (!(await webhooks.remove(req.params.id, actorOf(req))))
        return sendApiError(reply, 404, "NOT_FOUND", `no webhook ${req.params.id}`);
      return reply.header("cache-control", "no-store").send({ removed: req.params.id });
    },
  );

  app.get<{ Params: { id: number }; Querystring: { limit: number; cursor?: string } }>(
    `${API_PREFIX}/webhooks/:id/deliveries`,
    {
      config: { role: "admin" },
      schema: {
        tags: ["webhooks"],
        summary:
          "A webhook's delivery log, newest first, with every attempt; still readable after the webhook is removed (webhookRemovedAt says when)",
        params: idParams,
        querystring: { type: "object", additionalProperties: false, properties: { ...pageQuerySchema } },
        response: { 200: deliveryPageSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const beforeId = decodeCursor<number>(req.query.cursor);
      if (req.query.cursor && typeof beforeId !== "number")
        return sendApiError(reply, 400, "VALIDATION", "cursor is not one this API gave");
      const removedAt = await webhooks.removedAt(req.params.id);
      const list = await webhooks.deliveries(req.params.id, {
        ...(beforeId !== undefined ? { beforeId } : {}),
        limit: req.query.limit + 1,
      });
      if (!list || removedAt === undefined)
        return sendApiError(reply, 404, "NOT_FOUND", `no webhook ${req.params.id}`);
      const page = list.slice(0, req.query.limit);
      return reply.header("cache-control", "no-store").send({
        items: page.map(deliveryToJson),
        next: list.length > req.query.limit ? encodeCursor(page.at(-1)!.id) : null,
        webhookRemovedAt: removedAt === null ? null : new Date(removedAt).toISOString(),
      });
    },
  );
}
