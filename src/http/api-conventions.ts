import type { FastifyReply } from "fastify";
import { reasonPhrase } from "./reply-error.js";

/**
 * Conventions every `/api/v1` route follows, so the CLI, the dashboard and the OpenAPI document
 * see one shape:
 * - errors are `{"error": {"code", "message"}}` with a stable upper-snake `code`;
 * - lists take `?limit=&cursor=` and answer `{"items": [...], "next": cursor|null}`;
 * - every route declares `schema` (tags, summary, querystring/params/body, response) so Fastify
 *   validates at the edge and `/api/docs` documents it; the least role goes in `config.role`.
 */
export const API_PREFIX = "/api/v1";

/** Stable error codes of the API. Add new ones here, never rename. */
export type ApiErrorCode =
  | "VALIDATION"
  | "UNAUTHENTICATED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "CONFLICT"
  | "METHOD_NOT_ALLOWED"
  | "CONTENT_TOO_LARGE"
  | "URI_TOO_LONG"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "RATE_LIMITED"
  | "UNAVAILABLE"
  | "INTERNAL";

export const errorSchema = {
  $id: "ApiError",
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: { code: { type: "string" }, message: { type: "string" } },
    },
  },
} as const;

/** Responses every API route may give besides its success, for its `response` schema. */
export const errorResponses = {
  400: { $ref: "ApiError#" },
  401: { $ref: "ApiError#" },
  403: { $ref: "ApiError#" },
  404: { $ref: "ApiError#" },
} as const;

export function sendApiError(
  reply: FastifyReply,
  status: number,
  code: ApiErrorCode,
  message: string,
): FastifyReply {
  reply.raw.statusMessage = reasonPhrase(message);
  return reply
    .code(status)
    .header("cache-control", "no-store")
    .type("application/json")
    .send({ error: { code, message } });
}

export const pageQuerySchema = {
  limit: { type: "integer", minimum: 1, maximum: 500, default: 50 },
  cursor: { type: "string", maxLength: 200 },
} as const;

/** The response schema of a list of `item`. */
export function pageSchema(item: object): object {
  return {
    type: "object",
    required: ["items", "next"],
    properties: { items: { type: "array", items: item }, next: { type: ["string", "null"] } },
  };
}

/** Cursors are opaque to clients: base64url of a JSON key. */
export function encodeCursor(key: unknown): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

/**
 * The key in a cursor this API gave, or undefined. A cursor comes back from outside: one whose
 * numbers are not safe integers or whose strings hold a NUL (PostgreSQL refuses both in a key
 * column, which would be a 500) or run long is not one we gave.
 */
export function decodeCursor<T>(cursor: string | undefined): T | undefined {
  if (!cursor) return undefined;
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  return plausibleKey(key, 0) ? (key as T) : undefined;
}

function plausibleKey(v: unknown, depth: number): boolean {
  if (typeof v === "number") return Number.isSafeInteger(v);
  if (typeof v === "string") return v.length <= 500 && !v.includes("\u0000");
  if (v === null || typeof v === "boolean") return true;
  if (depth > 2 || typeof v !== "object") return false;
  return Object.values(v).every((x) => plausibleKey(x, depth + 1));
}
