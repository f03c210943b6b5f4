import type { FastifyRequest } from "fastify";
import type { Actor, Role } from "../domain/identity.js";

/**
 * The contract between routes and the identity feature's hooks (`identity-http.ts`):
 * a route states the least role it needs in its config, the auth hook resolves `req.actor`
 * before any handler runs and answers 401/403 itself.
 *
 * @example app.post("/api/v1/requests/:id/approve", { config: { role: "approver" } }, handler)
 */
declare module "fastify" {
  interface FastifyContextConfig {
    /** Least role to call the route; absent: `reader` (install-level access). */
    role?: Role;
    /** `true` for routes anyone may call, even with anonymous access off (health, keys, login page). */
    public?: boolean;
  }
  interface FastifyRequest {
    /** Set by the auth hook on every request. */
    actor: Actor;
  }
}

/** The caller: what the auth hook resolved, else an anonymous reader known by its address. */
export function actorOf(req: FastifyRequest): Actor {
  return (
    (req.actor as Actor | undefined) ?? {
      user: null,
      role: "reader",
      team: null,
      tokenId: null,
      ip: req.ip,
      application: null,
      client: null,
    }
  );
}
