import type { FastifyInstance } from "fastify";
import type { GatewayHttpContext } from "../main.js";
import { registerConsoleReadRoutes } from "./routes/console-read-routes.js";
import { registerConsoleRequestRoutes } from "./routes/console-request-routes.js";

/**
 * Routes of the requests and approvals feature and the console's read API on a running gateway.
 */
export async function registerConsoleHttp(app: FastifyInstance, ctx: GatewayHttpContext): Promise<void> {
  registerConsoleReadRoutes(app, ctx.services);
  registerConsoleRequestRoutes(app, ctx.services);
}
