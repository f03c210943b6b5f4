import type { FastifyInstance } from "fastify";
import { ISO_TIME_HINT, parseIsoTime } from "../../domain/iso-time.js";
import type { GatewayHttpContext } from "../../main.js";
import { WhoHasNotFound } from "../../services/identity/inventory-service.js";
import { API_PREFIX, errorResponses, sendApiError } from "../api-conventions.js";

const consumerSchema = {
  type: "object",
  required: ["identity", "ip", "project", "version", "filename", "sha256", "lastPulled", "pulls", "owner"],
  properties: {
    identity: { type: ["string", "null"] },
    team: { type: ["string", "null"] },
    ip: { type: "string" },
    application: { type: ["string", "null"] },
    client: { type: ["string", "null"] },
    sha256: { type: "string" },
    project: { type: "string" },
    version: { type: "string" },
    filename: { type: "string" },
    firstPulled: { type: "string" },
    lastPulled: { type: "string" },
    pulls: { type: "integer" },
    owner: { type: ["string", "null"] },
  },
} as const;

/** `GET /api/v1/who-has?q=` and `GET /api/v1/inventory/drift` (approvers and admins). */
export async function registerInventoryRoutes(app: FastifyInstance, ctx: GatewayHttpContext): Promise<void> {
  const { inventory, audit, now } = ctx.services;

  app.get<{ Querystring: { q: string } }>(
    `${API_PREFIX}/who-has`,
    {
      config: { role: "approver" },
      schema: {
        tags: ["inventory"],
        summary:
          "Who pulled what an advisory (PYSEC-/GHSA-/CVE-/MAL-), NAME==VERSION or NAME names, with owners",
        querystring: {
          type: "object",
          required: ["q"],
          properties: { q: { type: "string", minLength: 1, maxLength: 300 } },
        },
        response: {
          200: {
            type: "object",
            required: ["query", "advisory", "consumers"],
            properties: {
              query: { type: "string" },
              advisory: {
                type: ["object", "null"],
                properties: {
                  id: { type: "string" },
                  ids: { type: "array", items: { type: "string" } },
                  summary: { type: ["string", "null"] },
                  affected: {
                    type: "array",
                    items: {
                      type: "object",
                      properties: {
                        project: { type: "string" },
                        versions: { type: "array", items: { type: "string" } },
                      },
                    },
                  },
                },
              },
              consumers: { type: "array", items: consumerSchema },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      await audit.flush().catch(() => undefined);
      try {
        return await inventory.whoHas(req.query.q);
      } catch (err) {
        if (err instanceof WhoHasNotFound) return sendApiError(reply, 404, "NOT_FOUND", err.message);
        return sendApiError(reply, 400, "VALIDATION", (err as Error).message);
      }
    },
  );

  app.get<{ Querystring: { since?: string; days?: number } }>(
    `${API_PREFIX}/inventory/drift`,
    {
      config: { role: "approver" },
      schema: {
        tags: ["inventory"],
        summary:
          "Posture drift: what each consumer pulled since a time (default 7 days) that it never pulled before",
        querystring: {
          type: "object",
          properties: {
            since: { type: "string", format: "date-time" },
            days: { type: "integer", minimum: 1, maximum: 365 },
          },
        },
        response: {
          200: {
            type: "object",
            required: ["since", "items"],
            properties: {
              since: { type: "string" },
              items: {
                type: "array",
                items: {
                  type: "object",
                  properties: {
                    identity: { type: ["string", "null"] },
                    ip: { type: "string" },
                    application: { type: ["string", "null"] },
                    team: { type: ["string", "null"] },
                    changes: {
                      type: "array",
                      items: {
                        type: "object",
                        properties: {
                          kind: { type: "string", enum: ["new-project", "new-version", "downgrade"] },
                          project: { type: "string" },
                          version: { type: "string" },
                          previous: { type: ["string", "null"] },
                          filename: { type: "string" },
                          firstPulled: { type: "string" },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const since =
        req.query.since !== undefined
          ? parseIsoTime(req.query.since)
          : now() - (req.query.days ?? 7) * 86_400_000;
      // Ajv's date-time takes some RFC 3339 times no JavaScript time holds (a leap second).
      if (since === undefined)
        return sendApiError(
          reply,
          400,
          "VALIDATION",
          `querystring/since must be ${ISO_TIME_HINT}, got ${JSON.stringify(req.query.since)}`,
        );
      await audit.flush().catch(() => undefined);
      return { since: new Date(since).toISOString(), items: await inventory.drift(since) };
    },
  );
}
