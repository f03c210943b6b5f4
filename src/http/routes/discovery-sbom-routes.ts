import type {} from "@fastify/swagger";
import type { FastifyInstance } from "fastify";
import { parseRequirement } from "../../domain/requirement.js";
import { parsePylock, pylockRequirements, PylockError } from "../../domain/pylock.js";
import type { Services } from "../../main.js";
import { toCycloneDx } from "../../services/discovery/cyclonedx-writer.js";
import { checkInventory } from "../../services/discovery/inventory-check.js";
import { buildLock } from "../../services/discovery/lock-builder.js";
import {
  buildCatalogSbom,
  buildRequirementsSbom,
  SbomResolutionError,
} from "../../services/discovery/sbom-builder.js";
import type { SbomDocument } from "../../services/discovery/sbom-document.js";
import { toSpdx } from "../../services/discovery/spdx-writer.js";
import { GatewayError } from "../../services/gateway-error.js";
import { DEFAULT_TARGET, type TargetEnvironment } from "../../services/resolver/target-environment.js";
import { API_PREFIX, errorResponses, sendApiError } from "../api-conventions.js";
import { requirementsBodyProperties, targetsOf, vetReportSchema } from "./vet-routes.js";

export type SbomFormat = "cyclonedx" | "spdx";
const formatSchema = { type: "string", enum: ["cyclonedx", "spdx"], default: "cyclonedx" } as const;

/** An SBOM document as the API answers it: the serialised JSON, with its media type. */
export async function renderSbom(
  doc: SbomDocument,
  format: SbomFormat,
): Promise<{ type: string; body: string }> {
  if (format === "spdx") return { type: "application/spdx+json", body: JSON.stringify(toSpdx(doc), null, 2) };
  return { type: "application/vnd.cyclonedx+json; version=1.6", body: await toCycloneDx(doc) };
}

const sbomResponse = {
  type: "object",
  additionalProperties: true,
  description: "A CycloneDX 1.6 or SPDX 2.3 JSON document",
} as const;

/** Reads requirements from a body's `requirements` or `pylock` (PEP 751 TOML text). */
async function requirementsOf(body: { requirements?: string[]; pylock?: string }): Promise<string[]> {
  if (body.pylock !== undefined) {
    const { parse } = await import("smol-toml");
    let doc: unknown;
    try {
      doc = parse(body.pylock);
    } catch (err) {
      throw new PylockError(`pylock is not valid TOML: ${(err as Error).message.split("\n")[0]}`);
    }
    return pylockRequirements(parsePylock(doc));
  }
  if (!body.requirements?.length) throw new PylockError("give requirements or pylock");
  for (const r of body.requirements) parseRequirement(r);
  return body.requirements;
}

interface SbomBody {
  requirements?: string[];
  pylock?: string;
  format?: SbomFormat;
  python?: string;
  platform?: string;
  name?: string;
}

/**
 * SBOMs (`GET /api/v1/sbom/catalog`, `POST /api/v1/sbom`), locks (`POST /api/v1/lock`) and the
 * inventory check `scan` uses (`POST /api/v1/inventory/check`).
 */
export function registerDiscoverySbomRoutes(
  app: FastifyInstance,
  services: Services,
  publicUrl: () => string,
): void {
  const deps = {
    projects: services.projects,
    policy: services.policy,
    access: services.access,
    decisions: services.decisions,
  };
  const oneTarget = (body: { python?: string; platform?: string }): TargetEnvironment =>
    targetsOf(body, [DEFAULT_TARGET])[0]!;

  app.get<{ Querystring: { format: SbomFormat } }>(
    `${API_PREFIX}/sbom/catalog`,
    {
      schema: {
        tags: ["sbom"],
        summary:
          "SBOM of the whole catalog: every judged release, admitted files' digests, licences, edges, VEX",
        querystring: { type: "object", additionalProperties: false, properties: { format: formatSchema } },
        response: { 200: sbomResponse, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { type, body } = await renderSbom(await buildCatalogSbom(deps, services.now), req.query.format);
      return reply.type(type).header("cache-control", "no-store").send(body);
    },
  );

  app.post<{ Body: SbomBody }>(
    `${API_PREFIX}/sbom`,
    {
      schema: {
        tags: ["sbom"],
        summary:
          "SBOM of requirements (or a PEP 751 pylock.toml) resolved against admitted files for one target",
        body: {
          type: "object",
          additionalProperties: false,
          properties: {
            requirements: requirementsBodyProperties.requirements,
            pylock: { type: "string", minLength: 1, maxLength: 4_000_000, description: "pylock.toml text" },
            format: formatSchema,
            python: requirementsBodyProperties.python,
            platform: requirementsBodyProperties.platform,
            name: {
              type: "string",
              maxLength: 200,
              description: "what the SBOM describes (default: requirements)",
            },
          },
        },
        response: { 200: sbomResponse, ...errorResponses },
      },
    },
    async (req, reply) => {
      let requirements: string[];
      let target: TargetEnvironment;
      try {
        requirements = await requirementsOf(req.body);
        target = oneTarget(req.body);
      } catch (err) {
        return sendApiError(reply, 400, "VALIDATION", (err as Error).message);
      }
      try {
        const { doc } = await buildRequirementsSbom(
          deps,
          requirements,
          target,
          req.body.name ?? (req.body.pylock ? "pylock.toml" : "requirements"),
          services.now,
        );
        const { type, body } = await renderSbom(doc, req.body.format ?? "cyclonedx");
        return reply.type(type).header("cache-control", "no-store").send(body);
      } catch (err) {
        if (err instanceof SbomResolutionError) return sendApiError(reply, 409, "CONFLICT", err.message);
        if (err instanceof GatewayError) return sendApiError(reply, err.status, "UNAVAILABLE", err.message);
        throw err;
      }
    },
  );

  app.post<{ Body: { requirements: string[]; python?: string; platform?: string } }>(
    `${API_PREFIX}/lock`,
    {
      schema: {
        tags: ["lock"],
        summary:
          "Resolve requirements against admitted files for one target and pin them with a --hash for every admitted file that fits",
        body: {
          type: "object",
          required: ["requirements"],
          additionalProperties: false,
          properties: requirementsBodyProperties,
        },
        response: {
          200: {
            type: "object",
            required: ["ok", "target", "policyVersion", "generatedAt", "packages", "text"],
            properties: {
              ok: { type: "boolean" },
              target: { type: "string" },
              policyVersion: { type: "string" },
              generatedAt: { type: "string", format: "date-time" },
              text: { type: "string", description: "the requirements.txt (empty unless ok)" },
              packages: {
                type: "array",
                items: {
                  type: "object",
                  properties: {
                    project: { type: "string" },
                    version: { type: "string" },
                    files: {
                      type: "array",
                      items: {
                        type: "object",
                        properties: { filename: { type: "string" }, sha256: { type: "string" } },
                      },
                    },
                  },
                },
              },
              report: vetReportSchema,
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      let target: TargetEnvironment;
      try {
        for (const r of req.body.requirements) parseRequirement(r);
        target = oneTarget(req.body);
      } catch (err) {
        return sendApiError(reply, 400, "VALIDATION", (err as Error).message);
      }
      try {
        const lock = await buildLock(deps, req.body.requirements, target, {
          gateway: publicUrl(),
          now: services.now,
        });
        return reply.header("cache-control", "no-store").send(lock);
      } catch (err) {
        if (err instanceof GatewayError) return sendApiError(reply, err.status, "UNAVAILABLE", err.message);
        throw err;
      }
    },
  );

  app.post<{ Body: { distributions: { name: string; version: string }[]; records?: boolean } }>(
    `${API_PREFIX}/inventory/check`,
    {
      schema: {
        tags: ["environments"],
        summary:
          "Judge installed name==version pairs against the catalog; with records, the RECORD digests of each admitted wheel",
        body: {
          type: "object",
          required: ["distributions"],
          additionalProperties: false,
          properties: {
            distributions: {
              type: "array",
              maxItems: 20_000,
              items: {
                type: "object",
                required: ["name", "version"],
                additionalProperties: false,
                properties: {
                  name: { type: "string", minLength: 1, maxLength: 200 },
                  version: { type: "string", minLength: 1, maxLength: 256 },
                },
              },
            },
            records: { type: "boolean", default: false },
          },
        },
        response: {
          200: {
            type: "object",
            required: ["policyVersion", "items"],
            properties: {
              policyVersion: { type: "string" },
              items: {
                type: "array",
                items: {
                  type: "object",
                  required: ["project", "version", "status", "reason", "files", "vulnerabilities"],
                  properties: {
                    project: { type: "string" },
                    version: { type: "string" },
                    status: {
                      type: "string",
                      enum: ["admitted", "blocked", "quarantined", "pending", "not-in-catalog"],
                    },
                    reason: { type: "string" },
                    files: {
                      type: "array",
                      items: {
                        type: "object",
                        properties: {
                          filename: { type: "string" },
                          sha256: { type: "string" },
                          outcome: { type: "string" },
                        },
                      },
                    },
                    records: {
                      type: "array",
                      items: {
                        type: "object",
                        properties: {
                          filename: { type: "string" },
                          sha256: { type: "string" },
                          entries: { type: "object", additionalProperties: { type: "string" } },
                        },
                      },
                    },
                    vulnerabilities: {
                      type: "array",
                      items: {
                        type: "object",
                        properties: {
                          id: { type: "string" },
                          affects: { type: "string" },
                          state: { type: "string", enum: ["exploitable", "not_affected", "in_triage"] },
                          justification: { type: "string" },
                          detail: { type: "string" },
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
      const items = await checkInventory(services, req.body.distributions, {
        records: req.body.records ?? false,
      });
      return reply
        .header("cache-control", "no-store")
        .send({ policyVersion: services.policy.status().policyVersion, items });
    },
  );
}
