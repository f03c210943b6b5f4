/**
 * Upstream indexes on loopback for tests: a static PEP 503 tree served from a directory, and a
 * PEP 691 JSON index built from in-memory files. Both count requests per path and can be told to
 * misbehave (status codes, garbage, delays, hangs, bodies cut short).
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, resolve, sep } from "node:path";
import { normalizeProjectName } from "../../src/domain/project-name.js";
import { parseDistFilename } from "../../src/domain/wheel-filename.js";

/** What a faulty upstream does instead of (or before) answering. */
export type Fault =
  /** Answer with this status (default body: the status line). */
  | { type: "status"; status: number; headers?: Record<string, string>; body?: string }
  /** Answer 200 with a body that is no index page. */
  | { type: "garbage"; contentType?: string; body?: string | Buffer }
  /** Wait this long (real time, on the server side), then answer normally. */
  | { type: "delay"; ms: number }
  /** Accept the request and never answer (the socket is closed by `close()`). */
  | { type: "hang" }
  /** Send the headers and half of the body, then drop the connection. */
  | { type: "close-mid-body" }
  /** Drop the connection without answering. */
  | { type: "reset" };

export interface FaultOptions {
  /** How many matching requests get the fault; default: every one until `setFault(null)`. */
  times?: number;
  /** Only requests whose path equals this string or matches this pattern. */
  path?: string | RegExp;
}

export interface IndexServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  /** `${url}/simple/`: where to point an upstream (for a static tree, when it holds `simple/`). */
  simpleUrl: string;
  /** Requests received per URL path (query excluded), faulted ones included. */
  requests: Map<string, number>;
  setFault(fault: Fault | null, options?: FaultOptions): void;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

type Handler = (req: IncomingMessage, path: string) => Promise<Reply>;

/**
 * Serves `root` over HTTP on 127.0.0.1, as a static web server would a PEP 503 tree: a
 * directory answers with its `index.html` (a path without its trailing slash is redirected), and
 * files carry `ETag` and `Last-Modified` and honour `If-None-Match`/`If-Modified-Since`.
 * With a tree laid out like `/opt/pypi` the index is at `simpleUrl`; with a bare simple directory
 * as `root`, it is at `${url}/`.
 *
 * @example
 * const server = await startStaticIndexServer({ root: treeDir });
 * server.setFault({ type: "status", status: 503 }, { times: 2 });
 */
export async function startStaticIndexServer(options: { root: string }): Promise<IndexServer> {
  const root = resolve(options.root);
  const handler: Handler = async (req, path) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return text(400, "bad path");
    }
    if (decoded.includes("\0") || decoded.split("/").includes("..")) return text(400, "bad path");
    const target = join(root, decoded);
    if (target !== root && !target.startsWith(root + sep)) return text(403, "outside root");
    let stats = await stat(target).catch(() => undefined);
    let file = target;
    if (stats?.isDirectory()) {
      if (!path.endsWith("/"))
        return { status: 301, headers: { location: `${path}/` }, body: Buffer.alloc(0) };
      file = join(target, "index.html");
      stats = await stat(file).catch(() => undefined);
    }
    if (!stats?.isFile()) return text(404, "not found");
    const etag = `"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
    const lastModified = new Date(Math.floor(stats.mtimeMs / 1000) * 1000).toUTCString();
    const headers = { etag, "last-modified": lastModified, "content-type": contentTypeOf(file) };
    if (notModified(req, etag, stats.mtimeMs)) return { status: 304, headers, body: Buffer.alloc(0) };
    return { status: 200, headers, body: await readFile(file) };
  };
  return listen(handler);
}

/** One file of a project on the JSON index. */
export interface JsonIndexFile {
  filename: string;
  bytes: Buffer;
  /** PEP 700 upload time: ISO string or Date; omitted from the page when not given. */
  uploadTime?: string | Date;
  requiresPython?: string;
  /** PEP 592: `true` or a reason. */
  yanked?: boolean | string;
  /** The file's URL on the page instead of this server's `/files/<filename>` (e.g. another origin). */
  url?: string;
}

export interface JsonIndexProject {
  files: JsonIndexFile[];
  /** PEP 792 status marker. */
  status?: { status: string; reason?: string };
}

export interface JsonIndexServer extends IndexServer {
  /** Adds, replaces (or with `undefined` removes) a project; bumps the index serial. */
  setProject(name: string, project: JsonIndexProject | undefined): void;
}

/**
 * A PEP 691 index on 127.0.0.1 serving `projects`: `/simple/` and `/simple/<name>/` as JSON
 * (API 1.4, with PEP 700 `size`, `upload-time`, `versions` and `X-PyPI-Last-Serial`) or as HTML
 * when the `Accept` header prefers it; files at `/files/<filename>` with their true sha256.
 * Non-normalised names are redirected with 301, as PyPI does; pages carry an `ETag` and answer
 * `If-None-Match` with 304.
 *
 * @example
 * const server = await startJsonIndexServer({ projects: { demo: { files: [{ filename, bytes }] } } });
 * const upstream = new HttpUpstream({ baseUrl: server.simpleUrl });
 */
export async function startJsonIndexServer(options: {
  projects: Record<string, JsonIndexProject>;
}): Promise<JsonIndexServer> {
  const projects = new Map<string, JsonIndexProject>();
  for (const [name, project] of Object.entries(options.projects))
    projects.set(normalizeProjectName(name), project);
  let serial = 1000;

  const handler: Handler = async (req, path) => {
    if (path === "/simple" || path === "/simple/") {
      if (path === "/simple")
        return { status: 301, headers: { location: "/simple/" }, body: Buffer.alloc(0) };
      const names = [...projects.keys()].sort();
      return negotiate(req, serial, {
        json: () => ({
          meta: { "api-version": "1.4", "_last-serial": serial },
          projects: names.map((name) => ({ name })),
        }),
        html: () =>
          `<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="1.4"><title>Simple index</title></head><body>\n${names.map((n) => `<a href="${n}/">${n}</a>`).join("\n")}\n</body></html>\n`,
      });
    }
    const page = /^\/simple\/([^/]+)(\/?)$/.exec(path);
    if (page) {
      const raw = decodeURIComponent(page[1] ?? "");
      const name = normalizeProjectName(raw);
      if (raw !== name || page[2] !== "/") {
        return { status: 301, headers: { location: `/simple/${name}/` }, body: Buffer.alloc(0) };
      }
      const project = projects.get(name);
      if (!project) return text(404, "not found");
      return negotiate(req, serial, {
        json: () => jsonPage(name, project, serial),
        html: () => htmlPage(name, project),
      });
    }
    const file = /^\/files\/([^/]+)$/.exec(path);
    if (file) {
      const filename = decodeURIComponent(file[1] ?? "");
      for (const project of projects.values()) {
        const found = project.files.find((f) => f.filename === filename);
        if (found) {
          const etag = `"${sha256(found.bytes)}"`;
          const headers = { etag, "content-type": "application/octet-stream" };
          if (notModified(req, etag, undefined)) return { status: 304, headers, body: Buffer.alloc(0) };
          return { status: 200, headers, body: found.bytes };
        }
      }
      return text(404, "not found");
    }
    return text(404, "not found");
  };

  const server = await listen(handler);
  return {
    ...server,
    setProject(name, project) {
      if (project) projects.set(normalizeProjectName(name), project);
      else projects.delete(normalizeProjectName(name));
      serial++;
    },
  };
}

function jsonPage(name: string, project: JsonIndexProject, serial: number): unknown {
  const files = project.files.map((f) => {
    const entry: Record<string, unknown> = {
      filename: f.filename,
      url: f.url ?? `../../files/${encodeURIComponent(f.filename)}`,
      hashes: { sha256: sha256(f.bytes) },
      "requires-python": f.requiresPython ?? null,
      "core-metadata": false,
      "data-dist-info-metadata": false,
      size: f.bytes.length,
      yanked: f.yanked ?? false,
    };
    if (f.uploadTime !== undefined) entry["upload-time"] = isoTime(f.uploadTime);
    return entry;
  });
  const page: Record<string, unknown> = {
    meta: { "api-version": "1.4", "_last-serial": serial },
    name,
    files,
    versions: [...new Set(project.files.map((f) => versionOf(f.filename)).filter((v) => v !== undefined))],
  };
  if (project.status) page["project-status"] = project.status;
  return page;
}

function htmlPage(name: string, project: JsonIndexProject): string {
  const anchors = project.files.map((f) => {
    const attrs = [`href="../../files/${encodeURIComponent(f.filename)}#sha256=${sha256(f.bytes)}"`];
    if (f.requiresPython !== undefined) attrs.push(`data-requires-python="${escapeHtml(f.requiresPython)}"`);
    if (f.yanked === true) attrs.push("data-yanked");
    else if (typeof f.yanked === "string") attrs.push(`data-yanked="${escapeHtml(f.yanked)}"`);
    return `<a ${attrs.join(" ")}>${escapeHtml(f.filename)}</a><br/>`;
  });
  const meta = ['<meta name="pypi:repository-version" content="1.4">'];
  if (project.status) {
    meta.push(`<meta name="pypi:project-status" content="${escapeHtml(project.status.status)}">`);
    if (project.status.reason !== undefined) {
      meta.push(`<meta name="pypi:project-status-reason" content="${escapeHtml(project.status.reason)}">`);
    }
  }
  return `<!DOCTYPE html>\n<html>\n<head>\n${meta.join("\n")}\n<title>Links for ${escapeHtml(name)}</title>\n</head>\n<body>\n<h1>Links for ${escapeHtml(name)}</h1>\n${anchors.join("\n")}\n</body>\n</html>\n`;
}

const JSON_TYPE = "application/vnd.pypi.simple.v1+json";
const HTML_TYPE = "application/vnd.pypi.simple.v1+html";

/** PEP 691 content negotiation, as warehouse does it: highest q wins; no Accept means HTML. */
function negotiate(
  req: IncomingMessage,
  serial: number,
  render: { json: () => unknown; html: () => string },
): Reply {
  const accept = req.headers.accept;
  let choice: "json" | "html" | undefined = accept === undefined ? "html" : undefined;
  if (accept !== undefined) {
    let best = 0;
    for (const part of accept.split(",")) {
      const [type = "", ...params] = part.trim().split(";");
      const q = Number(
        params
          .map((p) => p.trim())
          .find((p) => p.startsWith("q="))
          ?.slice(2) ?? "1",
      );
      const media = type.trim().toLowerCase();
      const kind =
        media === JSON_TYPE || media === "application/vnd.pypi.simple.latest+json"
          ? "json"
          : media === HTML_TYPE ||
              media === "application/vnd.pypi.simple.latest+html" ||
              media === "text/html" ||
              media === "*/*"
            ? "html"
            : undefined;
      if (kind !== undefined && q > best) {
        best = q;
        choice = kind;
      }
    }
  }
  if (choice === undefined) return text(406, "not acceptable");
  const body = Buffer.from(choice === "json" ? JSON.stringify(render.json()) : render.html());
  const etag = `"${sha256(body).slice(0, 32)}"`;
  const headers = {
    "content-type": choice === "json" ? JSON_TYPE : `${HTML_TYPE}; charset=utf-8`,
    etag,
    vary: "Accept",
    "x-pypi-last-serial": String(serial),
  };
  if (notModified(req, etag, undefined)) return { status: 304, headers, body: Buffer.alloc(0) };
  return { status: 200, headers, body };
}

async function listen(handler: Handler): Promise<IndexServer> {
  const requests = new Map<string, number>();
  let fault: { fault: Fault; remaining: number; path?: string | RegExp } | undefined;

  const takeFault = (path: string): Fault | undefined => {
    if (!fault || fault.remaining <= 0) return undefined;
    const match =
      fault.path === undefined ||
      (typeof fault.path === "string" ? fault.path === path : fault.path.test(path));
    if (!match) return undefined;
    fault.remaining--;
    return fault.fault;
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    requests.set(path, (requests.get(path) ?? 0) + 1);
    const active = takeFault(path);
    void respond(req, res, path, active).catch(() => res.destroy());
  });

  const respond = async (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    active: Fault | undefined,
  ) => {
    if (active?.type === "hang") return;
    if (active?.type === "reset") {
      req.socket.destroy();
      return;
    }
    if (active?.type === "delay") await new Promise((done) => setTimeout(done, active.ms));
    if (active?.type === "status") {
      send(req, res, {
        status: active.status,
        headers: { "content-type": "text/plain", ...active.headers },
        body: Buffer.from(active.body ?? `${active.status}\n`),
      });
      return;
    }
    if (active?.type === "garbage") {
      const body = active.body ?? Buffer.from([0x00, 0xff, 0x13, 0x37, 0x8b, 0x1f, 0x00, 0x42]);
      send(req, res, {
        status: 200,
        headers: { "content-type": active.contentType ?? JSON_TYPE },
        body: typeof body === "string" ? Buffer.from(body) : body,
      });
      return;
    }
    const reply = await handler(req, path);
    if (active?.type === "close-mid-body") {
      res.writeHead(reply.status, { ...reply.headers, "content-length": String(reply.body.length) });
      res.write(reply.body.subarray(0, Math.floor(reply.body.length / 2)));
      setImmediate(() => res.destroy());
      return;
    }
    send(req, res, reply);
  };

  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    simpleUrl: `${url}/simple/`,
    requests,
    setFault(next, opts = {}) {
      fault = next === null ? undefined : { fault: next, remaining: opts.times ?? Infinity, ...pathOf(opts) };
    },
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

function pathOf(opts: FaultOptions): { path?: string | RegExp } {
  return opts.path === undefined ? {} : { path: opts.path };
}

function send(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
  const headers = { ...reply.headers };
  if (reply.status !== 304) headers["content-length"] = String(reply.body.length);
  res.writeHead(reply.status, headers);
  res.end(req.method === "HEAD" || reply.status === 304 ? undefined : reply.body);
}

function notModified(req: IncomingMessage, etag: string, mtimeMs: number | undefined): boolean {
  const ifNoneMatch = req.headers["if-none-match"];
  if (ifNoneMatch !== undefined) {
    return ifNoneMatch
      .split(",")
      .some((tag) => tag.trim().replace(/^W\//, "") === etag || tag.trim() === "*");
  }
  const since = req.headers["if-modified-since"];
  if (since !== undefined && mtimeMs !== undefined) {
    const time = Date.parse(since);
    return !Number.isNaN(time) && Math.floor(mtimeMs / 1000) * 1000 <= time;
  }
  return false;
}

function text(status: number, body: string): Reply {
  return { status, headers: { "content-type": "text/plain; charset=utf-8" }, body: Buffer.from(`${body}\n`) };
}

function contentTypeOf(file: string): string {
  switch (extname(file).toLowerCase()) {
    case ".html":
      return "text/html; charset=utf-8";
    case ".json":
      return "application/json";
    default:
      return "application/octet-stream";
  }
}

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function versionOf(filename: string): string | undefined {
  return parseDistFilename(filename)?.version;
}

function isoTime(value: string | Date): string {
  return typeof value === "string" ? value : value.toISOString();
}

function escapeHtml(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
