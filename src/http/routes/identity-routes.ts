import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { GatewayHttpContext } from "../../main.js";
import { ROLES, type Role } from "../../domain/identity.js";
import { normalizeProjectName } from "../../domain/project-name.js";
import { DISABLE_REASON_MAX, IdentityError } from "../../services/identity/identity-service.js";
import {
  API_PREFIX,
  decodeCursor,
  encodeCursor,
  errorResponses,
  pageQuerySchema,
  pageSchema,
  sendApiError,
} from "../api-conventions.js";

const tokenInfoSchema = {
  type: "object",
  required: [
    "id",
    "user",
    "role",
    "team",
    "label",
    "createdAt",
    "createdBy",
    "expiresAt",
    "revokedAt",
    "state",
  ],
  properties: {
    id: { type: "string" },
    user: { type: "string" },
    role: { type: "string", enum: [...ROLES] },
    team: { type: ["string", "null"] },
    label: { type: ["string", "null"] },
    createdAt: { type: "string", format: "date-time" },
    createdBy: { type: "string" },
    expiresAt: { type: ["string", "null"] },
    revokedAt: { type: ["string", "null"] },
    state: { type: "string", enum: ["active", "expired", "revoked", "disabled"] },
  },
} as const;

const userSchema = {
  type: "object",
  required: [
    "name",
    "kind",
    "role",
    "team",
    "createdAt",
    "disabled",
    "disabledAt",
    "disabledReason",
    "disabledBy",
  ],
  properties: {
    name: { type: "string" },
    kind: { type: "string", enum: ["user", "service"] },
    role: { type: "string", enum: [...ROLES] },
    team: { type: ["string", "null"] },
    createdAt: { type: "string" },
    disabled: { type: "boolean" },
    disabledAt: { type: ["string", "null"] },
    disabledReason: { type: ["string", "null"] },
    disabledBy: { type: ["string", "null"] },
  },
} as const;

/**
 * A POST whose body is optional (`curl -X POST` sends none): no body reads as `{}`, so the body
 * schema still refuses what is sent but does not demand an object nobody needs to send.
 */
async function emptyBodyAsObject(req: FastifyRequest): Promise<void> {
  if (req.body === undefined || req.body === null) req.body = {};
}

/** An identity's name in a path, as names are made (letters, digits, `. _ @ -`). */
const userParamsSchema = {
  type: "object",
  required: ["name"],
  properties: { name: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$" } },
} as const;

/** Maps an identity refusal to the API's error shape; rethrows anything else. */
export function sendIdentityError(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof IdentityError) {
    const status =
      err.code === "NOT_FOUND" ? 404 : err.code === "CONFLICT" ? 409 : err.code === "FORBIDDEN" ? 403 : 400;
    return sendApiError(reply, status, err.code, err.message);
  }
  throw err;
}

/** `GET /api/v1/me`, tokens (admin), users and teams (admin), project owners. */
export async function registerIdentityRoutes(app: FastifyInstance, ctx: GatewayHttpContext): Promise<void> {
  const { identity, config } = ctx.services;

  app.get(
    `${API_PREFIX}/me`,
    {
      // Open without a token while anonymous read is on (it says so); with it off, or with a
      // token that fails its check, 401, as on every other route.
      config: { public: true, refuseBadToken: true },
      schema: {
        tags: ["identity"],
        summary: "Who the caller is: user, role, team, and whether the call was anonymous",
        response: {
          200: {
            type: "object",
            required: ["user", "role", "team", "anonymous", "anonymousAccess", "ip"],
            properties: {
              user: { type: ["string", "null"] },
              role: { type: "string", enum: [...ROLES] },
              team: { type: ["string", "null"] },
              tokenId: { type: ["string", "null"] },
              anonymous: { type: "boolean" },
              anonymousAccess: { type: "string", enum: ["read", "off"] },
              ip: { type: "string" },
              application: { type: ["string", "null"] },
              client: { type: ["string", "null"] },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const a = req.actor;
      // Without anonymous access, a caller without a token may do nothing: saying "reader"
      // would contradict the 401 of every other route.
      if (a.user === null && config.authAnonymous === "off") {
        reply.header("www-authenticate", 'Bearer realm="portcullis"');
        return sendApiError(
          reply,
          401,
          "UNAUTHENTICATED",
          "authentication required: this gateway allows no anonymous access (send Authorization: Bearer TOKEN)",
        );
      }
      return {
        user: a.user,
        role: a.role,
        team: a.team,
        tokenId: a.tokenId,
        anonymous: a.user === null,
        anonymousAccess: config.authAnonymous,
        ip: a.ip,
        application: a.application,
        client: a.client?.installer
          ? `${a.client.installer}${a.client.installerVersion ? " " + a.client.installerVersion : ""}`
          : null,
      };
    },
  );

  app.post<{
    Body: {
      user: string;
      role: Role;
      team?: string;
      label?: string;
      kind?: "user" | "service";
      expiresInDays?: number;
    };
  }>(
    `${API_PREFIX}/tokens`,
    {
      config: { role: "admin" },
      schema: {
        tags: ["identity"],
        summary: "Create an API token (shown once in the response, stored only as a keyed hash)",
        body: {
          type: "object",
          required: ["user", "role"],
          additionalProperties: false,
          properties: {
            user: { type: "string", minLength: 1, maxLength: 100 },
            role: { type: "string", enum: [...ROLES] },
            team: { type: "string", minLength: 1, maxLength: 100 },
            label: { type: "string", minLength: 1, maxLength: 200 },
            kind: { type: "string", enum: ["user", "service"] },
            expiresInDays: { type: "integer", minimum: 1, maximum: 3650 },
          },
        },
        response: {
          201: {
            type: "object",
            required: ["token", "info"],
            properties: { token: { type: "string" }, info: tokenInfoSchema },
          },
          409: { $ref: "ApiError#" },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
      try {
        const created = await identity.createToken(
          {
            user: b.user,
            role: b.role,
            team: b.team ?? null,
            label: b.label ?? null,
            ...(b.kind ? { kind: b.kind } : {}),
            expiresAt: b.expiresInDays ? ctx.services.now() + b.expiresInDays * 86_400_000 : null,
          },
          req.actor,
        );
        return reply.code(201).header("cache-control", "no-store").send(created);
      } catch (err) {
        return sendIdentityError(reply, err);
      }
    },
  );

  app.get<{ Querystring: { user?: string; limit: number; cursor?: string } }>(
    `${API_PREFIX}/tokens`,
    {
      config: { role: "admin" },
      schema: {
        tags: ["identity"],
        summary: "List API tokens (ids and metadata; never the secrets), newest first, one page at a time",
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { user: { type: "string", maxLength: 100 }, ...pageQuerySchema },
        },
        response: { 200: pageSchema(tokenInfoSchema), ...errorResponses },
      },
    },
    async (req, reply) => {
      const { user, limit, cursor } = req.query;
      const after = decodeCursor<{ createdAt: number; id: string }>(cursor);
      if (cursor !== undefined && (typeof after?.createdAt !== "number" || typeof after.id !== "string"))
        return sendApiError(reply, 400, "VALIDATION", "invalid cursor");
      const rows = await identity.listTokens(user, {
        limit: limit + 1,
        ...(after ? { after: { createdAt: after.createdAt, id: after.id } } : {}),
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        items: page,
        next:
          rows.length > limit && last
            ? encodeCursor({ createdAt: Date.parse(last.createdAt), id: last.id })
            : null,
      };
    },
  );

  app.delete<{ Params: { id: string } }>(
    `${API_PREFIX}/tokens/:id`,
    {
      config: { role: "admin" },
      schema: {
        tags: ["identity"],
        summary: "Revoke an API token (takes effect on every instance within seconds)",
        params: {
          type: "object",
          required: ["id"],
          properties: { id: { type: "string", pattern: "^[0-9a-f]{12}$" } },
        },
        response: { 200: tokenInfoSchema, 409: { $ref: "ApiError#" }, ...errorResponses },
      },
    },
    async (req, reply) => {
      try {
        return await identity.revokeToken(req.params.id, req.actor);
      } catch (err) {
        return sendIdentityError(reply, err);
      }
    },
  );

  app.get<{ Querystring: { limit: number; cursor?: string } }>(
    `${API_PREFIX}/users`,
    {
      config: { role: "admin" },
      schema: {
        tags: ["identity"],
        summary: "List users and service accounts, by name, one page at a time",
        querystring: { type: "object", additionalProperties: false, properties: { ...pageQuerySchema } },
        response: { 200: pageSchema(userSchema), ...errorResponses },
      },
    },
    async (req, reply) => {
      const { limit, cursor } = req.query;
      const after = decodeCursor<{ name: string }>(cursor);
      if (cursor !== undefined && typeof after?.name !== "string")
        return sendApiError(reply, 400, "VALIDATION", "invalid cursor");
      const rows = await identity.listUsers({ limit: limit + 1, ...(after ? { after: after.name } : {}) });
      const page = rows.slice(0, limit);
      return {
        items: page,
        next: rows.length > limit ? encodeCursor({ name: page.at(-1)!.name }) : null,
      };
    },
  );

  app.post<{ Params: { name: string }; Body: { reason?: string } }>(
    `${API_PREFIX}/users/:name/disable`,
    {
      config: { role: "admin" },
      preValidation: emptyBodyAsObject,
      schema: {
        tags: ["identity"],
        summary:
          "Disable a user or service account: its tokens are refused at once here, within 2 s on every other instance",
        params: userParamsSchema,
        body: {
          type: "object",
          additionalProperties: false,
          properties: { reason: { type: "string", minLength: 1, maxLength: DISABLE_REASON_MAX } },
        },
        response: { 200: userSchema, 409: { $ref: "ApiError#" }, ...errorResponses },
      },
    },
    async (req, reply) => {
      try {
        return await identity.disableIdentity(req.params.name, req.body.reason ?? null, req.actor);
      } catch (err) {
        return sendIdentityError(reply, err);
      }
    },
  );

  app.post<{ Params: { name: string } }>(
    `${API_PREFIX}/users/:name/enable`,
    {
      config: { role: "admin" },
      preValidation: emptyBodyAsObject,
      schema: {
        tags: ["identity"],
        summary: "Enable a disabled user or service account: its unrevoked, unexpired tokens work again",
        params: userParamsSchema,
        body: { type: "object", additionalProperties: false, properties: {} },
        response: { 200: userSchema, 409: { $ref: "ApiError#" }, ...errorResponses },
      },
    },
    async (req, reply) => {
      try {
        return await identity.enableIdentity(req.params.name, req.actor);
      } catch (err) {
        return sendIdentityError(reply, err);
      }
    },
  );

  app.get<{ Querystring: { limit: number; cursor?: string } }>(
    `${API_PREFIX}/teams`,
    {
      config: { role: "admin" },
      schema: {
        tags: ["identity"],
        summary: "List teams with their member counts, by name, one page at a time",
        querystring: { type: "object", additionalProperties: false, properties: { ...pageQuerySchema } },
        response: {
          200: pageSchema({
            type: "object",
            required: ["name", "members", "createdAt"],
            properties: {
              name: { type: "string" },
              members: { type: "integer" },
              createdAt: { type: "string" },
            },
          }),
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const { limit, cursor } = req.query;
      const after = decodeCursor<{ name: string }>(cursor);
      if (cursor !== undefined && typeof after?.name !== "string")
        return sendApiError(reply, 400, "VALIDATION", "invalid cursor");
      const rows = await identity.listTeams({ limit: limit + 1, ...(after ? { after: after.name } : {}) });
      const page = rows.slice(0, limit);
      return {
        items: page,
        next: rows.length > limit ? encodeCursor({ name: page.at(-1)!.name }) : null,
      };
    },
  );

  const ownerSchema = {
    type: "object",
    required: ["project", "team", "setBy", "setAt"],
    properties: {
      project: { type: "string" },
      team: { type: "string" },
      setBy: { type: "string" },
      setAt: { type: "string" },
    },
  } as const;

  app.get<{ Querystring: { limit: number; cursor?: string } }>(
    `${API_PREFIX}/owners`,
    {
      schema: {
        tags: ["identity"],
        summary: "Project owners (project → owning team), by project name, one page at a time",
        querystring: { type: "object", additionalProperties: false, properties: { ...pageQuerySchema } },
        response: { 200: pageSchema(ownerSchema), ...errorResponses },
      },
    },
    async (req, reply) => {
      const { limit, cursor } = req.query;
      const after = decodeCursor<{ project: string }>(cursor);
      if (cursor !== undefined && typeof after?.project !== "string")
        return sendApiError(reply, 400, "VALIDATION", "invalid cursor");
      // One row past the page says whether another page follows (no cursor to an empty page).
      const rows = await identity.listOwners({
        limit: limit + 1,
        ...(after ? { after: after.project } : {}),
      });
      const page = rows.slice(0, limit);
      return {
        items: page.map((o) => ({
          project: o.project,
          team: o.team,
          setBy: o.set_by,
          setAt: new Date(Number(o.set_at)).toISOString(),
        })),
        next: rows.length > limit ? encodeCursor({ project: page.at(-1)!.project }) : null,
      };
    },
  );

  app.put<{ Params: { project: string }; Body: { team: string } }>(
    `${API_PREFIX}/owners/:project`,
    {
      config: { role: "admin" },
      schema: {
        tags: ["identity"],
        summary: "Set the team owning a project",
        params: {
          type: "object",
          required: ["project"],
          properties: { project: { type: "string", maxLength: 200 } },
        },
        body: {
          type: "object",
          required: ["team"],
          additionalProperties: false,
          properties: { team: { type: "string", minLength: 1, maxLength: 100 } },
        },
        response: {
          200: {
            type: "object",
            required: ["project", "team"],
            properties: { project: { type: "string" }, team: { type: "string" } },
          },
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      try {
        await identity.setOwner(req.params.project, req.body.team, req.actor);
        return { project: normalizeProjectName(req.params.project), team: req.body.team };
      } catch (err) {
        return sendIdentityError(reply, err);
      }
    },
  );
}
