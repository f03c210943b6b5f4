import type {} from "@fastify/swagger";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { CatalogRepository } from "../../adapters/db/catalog-repository.js";
import type { KeyRing } from "../../crypto/key-ring.js";
import type { AttestationService } from "../../services/proof/attestation-service.js";
import type { ProvenanceService } from "../../services/proof/provenance-service.js";
import { errorResponses, sendApiError } from "../api-conventions.js";
import { reasonPhrase } from "../reply-error.js";

export interface ProofRoutesDeps {
  attestations: AttestationService;
  provenance: ProvenanceService;
  keys: KeyRing;
  repo: CatalogRepository;
}

const sha256Params = {
  type: "object",
  required: ["sha256"],
  properties: { sha256: { type: "string", pattern: "^[0-9a-f]{64}$" } },
} as const;

const envelopeSchema = {
  type: "object",
  required: ["payloadType", "payload", "signatures"],
  properties: {
    payloadType: { type: "string" },
    payload: { type: "string" },
    signatures: {
      type: "array",
      items: {
        type: "object",
        required: ["keyid", "sig"],
        properties: { keyid: { type: "string" }, sig: { type: "string" } },
      },
    },
  },
} as const;

const keysSchema = {
  type: "object",
  required: ["keys"],
  properties: {
    keys: {
      type: "array",
      items: {
        type: "object",
        required: ["keyid", "algorithm", "pem", "status"],
        properties: {
          keyid: { type: "string" },
          algorithm: { type: "string", enum: ["ed25519"] },
          pem: { type: "string" },
          status: { type: "string", enum: ["active", "retired"] },
        },
      },
    },
  },
} as const;

const provenanceSchema = {
  type: "object",
  required: ["sha256", "project", "version", "filename", "status", "detail", "checkedAt"],
  properties: {
    sha256: { type: "string" },
    project: { type: "string" },
    version: { type: "string" },
    filename: { type: "string" },
    status: { type: "string", enum: ["verified", "absent", "invalid", "unavailable"] },
    publisher: { type: "string" },
    publisherDetail: { type: "object", additionalProperties: true },
    detail: { type: "string" },
    checkedAt: { type: "integer" },
  },
} as const;

function jsonError(reply: FastifyReply, status: number, code: "NOT_FOUND", message: string): FastifyReply {
  reply.raw.statusMessage = reasonPhrase(message);
  return reply
    .code(status)
    .header("cache-control", "no-store")
    .type("application/json")
    .send({ error: { code: status === 410 ? "GONE" : code, message } });
}

/**
 * `GET /attestations/<sha256>` (the signed decision attestation of an admitted file, same access
 * as the file), `GET /.well-known/portcullis/keys` (public: verifiers need it), and
 * `GET /api/v1/provenance/<sha256>` (the upstream's PEP 740 provenance as verified).
 */
export function registerProofRoutes(app: FastifyInstance, deps: ProofRoutesDeps): void {
  app.get<{ Params: { sha256: string } }>(
    "/attestations/:sha256",
    {
      schema: {
        tags: ["proof"],
        summary: "The signed decision attestation (DSSE envelope, in-toto Statement v1) of an admitted file",
        params: sha256Params,
        response: { 200: envelopeSchema, 410: { $ref: "ApiError#" }, ...errorResponses },
      },
    },
    async (req, reply) => {
      const found = await deps.attestations.forFile(req.params.sha256);
      if (found.kind === "refused") return jsonError(reply, 410, "NOT_FOUND", found.reason);
      if (found.kind === "none") return jsonError(reply, 404, "NOT_FOUND", found.reason);
      // Withdrawn when the file is refused later: clients revalidate rather than cache for long.
      return reply.header("cache-control", "no-cache").type("application/json").send(found.envelope);
    },
  );

  app.get(
    "/.well-known/portcullis/keys",
    {
      config: { public: true },
      schema: {
        tags: ["proof"],
        summary: "The gateway's public keys (active and retired) for verifying attestations",
        response: { 200: keysSchema },
      },
    },
    async (_req, reply) =>
      reply.header("cache-control", "public, max-age=300").send({ keys: deps.keys.publicKeys() }),
  );

  app.get<{ Params: { sha256: string } }>(
    "/api/v1/provenance/:sha256",
    {
      schema: {
        tags: ["proof"],
        summary: "The upstream's PEP 740 provenance of a file, as the gateway verified it",
        params: sha256Params,
        response: { 200: provenanceSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { sha256 } = req.params;
      let record = await deps.provenance.get(sha256);
      if (!record) {
        const known = await deps.repo.findFile(sha256);
        if (!known) return sendApiError(reply, 404, "NOT_FOUND", `no file with sha256 ${sha256} is known`);
        record = await deps.provenance.ensure(known);
      }
      const { provenance: _raw, ...out } = record;
      return reply.header("cache-control", "no-store").send(out);
    },
  );
}
