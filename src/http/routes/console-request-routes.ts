import type { FastifyInstance, FastifyReply } from "fastify";
import { actorOf } from "../auth-context.js";
import {
  REQUEST_STATES,
  type PackageRequest,
  type RequestState,
} from "../../adapters/db/request-repository.js";
import {
  RequestError,
  type RequestReport,
  type RequestService,
} from "../../services/console/request-service.js";
import {
  decodeCursor,
  encodeCursor,
  errorResponses,
  pageQuerySchema,
  pageSchema,
  sendApiError,
} from "../api-conventions.js";
import { reasonSchema } from "./console-schemas.js";
import { controlCharacterProblem } from "../../domain/control-characters.js";

const nullableString = { type: ["string", "null"] } as const;

const grantedExceptionSchema = {
  type: "object",
  required: ["id", "project", "reason", "expiresAt"],
  properties: {
    id: { type: "integer" },
    project: { type: "string" },
    version: { type: "string" },
    sha256: { type: "string" },
    checks: { type: "array", items: { type: "string" } },
    reason: { type: "string" },
    ticket: { type: "string" },
    expiresAt: { type: "string" },
  },
} as const;

const reportSchema = {
  type: "object",
  required: ["ok", "requirement", "treeScore", "targets", "files", "rejected", "vettedAt"],
  properties: {
    ok: { type: "boolean" },
    requirement: { type: "string" },
    treeScore: { type: "integer" },
    targets: {
      type: "array",
      items: {
        type: "object",
        required: ["target", "ok", "tree"],
        properties: {
          target: { type: "string" },
          ok: { type: "boolean" },
          tree: { type: "string" },
          error: { type: "string" },
        },
      },
    },
    files: {
      type: "array",
      items: {
        type: "object",
        required: [
          "project",
          "version",
          "filename",
          "sha256",
          "depth",
          "outcome",
          "score",
          "summary",
          "reasons",
          "licence",
          "popularity",
          "provenance",
        ],
        properties: {
          project: { type: "string" },
          version: { type: "string" },
          filename: { type: "string" },
          sha256: { type: "string" },
          depth: { type: "integer" },
          outcome: { type: "string", enum: ["admitted", "quarantined", "blocked", "pending"] },
          score: { type: "integer" },
          summary: { type: "string" },
          reasons: { type: "array", items: reasonSchema },
          licence: nullableString,
          popularity: {
            anyOf: [
              {
                type: "object",
                required: ["rank", "downloads"],
                properties: { rank: { type: "integer" }, downloads: { type: ["integer", "null"] } },
              },
              { type: "null" },
            ],
          },
          provenance: {
            type: ["object", "null"],
            required: ["status", "detail"],
            properties: {
              status: { type: "string", enum: ["verified", "absent", "invalid", "unavailable"] },
              publisher: { type: "string" },
              detail: { type: "string" },
            },
          },
          passedOver: { type: "boolean" },
        },
      },
    },
    rejected: {
      type: "array",
      items: {
        type: "object",
        required: ["project", "version", "reason"],
        properties: { project: { type: "string" }, version: { type: "string" }, reason: { type: "string" } },
      },
    },
    vettedAt: { type: "string" },
  },
} as const;

const requestProperties = {
  id: { type: "integer" },
  project: { type: "string" },
  version: nullableString,
  reason: { type: "string" },
  state: { type: "string", enum: [...REQUEST_STATES] },
  requester: { type: "string" },
  requesterTeam: nullableString,
  decidedBy: nullableString,
  decisionReason: nullableString,
  exceptions: { type: "array", items: grantedExceptionSchema },
  createdAt: { type: "string" },
  updatedAt: { type: "string" },
} as const;
const requestRequired = Object.keys(requestProperties);

/** A request without its report: what lists show. */
const requestSummarySchema = {
  type: "object",
  required: [...requestRequired, "ok", "treeScore"],
  properties: { ...requestProperties, ok: { type: "boolean" }, treeScore: { type: "integer" } },
} as const;

/** A request with its full vetting report. */
export const requestSchema = {
  type: "object",
  required: [...requestRequired, "report"],
  properties: {
    ...requestProperties,
    report: reportSchema,
    remaining: {
      type: "array",
      description: "What is still refused after an approval or exception (the request stays pending).",
      items: {
        type: "object",
        required: ["project", "version", "reason"],
        properties: {
          project: { type: "string" },
          version: { type: "string" },
          filename: { type: "string" },
          reason: { type: "string" },
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
const expiresAt = {
  type: "string",
  format: "date-time",
  description: "When the exceptions expire (default: 90 days)",
} as const;

function present(r: PackageRequest<RequestReport> & { remaining?: unknown }) {
  return {
    ...r,
    createdAt: new Date(r.createdAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
  };
}

/**
 * Requests and approvals: `POST /api/v1/requests` (requester+) vets a package with its whole
 * tree and approves it at once when policy admits everything; approvers approve, deny or grant an
 * exception; anyone may read the queue.
 */
export function registerConsoleRequestRoutes(app: FastifyInstance, deps: { requests: RequestService }): void {
  const guard = async (reply: FastifyReply, fn: () => Promise<unknown>, body?: Record<string, unknown>) => {
    // Stored and printed back by `requests show`, the dashboard and webhooks; a reason may span lines.
    const unprintable = body
      ? controlCharacterProblem(body, ["reason", "ticket"], { lineFeeds: true })
      : undefined;
    if (unprintable) return sendApiError(reply, 400, "VALIDATION", unprintable);
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RequestError) return sendApiError(reply, err.status, err.code, err.message);
      throw err;
    }
  };

  app.post<{ Body: { project: string; version?: string; reason: string } }>(
    "/api/v1/requests",
    {
      config: { role: "requester" },
      schema: {
        tags: ["requests"],
        summary:
          "Request a package: vetted at once with its whole tree; approved when policy admits everything",
        body: {
          type: "object",
          required: ["project", "reason"],
          properties: {
            project: { type: "string", minLength: 1, maxLength: 200 },
            version: { type: "string", minLength: 1, maxLength: 200 },
            reason: { type: "string", minLength: 1, maxLength: 2000 },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            ...requestSchema,
            description: "The caller's own request for the same project and version, already pending",
          },
          201: requestSchema,
          409: { $ref: "ApiError#" },
          503: { $ref: "ApiError#" },
          ...errorResponses,
        },
      },
    },
    async (req, reply) =>
      guard(
        reply,
        async () => {
          const { existing, ...request } = await deps.requests.create(actorOf(req), req.body);
          // The caller's own request for the same thing already waits: 200 with it, nothing new.
          return reply.code(existing ? 200 : 201).send(present(request));
        },
        req.body,
      ),
  );

  app.get<{ Querystring: { state?: RequestState; mine?: boolean; limit: number; cursor?: string } }>(
    "/api/v1/requests",
    {
      schema: {
        tags: ["requests"],
        summary: "The requests, newest first; `state` filters, `mine=true` keeps the caller's",
        querystring: {
          type: "object",
          properties: {
            state: { type: "string", enum: [...REQUEST_STATES] },
            mine: { type: "boolean" },
            ...pageQuerySchema,
          },
          additionalProperties: false,
        },
        response: { 200: pageSchema(requestSummarySchema), ...errorResponses },
      },
    },
    async (req, reply) => {
      const before = decodeCursor<unknown>(req.query.cursor);
      if (req.query.cursor && (typeof before !== "number" || !Number.isInteger(before)))
        return sendApiError(reply, 400, "VALIDATION", "cursor is not one this API gave");
      const rows = await deps.requests.list({
        ...(req.query.state ? { state: req.query.state } : {}),
        ...(req.query.mine ? { requester: actorOf(req).user ?? `anonymous@${actorOf(req).ip}` } : {}),
        ...(typeof before === "number" ? { beforeId: before } : {}),
        limit: req.query.limit + 1,
      });
      const page = rows.slice(0, req.query.limit);
      return {
        items: page.map((r) => ({
          ...r,
          createdAt: new Date(r.createdAt).toISOString(),
          updatedAt: new Date(r.updatedAt).toISOString(),
        })),
        next: rows.length > req.query.limit ? encodeCursor(page.at(-1)!.id) : null,
      };
    },
  );

  app.get<{ Params: { id: number } }>(
    "/api/v1/requests/:id",
    {
      schema: {
        tags: ["requests"],
        summary: "A request with its full vetting report",
        params: idParams,
        response: { 200: requestSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const r = await deps.requests.get(req.params.id);
      if (!r) return sendApiError(reply, 404, "NOT_FOUND", `no request ${req.params.id}`);
      return present(r);
    },
  );

  app.post<{ Params: { id: number }; Body: { reason: string; ticket?: string; expiresAt?: string } }>(
    "/api/v1/requests/:id/approve",
    {
      config: { role: "approver" },
      schema: {
        tags: ["requests"],
        summary:
          "Approve a pending request: grants exceptions for the refused files of its tree (exact file, or exact version when the tree did not resolve); never the requester's own (403)",
        params: idParams,
        body: {
          type: "object",
          required: ["reason"],
          properties: {
            reason: { type: "string", minLength: 1, maxLength: 2000 },
            ticket: { type: "string", maxLength: 200 },
            expiresAt,
          },
          additionalProperties: false,
        },
        response: { 200: requestSchema, 409: { $ref: "ApiError#" }, ...errorResponses },
      },
    },
    async (req, reply) =>
      guard(
        reply,
        async () => present(await deps.requests.approve(actorOf(req), req.params.id, req.body)),
        req.body,
      ),
  );

  app.post<{ Params: { id: number }; Body: { reason: string } }>(
    "/api/v1/requests/:id/deny",
    {
      config: { role: "approver" },
      schema: {
        tags: ["requests"],
        summary:
          "Deny a pending request: no exception is granted, and those granted through it while pending are revoked",
        params: idParams,
        body: {
          type: "object",
          required: ["reason"],
          properties: { reason: { type: "string", minLength: 1, maxLength: 2000 } },
          additionalProperties: false,
        },
        response: { 200: requestSchema, 409: { $ref: "ApiError#" }, ...errorResponses },
      },
    },
    async (req, reply) =>
      guard(
        reply,
        async () => present(await deps.requests.deny(actorOf(req), req.params.id, req.body)),
        req.body,
      ),
  );

  app.post<{
    Params: { id: number };
    Body: {
      project?: string;
      version?: string;
      sha256?: string;
      checks?: string[];
      reason: string;
      ticket?: string;
      expiresAt?: string;
    };
  }>(
    "/api/v1/requests/:id/exception",
    {
      config: { role: "approver" },
      schema: {
        tags: ["requests"],
        summary:
          "Grant a policy exception (exact version or exact file sha256) for part of a pending request's tree, then re-vet it; never on the requester's own (403)",
        params: idParams,
        body: {
          type: "object",
          required: ["reason"],
          properties: {
            project: { type: "string", minLength: 1, maxLength: 200 },
            version: { type: "string", minLength: 1, maxLength: 200 },
            sha256: { type: "string", pattern: "^[0-9a-f]{64}$" },
            checks: { type: "array", items: { type: "string", maxLength: 40 }, maxItems: 20 },
            reason: { type: "string", minLength: 1, maxLength: 2000 },
            ticket: { type: "string", maxLength: 200 },
            expiresAt,
          },
          additionalProperties: false,
        },
        response: { 200: requestSchema, 409: { $ref: "ApiError#" }, ...errorResponses },
      },
    },
    async (req, reply) =>
      guard(
        reply,
        async () => present(await deps.requests.exception(actorOf(req), req.params.id, req.body)),
        req.body,
      ),
  );
}
