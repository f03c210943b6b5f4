import { readFile } from "node:fs/promises";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LRUCache } from "lru-cache";
import type { BlobStore } from "../../adapters/blob/blob-store.js";
import { GatewayError } from "../../services/gateway-error.js";
import type { FileAccessService } from "../../services/file-access.js";
import { ifNoneMatchMatches } from "../negotiate.js";
import { sendGatewayError, wantsJson } from "../reply-error.js";

const SHA256_RE = /^[0-9a-f]{64}$/;
// A distribution file name never holds a path separator, a NUL or starts with a dot.
const SAFE_FILENAME = /^[A-Za-z0-9][A-Za-z0-9._+!-]*$/;

export interface FileRoutesDeps {
  access: FileAccessService;
  blobs: BlobStore;
  /** Bytes of hot files kept in memory (default 64 MiB; 0 disables). */
  hotCacheBytes?: number;
  /** Counts downloads in flight, so shutdown can wait for them. */
  inflight: { add(): void; done(): void };
  /** Whether shared caches may keep files (`public`): only while anyone may read them (see simple-routes). */
  shareable?: boolean;
}

/** `/files/<sha256>/<filename>` and `/files/<sha256>/<filename>.metadata` (PEP 658). */
export function registerFileRoutes(app: FastifyInstance, deps: FileRoutesDeps): void {
  const cacheControl = `${deps.shareable === false ? "private" : "public"}, max-age=31536000, immutable`;
  // Hot files from memory: blobs are immutable and verified, so there is nothing to invalidate.
  // Streaming from disk costs about three times nginx's CPU per response; a buffer costs less.
  const hot = new LRUCache<string, Buffer>({
    maxSize: deps.hotCacheBytes ?? 64 * 1024 * 1024,
    sizeCalculation: (b) => Math.max(1, b.length),
  });
  const maxHotFile = 8 * 1024 * 1024;
  const handler = async (
    req: FastifyRequest<{ Params: { sha256: string; filename: string } }>,
    reply: FastifyReply,
  ) => {
    const { sha256, filename } = req.params;
    const json = wantsJson(req.headers.accept);
    if (!SHA256_RE.test(sha256) || !SAFE_FILENAME.test(filename) || filename.length > 255) {
      return sendGatewayError(
        reply,
        new GatewayError(
          "INVALID_FILE_PATH",
          "expected /files/<sha256 lowercase hex>/<distribution file name>",
        ),
        json,
      );
    }
    deps.inflight.add();
    reply.raw.once("close", deps.inflight.done);
    try {
      const isMetadata = filename.endsWith(".metadata");
      const distName = isMetadata ? filename.slice(0, -".metadata".length) : filename;
      if (isMetadata) {
        const meta = await deps.access.openMetadata(sha256, distName);
        return sendBlob(
          req,
          reply,
          deps.blobs,
          cacheControl,
          meta.sha256,
          meta.size,
          "text/plain; charset=utf-8",
          hotBytes(meta.sha256, meta.size),
        );
      }
      const opened = await deps.access.open(sha256, distName, { download: req.method === "GET" });
      reply.header("x-portcullis-decision", opened.decision.outcome);
      return sendBlob(
        req,
        reply,
        deps.blobs,
        cacheControl,
        sha256,
        opened.size,
        contentTypeFor(filename),
        await hotBytes(sha256, opened.size),
      );
    } catch (err) {
      if (err instanceof GatewayError) return sendGatewayError(reply, err, json);
      throw err;
    }
  };
  async function hotBytes(sha256: string, size: number): Promise<Buffer | undefined> {
    if (size > maxHotFile || (deps.hotCacheBytes ?? 1) === 0) return undefined;
    const hit = hot.get(sha256);
    if (hit) return hit;
    const path = deps.blobs.localPath(sha256);
    if (!path) return undefined;
    const bytes = await readFile(path);
    if (bytes.length !== size) return undefined;
    hot.set(sha256, bytes);
    return bytes;
  }

  // An explicit HEAD route: Fastify's automatic one would answer Content-Length: 0.
  app.head("/files/:sha256/:filename", handler);
  app.get("/files/:sha256/:filename", handler);
}

function contentTypeFor(filename: string): string {
  if (filename.endsWith(".whl") || filename.endsWith(".zip")) return "application/zip";
  if (filename.endsWith(".tar.gz")) return "application/gzip";
  return "application/octet-stream";
}

/** Serves a verified blob with ETag, long cache lifetime and single byte ranges (RFC 9110). */
function sendBlob(
  req: FastifyRequest,
  reply: FastifyReply,
  blobs: BlobStore,
  cacheControl: string,
  sha256: string,
  size: number,
  contentType: string,
  bytes?: Buffer | Promise<Buffer | undefined>,
): FastifyReply | Promise<FastifyReply> {
  if (bytes instanceof Promise)
    return bytes.then((b) => sendBlob(req, reply, blobs, cacheControl, sha256, size, contentType, b));
  const etag = `"${sha256}"`;
  reply
    .header("etag", etag)
    .header("cache-control", cacheControl)
    .header("accept-ranges", "bytes")
    .header("content-type", contentType);
  if (ifNoneMatchMatches(req.headers["if-none-match"], etag)) return reply.code(304).send();
  let range: { start: number; end: number } | undefined;
  const rangeHeader = req.headers.range;
  if (rangeHeader && (!req.headers["if-range"] || req.headers["if-range"] === etag)) {
    const parsed = parseRange(rangeHeader, size);
    if (parsed === "unsatisfiable") {
      return reply.code(416).header("content-range", `bytes */${size}`).send();
    }
    range = parsed;
  }
  if (range) {
    reply.code(206).header("content-range", `bytes ${range.start}-${range.end}/${size}`);
    reply.header("content-length", String(range.end - range.start + 1));
  } else {
    reply.header("content-length", String(size));
  }
  if (req.method === "HEAD") return reply.send();
  if (bytes) return reply.send(range ? bytes.subarray(range.start, range.end + 1) : bytes);
  return reply.send(blobs.read(sha256, range));
}

/**
 * One `bytes=` range; several ranges (multipart) are answered with the whole file, which RFC 9110
 * allows. Returns undefined to ignore a malformed header.
 */
export function parseRange(
  header: string,
  size: number,
): { start: number; end: number } | "unsatisfiable" | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return "unsatisfiable";
  return { start, end };
}
