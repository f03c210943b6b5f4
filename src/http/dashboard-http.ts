import type { FastifyInstance } from "fastify";
import type { GatewayHttpContext } from "../main.js";
import { registerLandingRoutes } from "./routes/landing-routes.js";

/** The web dashboard at `/` (built from `web/`). */
// eslint-disable-next-line @typescript-eslint/require-await
export async function registerDashboardHttp(app: FastifyInstance, ctx: GatewayHttpContext): Promise<void> {
  registerLandingRoutes(app, { publicUrl: ctx.publicUrl, upstreamStatus: ctx.upstreamStatus });
}
