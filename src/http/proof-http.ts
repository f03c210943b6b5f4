import type { FastifyInstance } from "fastify";
import type { GatewayHttpContext } from "../main.js";
import { registerProofRoutes } from "./routes/proof-routes.js";

/**
 * Routes (and hooks, timers) of the decision attestations and upstream provenance feature on a running gateway.
 * Decisions that become admitted are signed at once; the gateway's real URL names the verifier.
 */
export async function registerProofHttp(app: FastifyInstance, ctx: GatewayHttpContext): Promise<void> {
  const { services } = ctx;
  services.attestations.setBaseUrl(ctx.publicUrl);
  const unsubscribe = services.policy.onDecisionChanged((events) => {
    services.attestations
      .onDecisionsChanged(events)
      .catch((err: Error) => services.log.error({ err: err.message }, "signing attestations failed"));
  });
  services.onClose(unsubscribe);
  registerProofRoutes(app, {
    attestations: services.attestations,
    provenance: services.provenance,
    keys: services.keys,
    repo: services.repo,
  });
}
