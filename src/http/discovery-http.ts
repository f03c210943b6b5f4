import type { FastifyInstance } from "fastify";
import type { GatewayHttpContext } from "../main.js";
import { checkInventory } from "../services/discovery/inventory-check.js";
import { registerDiscoveryEnvironmentRoutes } from "./routes/discovery-environment-routes.js";
import { registerDiscoverySbomRoutes } from "./routes/discovery-sbom-routes.js";

/**
 * Routes of SBOMs (`/api/v1/sbom…`), locks (`/api/v1/lock`), the inventory check `scan` uses and
 * the environments it reports (`/api/v1/environments…`). No background work.
 */
export async function registerDiscoveryHttp(app: FastifyInstance, ctx: GatewayHttpContext): Promise<void> {
  registerDiscoverySbomRoutes(app, ctx.services, ctx.publicUrl);
  registerDiscoveryEnvironmentRoutes(app, {
    environments: ctx.services.environments,
    audit: ctx.services.audit,
    now: ctx.services.now,
    check: (items) => checkInventory(ctx.services, items),
  });
}
