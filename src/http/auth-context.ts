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

export {};
