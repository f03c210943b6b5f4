/**
 * The one error catalogue (after fastify's): every error a user can see has a stable code, a
 * message, an HTTP status and optionally a cause. The HTTP layer maps these to responses; the CLI
 * maps them to messages and exit codes.
 */
export const ERRORS = {
  INVALID_PROJECT_NAME: { status: 400, title: "Invalid project name" },
  INVALID_FILE_PATH: { status: 400, title: "Invalid file path" },
  PROJECT_NOT_FOUND: { status: 404, title: "Project not found" },
  FILE_NOT_FOUND: { status: 404, title: "File not found" },
  POLICY_REFUSED: { status: 403, title: "Forbidden" },
  HASH_MISMATCH: { status: 502, title: "Upstream bytes do not match the declared hash" },
  SIZE_MISMATCH: { status: 502, title: "Upstream bytes do not match the declared size" },
  UPSTREAM_FORBIDDEN_URL: { status: 502, title: "Upstream file URL refused" },
  UPSTREAM_FILE_MISSING: { status: 502, title: "Upstream no longer has the file" },
  FILE_TOO_LARGE: { status: 502, title: "Upstream file exceeds the size limit" },
  DOWNLOAD_FAILED: { status: 502, title: "Download from upstream failed" },
  METADATA_UNAVAILABLE: { status: 404, title: "No core metadata for this file" },
  UPSTREAM_UNAVAILABLE: { status: 503, title: "Upstream unavailable" },
  SHUTTING_DOWN: { status: 503, title: "Gateway shutting down" },
  // What the HTTP layer answers for requests no route takes (see main.ts).
  BAD_REQUEST: { status: 400, title: "Bad request" },
  NOT_FOUND: { status: 404, title: "Not found" },
  METHOD_NOT_ALLOWED: { status: 405, title: "Method not allowed" },
  CONTENT_TOO_LARGE: { status: 413, title: "Content too large" },
  URI_TOO_LONG: { status: 414, title: "URI too long" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: "Unsupported media type" },
  HEADERS_TOO_LARGE: { status: 431, title: "Request header fields too large" },
  INTERNAL: { status: 500, title: "Internal error" },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class GatewayError extends Error {
  readonly status: number;
  readonly title: string;
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** `status`, `title`: for an error raised elsewhere (a framework) the catalogue lacks. */
    options?: { cause?: unknown; status?: number; title?: string },
  ) {
    super(message, options);
    this.name = "GatewayError";
    this.status = options?.status ?? ERRORS[code].status;
    this.title = options?.title ?? ERRORS[code].title;
  }
}
