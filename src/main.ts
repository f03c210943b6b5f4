import { mkdirSync } from "node:fs";
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import { join, resolve } from "node:path";
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type HTTPMethods,
  type FastifyServerOptions,
  type preValidationHookHandler,
  type RouteOptions,
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
import { registerOpsRoutes } from "./http/routes/ops-routes.js";
import { registerSimpleRoutes } from "./http/routes/simple-routes.js";
import { reasonPhrase, sendGatewayError, wantsJson } from "./http/reply-error.js";
import { errorSchema, sendApiError, type ApiErrorCode } from "./http/api-conventions.js";
import { ERRORS, GatewayError, type ErrorCode } from "./services/gateway-error.js";
import { DecisionRepository } from "./adapters/db/decision-repository.js";
import { IntelRepository } from "./adapters/db/intel-repository.js";
import { analyzeDistribution } from "./services/artifact-analysis.js";
import { CatalogCurator } from "./services/catalog-curator.js";
import { FileAccessService } from "./services/file-access.js";
import { FileStoreService } from "./services/file-store.js";
import { intelImportRecord, IntelService } from "./services/intel-service.js";
import { SYSTEM_ACTOR } from "./services/governance/remediation-service.js";
import { PolicyService } from "./services/policy-service.js";
import { PreVetter } from "./services/pre-vetter.js";
import { ProjectIndexService } from "./services/project-index.js";
import { registerDecisionRoutes } from "./http/routes/decision-routes.js";
import { registerVetRoutes } from "./http/routes/vet-routes.js";
import { KeyRing } from "./crypto/key-ring.js";
import { HeapCompactor } from "./adapters/runtime/heap-compactor.js";
import { LazySchemaCompilers } from "./http/lazy-schema-compilers.js";
import { rejectNonFinite, rejectNul } from "./http/input-guards.js";
import { EventBus } from "./services/event-bus.js";
import { buildIdentityServices, type IdentityServices } from "./services/identity/identity-services.js";
import {
  buildGovernanceServices,
  type GovernanceServices,
} from "./services/governance/governance-services.js";
import { buildProofServices, type ProofServices } from "./services/proof/proof-services.js";
import { buildDiscoveryServices, type DiscoveryServices } from "./services/discovery/discovery-services.js";
import { buildConsoleServices, type ConsoleServices } from "./services/console/console-services.js";
import { registerOpenApi } from "./http/openapi.js";
import { registerIdentityHttp } from "./http/identity-http.js";
import { clientAddress } from "./http/client-address.js";
import { createFastLane } from "./http/fast-lane.js";
import { registerGovernanceHttp } from "./http/governance-http.js";
import { registerProofHttp } from "./http/proof-http.js";
import { registerDiscoveryHttp } from "./http/discovery-http.js";
import { registerConsoleHttp } from "./http/console-http.js";
import { registerDashboardHttp } from "./http/dashboard-http.js";

/** Fastify's own request errors, reworded: what was wrong and what to send instead. */
const FASTIFY_ERRORS: Record<
  string,
  { code: ErrorCode; message: (err: FastifyError, req: FastifyRequest) => string } | undefined
> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: "UNSUPPORTED_MEDIA_TYPE",
    message: (_err, req) =>
      `a body of type ${reasonPhrase(String(req.headers["content-type"] ?? "(none)").slice(0, 100))} is not accepted here; send application/json`,
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: "CONTENT_TOO_LARGE",
    message: (_err, req) =>
      `the request body is over the ${req.routeOptions.bodyLimit ?? 1048576}-byte limit`,
  },
  FST_ERR_CTP_INVALID_JSON_BODY: {
    code: "BAD_REQUEST",
    message: () => "the request body is not valid JSON (content-type is application/json)",
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: "BAD_REQUEST",
    message: () => "the request body is empty, but content-type is application/json",
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: "BAD_REQUEST",
    message: () => "content-length does not match the body received",
  },
};

/** A catalogue code for a status raised without a known code (a plugin's, a framework's). */
function codeForStatus(status: number): ErrorCode {
  if (status >= 500) return "INTERNAL";
  const generic: ErrorCode[] = [
    "BAD_REQUEST",
    "NOT_FOUND",
    "METHOD_NOT_ALLOWED",
    "CONTENT_TOO_LARGE",
    "URI_TOO_LONG",
    "UNSUPPORTED_MEDIA_TYPE",
    "HEADERS_TOO_LARGE",
  ];
  return generic.find((c) => ERRORS[c].status === status) ?? "BAD_REQUEST";
}

/** The API's code for a gateway error code (the API keeps its own stable list). */
const API_CODES: Partial<Record<ErrorCode, ApiErrorCode>> = {
  NOT_FOUND: "NOT_FOUND",
  PROJECT_NOT_FOUND: "NOT_FOUND",
  FILE_NOT_FOUND: "NOT_FOUND",
  POLICY_REFUSED: "FORBIDDEN",
  METHOD_NOT_ALLOWED: "METHOD_NOT_ALLOWED",
  CONTENT_TOO_LARGE: "CONTENT_TOO_LARGE",
  URI_TOO_LONG: "URI_TOO_LONG",
  UNSUPPORTED_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  UPSTREAM_UNAVAILABLE: "UNAVAILABLE",
  SHUTTING_DOWN: "UNAVAILABLE",
  INTERNAL: "INTERNAL",
};

/**
 * Answers an error the way its part of the gateway does: under `/api/` the API's JSON shape
 * (`{"error": {"code", "message"}}`), elsewhere (the index, files) plain text for pip and humans
 * or JSON for a client that asked for it, with the reason in the status line (pip prints it).
 */
function sendError(
  req: FastifyRequest,
  reply: FastifyReply,
  code: ErrorCode,
  message: string,
  status?: number,
): FastifyReply {
  // A status the catalogue has no entry for keeps its own standard reason as the title.
  const err = new GatewayError(
    code,
    message,
    status === undefined || status === ERRORS[code].status
      ? {}
      : { status, title: STATUS_CODES[status] ?? "Error" },
  );
  if (req.url.startsWith("/api/"))
    return sendApiError(
      reply,
      err.status,
      API_CODES[code] ?? (err.status >= 500 ? "INTERNAL" : err.status === 404 ? "NOT_FOUND" : "VALIDATION"),
      message,
    );
  return sendGatewayError(reply, err, wantsJson(req.headers.accept));
}

export interface Gateway {
  app: FastifyInstance;
  config: Config;
  log: Logger;
  db: DatabaseHandle;
  upstream: Upstream;
  policy: PolicyService;
  intel: IntelService;
  decisions: DecisionRepository;
  projects: ProjectIndexService;
  services: Services;
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
  /** Judge new releases of catalog projects in the background (default true). */
  preVet?: boolean;
  /** Audit records held in memory while the database refuses writes (default 200,000). */
  auditQueueRecords?: number;
  /**
   * Generate the signing key under `<data>/keys` when none is there or supplied (default true: a
   * gateway's first start). CLI commands pass false: a key of their own would sign audit
   * checkpoints that no gateway trusts; without one they write their records unsigned.
   */
  createSigningKey?: boolean;
}

/** Everything but the HTTP server: what the gateway and the local CLI commands share. */
export type Services = CoreServices &
  IdentityServices &
  GovernanceServices &
  ProofServices &
  DiscoveryServices &
  ConsoleServices;

/** What a feature's HTTP registration gets on a running gateway. */
export interface GatewayHttpContext {
  services: Services;
  registry: Registry;
  /** The URL users reach the gateway at, without a trailing slash. */
  publicUrl: () => string;
  upstreamStatus: () => { ok: boolean; detail: string; description: string };
  isShuttingDown: () => boolean;
  /** The client's address (see client-address.ts): what the audit trail and the limiter use. */
  clientAddress: (req: IncomingMessage) => string;
}

/** The gateway core that every feature builds on. */
export interface CoreServices {
  config: Config;
  log: Logger;
  db: DatabaseHandle;
  repo: CatalogRepository;
  blobs: FsBlobStore;
  upstream: Upstream;
  decisions: DecisionRepository;
  intelRepo: IntelRepository;
  intel: IntelService;
  policy: PolicyService;
  projects: ProjectIndexService;
  files: FileStoreService;
  access: FileAccessService;
  /** Background judgement of new releases of catalog projects (absent when disabled). */
  preVetter: PreVetter | undefined;
  /** Aborted when the process stops: downloads in flight give up. */
  shutdown: AbortController;
  now: () => number;
  /** Features publish and subscribe here instead of importing each other. */
  events: EventBus;
  /** The gateway's Ed25519 signing key and its retired public keys. */
  keys: KeyRing;
  /** Runs `fn` whenever a new upstream page was turned into a view (a cold page). */
  onPageLearned(fn: () => void): void;
  /** Runs `fn` on close, before the database closes (last registered runs first). */
  onClose(fn: () => Promise<void> | void): void;
  close(): Promise<void>;
}

/**
 * The composition root proper: the one place that builds adapters and wires them into
 * services. `createGateway` adds the HTTP server; CLI commands working on `--data` use it alone.
 */
export async function buildServices(config: Config, opts: GatewayOptions = {}): Promise<Services> {
  const now = opts.now ?? Date.now;
  const log = opts.logger ?? pino({ level: config.logLevel, base: { service: "portcullis" } });
  const dataDir = resolve(config.data);
  mkdirSync(dataDir, { recursive: true });

  const db = await connectDatabase({ url: config.database, dataDir });
  const repo = new CatalogRepository(db.db);
  const blobs = new FsBlobStore(join(dataDir, "blobs"));

  // Raw pages in memory only for the hottest projects: views (built once per page) are what serve,
  // and a raw page missing from memory costs one indexed read. Keeps RSS flat with many projects.
  const pageCache = new TieredPageCache(new DbPageCache(db.db), 1_000);
  pageCache.onError = (err) =>
    log.warn({ err: err.message }, "could not store an upstream page in the shared cache");
  const upstream = await createUpstream(config.upstream, {
    cache: pageCache,
    ttlMs: config.upstreamTtl * 1000,
    timeoutMs: config.upstreamTimeout * 1000,
    allowedFileHosts: config.upstreamFileHosts,
    directory: { mtimeAsUploadTime: config.upstreamMtimeUploadTime },
    logger: log,
    now,
  });

  const shutdown = new AbortController();
  const decisions = new DecisionRepository(db.db);
  const intelRepo = new IntelRepository(db.db);
  const intel = new IntelService({ repo: intelRepo, now });
  const policy = new PolicyService({
    intel,
    intelRepo,
    decisions,
    now,
    log,
    ...(config.policy ? { policyPath: config.policy } : {}),
    analyze: analyzeDistribution,
  });
  await policy.init();
  const curator = new CatalogCurator({ policy, decisions, now });
  let preVetter: PreVetter | undefined;
  const pageListeners: (() => void)[] = [];
  const projects = new ProjectIndexService({
    upstream,
    repo,
    now,
    curator,
    storedFacts: (sha256s) => repo.storedFacts(sha256s),
    onNewPage: (view) => {
      preVetter?.schedule(view);
      for (const fn of pageListeners) fn();
    },
  });
  const files = new FileStoreService({ upstream, repo, blobs, log, now, shutdown: shutdown.signal });
  const events = new EventBus((err, event) =>
    log.error({ err: err.message, event: event.type }, "an event listener failed"),
  );
  const access = new FileAccessService({
    files,
    projects,
    policy,
    blobs,
    log,
    now,
    // A file with a stored decision was told of when that decision changed (re-evaluation).
    onIndexRefusal: (d) =>
      decisions.get(d.sha256).then(
        (stored) => {
          if (stored) return;
          events.publish({
            type: "file.blocked",
            sha256: d.sha256,
            project: d.project,
            version: d.version,
            filename: d.filename,
            from: null,
            reasons: d.reasons.filter((r) => r.action !== "allow" || r.waivedBy),
            at: d.decidedAt,
            basis: `index:${d.policyVersion}:${d.intelSnapshot}`,
          });
        },
        (err: Error) => {
          log.error({ err: err.message, sha256: d.sha256 }, "could not tell a refusal");
          throw err;
        },
      ),
  });
  if (opts.preVet ?? true) preVetter = new PreVetter({ access, decisions, log });
  const keys = KeyRing.open(join(dataDir, "keys"), config.signingKey, {
    create: opts.createSigningKey ?? true,
  });
  const closers: (() => Promise<void> | void)[] = [];
  const core: CoreServices = {
    config,
    log,
    db,
    repo,
    blobs,
    upstream,
    decisions,
    intelRepo,
    intel,
    policy,
    projects,
    files,
    access,
    shutdown,
    now,
    preVetter,
    events,
    keys,
    onClose: (fn) => closers.push(fn),
    onPageLearned: (fn) => pageListeners.push(fn),
    async close() {
      preVetter?.stop();
      shutdown.abort();
      for (const fn of closers.reverse()) {
        try {
          await fn();
        } catch (err) {
          log.error({ err: (err as Error).message }, "a feature failed to close cleanly");
        }
      }
      await upstream.close?.();
      await db.close();
    },
  };
  // Features in dependency order; each sees everything built before it.
  const identity = await buildIdentityServices(core, { auditQueueRecords: opts.auditQueueRecords });
  const governance = await buildGovernanceServices({ ...core, ...identity });
  const proof = await buildProofServices({ ...core, ...identity, ...governance });
  const discovery = await buildDiscoveryServices({ ...core, ...identity, ...governance, ...proof });
  const consoleServices = await buildConsoleServices({
    ...core,
    ...identity,
    ...governance,
    ...proof,
    ...discovery,
  });
  return Object.assign(core, identity, governance, proof, discovery, consoleServices);
}

/**
 * The gateway: the services behind a Fastify server with the simple API, files, decisions and
 * operations routes, a poller that picks up intel and exceptions from other processes, and a
 * graceful shutdown.
 */
export async function createGateway(config: Config, opts: GatewayOptions = {}): Promise<Gateway> {
  const services = await buildServices(config, opts);
  const { log, db, repo, blobs, upstream, decisions, intel, policy, projects, access, now } = services;
  const compactor = new HeapCompactor({ now });
  services.onPageLearned(() => compactor.noteActivity());
  compactor.start();
  const swept = await blobs.sweepTemp();
  if (swept) log.warn({ swept }, "removed partial downloads left by an earlier run");
  const intelStatus = policy.status();
  if (intelStatus.intelMissing) {
    log.warn(
      { required: intelStatus.intelRequired },
      intelStatus.intelRequired
        ? "intel missing and intel.required is set: every file is refused until `portcullis intel import` runs"
        : "intel missing: no advisories imported, so vulnerability and malicious checks cannot run (`portcullis intel import FILE|URL`)",
    );
  }
  // A connected site stays current: re-import the configured intel sources on a schedule (ETag
  // revalidation makes an unchanged source cost one request). Failures warn and never stop serving.
  const syncIntel = async () => {
    for (const source of config.intelSync) {
      try {
        const report = await intel.importSource(source);
        services.audit.record(intelImportRecord(source, SYSTEM_ACTOR, { report }));
        if (!report.unchanged)
          log.info({ source, added: report.added, skipped: report.skipped }, "intel synced");
      } catch (err) {
        services.audit.record(intelImportRecord(source, SYSTEM_ACTOR, { error: err as Error }));
        log.warn(
          { source, err: (err as Error).message },
          "intel sync failed; the last imported intel stays in force",
        );
      }
    }
  };
  const syncTimers: NodeJS.Timeout[] = [];
  if (config.intelSync.length > 0 && config.intelSyncInterval > 0) {
    syncTimers.push(
      setTimeout(() => void syncIntel(), 10_000),
      setInterval(() => void syncIntel(), config.intelSyncInterval * 1000),
    );
    for (const t of syncTimers) t.unref();
  }
  // Intel imported or exceptions granted by the CLI or another instance: reload and re-judge.
  let refreshing = false;
  const poller = setInterval(() => {
    if (refreshing) return;
    refreshing = true;
    policy
      .refresh()
      .catch((err: Error) => log.error({ err }, "policy refresh failed"))
      .finally(() => (refreshing = false));
  }, config.intelPoll * 1000);
  poller.unref();

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

  new Gauge({
    name: "portcullis_audit_queued_records",
    help: "Audited accesses queued in memory for the database (a record and each of its repeats count).",
    registers: [registry],
    collect() {
      this.set(services.audit.pendingCount);
    },
  });
  new Gauge({
    name: "portcullis_audit_writer_boosts",
    help: "Times since start the audit writer thread fell a second behind and was put back to normal CPU priority (audit.writer-priority idle): the machine leaves it too little idle CPU, or records arrive faster than it writes.",
    registers: [registry],
    collect() {
      this.set(services.audit.writerBoosts);
    },
  });
  new Gauge({
    name: "portcullis_audit_accepting",
    help: "1 while the audit trail takes records; 0 while it cannot (database refusing writes, memory queue and spool full, or the chain blocked by a row past its head): audited requests then get 503.",
    registers: [registry],
    collect() {
      this.set(services.audit.accepting ? 1 : 0);
    },
  });
  new Gauge({
    name: "portcullis_audit_sink_dropped_records",
    help: "Audit records the sinks (SIEM) dropped since start: their queue overflowed while the sink was down, or a stop gave up on them. The database chain still holds them (audit export).",
    registers: [registry],
    collect() {
      this.set(services.audit.sinkDropped);
    },
  });
  new Gauge({
    name: "portcullis_audit_spooled_batches",
    help: "Audit batches kept on disk (<data>/audit-spool) until the database takes them; above 0 only while it refuses writes.",
    registers: [registry],
    collect() {
      this.set(services.audit.spooledBatches);
    },
  });

  const schemaCompilers = new LazySchemaCompilers();
  const clientAddr = clientAddress(config.trustProxy);
  const app = Fastify({
    // Route schemas compile on first use and in the background after listen, not at boot.
    schemaController: {
      compilersFactory: schemaCompilers.compilersFactory as NonNullable<
        NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]
      >,
    },
    loggerInstance: log as FastifyBaseLogger,
    // Requests are counted in metrics (and audited elsewhere); per-request log lines would cost throughput.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request (Fastify's default builds one to bind the request id): the few
    // lines a request logs carry its method and URL instead.
    childLoggerFactory: (logger) => logger,
    // Wheel names with several platform tags, plus `.metadata`, run past the default 100.
    routerOptions: { maxParamLength: 1000 },
    schemaErrorFormatter: formatSchemaErrors,
    // Off unless `trust-proxy` names the proxies in front (see client-address.ts).
    trustProxy: clientAddr.fastifyTrustProxy,
    // Errors answer with a clear body; a bad URL never reaches a handler as a crash.
    return503OnClosing: true,
    forceCloseConnections: "idle",
    // A URL the router cannot take (bad percent-encoding, a segment over maxParamLength) gets the
    // gateway's own error, not Fastify's default JSON.
    frameworkErrors: (err, req, reply) => {
      if (err.code === "FST_ERR_MAX_PARAM_LENGTH")
        return sendError(req, reply, "URI_TOO_LONG", "a path segment is longer than 1000 characters");
      if (err.code === "FST_ERR_BAD_URL")
        return sendError(req, reply, "BAD_REQUEST", "the URL is malformed (invalid percent-encoding)");
      return sendError(req, reply, "INTERNAL", "the request failed; the gateway logged why");
    },
    // Errors Node's HTTP parser finds before there is a request (headers or URL over the 16 KiB
    // limit, a malformed request line): the path is unknown, so the body is JSON with both the
    // API's and the index's fields (`code`, `title`, `message`), and the reason in the status line.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === "ECONNRESET" || socket.destroyed) return;
      const [status, code, title, message] =
        err.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? [408, "TIMEOUT", "Request timeout", "the request took too long to arrive"]
          : err.code === "HPE_HEADER_OVERFLOW"
            ? [
                431,
                "VALIDATION",
                "Request header fields too large",
                "the request line and headers exceed 16 KiB (a URL that long is not one this gateway serves)",
              ]
            : [400, "VALIDATION", "Bad request", "the request is not valid HTTP/1.1"];
      const body = JSON.stringify({ error: { code, title, message } });
      if (socket.writable)
        socket.write(
          `HTTP/1.1 ${status} ${reasonPhrase(`${title}: ${message}`)}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
        );
      socket.destroy(err);
    },
  });
  app.addHook("preValidation", rejectNul);
  app.addHook("preHandler", rejectNonFinite);
  // prom-client hashes the label values on every call; the series of a route (and status) are
  // looked up once and kept (routes are fixed; statuses a handful).
  const series = new Map<string, { count: { inc(): void }; time: { observe(v: number): void } }>();
  const countRequest = (route: string, status: number, seconds: number) => {
    const key = `${status} ${route}`;
    let s = series.get(key);
    if (!s) {
      s = { count: requests.labels({ route, status }), time: duration.labels({ route }) };
      series.set(key, s);
    }
    s.count.inc();
    s.time.observe(seconds);
  };
  // API answers are about who may see what (tokens, consumers, requests, the caller itself): no
  // cache may keep them, unless a route says otherwise (the OpenAPI document, public keys).
  app.addHook("onSend", (req, reply, payload, done) => {
    if (req.url.startsWith("/api/") && !reply.hasHeader("cache-control"))
      reply.header("cache-control", "no-store");
    done(null, payload);
  });
  app.addHook("onResponse", (req, reply, done) => {
    countRequest(req.routeOptions.url ?? "unmatched", reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  // A path some route takes with another method is a 405 with `Allow` (RFC 9110 §15.5.6): Fastify
  // answers 404 for any method its router has no route for, so the not-found handler asks the
  // router which methods the path has.
  const knownMethods = new Set<string>();
  app.addHook("onRoute", (route) => {
    for (const m of [route.method].flat()) knownMethods.add(m.toUpperCase());
    strictApiQuery(route);
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split("?")[0]!;
    const allowed = [...knownMethods].filter(
      (method) => method !== req.method && app.findRoute({ method: method as HTTPMethods, url: path }),
    );
    if (allowed.length > 0) {
      reply.header("allow", allowed.join(", "));
      return sendError(
        req,
        reply,
        "METHOD_NOT_ALLOWED",
        `${req.method} is not allowed on ${reasonPhrase(path.slice(0, 200))}; allowed: ${allowed.join(", ")}`,
      );
    }
    if (req.url.startsWith("/api/"))
      return sendApiError(reply, 404, "NOT_FOUND", `no such API route: ${req.method} ${path.slice(0, 200)}`);
    return sendError(req, reply, "NOT_FOUND", `nothing is served at ${reasonPhrase(req.url.slice(0, 200))}`);
  });
  app.addSchema(errorSchema);
  app.setErrorHandler((err: FastifyError, req, reply) => {
    let status = err.statusCode ?? 500;
    if (status < 400 || status > 599) status = 500;
    if (status >= 500) req.log.error({ err, method: req.method, url: req.url }, "request failed");
    if (err.validation) return sendError(req, reply, "BAD_REQUEST", err.message);
    const known = FASTIFY_ERRORS[err.code];
    if (known) return sendError(req, reply, known.code, known.message(err, req));
    if (status >= 500)
      return sendError(req, reply, "INTERNAL", "the request failed; the gateway logged why", status);
    return sendError(req, reply, codeForStatus(status), err.message, status);
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

  const httpContext: GatewayHttpContext = {
    services,
    registry,
    publicUrl: () => (config.publicUrl || baseUrl).replace(/\/+$/, ""),
    upstreamStatus: () => upstreamState,
    isShuttingDown: () => shuttingDown,
    clientAddress: clientAddr.of,
  };
  // The OpenAPI document first (it collects every route registered after it), then the identity
  // hooks (authentication, audit) that every later route runs behind.
  await registerOpenApi(app, httpContext);
  const fastIdentity = await registerIdentityHttp(app, httpContext);
  const warmPages = registerSimpleRoutes(app, {
    projects,
    repo,
    now,
    intelMissing: () => policy.status().intelMissing,
    shareable: config.authAnonymous === "read",
  });
  const fastLaneAnswers = new Counter({
    name: "portcullis_http_fast_lane_total",
    help: "Warm project pages answered by the fast lane in front of the router (also in portcullis_http_requests_total).",
    registers: [registry],
  });
  const fastLane = createFastLane({
    identity: fastIdentity,
    pages: warmPages,
    clientAddress: clientAddr.of,
    count: (route, status, seconds) => {
      countRequest(route, status, seconds);
      fastLaneAnswers.inc();
    },
    isShuttingDown: () => shuttingDown,
  });
  // In front of Fastify's own request listener. Not through `serverFactory`: given one, Fastify
  // no longer binds every address of a host such as `localhost` (::1 and 127.0.0.1).
  const routed = app.server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
  app.server.removeAllListeners("request");
  app.server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (fastLane(req, res)) return;
    for (const listener of routed) listener.call(app.server, req, res);
  });
  registerFileRoutes(app, {
    access,
    blobs,
    inflight: { add: () => inflightDownloads++, done: () => inflightDownloads-- },
    shareable: config.authAnonymous === "read",
  });
  registerOpsRoutes(app, {
    pingDatabase: () => repo.ping(),
    upstreamStatus: () => upstreamState,
    registry,
    isShuttingDown: () => shuttingDown,
    degradedReasons: () =>
      policy.status().intelMissing ? ["intel missing: no advisories imported (portcullis intel import)"] : [],
  });
  registerDecisionRoutes(app, { decisions, projects, policy });
  registerVetRoutes(app, { decisions, projects, policy, access });
  await registerGovernanceHttp(app, httpContext);
  await registerProofHttp(app, httpContext);
  await registerDiscoveryHttp(app, httpContext);
  await registerConsoleHttp(app, httpContext);
  await registerDashboardHttp(app, httpContext);

  return {
    app,
    config,
    log,
    db,
    upstream,
    policy,
    intel,
    decisions,
    projects,
    services,
    probeUpstream,
    async listen() {
      const address = await app.listen({ host: config.host, port: config.port });
      setImmediate(() => void schemaCompilers.warmUp(services.shutdown.signal));
      // Reports made by an older analyser are made again from the stored bytes, in the background.
      const upgrading = policy
        .upgradeAnalyses((sha256) => blobs.localPath(sha256), services.shutdown.signal)
        .catch((err: Error) => log.error({ err: err.message }, "re-analysis of stored files stopped"));
      services.onClose(async () => void (await upgrading));
      const u = new URL(address);
      if (u.hostname === "0.0.0.0" || u.hostname === "[::]") u.hostname = "127.0.0.1";
      baseUrl = u.origin;
      return baseUrl;
    },
    async close() {
      shuttingDown = true;
      clearInterval(poller);
      compactor.stop();
      for (const t of syncTimers) clearTimeout(t);
      const grace = config.shutdownGrace * 1000;
      // Fastify stops accepting at once and waits for in-flight requests (downloads) to end.
      const closing = app.close();
      // Connections that turn idle after close began (a download just finished) would otherwise
      // linger until their keep-alive time-out.
      const sweeper = setInterval(() => app.server.closeIdleConnections?.(), 50);
      const timer = setTimeout(() => {
        log.warn({ inflightDownloads }, "grace period over: aborting downloads still in flight");
        services.shutdown.abort();
        app.server.closeAllConnections?.();
      }, grace);
      timer.unref();
      await closing.finally(() => clearInterval(sweeper));
      // A download still being written to its socket may outlive the server's close: its
      // access is audited when it finishes, so the trail closes only after the last one (or the
      // grace period). Found by SIGTERM during a 16 MB download: served, and not audited.
      while (inflightDownloads > 0 && !services.shutdown.signal.aborted) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await new Promise((resolve) => setImmediate(resolve));
      clearTimeout(timer);
      await services.close();
    },
  };
}

/**
 * Fastify's validation message with the one thing its default leaves out: which parameter or
 * field was not allowed (`querystring must NOT have additional properties: "tokenid"`).
 */
function formatSchemaErrors(
  errors: { instancePath?: string; message?: string; keyword?: string; params?: Record<string, unknown> }[],
  dataVar: string,
): Error {
  const text = errors
    .map((e) => {
      const extra = e.keyword === "additionalProperties" ? e.params?.additionalProperty : undefined;
      const name = typeof extra === "string" ? `: ${JSON.stringify(extra.slice(0, 100))}` : "";
      return `${dataVar}${e.instancePath ?? ""} ${e.message ?? "is not valid"}${name}`;
    })
    .join(", ");
  return new Error(text);
}

/**
 * Every `/api/v1` route refuses a query parameter it does not take (400 naming it), also those
 * whose schema declares none or leaves `additionalProperties` open: a misspelt filter
 * (`/inventory/drift?sinse=…`) answering as if no filter were given reads as a filter that
 * matched everything.
 */
function strictApiQuery(route: RouteOptions): void {
  if (!route.url.startsWith("/api/v1/")) return;
  const schema = (route.schema ??= {});
  const query = schema.querystring as Record<string, unknown> | undefined;
  if (!query) schema.querystring = { type: "object", additionalProperties: false, properties: {} };
  else if (query.additionalProperties === undefined)
    schema.querystring = { ...query, additionalProperties: false };
  else if (query.additionalProperties !== false) return;
  // The validator stops at the first: this names every parameter the route does not take, so a
  // caller fixes them in one go. The schema stays the rule (this only says more).
  const known = new Set(
    Object.keys(((schema.querystring as { properties?: object }).properties ?? {}) as object),
  );
  const check: preValidationHookHandler = (req, _reply, done) => {
    const unknown = Object.keys((req.query ?? {}) as object).filter((k) => !known.has(k));
    if (unknown.length < 2) return done();
    const names = unknown.slice(0, 10).map((k) => JSON.stringify(k.slice(0, 100)));
    const more = unknown.length > 10 ? ` and ${unknown.length - 10} more` : "";
    const err = new Error(
      `querystring must NOT have additional properties: ${names.join(", ")}${more}`,
    ) as FastifyError;
    err.validation = [];
    err.statusCode = 400;
    done(err);
  };
  route.preValidation = [...[route.preValidation ?? []].flat(), check];
}
