import type { FastifyInstance } from "fastify";
import type { GatewayHttpContext } from "../main.js";

/**
 * Routes (and hooks, timers) of the SBOMs, locks and environments reported by scan feature on a running gateway.
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars, @typescript-eslint/require-await
export async function registerDiscoveryHttp(app: FastifyInstance, ctx: GatewayHttpContext): Promise<void> {}
