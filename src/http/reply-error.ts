import type { FastifyReply } from "fastify";
import type { GatewayError } from "../services/gateway-error.js";

/** An HTTP reason phrase must be one latin-1 line; pip prints it, so it carries the reason. */
export function reasonPhrase(text: string): string {
  return text
    .replace(/[^\x20-\x7e]+/g, " ")
    .slice(0, 300)
    .trim();
}

/**
 * Sends a GatewayError: status, the reason in the status line and the body (plain text for pip
 * and humans, JSON when the client asked for JSON).
 */
export function sendGatewayError(reply: FastifyReply, err: GatewayError, wantsJson = false): FastifyReply {
  reply.raw.statusMessage = reasonPhrase(`${err.title}: ${err.message}`);
  reply.code(err.status).header("cache-control", "no-store");
  if (err.code === "UPSTREAM_UNAVAILABLE") reply.header("retry-after", "30");
  if (wantsJson)
    return reply
      .type("application/json")
      .send({ error: { code: err.code, title: err.title, message: err.message } });
  return reply.type("text/plain; charset=utf-8").send(`${err.status} ${err.title}: ${err.message}\n`);
}

export function wantsJson(accept: string | undefined): boolean {
  return !!accept && /json/.test(accept) && !/text\/html/.test(accept.split(",")[0] ?? "");
}
