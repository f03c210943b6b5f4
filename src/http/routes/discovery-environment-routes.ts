import type {} from "@fastify/swagger";
import { actorOf } from "../auth-context.js";
import type { FastifyInstance } from "fastify";
import type {
  EnvironmentDetail,
  EnvironmentRepository,
  EnvironmentSummary,
  ReportedDistribution,
} from "../../adapters/db/environment-repository.js";
import { roleAtLeast } from "../../domain/identity.js";
import { UNGOVERNED, type GovernanceStatus } from "../../domain/installed-distribution.js";
import type { AuditRecorder } from "../../services/audit-entry.js";
import type { InventoryVerdict } from "../../services/discovery/inventory-check.js";
import {
  API_PREFIX,
  decodeCursor,
  encodeCursor,
  errorResponses,
  pageQuerySchema,
  pageSchema,
  sendApiError,
} from "../api-conventions.js";

const STATUSES = [
  "admitted",
  "blocked",
  "quarantined",
  "pending",
  "not-in-catalog",
  "hash-differs",
  "unknown",
] as const;

const summaryProperties = {
  id: { type: "integer" },
  host: { type: "string" },
  path: { type: "string" },
  kind: { type: "string", enum: ["venv", "conda", "site-packages"] },
  pythonVersion: { type: ["string", "null"] },
  owner: { type: ["string", "null"] },
  reportedBy: { type: "string" },
  firstReportedAt: { type: "string", format: "date-time" },
  reportedAt: { type: "string", format: "date-time" },
  total: { type: "integer" },
  ungoverned: { type: "integer", description: "distributions that did not pass the gate" },
  counts: { type: "object", additionalProperties: { type: "integer" } },
} as const;
const summarySchema = {
  type: "object",
  required: ["id", "host", "path", "kind", "total", "ungoverned"],
  properties: summaryProperties,
} as const;
/** One distribution as `scan --report` sends it: its status and reason are the client's claim. */
const distributionSchema = {
  type: "object",
  required: ["name", "version", "status", "reason"],
  additionalProperties: false,
  properties: {
    name: { type: "string", minLength: 1, maxLength: 200 },
    version: { type: "string", minLength: 1, maxLength: 256 },
    status: { type: "string", enum: STATUSES },
    reason: { type: "string", maxLength: 2000 },
    sha256: { type: "string", pattern: "^[0-9a-f]{64}$" },
  },
} as const;
/** One distribution as stored: `status`/`reason` are the gateway's, `reported*` the client's. */
const storedDistributionSchema = {
  type: "object",
  required: ["name", "version", "status", "reason"],
  properties: {
    ...distributionSchema.properties,
    status: { type: "string", enum: STATUSES, description: "the gateway's verdict from its catalog" },
    reason: { type: "string", description: "why, as the gateway judged it" },
    reportedStatus: { type: "string", description: "what the reporting client claimed, when it differs" },
    reportedReason: { type: "string", description: "the client's reason, when its status differs" },
  },
} as const;
const detailSchema = {
  type: "object",
  required: [...summarySchema.required, "distributions"],
  properties: { ...summaryProperties, distributions: { type: "array", items: storedDistributionSchema } },
} as const;
const idParams = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "integer", minimum: 1 } },
} as const;

function summaryJson(e: EnvironmentSummary): Record<string, unknown> {
  return {
    ...e,
    firstReportedAt: new Date(e.firstReportedAt).toISOString(),
    reportedAt: new Date(e.reportedAt).toISOString(),
  };
}
function detailJson(e: EnvironmentDetail): Record<string, unknown> {
  return { ...summaryJson(e), distributions: e.distributions };
}

interface ReportBody {
  host: string;
  path: string;
  kind: "venv" | "conda" | "site-packages";
  pythonVersion?: string;
  owner?: string;
  distributions: ReportedDistribution[];
}

/**
 * The gateway's own status of each reported distribution, from its catalog as
 * `POST /api/v1/inventory/check` answers it: the client's status is a claim, kept beside it
 * (`reportedStatus`) when it differs, never taken for the truth. A reported `sha256` must be an
 * admitted file of that release, else the distribution is `hash-differs`. Without one, the
 * client's `hash-differs` (its installed RECORD did not match the admitted wheel, which only the
 * client can see) stands over the catalog's `admitted`: a claim that makes things worse is
 * never a way past the gate.
 */
export async function governReported(
  check: InventoryChecker,
  reported: readonly ReportedDistribution[],
): Promise<ReportedDistribution[]> {
  const verdicts = reported.length
    ? await check(reported.map((d) => ({ name: d.name, version: d.version })))
    : [];
  return reported.map((d, i) => {
    const v = verdicts[i];
    let status: GovernanceStatus;
    let reason: string;
    if (!v) {
      status = "unknown";
      reason = "the gateway could not judge it";
    } else if (v.status !== "admitted") {
      status = v.status;
      reason = v.reason;
    } else if (d.sha256 !== undefined) {
      const file = v.files.find((f) => f.sha256 === d.sha256 && f.outcome === "admitted");
      status = file ? "admitted" : "hash-differs";
      reason = file
        ? `matches ${file.filename}`
        : `the installed file ${d.sha256} is no admitted file of ${v.project}==${v.version}`;
    } else if (d.status === "hash-differs") {
      status = "hash-differs";
      reason = d.reason;
    } else {
      status = "admitted";
      reason = `${v.reason} (no file digest reported to compare)`;
    }
    return {
      name: d.name,
      version: d.version,
      status,
      reason,
      ...(d.sha256 !== undefined ? { sha256: d.sha256 } : {}),
      ...(d.status !== status ? { reportedStatus: d.status, reportedReason: d.reason } : {}),
    };
  });
}

/** Judges `name==version` items against the catalog (`checkInventory` with the gateway's services). */
export type InventoryChecker = (
  items: { name: string; version: string }[],
) => Promise<Pick<InventoryVerdict, "project" | "version" | "status" | "reason" | "files">[]>;

/**
 * Environments found by `portcullis scan --report`: reported by requesters, listed for the
 * dashboard, owned by the team an approver assigns. Each distribution's status is the gateway's.
 */
export function registerDiscoveryEnvironmentRoutes(
  app: FastifyInstance,
  deps: {
    environments: EnvironmentRepository;
    audit: AuditRecorder;
    now: () => number;
    check: InventoryChecker;
  },
): void {
  app.post<{ Body: ReportBody }>(
    `${API_PREFIX}/environments`,
    {
      config: { role: "requester" },
      schema: {
        tags: ["environments"],
        summary:
          "Report an environment's inventory (from portcullis scan --report); the gateway judges each distribution against its catalog (the client's status is kept as reportedStatus); a later report of the same host and path replaces it",
        body: {
          type: "object",
          required: ["host", "path", "kind", "distributions"],
          additionalProperties: false,
          properties: {
            host: { type: "string", minLength: 1, maxLength: 255 },
            path: { type: "string", minLength: 1, maxLength: 4096 },
            kind: { type: "string", enum: ["venv", "conda", "site-packages"] },
            pythonVersion: { type: "string", maxLength: 20 },
            owner: { type: "string", minLength: 1, maxLength: 200 },
            distributions: { type: "array", maxItems: 20_000, items: distributionSchema },
          },
        },
        response: { 200: summarySchema, 201: summarySchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      const body = req.body;
      const distributions = await governReported(deps.check, body.distributions);
      const ungoverned = distributions.filter((d) => UNGOVERNED.has(d.status as GovernanceStatus)).length;
      const stored = await deps.environments.upsert(
        {
          host: body.host,
          path: body.path,
          kind: body.kind,
          ...(body.pythonVersion ? { pythonVersion: body.pythonVersion } : {}),
          ...(body.owner ? { owner: body.owner } : {}),
          reportedBy: actor.user ?? "anonymous",
          distributions,
          ungoverned,
        },
        deps.now(),
        { replaceOthers: roleAtLeast(actor.role, "approver") },
      );
      if ("refused" in stored) {
        deps.audit.record({
          action: "environment.report",
          actor,
          outcome: "denied",
          detail: { host: body.host, path: body.path.slice(0, 300) },
        });
        return sendApiError(reply, 403, "FORBIDDEN", `${body.host}:${body.path} was ${stored.refused}`);
      }
      const { id, created } = stored;
      deps.audit.record({
        action: "environment.report",
        actor,
        outcome: "ok",
        detail: {
          id,
          host: body.host,
          path: body.path.slice(0, 300),
          total: body.distributions.length,
          ungoverned,
        },
      });
      const saved = await deps.environments.get(id);
      return reply
        .code(created ? 201 : 200)
        .header("cache-control", "no-store")
        .send(summaryJson(saved!));
    },
  );

  app.get<{ Querystring: { limit: number; cursor?: string; unowned?: boolean } }>(
    `${API_PREFIX}/environments`,
    {
      config: { role: "approver" },
      schema: {
        tags: ["environments"],
        summary: "Reported environments, most recently reported first",
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            ...pageQuerySchema,
            unowned: { type: "boolean", description: "only environments no team owns yet" },
          },
        },
        response: { 200: pageSchema(summarySchema), ...errorResponses },
      },
    },
    async (req, reply) => {
      const after = decodeCursor<{ reportedAt: number; id: number }>(req.query.cursor);
      if (req.query.cursor && (typeof after?.reportedAt !== "number" || typeof after.id !== "number"))
        return sendApiError(reply, 400, "VALIDATION", "cursor is not one this API gave");
      const rows = await deps.environments.list(
        req.query.limit + 1,
        after,
        req.query.unowned ? { owner: null } : {},
      );
      const page = rows.slice(0, req.query.limit);
      const last = page.at(-1);
      return reply.header("cache-control", "no-store").send({
        items: page.map(summaryJson),
        next:
          rows.length > req.query.limit && last
            ? encodeCursor({ reportedAt: last.reportedAt, id: last.id })
            : null,
      });
    },
  );

  app.get<{ Params: { id: number } }>(
    `${API_PREFIX}/environments/:id`,
    {
      config: { role: "approver" },
      schema: {
        tags: ["environments"],
        summary: "One reported environment with its inventory",
        params: idParams,
        response: { 200: detailSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const env = await deps.environments.get(req.params.id);
      if (!env) return sendApiError(reply, 404, "NOT_FOUND", `no environment ${req.params.id}`);
      return reply.header("cache-control", "no-store").send(detailJson(env));
    },
  );

  app.post<{ Params: { id: number }; Body: { owner: string } }>(
    `${API_PREFIX}/environments/:id/owner`,
    {
      config: { role: "approver" },
      schema: {
        tags: ["environments"],
        summary: "Assign the team that owns an environment",
        params: idParams,
        body: {
          type: "object",
          required: ["owner"],
          additionalProperties: false,
          properties: { owner: { type: "string", minLength: 1, maxLength: 200 } },
        },
        response: { 200: summarySchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      const ok = await deps.environments.setOwner(req.params.id, req.body.owner);
      deps.audit.record({
        action: "environment.owner",
        actor,
        outcome: ok ? "ok" : "not-found",
        detail: { id: req.params.id, owner: req.body.owner },
      });
      if (!ok) return sendApiError(reply, 404, "NOT_FOUND", `no environment ${req.params.id}`);
      const env = await deps.environments.get(req.params.id);
      return reply.header("cache-control", "no-store").send(summaryJson(env!));
    },
  );
}
