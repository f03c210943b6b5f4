import Negotiator from "negotiator";
import { CONTENT_TYPES } from "./simple-render.js";

export type SimpleFormat = "json" | "html" | "text-html";

const BY_TYPE: Record<string, SimpleFormat> = {
  [CONTENT_TYPES.json]: "json",
  "application/vnd.pypi.simple.latest+json": "json",
  [CONTENT_TYPES.html]: "html",
  "application/vnd.pypi.simple.latest+html": "html",
  [CONTENT_TYPES.textHtml]: "text-html",
};
// Server preference when the client rates several equally (`*/*`): plain HTML, which every
// client understands, as PEP 503 tools that predate PEP 691 expect.
const OFFERED = [
  CONTENT_TYPES.textHtml,
  CONTENT_TYPES.json,
  "application/vnd.pypi.simple.latest+json",
  CONTENT_TYPES.html,
  "application/vnd.pypi.simple.latest+html",
];

/**
 * PEP 691 content negotiation. `?format=` overrides the Accept header for humans in a browser
 * (`json`, `html`, or a full content type, as warehouse accepts). Returns `undefined` when
 * nothing acceptable is offered (answer 406).
 */
export function negotiateSimpleFormat(
  accept: string | undefined,
  formatParam: string | undefined,
): SimpleFormat | undefined {
  if (formatParam) {
    if (formatParam === "json") return "json";
    if (formatParam === "html") return "html";
    return BY_TYPE[formatParam];
  }
  if (!accept || accept.trim() === "") return "text-html";
  // Clients send the same few Accept headers over and over: negotiate each once.
  const hit = memo.get(accept);
  if (hit !== undefined) return hit || undefined;
  const chosen = new Negotiator({ headers: { accept } }).mediaType(OFFERED);
  const format = chosen ? BY_TYPE[chosen] : undefined;
  if (memo.size >= 256) memo.clear();
  memo.set(accept, format ?? "");
  return format;
}

const memo = new Map<string, SimpleFormat | "">();

export function contentTypeOf(format: SimpleFormat): string {
  return format === "json"
    ? CONTENT_TYPES.json
    : format === "html"
      ? CONTENT_TYPES.html
      : "text/html; charset=utf-8";
}

/**
 * RFC 9110 §13.1.2 If-None-Match for GET and HEAD: `*`, or a comma-separated list of entity tags
 * compared weakly (`W/"x"` matches `"x"`: the opaque tags are compared, the weakness ignored).
 * `etag` is the current representation's strong tag (`"…"`).
 */
export function ifNoneMatchMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  // The common case, a client echoing the tag it was given, costs one comparison.
  if (header === etag) return true;
  if (header.trim() === "*") return true;
  for (const part of header.split(",")) {
    let tag = part.trim();
    if (tag.startsWith("W/")) tag = tag.slice(2);
    if (tag === etag) return true;
  }
  return false;
}
