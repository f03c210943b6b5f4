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
  UPSTREAM_FORBIDDEN_URL: { status: 502, title: "Upstream file URL refused" },
  UPSTREAM_FILE_MISSING: { status: 502, title: "Upstream no longer has the file" },
  FILE_TOO_LARGE: { status: 502, title: "Upstream file exceeds the size limit" },
  DOWNLOAD_FAILED: { status: 502, title: "Download from upstream failed" },
  METADATA_UNAVAILABLE: { status: 404, title: "No core metadata for this file" },
  UPSTREAM_UNAVAILABLE: { status: 503, title: "Upstream unavailable" },
  SHUTTING_DOWN: { status: 503, title: "Gateway shutting down" },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class GatewayError extends Error {
  readonly status: number;
  readonly title: string;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "GatewayError";
    this.status = ERRORS[code].status;
    this.title = ERRORS[code].title;
  }
}
