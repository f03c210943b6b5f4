import type { FastifyInstance } from "fastify";
import type { Registry } from "prom-client";

export interface OpsDeps {
  /** Throws when the database does not answer. */
  pingDatabase(): Promise<void>;
  upstreamStatus(): { ok: boolean; detail: string; description: string };
  registry: Registry;
  /** Set when the gateway is shutting down: readiness turns 503 so load balancers drain it. */
  isShuttingDown(): boolean;
  /** Extra readiness notes from other modules (e.g. "intel missing"): degraded, still ready. */
  degradedReasons?(): string[];
}

/** `/healthz` (the process serves), `/readyz` (and its database answers), `/metrics` (Prometheus). */
export function registerOpsRoutes(app: FastifyInstance, deps: OpsDeps): void {
  app.get("/healthz", async (_req, reply) =>
    reply.header("cache-control", "no-store").send({ status: "ok" }),
  );

  app.get("/readyz", async (_req, reply) => {
    reply.header("cache-control", "no-store");
    if (deps.isShuttingDown()) return reply.code(503).send({ status: "shutting-down" });
    try {
      await deps.pingDatabase();
    } catch (err) {
      return reply
        .code(503)
        .send({ status: "unready", database: { ok: false, error: (err as Error).message } });
    }
    const upstream = deps.upstreamStatus();
    const degraded = [...(deps.degradedReasons?.() ?? [])];
    if (!upstream.ok) degraded.push(`upstream unreachable: ${upstream.detail}`);
    return reply.send({
      status: degraded.length ? "degraded" : "ready",
      database: { ok: true },
      upstream,
      ...(degraded.length ? { degraded } : {}),
    });
  });

  app.get("/metrics", async (_req, reply) =>
    reply.header("content-type", deps.registry.contentType).send(await deps.registry.metrics()),
  );
}
