import type {} from "@fastify/swagger";
import { controlCharacterProblem } from "../../domain/control-characters.js";
import { ISO_TIME_HINT, parseIsoTime } from "../../domain/iso-time.js";
import { actorOf } from "../auth-context.js";
import type { FastifyInstance } from "fastify";
import { normalizeProjectName } from "../../domain/project-name.js";
import { SEVERITIES } from "../../policy/policy-schema.js";
import {
  itemToJson,
  REMEDIATION_STATES,
  RemediationTransitionError,
  type RemediationState,
  type StateChange,
} from "../../services/governance/remediation-rules.js";
import type { RemediationService } from "../../services/governance/remediation-service.js";
import type { Severity } from "../../policy/check.js";
import {
  API_PREFIX,
  decodeCursor,
  encodeCursor,
  errorResponses,
  pageQuerySchema,
  pageSchema,
  sendApiError,
} from "../api-conventions.js";

const nullableString = { type: ["string", "null"] } as const;
const itemSchema = {
  type: "object",
  required: ["id", "sha256", "project", "version", "severity", "state", "openedAt", "dueAt"],
  properties: {
    id: { type: "integer" },
    sha256: { type: "string" },
    cause: { type: "string" },
    project: { type: "string" },
    version: { type: "string" },
    filename: { type: "string" },
    severity: { type: "string", enum: [...SEVERITIES] },
    owner: nullableString,
    state: { type: "string", enum: [...REMEDIATION_STATES] },
    summary: { type: "string" },
    advisoryIds: { type: "array", items: { type: "string" } },
    consumers: {
      type: "array",
      items: {
        type: "object",
        properties: {
          identity: nullableString,
          ip: { type: "string" },
          team: nullableString,
          application: nullableString,
          client: nullableString,
          lastPulled: { type: "string" },
        },
      },
    },
    fixedVersion: nullableString,
    openedAt: { type: "string", format: "date-time" },
    dueAt: { type: "string", format: "date-time" },
    stateChangedAt: { type: "string", format: "date-time" },
    stateChangedBy: nullableString,
    note: nullableString,
    acceptedUntil: nullableString,
    resolvedAt: nullableString,
    resolution: nullableString,
    /** One item's answer only (`GET /api/v1/remediation/{id}`, and a state change's): not in lists. */
    history: {
      type: "array",
      items: {
        type: "object",
        required: ["at", "state"],
        properties: {
          at: { type: "string", format: "date-time" },
          from: { type: ["string", "null"], enum: [...REMEDIATION_STATES, null] },
          state: { type: "string", enum: [...REMEDIATION_STATES] },
          by: nullableString,
          note: nullableString,
          acceptedUntil: nullableString,
          resolution: nullableString,
          /** An owner change (the state unchanged): the team the item moved to; the note names the one before. */
          owner: nullableString,
        },
      },
    },
  },
} as const;

const reportSchema = {
  type: "object",
  required: ["at", "open", "openTotal", "overdue", "acceptedRisk", "fixed", "meanTimeToRemediateHours"],
  properties: {
    at: { type: "string", format: "date-time" },
    open: {
      type: "array",
      items: {
        type: "object",
        properties: {
          bucket: { type: "string" },
          severity: { type: "string" },
          count: { type: "integer" },
        },
      },
    },
    openTotal: { type: "integer" },
    overdue: { type: "integer" },
    acceptedRisk: { type: "integer" },
    fixed: { type: "integer" },
    meanTimeToRemediateHours: { type: ["number", "null"] },
  },
} as const;

interface ListQuery {
  state?: RemediationState;
  severity?: Severity;
  project?: string;
  owner?: string;
  limit: number;
  cursor?: string;
}

/**
 * `GET /api/v1/remediation` (filters, pages), `GET /api/v1/remediation/report`,
 * `GET /api/v1/remediation/{id}`, `POST /api/v1/remediation/{id}/state`. Items name consumers
 * (identities and addresses), so reading them takes the approver role, like the audit trail.
 */
export function registerRemediationRoutes(app: FastifyInstance, remediation: RemediationService): void {
  app.get<{ Querystring: ListQuery }>(
    `${API_PREFIX}/remediation`,
    {
      config: { role: "approver" },
      schema: {
        tags: ["remediation"],
        summary: "Remediation items, newest first",
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            state: { type: "string", enum: [...REMEDIATION_STATES] },
            severity: { type: "string", enum: [...SEVERITIES] },
            project: { type: "string", maxLength: 200 },
            owner: { type: "string", maxLength: 200 },
            ...pageQuerySchema,
          },
        },
        response: { 200: pageSchema(itemSchema), ...errorResponses },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const beforeId = decodeCursor<number>(q.cursor);
      if (q.cursor && typeof beforeId !== "number")
        return sendApiError(reply, 400, "VALIDATION", "cursor is not one this API gave");
      const items = await remediation.list({
        ...(q.state ? { state: q.state } : {}),
        ...(q.severity ? { severity: q.severity } : {}),
        ...(q.project ? { project: normalizeProjectName(q.project) } : {}),
        ...(q.owner ? { owner: q.owner } : {}),
        ...(beforeId !== undefined ? { beforeId } : {}),
        limit: q.limit + 1,
      });
      const page = items.slice(0, q.limit);
      return reply.header("cache-control", "no-store").send({
        items: page.map(itemToJson),
        next: items.length > q.limit ? encodeCursor(page.at(-1)!.id) : null,
      });
    },
  );

  app.get(
    `${API_PREFIX}/remediation/report`,
    {
      config: { role: "approver" },
      schema: {
        tags: ["remediation"],
        summary: "Open items by age and severity, overdue count, mean time to remediate",
        response: { 200: reportSchema, ...errorResponses },
      },
    },
    async (_req, reply) => reply.header("cache-control", "no-store").send(await remediation.report()),
  );

  app.get<{ Params: { id: number } }>(
    `${API_PREFIX}/remediation/:id`,
    {
      config: { role: "approver" },
      schema: {
        tags: ["remediation"],
        summary: "One remediation item, with its history: every state it has been in, who moved it and why",
        params: { type: "object", required: ["id"], properties: { id: { type: "integer", minimum: 1 } } },
        response: { 200: itemSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const item = await remediation.get(req.params.id);
      if (!item) return sendApiError(reply, 404, "NOT_FOUND", `no remediation item ${req.params.id}`);
      return reply.header("cache-control", "no-store").send(itemToJson(item));
    },
  );

  app.post<{
    Params: { id: number };
    Body: { state: RemediationState; note?: string; reason?: string; until?: string };
  }>(
    `${API_PREFIX}/remediation/:id/state`,
    {
      config: { role: "approver" },
      schema: {
        tags: ["remediation"],
        summary: "Acknowledge, fix, reopen, or accept the risk (with a reason and an expiry)",
        params: { type: "object", required: ["id"], properties: { id: { type: "integer", minimum: 1 } } },
        body: {
          type: "object",
          required: ["state"],
          additionalProperties: false,
          properties: {
            state: { type: "string", enum: [...REMEDIATION_STATES] },
            note: { type: "string", maxLength: 2000 },
            reason: { type: "string", maxLength: 2000 },
            until: { type: "string", format: "date-time" },
          },
        },
        response: { 200: itemSchema, 409: { $ref: "ApiError#" }, ...errorResponses },
      },
    },
    async (req, reply) => {
      const b = req.body;
      // Stored and printed back by `remediation show` and the dashboard: refused as token labels
      // are, and as the CLI refuses the same text in --reason and --note.
      const unprintable = controlCharacterProblem(b, ["reason", "note"]);
      if (unprintable) return sendApiError(reply, 400, "VALIDATION", unprintable);
      let change: StateChange;
      if (b.state === "accepted-risk") {
        if (!b.reason || !b.until)
          return sendApiError(reply, 400, "VALIDATION", "accepted-risk needs a reason and an until date");
        const until = parseIsoTime(b.until);
        if (until === undefined)
          return sendApiError(
            reply,
            400,
            "VALIDATION",
            `until must be ${ISO_TIME_HINT}, got ${JSON.stringify(b.until)}`,
          );
        change = { state: "accepted-risk", reason: b.reason, until };
      } else {
        change = { state: b.state, ...(b.note ? { note: b.note } : {}) };
      }
      try {
        const item = await remediation.changeState(req.params.id, change, actorOf(req));
        if (!item) return sendApiError(reply, 404, "NOT_FOUND", `no remediation item ${req.params.id}`);
        return reply.header("cache-control", "no-store").send(itemToJson(item));
      } catch (err) {
        if (err instanceof RemediationTransitionError)
          return sendApiError(
            reply,
            err.conflict ? 409 : 400,
            err.conflict ? "CONFLICT" : "VALIDATION",
            err.message,
          );
        throw err;
      }
    },
  );
}
