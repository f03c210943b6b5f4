import type { FastifyInstance } from "fastify";
import type { DecisionRepository } from "../../adapters/db/decision-repository.js";
import { isValidProjectName, normalizeProjectName } from "../../domain/project-name.js";
import { decisionsFor, nearestAdmittedVersion } from "../../services/explain.js";
import { GatewayError } from "../../services/gateway-error.js";
import type { PolicyService } from "../../services/policy-service.js";
import type { ProjectIndexService } from "../../services/project-index.js";
import { errorResponses } from "../api-conventions.js";
import { sendGatewayError } from "../reply-error.js";
import { decisionSchema } from "./console-schemas.js";

const decisionListSchema = {
  type: "object",
  required: ["project", "decisions"],
  properties: {
    project: { type: "string" },
    version: { type: "string" },
    decisions: { type: "array", items: decisionSchema },
    alternative: {
      type: "string",
      description: "The nearest version nothing refuses, when `version` is refused",
    },
  },
} as const;

export interface DecisionRoutesDeps {
  decisions: DecisionRepository;
  projects: ProjectIndexService;
  policy: PolicyService;
}

/**
 * `GET /api/v1/decisions/{sha256}` and `GET /api/v1/decisions?project=&version=`: the decision
 * record (the one shape explain, the dashboard, SBOM VEX and webhooks read). Files not yet judged
 * on their bytes answer with their index-stage decision (`stage: "index"`).
 */
export function registerDecisionRoutes(app: FastifyInstance, deps: DecisionRoutesDeps): void {
  app.get<{ Params: { sha256: string } }>(
    "/api/v1/decisions/:sha256",
    {
      schema: {
        tags: ["decisions"],
        summary: "The decision on one distribution file, with every check's reasons and evidence",
        params: {
          type: "object",
          required: ["sha256"],
          properties: { sha256: { type: "string", pattern: "^[0-9a-f]{64}$" } },
        },
        response: { 200: decisionSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { sha256 } = req.params;
      if (!/^[0-9a-f]{64}$/.test(sha256)) {
        return sendGatewayError(
          reply,
          new GatewayError("INVALID_FILE_PATH", "expected a lowercase hex sha256"),
          true,
        );
      }
      const stored = await deps.decisions.get(sha256);
      if (stored) return reply.send(stored);
      return sendGatewayError(reply, new GatewayError("FILE_NOT_FOUND", `no decision for ${sha256}`), true);
    },
  );

  app.get<{ Querystring: { project?: string; version?: string } }>(
    "/api/v1/decisions",
    {
      schema: {
        tags: ["decisions"],
        summary:
          "The decisions on a project's files (one version's with `version`), judged from the index when not yet on their bytes",
        querystring: {
          type: "object",
          required: ["project"],
          properties: {
            project: { type: "string", minLength: 1, maxLength: 200 },
            version: { type: "string", minLength: 1, maxLength: 200 },
          },
        },
        response: { 200: decisionListSchema, 503: { $ref: "ApiError#" }, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { project, version } = req.query;
      if (!project || !isValidProjectName(project)) {
        return sendGatewayError(
          reply,
          new GatewayError("INVALID_PROJECT_NAME", "query parameter project= must be a valid project name"),
          true,
        );
      }
      try {
        const normalized = normalizeProjectName(project);
        const decisions = await decisionsFor(deps, normalized, version);
        if (decisions === null) {
          return sendGatewayError(
            reply,
            new GatewayError("PROJECT_NOT_FOUND", `no project named ${project}`),
            true,
          );
        }
        let alternative: string | undefined;
        if (version) {
          const view = await deps.projects.getRawProject(normalized);
          if (view) {
            const stored = new Map((await deps.decisions.byProject(normalized)).map((d) => [d.sha256, d]));
            alternative = nearestAdmittedVersion(view, version, deps.policy, stored);
          }
        }
        return reply.send({
          project: normalized,
          ...(version ? { version } : {}),
          decisions,
          ...(alternative ? { alternative } : {}),
        });
      } catch (err) {
        if (err instanceof GatewayError) return sendGatewayError(reply, err, true);
        throw err;
      }
    },
  );
}
