import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { GatewayHttpContext } from "../main.js";
import { registerLandingRoutes } from "./routes/landing-routes.js";

/**
 * Client-side routes of the dashboard: each answers the app shell (`index.html`) so a reload or a
 * shared link works. Listed one by one rather than a catch-all, so the dashboard can never shadow
 * `/simple`, `/files`, `/api`, `/attestations`, `/.well-known`, `/healthz`, `/readyz` or `/metrics`
 * (an unknown path keeps its plain 404).
 */
export const DASHBOARD_CLIENT_ROUTES = [
  "/",
  "/login",
  "/catalog",
  "/projects/*",
  "/requests",
  "/requests/*",
  "/advisories",
  "/remediation",
  "/drift",
  "/audit",
  "/environments",
  "/users",
  "/tokens",
  "/webhooks",
  "/policy",
] as const;

/** Where `scripts/build-web.mjs` (Vite) writes the dashboard: `<repo>/web/dist`. */
export const WEB_DIST = fileURLToPath(new URL("../../web/dist/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json",
  ".woff2": "font/woff2",
};

/**
 * The app talks to its own origin only; a token lives in sessionStorage, so script injection is
 * the threat that matters: no inline script, no eval, no framing (clickjacking of approve buttons).
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

interface Asset {
  path: string;
  type: string;
  size: number;
}

interface Build {
  /** mtime of index.html when read: a rebuild while serving is picked up. */
  stamp: number;
  index: Buffer;
  /** URL path (`/assets/index-abc.js`) → file. Only files found here are ever served. */
  assets: Map<string, Asset>;
}

/**
 * Reads the built dashboard: the shell into memory and a fixed list of its files. Serving from
 * this list, never from a path built out of the URL, leaves no room for traversal.
 */
export class DashboardBuild {
  private build: Build | undefined;

  constructor(private readonly dir: string) {}

  /** The current build, or undefined when `web/dist` has not been built. */
  current(): Build | undefined {
    const indexPath = join(this.dir, "index.html");
    let stamp: number;
    try {
      stamp = statSync(indexPath).mtimeMs;
    } catch {
      this.build = undefined;
      return undefined;
    }
    if (this.build?.stamp === stamp) return this.build;
    const assets = new Map<string, Asset>();
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.isFile()) {
          const url = "/" + relative(this.dir, full).split(sep).join("/");
          const type = TYPES[extname(entry.name).toLowerCase()];
          if (type && url !== "/index.html") assets.set(url, { path: full, type, size: statSync(full).size });
        }
      }
    };
    walk(this.dir);
    this.build = { stamp, index: readFileSync(indexPath), assets };
    return this.build;
  }
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header("content-security-policy", CONTENT_SECURITY_POLICY)
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer")
    .header("x-frame-options", "DENY");
}

function notBuiltPage(): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portcullis: dashboard not built</title>
<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
pre{background:#f3f3f3;padding:.75rem}</style></head><body>
<h1>The dashboard is not built</h1>
<p>This gateway serves packages normally; only the web dashboard is missing, because <code>web/dist</code>
does not exist. Build it with:</p>
<pre>npm run build        # or: node scripts/build-web.mjs</pre>
<p>Meanwhile: <a href="/setup">how to install through this gateway</a>, the <a href="/simple/">simple index</a>,
the <a href="/api/docs">API documentation</a>.</p>
</body></html>
`;
}

/**
 * The web dashboard at `/` (built from `web/` by Vite), its client routes, its assets under
 * `/assets/`, and the server-rendered setup page at `/setup`. All are public: the shell holds no
 * data, and every API call it makes is authorised by the API itself.
 */
export async function registerDashboardHttp(
  app: FastifyInstance,
  ctx: GatewayHttpContext,
  opts: { dir?: string } = {},
): Promise<void> {
  registerLandingRoutes(app, { publicUrl: ctx.publicUrl, upstreamStatus: ctx.upstreamStatus });
  const dist = new DashboardBuild(opts.dir ?? WEB_DIST);

  const shell = async (_req: unknown, reply: FastifyReply) => {
    const build = dist.current();
    securityHeaders(reply).header("cache-control", "no-cache");
    if (!build) {
      reply.raw.statusMessage = "Dashboard not built";
      return reply.code(503).type("text/html; charset=utf-8").send(notBuiltPage());
    }
    return reply.type("text/html; charset=utf-8").send(build.index);
  };
  for (const url of DASHBOARD_CLIENT_ROUTES) app.get(url, { config: { public: true } }, shell);

  const asset = async (req: { url: string }, reply: FastifyReply) => {
    // Asset names are plain ASCII; an encoded or malformed path simply matches nothing.
    const path = req.url.split("?")[0] ?? "";
    const file = dist.current()?.assets.get(path);
    if (!file) {
      reply.raw.statusMessage = "Not Found";
      return reply
        .code(404)
        .type("text/plain")
        .send(`404 Not Found: no dashboard asset ${path.slice(0, 200)}\n`);
    }
    // Vite names every asset after a hash of its content, so a name never changes meaning.
    const immutable = path.startsWith("/assets/");
    securityHeaders(reply)
      .header("cache-control", immutable ? "public, max-age=31536000, immutable" : "no-cache")
      .header("content-length", file.size)
      .type(file.type);
    return reply.send(createReadStream(file.path));
  };
  app.get("/assets/*", { config: { public: true } }, asset);
  app.get("/favicon.svg", { config: { public: true } }, asset);
}

/** Whether the dashboard has been built (for tests and start-up hints). */
export function dashboardBuilt(dir: string = WEB_DIST): boolean {
  return existsSync(join(dir, "index.html"));
}
