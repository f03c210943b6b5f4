import type { FastifyInstance } from "fastify";
import type { GatewayHttpContext } from "../main.js";

/**
 * Routes (and hooks, timers) of the owners, remediation items and webhooks feature on a running gateway.
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars, @typescript-eslint/require-await
export async function registerGovernanceHttp(app: FastifyInstance, ctx: GatewayHttpContext): Promise<void> {}
