import type { FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import { roleAtLeast } from "../../domain/identity.js";

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

const readinessFacts = new WeakMap<FastifyInstance, (() => Record<string, unknown>)[]>();
const readinessChecks = new WeakMap<FastifyInstance, ReadinessCheck[]>();

/** A part the gateway cannot serve without: a reason when it is down (`/readyz` then answers 503). */
export type ReadinessCheck = () => { part: string; reason: string } | undefined;

/** Lets a feature make `/readyz` unready (e.g. the audit trail refusing records). */
export function addReadinessCheck(app: FastifyInstance, check: ReadinessCheck): void {
  const list = readinessChecks.get(app) ?? [];
  list.push(check);
  readinessChecks.set(app, list);
}

/**
 * Lets a feature add facts to `/readyz` (e.g. the identity feature: whether anonymous access is
 * on), without the composition root passing each one.
 */
export function addReadinessFacts(app: FastifyInstance, facts: () => Record<string, unknown>): void {
  const list = readinessFacts.get(app) ?? [];
  list.push(facts);
  readinessFacts.set(app, list);
}

/** `/healthz` (the process serves), `/readyz` (and its database answers), `/metrics` (Prometheus). */
export function registerOpsRoutes(app: FastifyInstance, deps: OpsDeps): void {
  app.get("/healthz", { config: { public: true } }, async (_req, reply) =>
    reply.header("cache-control", "no-store").send({ status: "ok" }),
  );

  app.get("/readyz", { config: { public: true } }, async (req, reply) => {
    reply.header("cache-control", "no-store");
    // Open to probes, but where the upstream lives (a URL, a directory) and what the database
    // said are for the security team: approvers and admins (with a token) get them.
    const actor = req.actor as typeof req.actor | undefined; // none when identity is not wired
    const detailed = !!actor?.user && roleAtLeast(actor.role, "approver");
    if (deps.isShuttingDown()) return reply.code(503).send({ status: "shutting-down" });
    try {
      await deps.pingDatabase();
    } catch (err) {
      return reply.code(503).send({
        status: "unready",
        database: { ok: false, error: detailed ? (err as Error).message : "the database does not answer" },
      });
    }
    for (const check of readinessChecks.get(app) ?? []) {
      const down = check();
      if (down)
        return reply.code(503).send({ status: "unready", [down.part]: { ok: false, error: down.reason } });
    }
    const status = deps.upstreamStatus();
    const upstream = detailed ? status : { ok: status.ok };
    const degraded = [...(deps.degradedReasons?.() ?? [])];
    if (!status.ok)
      degraded.push(detailed ? `upstream unreachable: ${status.detail}` : "upstream unreachable");
    const facts = Object.assign({}, ...(readinessFacts.get(app) ?? []).map((f) => f())) as Record<
      string,
      unknown
    >;
    return reply.send({
      ...facts,
      status: degraded.length ? "degraded" : "ready",
      database: { ok: true },
      upstream,
      ...(degraded.length ? { degraded } : {}),
    });
  });

  app.get("/metrics", { config: { public: true } }, async (_req, reply) =>
    reply.header("content-type", deps.registry.contentType).send(await deps.registry.metrics()),
  );
}
