import type { ProjectView, ServedFile } from "../services/project-index.js";

/** The newest simple API version whose fields we fill: 1.1 (PEP 700: versions, size, upload-time). */
export const API_VERSION = "1.1";

export const CONTENT_TYPES = {
  json: "application/vnd.pypi.simple.v1+json",
  html: "application/vnd.pypi.simple.v1+html",
  textHtml: "text/html",
} as const;

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Relative to `/simple/<project>/`, so the gateway also works mounted under a path prefix. */
export function fileHref(f: ServedFile): string {
  return `../../files/${f.sha256}/${encodeURIComponent(f.filename)}`;
}

/**
 * Where a file's signed decision attestation is served, relative to the page like the file URL.
 * Listed on every file the gateway would serve (admitted, or pending its byte checks: the
 * attestation exists once the file is judged on its bytes, 404 until then); refused files have
 * none (their attestation answers 410).
 */
export function attestationHref(f: ServedFile): string | undefined {
  return f.outcome === "admitted" || f.outcome === "pending" ? `../../attestations/${f.sha256}` : undefined;
}

/** PEP 503 HTML, with PEP 592 yanked, PEP 658/714 metadata and the PEP 629 version meta tag. */
export function renderProjectHtml(view: ProjectView): string {
  const parts: string[] = [
    "<!DOCTYPE html>\n<html>\n<head>\n",
    `<meta name="pypi:repository-version" content="${API_VERSION}">\n`,
  ];
  if (view.status) {
    // PEP 792: project status markers in HTML.
    parts.push(`<meta name="pypi:project-status" content="${escapeHtml(view.status.status)}">\n`);
    if (view.status.reason) {
      parts.push(`<meta name="pypi:project-status-reason" content="${escapeHtml(view.status.reason)}">\n`);
    }
  }
  parts.push(
    `<title>Links for ${escapeHtml(view.name)}</title>\n</head>\n<body>\n<h1>Links for ${escapeHtml(view.name)}</h1>\n`,
  );
  for (const f of view.files) {
    let attrs = `href="${escapeHtml(fileHref(f))}#sha256=${f.sha256}"`;
    if (f.requiresPython) attrs += ` data-requires-python="${escapeHtml(f.requiresPython)}"`;
    if (f.yanked !== false) attrs += ` data-yanked="${f.yanked === true ? "" : escapeHtml(f.yanked)}"`;
    if (f.coreMetadata !== false) {
      const v = f.coreMetadata === true ? "true" : `sha256=${f.coreMetadata.sha256}`;
      // PEP 714: data-core-metadata, plus the older name for clients that predate it.
      attrs += ` data-core-metadata="${v}" data-dist-info-metadata="${v}"`;
    }
    // Installers ignore attributes they do not know (PEP 503 names only the ones it defines).
    const attestation = attestationHref(f);
    if (attestation) attrs += ` data-portcullis-attestation="${attestation}"`;
    parts.push(`<a ${attrs}>${escapeHtml(f.filename)}</a><br>\n`);
  }
  parts.push("</body>\n</html>\n");
  return parts.join("");
}

/** PEP 691 JSON with PEP 700 fields (versions, size, upload-time) and PEP 714 core-metadata. */
export function renderProjectJson(view: ProjectView): string {
  const files = view.files.map((f) => {
    const out: Record<string, unknown> = {
      filename: f.filename,
      url: fileHref(f),
      hashes: { sha256: f.sha256 },
    };
    if (f.requiresPython) out["requires-python"] = f.requiresPython;
    out.yanked = f.yanked;
    if (f.size !== undefined) out.size = f.size;
    if (f.uploadTime) out["upload-time"] = f.uploadTime;
    if (f.coreMetadata !== false) {
      out["core-metadata"] = f.coreMetadata;
      out["data-dist-info-metadata"] = f.coreMetadata;
    }
    // PEP 691: keys with a leading underscore are reserved for the index's own use.
    const attestation = attestationHref(f);
    if (attestation) out["_portcullis-attestation"] = attestation;
    return out;
  });
  // PEP 700 makes `size` mandatory from API 1.1. A file the gateway has not stored, from an
  // upstream that did not declare its size (an HTML index), has no size we could vouch for, and
  // fetching every file (or a HEAD per file) to learn it would cost more than a page is worth: such
  // a page says 1.0, whose clients expect no size, and lists the sizes it knows (PEP 691 clients
  // ignore keys they do not know). Once stored, a file's size is its verified size.
  const apiVersion = view.files.every((f) => f.size !== undefined) ? API_VERSION : "1.0";
  const body: Record<string, unknown> = {
    meta: { "api-version": apiVersion, "_last-serial": view.lastSerial },
    name: view.normalized,
    files,
    versions: view.versions,
  };
  if (view.status) {
    body["project-status"] = {
      status: view.status.status,
      ...(view.status.reason ? { reason: view.status.reason } : {}),
    };
  }
  return JSON.stringify(body);
}

export interface IndexEntry {
  name: string;
  displayName: string;
}

export function renderIndexHtml(projects: IndexEntry[]): string {
  const parts = [
    "<!DOCTYPE html>\n<html>\n<head>\n",
    `<meta name="pypi:repository-version" content="${API_VERSION}">\n`,
    "<title>Simple index</title>\n</head>\n<body>\n",
  ];
  for (const p of projects)
    parts.push(`<a href="${encodeURIComponent(p.name)}/">${escapeHtml(p.displayName)}</a>\n`);
  parts.push("</body>\n</html>\n");
  return parts.join("");
}

export function renderIndexJson(projects: IndexEntry[], lastSerial: number): string {
  return JSON.stringify({
    meta: { "api-version": API_VERSION, "_last-serial": lastSerial },
    projects: projects.map((p) => ({ name: p.displayName })),
  });
}
