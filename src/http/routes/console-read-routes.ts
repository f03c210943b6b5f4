import type { FastifyInstance } from "fastify";
import { roleAtLeast } from "../../domain/identity.js";
import { actorOf } from "../auth-context.js";
import { parsePolicy, PolicyError } from "../../policy/policy-schema.js";
import type { ConsoleServices } from "../../services/console/console-services.js";
import { dryRunPolicy } from "../../services/console/policy-dry-run.js";
import type { CoreServices } from "../../main.js";
import {
  decodeCursor,
  encodeCursor,
  errorResponses,
  pageQuerySchema,
  pageSchema,
  sendApiError,
} from "../api-conventions.js";
import {
  advisorySchema,
  dryRunSchema,
  overviewSchema,
  policySchema,
  policyVersionSchema,
  projectDetailSchema,
  projectSummarySchema,
} from "./console-schemas.js";

export type ConsoleReadRoutesDeps = Pick<CoreServices, "decisions" | "policy" | "now"> & ConsoleServices;

/**
 * The console's read API (what the dashboard shows): overview, catalog browser, project page,
 * advisories affecting the catalog, the policy, its history and a dry run of a draft.
 */
export function registerConsoleReadRoutes(app: FastifyInstance, deps: ConsoleReadRoutesDeps): void {
  const read = deps.consoleRead;

  app.get<{ Querystring: { days: number } }>(
    "/api/v1/overview",
    {
      schema: {
        tags: ["console"],
        summary: "Admitted, quarantined and blocked counts, their daily changes, top reasons, recent blocks",
        querystring: {
          type: "object",
          properties: { days: { type: "integer", minimum: 1, maximum: 366, default: 30 } },
          additionalProperties: false,
        },
        response: { 200: overviewSchema, ...errorResponses },
      },
    },
    async (req) => read.overview(req.query.days),
  );

  app.get<{ Querystring: { q?: string; limit: number; cursor?: string } }>(
    "/api/v1/projects",
    {
      schema: {
        tags: ["console"],
        summary: "The catalog: projects the gateway knows, by name, with a search",
        querystring: {
          type: "object",
          properties: { q: { type: "string", maxLength: 200 }, ...pageQuerySchema },
          additionalProperties: false,
        },
        response: { 200: pageSchema(projectSummarySchema), ...errorResponses },
      },
    },
    async (req, reply) => {
      const after = cursorString(req.query.cursor);
      if (after === null) return sendApiError(reply, 400, "VALIDATION", "cursor is not one this API gave");
      const { items, last } = await read.listProjects({
        ...(req.query.q ? { q: req.query.q } : {}),
        ...(after !== undefined ? { after } : {}),
        limit: req.query.limit,
      });
      return { items, next: last === undefined ? null : encodeCursor(last) };
    },
  );

  app.get<{ Params: { name: string } }>(
    "/api/v1/projects/:name",
    {
      schema: {
        tags: ["console"],
        summary:
          "A project: versions, each file's decision with findings and evidence, dependencies, owner; consumers (who pulled it) for approvers and admins only",
        params: {
          type: "object",
          required: ["name"],
          properties: { name: { type: "string", minLength: 1, maxLength: 200 } },
        },
        response: { 200: projectDetailSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const name = req.params.name.toLowerCase().replace(/[-_.]+/g, "-");
      // Who pulled what is who-has data: approvers and admins only, as `GET /api/v1/who-has`.
      const project = await read.project(name, {
        withConsumers: roleAtLeast(actorOf(req).role, "approver"),
      });
      if (!project) return sendApiError(reply, 404, "NOT_FOUND", `no project named ${req.params.name}`);
      return project;
    },
  );

  app.get<{ Querystring: { limit: number; cursor?: string } }>(
    "/api/v1/advisories",
    {
      schema: {
        tags: ["console"],
        summary: "Advisories that affect catalog files, with the files, owners and consumer counts",
        querystring: { type: "object", properties: { ...pageQuerySchema }, additionalProperties: false },
        response: { 200: pageSchema(advisorySchema), ...errorResponses },
      },
    },
    async (req, reply) => {
      const after = cursorString(req.query.cursor);
      if (after === null) return sendApiError(reply, 400, "VALIDATION", "cursor is not one this API gave");
      const { items, last } = await read.advisories({
        ...(after !== undefined ? { after } : {}),
        limit: req.query.limit,
      });
      return { items, next: last === undefined ? null : encodeCursor(last) };
    },
  );

  app.get(
    "/api/v1/policy",
    {
      schema: {
        tags: ["policy"],
        summary: "The policy in force: its YAML source and digest",
        response: { 200: policySchema, ...errorResponses },
      },
    },
    async () => read.activePolicy(),
  );

  app.get<{ Querystring: { limit: number; cursor?: string } }>(
    "/api/v1/policy/history",
    {
      schema: {
        tags: ["policy"],
        summary: "Every policy version the gateway has enforced, newest first",
        querystring: { type: "object", properties: { ...pageQuerySchema }, additionalProperties: false },
        response: { 200: pageSchema(policyVersionSchema), ...errorResponses },
      },
    },
    async (req, reply) => {
      const before = decodeCursor<{ at: string; digest: string }>(req.query.cursor);
      if (
        req.query.cursor &&
        (typeof before?.at !== "string" || typeof (before as { digest?: unknown }).digest !== "string")
      )
        return sendApiError(reply, 400, "VALIDATION", "cursor is not one this API gave");
      const rows = await deps.consoleRepo.policyVersions({
        ...(before ? { before } : {}),
        limit: req.query.limit + 1,
      });
      const page = rows.slice(0, req.query.limit);
      const active = deps.policy.policyDocument.digest;
      const last = page.at(-1);
      return {
        items: page.map((r) => ({ ...r, active: r.digest === active })),
        next:
          rows.length > req.query.limit && last
            ? encodeCursor({ at: last.activatedAt, digest: last.digest })
            : null,
      };
    },
  );

  const dryRunJob = {
    type: "object",
    required: ["id", "state", "digest", "requestedBy", "requestedAt", "finishedAt", "result", "error"],
    properties: {
      id: { type: "integer" },
      state: { type: "string", enum: ["running", "done", "failed"] },
      digest: { type: "string" },
      requestedBy: { type: "string" },
      requestedAt: { type: "string" },
      finishedAt: { type: ["string", "null"] },
      result: { anyOf: [dryRunSchema, { type: "null" }] },
      error: { type: ["string", "null"] },
    },
  } as const;

  // A dry run re-judges the whole catalog (seconds for tens of thousands of files), so it runs in
  // the background: the POST answers at once with a job, which any instance reports on.
  app.post<{ Body: { source: string } }>(
    "/api/v1/policy/dry-run",
    {
      config: { role: "approver" },
      schema: {
        tags: ["policy"],
        summary:
          "What would change: start judging the catalog under a draft policy, without enforcing it (poll the job)",
        body: {
          type: "object",
          required: ["source"],
          properties: { source: { type: "string", minLength: 1, maxLength: 1_000_000 } },
          additionalProperties: false,
        },
        response: { 202: dryRunJob, ...errorResponses },
      },
    },
    async (req, reply) => {
      let digest: string;
      try {
        digest = parsePolicy(req.body.source, "draft").digest;
      } catch (err) {
        if (err instanceof PolicyError) return sendApiError(reply, 400, "VALIDATION", err.message);
        throw err;
      }
      const requestedBy = req.actor?.user ?? "anonymous";
      const id = await deps.consoleRepo.startDryRun(digest, requestedBy, deps.now());
      const job = dryRunJobJson((await deps.consoleRepo.getDryRun(id))!);
      // Started once the answer is on its way: its first steps (parsing the draft, building its
      // judge, the first queries) no longer come between the request and its 202.
      setImmediate(() => {
        void dryRunPolicy(
          {
            decisions: deps.decisions,
            judgedProjects: () => deps.consoleRepo.judgedProjects(),
            intel: deps.policy.intelState,
            now: deps.now,
          },
          req.body.source,
        )
          .then((result) => deps.consoleRepo.finishDryRun(id, deps.now(), { result }))
          .catch((err: Error) =>
            deps.consoleRepo
              .finishDryRun(id, deps.now(), { error: err.message })
              .catch((e: Error) =>
                req.log.error({ err: e.message, id }, "could not record a dry run's failure"),
              ),
          );
      });
      return reply.code(202).header("cache-control", "no-store").send(job);
    },
  );

  app.get<{ Params: { id: number } }>(
    "/api/v1/policy/dry-run/:id",
    {
      config: { role: "approver" },
      schema: {
        tags: ["policy"],
        summary: "A policy dry run: running, or done with the files whose outcome would change",
        params: { type: "object", required: ["id"], properties: { id: { type: "integer", minimum: 1 } } },
        response: { 200: dryRunJob, ...errorResponses },
      },
    },
    async (req, reply) => {
      const row = await deps.consoleRepo.getDryRun(req.params.id);
      if (!row) return sendApiError(reply, 404, "NOT_FOUND", `no dry run ${req.params.id}`);
      return reply.header("cache-control", "no-store").send(dryRunJobJson(row));
    },
  );
}

/** A string cursor: undefined when absent, null when it is not one this API handed out. */
function cursorString(cursor: string | undefined): string | undefined | null {
  if (!cursor) return undefined;
  const key = decodeCursor<unknown>(cursor);
  return typeof key === "string" ? key : null;
}

function dryRunJobJson(row: {
  id: number;
  state: string;
  digest: string;
  requested_by: string;
  requested_at: number;
  finished_at: number | null;
  result_json: string | null;
  error: string | null;
}): Record<string, unknown> {
  return {
    id: Number(row.id),
    state: row.state,
    digest: row.digest,
    requestedBy: row.requested_by,
    requestedAt: new Date(Number(row.requested_at)).toISOString(),
    finishedAt: row.finished_at === null ? null : new Date(Number(row.finished_at)).toISOString(),
    result: row.result_json === null ? null : (JSON.parse(row.result_json) as unknown),
    error: row.error,
  };
}
