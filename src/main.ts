import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
} from "fastify";
import { pino, type Logger } from "pino";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { FsBlobStore } from "./adapters/blob/fs-blob-store.js";
import { TieredPageCache } from "./adapters/cache/tiered-page-cache.js";
import { CatalogRepository, DbPageCache } from "./adapters/db/catalog-repository.js";
import { connectDatabase, type DatabaseHandle } from "./adapters/db/connect-database.js";
import { createUpstream } from "./adapters/upstream/create-upstream.js";
import type { Upstream } from "./adapters/upstream/upstream.js";
import type { Config } from "./config/options.js";
import { registerFileRoutes } from "./http/routes/file-routes.js";
import { registerLandingRoutes } from "./http/routes/landing-routes.js";
import { registerOpsRoutes } from "./http/routes/ops-routes.js";
import { registerSimpleRoutes } from "./http/routes/simple-routes.js";
import { reasonPhrase } from "./http/reply-error.js";
import { FileStoreService } from "./services/file-store.js";
import { ProjectIndexService } from "./services/project-index.js";

export interface Gateway {
  app: FastifyInstance;
  config: Config;
  log: Logger;
  db: DatabaseHandle;
  upstream: Upstream;
  /** Starts listening; resolves with the base URL. */
  listen(): Promise<string>;
  /** Stops accepting, lets in-flight downloads finish (up to the grace period), closes everything. */
  close(): Promise<void>;
  /** Re-checks whether the upstream answers. */
  probeUpstream(): Promise<{ ok: boolean; detail: string }>;
}

export interface GatewayOptions {
  now?: () => number;
  logger?: Logger;
}

/**
 * The composition root: the one place that builds adapters and wires them into services and
 * routes. Everything else receives its collaborators.
 */
export async function createGateway(config: Config, opts: GatewayOptions = {}): Promise<Gateway> {
  const now = opts.now ?? Date.now;
  const log = opts.logger ?? pino({ level: config.logLevel, base: { service: "portcullis" } });
  const dataDir = resolve(config.data);
  mkdirSync(dataDir, { recursive: true });

  const db = await connectDatabase({ url: config.database, dataDir });
  const repo = new CatalogRepository(db.db);
  const blobs = new FsBlobStore(join(dataDir, "blobs"));
  const swept = await blobs.sweepTemp();
  if (swept) log.warn({ swept }, "removed partial downloads left by an earlier run");

  const pageCache = new TieredPageCache(new DbPageCache(db.db));
  const upstream = await createUpstream(config.upstream, {
    cache: pageCache,
    ttlMs: config.upstreamTtl * 1000,
    timeoutMs: config.upstreamTimeout * 1000,
    allowedFileHosts: config.upstreamFileHosts,
    now,
  });

  const shutdown = new AbortController();
  const projects = new ProjectIndexService({ upstream, repo, now });
  const files = new FileStoreService({ upstream, repo, blobs, log, now, shutdown: shutdown.signal });

  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "portcullis_" });
  const requests = new Counter({
    name: "portcullis_http_requests_total",
    help: "HTTP requests by route and status.",
    labelNames: ["route", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "portcullis_http_request_duration_seconds",
    help: "HTTP request duration by route.",
    labelNames: ["route"] as const,
    buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10],
    registers: [registry],
  });
  let inflightDownloads = 0;
  new Gauge({
    name: "portcullis_inflight_requests",
    help: "File requests in flight.",
    registers: [registry],
    collect() {
      this.set(inflightDownloads);
    },
  });

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // Requests are counted in metrics (and audited elsewhere); per-request log lines would cost throughput.
    logController: new LogController({ disableRequestLogging: true }),
    // Wheel names with several platform tags, plus `.metadata`, run past the default 100.
    routerOptions: { maxParamLength: 1000 },
    trustProxy: false,
    // Errors answer with a clear body; a bad URL never reaches a handler as a crash.
    return503OnClosing: true,
    forceCloseConnections: "idle",
  });
  app.addHook("onResponse", (req, reply, done) => {
    const route = req.routeOptions.url ?? "unmatched";
    requests.inc({ route, status: reply.statusCode });
    duration.observe({ route }, reply.elapsedTime / 1000);
    done();
  });
  app.setNotFoundHandler((req, reply) => {
    reply.raw.statusMessage = "Not Found";
    return reply
      .code(404)
      .type("text/plain")
      .send(`404 Not Found: ${reasonPhrase(req.url.slice(0, 200))}\n`);
  });
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) req.log.error({ err, url: req.url }, "request failed");
    reply.raw.statusMessage = reasonPhrase(status >= 500 ? "Internal error" : err.message);
    return reply
      .code(status)
      .type("text/plain")
      .send(`${status} ${status >= 500 ? "Internal error" : err.message}\n`);
  });

  let upstreamState = { ok: true, detail: "not checked yet", description: upstream.description };
  const probeUpstream = async () => {
    const res = await upstream
      .probe(AbortSignal.timeout(5000))
      .catch((err: Error) => ({ ok: false, detail: err.message }));
    upstreamState = { ...res, description: upstream.description };
    return res;
  };
  let shuttingDown = false;
  let baseUrl = "";

  registerSimpleRoutes(app, { projects, repo, now });
  registerFileRoutes(app, {
    files,
    blobs,
    inflight: { add: () => inflightDownloads++, done: () => inflightDownloads-- },
  });
  registerOpsRoutes(app, {
    pingDatabase: () => repo.ping(),
    upstreamStatus: () => upstreamState,
    registry,
    isShuttingDown: () => shuttingDown,
  });
  registerLandingRoutes(app, {
    publicUrl: () => (config.publicUrl || baseUrl).replace(/\/+$/, ""),
    upstreamStatus: () => upstreamState,
  });

  return {
    app,
    config,
    log,
    db,
    upstream,
    probeUpstream,
    async listen() {
      const address = await app.listen({ host: config.host, port: config.port });
      const u = new URL(address);
      if (u.hostname === "0.0.0.0" || u.hostname === "[::]") u.hostname = "127.0.0.1";
      baseUrl = u.origin;
      return baseUrl;
    },
    async close() {
      shuttingDown = true;
      const grace = config.shutdownGrace * 1000;
      // Fastify stops accepting at once and waits for in-flight requests (downloads) to end.
      const closing = app.close();
      // Connections that turn idle after close began (a download just finished) would otherwise
      // linger until their keep-alive time-out.
      const sweeper = setInterval(() => app.server.closeIdleConnections?.(), 50);
      const timer = setTimeout(() => {
        log.warn({ inflightDownloads }, "grace period over: aborting downloads still in flight");
        shutdown.abort();
        app.server.closeAllConnections?.();
      }, grace);
      timer.unref();
      await closing.finally(() => clearInterval(sweeper));
      clearTimeout(timer);
      await upstream.close?.();
      await db.close();
    },
  };
}
