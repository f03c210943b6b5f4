import type { Hashes, ProjectPage, ProjectStatus } from "../../domain/distribution.js";

/**
 * An upstream page that is not a PEP 503/691 page we can read: not JSON, not HTML, the wrong
 * shape, or an API major version we do not speak. Callers map it to `UpstreamUnavailableError`.
 */
export class SimpleParseError extends Error {
  readonly code = "SIMPLE_PARSE_ERROR";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SimpleParseError";
  }
}

/** A project page as parsed from either representation, with the API version it declared. */
export interface ParsedProjectPage {
  page: ProjectPage;
  /** PEP 629 `api-version` (JSON `meta`) or `pypi:repository-version` (HTML `<meta>`). */
  apiVersion?: string;
}

const HEX = /^[0-9a-f]+$/i;
const HASH_NAME = /^[a-z0-9_-]{2,32}$/;

/**
 * Keeps only well-formed digests: lower-case algorithm names, hex values. A malformed digest is
 * dropped rather than trusted, so the caller sees "no hash" and decides.
 */
export function cleanHashes(raw: Record<string, unknown>): Hashes {
  const out: Hashes = {};
  for (const [name, value] of Object.entries(raw)) {
    const algo = name.toLowerCase();
    if (typeof value === "string" && HASH_NAME.test(algo) && HEX.test(value)) out[algo] = value.toLowerCase();
  }
  return out;
}

/** PEP 503: a `#<hashname>=<hashvalue>` URL fragment; anything else yields no hash. */
export function hashFromFragment(fragment: string): Hashes {
  const text = fragment.startsWith("#") ? fragment.slice(1) : fragment;
  const eq = text.indexOf("=");
  if (eq <= 0) return {};
  return cleanHashes({ [text.slice(0, eq)]: text.slice(eq + 1) });
}

/**
 * Resolves `href` against `base` and splits off the fragment. Returns `undefined` for hrefs that
 * do not parse as URLs.
 */
export function resolveHref(href: string, base: string): { url: string; fragment: string } | undefined {
  let url: URL;
  try {
    url = new URL(href.trim(), base);
  } catch {
    return undefined;
  }
  const fragment = url.hash;
  url.hash = "";
  return { url: url.href, fragment };
}

const STATUSES: ReadonlySet<string> = new Set<ProjectStatus>([
  "active",
  "archived",
  "quarantined",
  "deprecated",
]);

/**
 * PEP 792: a project with no status marker is active; a status we do not know is dropped (read as
 * "no marker") rather than guessed at.
 */
export function projectStatusFrom(
  status: unknown,
  reason: unknown,
): { status: ProjectStatus; reason?: string } | undefined {
  if (typeof status !== "string") return undefined;
  const value = status.trim().toLowerCase();
  if (!STATUSES.has(value)) return undefined;
  const out: { status: ProjectStatus; reason?: string } = { status: value as ProjectStatus };
  if (typeof reason === "string" && reason.trim() !== "") out.reason = reason;
  return out;
}

/** PEP 629: a client must refuse a major version it does not know (ours is 1). */
export function checkApiVersion(version: string | undefined): void {
  if (version === undefined) return;
  const major = /^\s*(\d+)(?:\.\d+)*\s*$/.exec(version)?.[1];
  if (major === undefined) return;
  if (major !== "1") throw new SimpleParseError(`unsupported simple API major version ${version}`);
}

/** A distribution file name is a single path segment; anything else is refused as a name. */
export function isPlainFilename(name: string): boolean {
  return name.length > 0 && name.length <= 255 && name !== "." && name !== ".." && !/[/\\\0]/.test(name);
}
