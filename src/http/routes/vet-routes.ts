import type {} from "@fastify/swagger";
import type { FastifyInstance } from "fastify";
import { parseRequirement } from "../../domain/requirement.js";
import { GatewayError } from "../../services/gateway-error.js";
import { parseTarget, type TargetEnvironment } from "../../services/resolver/target-environment.js";
import { DEFAULT_VET_TARGETS, vetForTargets } from "../../services/vet.js";
import type { PolicyCandidateSource } from "../../services/vet.js";
import { API_PREFIX, errorResponses, sendApiError } from "../api-conventions.js";

const targetProperties = {
  python: { type: "string", maxLength: 10, description: "CPython version, e.g. 3.11" },
  platform: {
    type: "string",
    maxLength: 40,
    description: "linux, macos or windows, optionally -x86_64/-arm64",
  },
} as const;

/** The body shared by vet, lock and SBOM requests: requirements and target environments. */
export const requirementsBodyProperties = {
  requirements: {
    type: "array",
    minItems: 1,
    maxItems: 500,
    items: { type: "string", minLength: 1, maxLength: 8192 },
    description: "PEP 508 requirements, e.g. flask==3.1.3",
  },
  ...targetProperties,
} as const;

const vetNodeSchema = {
  type: "object",
  required: ["project", "version", "filename", "sha256", "depth", "outcome", "score", "summary"],
  properties: {
    project: { type: "string" },
    version: { type: "string" },
    filename: { type: "string" },
    sha256: { type: "string" },
    depth: { type: "integer" },
    outcome: { type: "string", enum: ["admitted", "quarantined", "blocked", "pending"] },
    score: { type: "number" },
    summary: { type: "string" },
    dependsOn: { type: "array", items: { type: "string" } },
    requiredBy: { type: "array", items: { type: "string" } },
  },
} as const;

/** A {@link VetReport} as JSON. */
export const vetReportSchema = {
  type: "object",
  required: ["ok", "target", "tree", "nodes", "rejected", "treeScore"],
  properties: {
    ok: { type: "boolean" },
    target: { type: "string" },
    tree: { type: "string" },
    nodes: { type: "array", items: vetNodeSchema },
    rejected: {
      type: "array",
      items: {
        type: "object",
        properties: { project: { type: "string" }, version: { type: "string" }, reason: { type: "string" } },
      },
    },
    treeScore: { type: "number" },
    error: { type: "string" },
  },
} as const;

/** Targets named in a body (`targets`, or one `python`/`platform`), or `fallback`. */
export function targetsOf(
  body: { python?: string; platform?: string; targets?: { python?: string; platform?: string }[] },
  fallback: TargetEnvironment[],
): TargetEnvironment[] {
  const named =
    body.targets ?? (body.python || body.platform ? [{ python: body.python, platform: body.platform }] : []);
  return named.length
    ? named.map((t) =>
        parseTarget({
          ...(t.python ? { python: t.python } : {}),
          ...(t.platform ? { platform: t.platform } : {}),
        }),
      )
    : fallback;
}

interface VetBody {
  requirements: string[];
  python?: string;
  platform?: string;
  targets?: { python?: string; platform?: string }[];
}

/** `POST /api/v1/vet`: the same judgement as `portcullis vet`, for CLIs talking to a gateway. */
export function registerVetRoutes(
  app: FastifyInstance,
  deps: ConstructorParameters<typeof PolicyCandidateSource>[0],
): void {
  app.post<{ Body: VetBody }>(
    `${API_PREFIX}/vet`,
    {
      schema: {
        tags: ["vet"],
        summary:
          "Resolve requirements against admitted files for each target and judge every node; ok only when all are admitted",
        body: {
          type: "object",
          required: ["requirements"],
          additionalProperties: false,
          properties: {
            ...requirementsBodyProperties,
            targets: {
              type: "array",
              maxItems: 20,
              items: { type: "object", additionalProperties: false, properties: targetProperties },
            },
          },
        },
        response: {
          200: {
            type: "object",
            required: ["ok", "reports"],
            properties: { ok: { type: "boolean" }, reports: { type: "array", items: vetReportSchema } },
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const body = req.body;
      let targets;
      try {
        for (const r of body.requirements) parseRequirement(r);
        targets = targetsOf(body, DEFAULT_VET_TARGETS);
      } catch (err) {
        return sendApiError(reply, 400, "VALIDATION", (err as Error).message);
      }
      try {
        return reply.send(await vetForTargets(deps, body.requirements, targets));
      } catch (err) {
        if (err instanceof GatewayError)
          return reply.code(err.status).send({ error: { code: err.code, message: err.message } });
        throw err;
      }
    },
  );
}
