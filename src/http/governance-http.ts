import type { FastifyInstance } from "fastify";
import type { GatewayHttpContext } from "../main.js";
import { WebhookDispatcher } from "../services/governance/webhook-service.js";
import { registerRemediationRoutes } from "./routes/governance-remediation-routes.js";
import { registerWebhookRoutes } from "./routes/governance-webhook-routes.js";

/** How often a running gateway looks for due webhook deliveries besides being kicked on a new one. */
const DISPATCH_INTERVAL_MS = 1_000;
/** How often it looks for due or overdue items and expired risk acceptances. */
const CHECK_INTERVAL_MS = 60_000;

/**
 * Routes, the webhook dispatcher and the remediation due/overdue checker of a running gateway.
 * Both background jobs run off the request path: a dead webhook endpoint costs a queued row and a
 * time-out in the dispatcher, never a request's time.
 */
export async function registerGovernanceHttp(app: FastifyInstance, ctx: GatewayHttpContext): Promise<void> {
  const { services } = ctx;
  registerRemediationRoutes(app, services.remediation);
  registerWebhookRoutes(app, services.webhooks);

  const dispatcher = new WebhookDispatcher({
    repo: services.webhookQueue,
    log: services.log,
    now: services.now,
  });
  services.webhooks.publicUrl = () => ctx.publicUrl() || undefined;
  services.webhooks.onQueued = () => dispatcher.kick();
  let checking = false;
  const check = () => {
    if (checking || ctx.isShuttingDown()) return;
    // Decision changes left unhandled (a pass cut short here or on another instance).
    services.decisionEvents.kick();
    checking = true;
    services.remediation
      .check()
      .catch((err: Error) => services.log.error({ err: err.message }, "remediation due-date check failed"))
      .finally(() => (checking = false));
  };
  app.addHook("onReady", (done) => {
    dispatcher.start(DISPATCH_INTERVAL_MS);
    done();
  });
  const checker = setInterval(check, CHECK_INTERVAL_MS);
  checker.unref();
  const first = setTimeout(check, 2_000);
  first.unref();
  // The shutdown grace (`--shutdown-grace`) counts from the moment the gateway starts closing,
  // for downloads and webhook sends alike: the dispatcher stops claiming then, and a send in
  // flight has the grace to finish (a slow receiver's answer is taken, not cut off and sent again
  // by another instance). The server's close waits for downloads before the onClose hooks run, so
  // the dispatcher's wait starts at preClose, alongside them; onClose waits for it to end.
  const graceMs = services.config.shutdownGrace * 1000;
  app.addHook("preClose", async () => {
    void dispatcher.stop(graceMs);
  });
  app.addHook("onClose", async () => {
    clearInterval(checker);
    clearTimeout(first);
    services.webhooks.onQueued = () => {};
    await dispatcher.stop(graceMs);
  });
}
