import type { FastifyInstance } from "fastify";
import { AuditBlockUnreadable } from "../../adapters/db/audit-repository.js";
import { ISO_TIME_HINT, parseIsoTime } from "../../domain/iso-time.js";
import { normalizeProjectName } from "../../domain/project-name.js";
import type { GatewayHttpContext } from "../../main.js";
import { recordJson } from "../../services/audit/audit-sinks.js";
import {
  API_PREFIX,
  decodeCursor,
  encodeCursor,
  errorResponses,
  pageQuerySchema,
  pageSchema,
  sendApiError,
} from "../api-conventions.js";

interface AuditQuerystring {
  identity?: string;
  anonymous?: boolean;
  ip?: string;
  sha256?: string;
  project?: string;
  action?: string;
  outcome?: string;
  since?: string;
  until?: string;
  limit: number;
  cursor?: string;
  format?: "json" | "jsonl";
}

const recordSchema = {
  type: "object",
  required: ["seq", "time", "action", "identity", "ip", "outcome", "hash", "prevHash"],
  properties: {
    seq: { type: "integer" },
    time: { type: "string", format: "date-time" },
    action: { type: "string" },
    identity: { type: ["string", "null"] },
    role: { type: "string" },
    team: { type: ["string", "null"] },
    tokenId: { type: ["string", "null"] },
    ip: { type: "string" },
    application: { type: ["string", "null"] },
    client: { type: ["object", "null"], additionalProperties: true },
    project: { type: ["string", "null"] },
    version: { type: ["string", "null"] },
    filename: { type: ["string", "null"] },
    sha256: { type: ["string", "null"] },
    outcome: { type: "string" },
    status: { type: ["integer", "null"] },
    detail: { type: ["object", "null"], additionalProperties: true },
    count: {
      type: "integer",
      minimum: 2,
      description:
        "present when the record stands for the same access repeated within a second (every field equal but the time): how many accesses",
    },
    repeatedAt: {
      type: "array",
      items: { type: "string" },
      description: "the times of the accesses after the first (`time`), in the order they came",
    },
    unparseable: {
      type: "object",
      additionalProperties: { type: "string" },
      description: "the stored text of a field that is not valid JSON (damaged: `audit verify` names it)",
    },
    prevHash: { type: "string" },
    hash: { type: "string" },
  },
} as const;

/** The largest page of a JSON-lines export (the dashboard's export link asks for 1000). */
const MAX_EXPORT_PAGE = 1000;

/** `GET /api/v1/audit`: the audit trail for approvers and admins, newest first, with filters and cursor pages, or JSONL. */
export async function registerAuditRoutes(app: FastifyInstance, ctx: GatewayHttpContext): Promise<void> {
  const { auditLog, audit } = ctx.services;
  app.get<{ Querystring: AuditQuerystring }>(
    `${API_PREFIX}/audit`,
    {
      config: { role: "approver" },
      schema: {
        tags: ["audit"],
        summary: "Audit records, newest first (approvers and admins); ?format=jsonl for an export",
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            identity: { type: "string", maxLength: 200 },
            anonymous: { type: "boolean", description: "true: only records of anonymous callers" },
            ip: { type: "string", maxLength: 100, description: "the client address recorded" },
            sha256: { type: "string", pattern: "^[0-9a-f]{64}$" },
            project: { type: "string", maxLength: 200, description: "any spelling of the name (PEP 503)" },
            action: { type: "string", maxLength: 100 },
            outcome: { type: "string", maxLength: 40 },
            since: { type: "string", format: "date-time" },
            until: { type: "string", format: "date-time" },
            format: { type: "string", enum: ["json", "jsonl"] },
            ...pageQuerySchema,
            limit: {
              ...pageQuerySchema.limit,
              maximum: MAX_EXPORT_PAGE,
              description: `1–${pageQuerySchema.limit.maximum} (as every list); with format=jsonl up to ${MAX_EXPORT_PAGE}`,
            },
          },
        },
        response: { 200: pageSchema(recordSchema), ...errorResponses },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const cursor = decodeCursor<{ seq: number }>(q.cursor);
      if (q.cursor && (typeof cursor?.seq !== "number" || !Number.isInteger(cursor.seq)))
        return sendApiError(reply, 400, "VALIDATION", "invalid cursor");
      // What was just recorded (including this caller's own earlier calls) is visible at once.
      await audit.flush().catch(() => undefined);
      const since = q.since === undefined ? undefined : parseIsoTime(q.since);
      const until = q.until === undefined ? undefined : parseIsoTime(q.until);
      for (const [name, text, t] of [
        ["since", q.since, since],
        ["until", q.until, until],
      ] as const)
        if (text !== undefined && t === undefined)
          return sendApiError(
            reply,
            400,
            "VALIDATION",
            `querystring/${name} must be ${ISO_TIME_HINT}, got ${JSON.stringify(text)}`,
          );
      if (q.anonymous === true && q.identity !== undefined)
        return sendApiError(
          reply,
          400,
          "VALIDATION",
          "querystring: identity and anonymous=true exclude each other",
        );
      const limit = q.limit;
      const max = q.format === "jsonl" ? MAX_EXPORT_PAGE : pageQuerySchema.limit.maximum;
      if (limit > max)
        return sendApiError(
          reply,
          400,
          "VALIDATION",
          `querystring/limit must be <= ${max}${q.format === "jsonl" ? "" : ` (up to ${MAX_EXPORT_PAGE} with format=jsonl)`}, got ${limit}`,
        );
      // One record past the page says whether another follows (no cursor to an empty page).
      let found: Awaited<ReturnType<typeof auditLog.query>>;
      try {
        found = await auditLog.query({
          ...(q.identity !== undefined ? { identity: q.identity } : {}),
          ...(q.anonymous === true ? { identity: null } : {}),
          ...(q.ip !== undefined ? { ip: q.ip } : {}),
          ...(q.sha256 !== undefined ? { sha256: q.sha256 } : {}),
          ...(q.project !== undefined ? { project: normalizeProjectName(q.project) } : {}),
          ...(q.action !== undefined ? { action: q.action } : {}),
          ...(q.outcome !== undefined ? { outcome: q.outcome } : {}),
          ...(since !== undefined ? { since } : {}),
          ...(until !== undefined ? { until } : {}),
          ...(cursor ? { beforeSeq: cursor.seq } : {}),
          limit: limit + 1,
          order: "desc",
        });
      } catch (err) {
        // A block (audit.storage batches) damaged or edited past reading: said, never guessed at.
        if (!(err instanceof AuditBlockUnreadable)) throw err;
        return sendApiError(reply, 500, "INTERNAL", `${err.message}; run \`portcullis audit verify\``);
      }
      const rows = found.slice(0, limit);
      const items = rows.map(recordJson);
      const next = found.length > limit ? encodeCursor({ seq: rows[rows.length - 1]!.seq }) : null;
      reply.header("cache-control", "no-store");
      if (q.format === "jsonl") {
        if (next) reply.header("x-next-cursor", next);
        return reply
          .type("application/x-ndjson")
          .serializer((s: string) => s)
          .send(items.map((i) => JSON.stringify(i)).join("\n") + (items.length ? "\n" : ""));
      }
      return { items, next };
    },
  );
}
