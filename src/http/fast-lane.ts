import type { IncomingMessage, ServerResponse } from "node:http";
import type { Actor } from "../domain/identity.js";
import { isValidProjectName, normalizeProjectName } from "../domain/project-name.js";
import type { FastLaneIdentity } from "./identity-http.js";
import { ifNoneMatchMatches, negotiateSimpleFormat } from "./negotiate.js";
import type { SimpleWarmPages } from "./routes/simple-routes.js";

export interface FastLaneDeps {
  identity: FastLaneIdentity;
  pages: SimpleWarmPages;
  /** The client's address, as Fastify's `request.ip` would give it (see client-address.ts). */
  clientAddress(req: IncomingMessage): string;
  /** Counts the request in the metrics, as the `onResponse` hook does for routed requests. */
  count(route: string, status: number, seconds: number): void;
  isShuttingDown(): boolean;
}

/** The route a fast-lane answer is counted under (the route that would have answered it). */
const ROUTE = "/simple/:project/";

/**
 * The warm-page fast lane: answers `GET`/`HEAD /simple/<project>/` in front of Fastify when the
 * answer is already known without I/O — a reader's request (anonymous while anonymous read is
 * on, or a token verified moments ago), a normalised name, no query, an acceptable `Accept`, and
 * a page that is fresh, curated and rendered. It sends the same bytes and headers as the route
 * (200, or 304 for a matching `If-None-Match`), audits the access (as `aborted` when it did not
 * reach the client whole) and counts it in the metrics.
 * Anything else returns false and takes the full route, which decides every refusal, redirect,
 * revalidation and error.
 *
 * Hand-written because Fastify's per-request machinery (routing, the request and reply objects,
 * hooks, the async handler's promise chain) cost ~4/5 of a warm page's time: pip asks for the
 * same few pages over and over, and they were ~0.3-0.4x nginx's rate through the full route.
 */
export function createFastLane(deps: FastLaneDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const started = performance.now();
    const method = req.method;
    if (method !== "GET" && method !== "HEAD") return false;
    const url = req.url ?? "";
    // `/simple/<name>/` exactly: no query, no further segment.
    if (!url.startsWith("/simple/") || url.charCodeAt(url.length - 1) !== 47 /* / */) return false;
    const name = url.slice(8, -1);
    if (name.length === 0 || name.length > 200 || name.includes("/") || name.includes("?")) return false;
    // A name that is not already normalised gets the route's 301 (or 400).
    if (!isValidProjectName(name) || normalizeProjectName(name) !== name) return false;
    const headers = req.headers;
    // A body (or a chunked one) on a GET is unusual enough to leave to the full route.
    if (headers["content-length"] !== undefined || headers["transfer-encoding"] !== undefined) return false;
    if (deps.isShuttingDown()) return false;
    const format = negotiateSimpleFormat(headers.accept, undefined);
    if (!format) return false;
    const page = deps.pages.warmPage(name, format);
    if (!page) return false;
    const actor = deps.identity.readerOf(req, deps.clientAddress(req));
    if (!actor) return false;
    const status = ifNoneMatchMatches(headers["if-none-match"], page.etag) ? 304 : 200;
    if (status === 304) {
      // A 304 (to GET or HEAD) carries no body and no content-length (RFC 9110 §8.6, §15.4.5).
      res.writeHead(304, page.headers);
      res.end();
    } else {
      res.writeHead(200, page.headers200);
      if (method === "HEAD") res.end();
      else res.end(page.body);
    }
    // Nearly always the whole answer is with the kernel by now, which is all `finish` would say:
    // recorded at once. Otherwise (a page larger than the socket takes, a client not reading, a
    // pipelined request queued behind another) it is recorded when it closes.
    if (res.destroyed) deps.identity.recordPage(actor, name, status, true);
    else if (res.writableLength === 0) deps.identity.recordPage(actor, name, status, false);
    else recordWhenClosed(deps.identity, req, res, actor, name, status);
    deps.count(ROUTE, status, (performance.now() - started) / 1000);
    return true;
  };
}

/**
 * Records a page whose answer was still being sent: whole if it finished while its connection
 * was open, else cut off. A separate function, so the fast lane allocates the listener only here.
 */
function recordWhenClosed(
  identity: FastLaneIdentity,
  req: IncomingMessage,
  res: ServerResponse,
  actor: Actor,
  name: string,
  status: number,
): void {
  // The request, not the response: a response queued behind another on a pipelined connection
  // that dies never closes, while its request does. The fast lane takes no request with a body
  // and reads none, so the request closes only once the answer is done or the connection is
  // lost. A buffer the client stopped reading still `finish`es once the dead socket drops it:
  // the connection's state tells the two apart.
  req.on("close", () =>
    identity.recordPage(actor, name, status, !res.writableFinished || req.socket.destroyed),
  );
}
