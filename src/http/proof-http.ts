import type { FastifyInstance } from "fastify";
import type { GatewayHttpContext } from "../main.js";

/**
 * Routes (and hooks, timers) of the decision attestations and upstream provenance feature on a running gateway.
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars, @typescript-eslint/require-await
export async function registerProofHttp(app: FastifyInstance, ctx: GatewayHttpContext): Promise<void> {}
