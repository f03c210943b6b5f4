import { createHash } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LRUCache } from "lru-cache";
import { normalizeProjectName, isValidProjectName } from "../../domain/project-name.js";
import { GatewayError } from "../../services/gateway-error.js";
import type { ProjectIndexService, ProjectView } from "../../services/project-index.js";
import type { CatalogRepository } from "../../adapters/db/catalog-repository.js";
import { contentTypeOf, ifNoneMatchMatches, negotiateSimpleFormat, type SimpleFormat } from "../negotiate.js";
import { reasonPhrase, sendGatewayError, wantsJson } from "../reply-error.js";
import {
  renderIndexHtml,
  renderIndexJson,
  renderProjectHtml,
  renderProjectJson,
  type IndexEntry,
} from "../simple-render.js";

interface Rendered {
  viewVersion: number;
  body: Buffer;
  etag: string;
  /** The fast lane's response headers for this body, built on its first use (see `warmPage`). */
  fast?: { format: SimpleFormat; intel: boolean; serial: number; headers: string[]; headers200: string[] };
}

/** A warm project page as the fast lane sends it: the exact body and headers of the full route. */
export interface WarmPage {
  body: Buffer;
  etag: string;
  /** Flat [name, value, …] list for `ServerResponse.writeHead`, as `sendBody` sets them (a 304's). */
  headers: string[];
  /** The same with the body's content-length (a 200's). */
  headers200: string[];
}

/** What the simple routes offer the warm-page fast lane (src/http/fast-lane.ts). */
export interface SimpleWarmPages {
  /**
   * A normalised project's page exactly as `GET /simple/<project>/` would answer it now, when
   * that is known without I/O: the view is fresh and curated, served before (so rendered), not
   * stale and not refused. Undefined otherwise: the request takes the full route.
   */
  warmPage(normalized: string, format: SimpleFormat): WarmPage | undefined;
}

export interface SimpleRoutesDeps {
  projects: ProjectIndexService;
  repo: CatalogRepository;
  now: () => number;
  /** Bytes of rendered pages kept in memory (default 32 MiB). */
  renderedCacheBytes?: number;
  /** Whether no intel was ever imported: answers carry a warning header then. */
  intelMissing?: () => boolean;
  /** Seconds a client may cache a page (pip's HTTP cache honours it). */
  pageMaxAge?: number;
  /**
   * Whether shared caches (a proxy, a CDN) may keep pages (`public`): only while anyone may read
   * them. With anonymous access off they are `private`, or a cache in front would hand a page
   * fetched with a token to callers without one (RFC 9111 §3.5).
   */
  shareable?: boolean;
}

/** `/simple/` and `/simple/<project>/`: PEP 503 HTML and PEP 691 JSON by content negotiation. */
export function registerSimpleRoutes(app: FastifyInstance, deps: SimpleRoutesDeps): SimpleWarmPages {
  // Rendered pages, bounded by bytes: memory must not grow with every project ever asked for.
  const rendered = new LRUCache<string, Rendered>({
    maxSize: deps.renderedCacheBytes ?? 32 * 1024 * 1024,
    sizeCalculation: (r) => r.body.length + 200,
  });
  const maxAge = deps.pageMaxAge ?? 60;
  const visibility = deps.shareable === false ? "private" : "public";
  let rootCache: { at: number; projects: IndexEntry[]; serial: number } | undefined;

  const negotiate = (req: FastifyRequest, reply: FastifyReply): SimpleFormat | undefined => {
    const q = req.query as Record<string, string | undefined>;
    const format = negotiateSimpleFormat(req.headers.accept, q.format);
    if (!format) {
      reply.raw.statusMessage = "Not Acceptable: offer application/vnd.pypi.simple.v1+json or text/html";
      void reply
        .code(406)
        .header("vary", "Accept")
        .type("text/plain")
        .send(
          "406 Not Acceptable: this index serves application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html and text/html\n",
        );
    }
    return format;
  };

  /** A page's response headers, as a flat [name, value, …] list (what `writeHead` takes). */
  const pageHeaders = (
    format: SimpleFormat,
    intelMissing: boolean,
    serial: number,
    etag: string,
  ): string[] => [
    ...(intelMissing ? ["x-portcullis-intel", "missing"] : []),
    "content-type",
    contentTypeOf(format),
    "vary",
    "Accept",
    "x-pypi-last-serial",
    String(serial),
    "etag",
    etag,
    "cache-control",
    `max-age=${maxAge}, ${visibility}`,
  ];

  const sendBody = (
    req: FastifyRequest,
    reply: FastifyReply,
    format: SimpleFormat,
    r: Rendered,
    serial: number,
  ) => {
    const headers = pageHeaders(format, deps.intelMissing?.() ?? false, serial, r.etag);
    for (let i = 0; i < headers.length; i += 2) reply.header(headers[i]!, headers[i + 1]!);
    if (ifNoneMatchMatches(req.headers["if-none-match"], r.etag)) return reply.code(304).send();
    return reply.send(r.body);
  };

  app.get("/simple", (req, reply) => reply.redirect(withQuery("/simple/", req.url), 301));

  // GET and HEAD as one route: Fastify's automatic HEAD route would add `content-length: 0` to a
  // 304 (RFC 9110 §8.6: a 304 carries no content-length, or the 200's).
  app.route({
    method: ["GET", "HEAD"],
    url: "/simple/",
    handler: async (req, reply) => {
      const format = negotiate(req, reply);
      if (!format) return reply;
      const now = deps.now();
      // The root lists what the gateway knows; a short memo keeps it cheap with thousands of projects.
      if (!rootCache || now - rootCache.at > 2000) {
        const [projects, serial] = await Promise.all([deps.repo.listProjects(), deps.repo.lastSerial()]);
        rootCache = {
          at: now,
          serial,
          projects: projects.map((p) => ({ name: p.name, displayName: p.displayName })),
        };
        rendered.delete("/:json");
        rendered.delete("/:html");
      }
      const key = format === "json" ? "/:json" : "/:html";
      let r = rendered.get(key);
      if (!r || r.viewVersion !== rootCache.at) {
        const body = Buffer.from(
          format === "json"
            ? renderIndexJson(rootCache.projects, rootCache.serial)
            : renderIndexHtml(rootCache.projects),
        );
        r = { viewVersion: rootCache.at, body, etag: etagOf(body) };
        rendered.set(key, r);
      }
      return sendBody(req, reply, format, r, rootCache.serial);
    },
  });

  const projectHandler = async (
    req: FastifyRequest<{ Params: { project: string } }>,
    reply: FastifyReply,
  ) => {
    const raw = req.params.project;
    if (!isValidProjectName(raw)) {
      return sendGatewayError(
        reply,
        new GatewayError(
          "INVALID_PROJECT_NAME",
          `${JSON.stringify(raw.slice(0, 100))} is not a valid project name (PEP 508)`,
        ),
        wantsJson(req.headers.accept),
      );
    }
    const normalized = normalizeProjectName(raw);
    // PEP 503: a non-normalised name (or a missing trailing slash) redirects to the canonical URL.
    if (normalized !== raw || !req.url.split("?")[0]!.endsWith("/")) {
      return reply.redirect(withQuery(`/simple/${normalized}/`, req.url), 301);
    }
    const format = negotiate(req, reply);
    if (!format) return reply;
    let view: ProjectView | null;
    try {
      view = await deps.projects.getProject(normalized);
    } catch (err) {
      if (err instanceof GatewayError) return sendGatewayError(reply, err, format === "json");
      throw err;
    }
    if (!view) {
      return sendGatewayError(
        reply,
        new GatewayError("PROJECT_NOT_FOUND", `no project named ${normalized}`),
        format === "json",
      );
    }
    if (view.refusedReason) {
      // Nothing admitted: 403 with the reason, and PEP 792 status `quarantined` for JSON clients.
      reply.raw.statusMessage = reasonPhrase(`Forbidden: ${view.refusedReason}`);
      reply.code(403).header("vary", "Accept").header("cache-control", "no-store");
      if (format === "json") {
        return reply.type(contentTypeOf("json")).send(
          JSON.stringify({
            meta: { "api-version": "1.4", "_last-serial": view.lastSerial },
            name: view.normalized,
            files: [],
            versions: [],
            "project-status": {
              status: "quarantined",
              reason: `Refused by Portcullis: ${view.refusedReason}`,
            },
          }),
        );
      }
      return reply
        .type("text/plain; charset=utf-8")
        .send(`403 Forbidden: ${view.normalized}: ${view.refusedReason}\n`);
    }
    const key = `${normalized}:${format === "json" ? "json" : "html"}`;
    let r = rendered.get(key);
    if (!r || r.viewVersion !== view.version) {
      const body = Buffer.from(format === "json" ? renderProjectJson(view) : renderProjectHtml(view));
      r = { viewVersion: view.version, body, etag: etagOf(body) };
      rendered.set(key, r);
    }
    if (view.stale) {
      reply.header("x-portcullis-stale", "true");
      reply.header(
        "warning",
        '110 portcullis "Response is Stale: upstream unreachable, serving the last good copy"',
      );
    }
    return sendBody(req, reply, format, r, view.lastSerial);
  };

  app.route({ method: ["GET", "HEAD"], url: "/simple/:project/", handler: projectHandler });
  app.route({ method: ["GET", "HEAD"], url: "/simple/:project", handler: projectHandler });

  return {
    warmPage(normalized, format) {
      const view = deps.projects.peekProject(normalized);
      if (!view || view.stale || view.refusedReason) return undefined;
      const r = rendered.get(`${normalized}:${format === "json" ? "json" : "html"}`);
      if (!r || r.viewVersion !== view.version) return undefined;
      const intel = deps.intelMissing?.() ?? false;
      const serial = view.lastSerial;
      let fast = r.fast;
      if (!fast || fast.format !== format || fast.intel !== intel || fast.serial !== serial) {
        const headers = pageHeaders(format, intel, serial, r.etag);
        const headers200 = [...headers, "content-length", String(r.body.length)];
        fast = r.fast = { format, intel, serial, headers, headers200 };
      }
      return { body: r.body, etag: r.etag, headers: fast.headers, headers200: fast.headers200 };
    },
  };
}

function etagOf(body: Buffer): string {
  return `"${createHash("sha1").update(body).digest("base64url")}"`;
}

function withQuery(path: string, url: string): string {
  const i = url.indexOf("?");
  return i >= 0 ? path + url.slice(i) : path;
}
