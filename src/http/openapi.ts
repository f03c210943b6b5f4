import type { FastifyInstance } from "fastify";
import type { GatewayHttpContext } from "../main.js";

/**
 * The OpenAPI document of the REST API at `/api/docs`. Registered before every other route so
 * that it sees all route schemas.
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars, @typescript-eslint/require-await
export async function registerOpenApi(app: FastifyInstance, ctx: GatewayHttpContext): Promise<void> {}
