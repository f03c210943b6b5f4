import { z } from "zod";
import type { DistFile, Hashes } from "../../domain/distribution.js";
import {
  checkApiVersion,
  cleanHashes,
  hashFromFragment,
  isPlainFilename,
  projectStatusFrom,
  resolveHref,
  SimpleParseError,
  type ParsedProjectPage,
} from "./simple-page.js";

/** PEP 691 media type of the JSON simple API, version 1. */
export const SIMPLE_JSON_V1 = "application/vnd.pypi.simple.v1+json";

// Upstream data: every optional field falls back to "absent" when it has the wrong type, so one
// odd field never costs the whole page; only the page's own skeleton is required.
const optionalString = z.string().optional().catch(undefined);
const looseRecord = z.record(z.unknown());

const metaSchema = z
  .object({
    "api-version": optionalString,
    "_last-serial": z.number().int().nonnegative().optional().catch(undefined),
  })
  .passthrough()
  .optional()
  .catch(undefined);

const fileSchema = z
  .object({
    filename: z.string().min(1),
    url: z.string().min(1),
    hashes: looseRecord.optional().catch(undefined),
    "requires-python": z.string().nullable().optional().catch(undefined),
    yanked: z.unknown(),
    size: z.number().int().nonnegative().optional().catch(undefined),
    "upload-time": z.string().nullable().optional().catch(undefined),
    "core-metadata": z.unknown(),
    "dist-info-metadata": z.unknown(),
    "data-dist-info-metadata": z.unknown(),
    provenance: z.string().nullable().optional().catch(undefined),
  })
  .passthrough();

const projectSchema = z
  .object({
    meta: metaSchema,
    name: z.string().min(1),
    files: z.array(z.unknown()),
    versions: z.array(z.unknown()).optional().catch(undefined),
    "project-status": looseRecord.optional().catch(undefined),
  })
  .passthrough();

const rootSchema = z
  .object({
    meta: metaSchema,
    projects: z.array(z.unknown()),
  })
  .passthrough();

const rootProjectSchema = z.object({ name: z.string().min(1) }).passthrough();

/** PEP 700's upload time: `yyyy-mm-ddThh:mm:ss` with up to six fractional digits, in UTC (`Z`). */
const PEP700_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z$/;

/**
 * Parses a PEP 691 project page (`application/vnd.pypi.simple.v1+json`), with the PEP 700
 * (`size`, `upload-time`, `versions`), PEP 714 (`core-metadata`), PEP 740 (`provenance`) and
 * PEP 792 (`project-status`) fields. File URLs are resolved against `pageUrl`.
 *
 * Malformed file entries are dropped; a body that is not a project page throws
 * {@link SimpleParseError}.
 *
 * @example
 * const { page } = parseJsonProjectPage(body, "https://pypi.org/simple/requests/");
 */
export function parseJsonProjectPage(body: string, pageUrl: string): ParsedProjectPage {
  const parsed = projectSchema.safeParse(parseJson(body));
  if (!parsed.success) throw new SimpleParseError("not a PEP 691 project page", { cause: parsed.error });
  const data = parsed.data;
  const apiVersion = data.meta?.["api-version"];
  checkApiVersion(apiVersion);

  const files: DistFile[] = [];
  for (const entry of data.files) {
    const file = toDistFile(entry, pageUrl);
    if (file) files.push(file);
  }

  const page: ParsedProjectPage["page"] = { name: data.name, files };
  if (data.versions) page.versions = data.versions.filter((v): v is string => typeof v === "string");
  const serial = data.meta?.["_last-serial"];
  if (serial !== undefined) page.lastSerial = serial;
  const status = data["project-status"];
  if (status) {
    const marker = projectStatusFrom(status.status, status.reason);
    if (marker) page.status = marker;
  }
  return apiVersion === undefined ? { page } : { page, apiVersion };
}

/** Parses the PEP 691 root listing (`{"projects": [{"name": ...}]}`) into project names. */
export function parseJsonProjectList(body: string): string[] {
  const parsed = rootSchema.safeParse(parseJson(body));
  if (!parsed.success) throw new SimpleParseError("not a PEP 691 project list", { cause: parsed.error });
  checkApiVersion(parsed.data.meta?.["api-version"]);
  const names: string[] = [];
  for (const entry of parsed.data.projects) {
    const project = rootProjectSchema.safeParse(entry);
    if (project.success) names.push(project.data.name);
  }
  return names;
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (error) {
    throw new SimpleParseError("body is not JSON", { cause: error });
  }
}

function toDistFile(entry: unknown, pageUrl: string): DistFile | undefined {
  const parsed = fileSchema.safeParse(entry);
  if (!parsed.success) return undefined;
  const raw = parsed.data;
  if (!isPlainFilename(raw.filename)) return undefined;
  const resolved = resolveHref(raw.url, pageUrl);
  if (!resolved) return undefined;

  // A fragment hash is not part of PEP 691, but a declared one must not be lost either.
  const hashes: Hashes = { ...hashFromFragment(resolved.fragment), ...cleanHashes(raw.hashes ?? {}) };
  const file: DistFile = {
    filename: raw.filename,
    url: resolved.url,
    hashes,
    yanked: yankedFrom(raw.yanked),
    // PEP 714: `core-metadata` wins; `dist-info-metadata` (and PyPI's buggy `data-` spelling) are
    // the legacy names.
    coreMetadata: coreMetadataFrom(
      raw["core-metadata"] ?? raw["dist-info-metadata"] ?? raw["data-dist-info-metadata"],
    ),
  };
  if (typeof raw["requires-python"] === "string" && raw["requires-python"].trim() !== "") {
    file.requiresPython = raw["requires-python"];
  }
  if (raw.size !== undefined) file.size = raw.size;
  const uploadTime = raw["upload-time"];
  if (typeof uploadTime === "string") {
    // Passed on in PEP 700's form, which pip parses with fromisoformat: one that reads as a
    // date in another form (`…z`, an offset, an HTTP date) is restated in UTC, not copied.
    if (PEP700_TIME.test(uploadTime)) file.uploadTime = uploadTime;
    else {
      const ms = Date.parse(uploadTime);
      if (!Number.isNaN(ms)) file.uploadTime = new Date(ms).toISOString();
    }
  }
  if (raw.provenance === null) file.provenance = null;
  else if (typeof raw.provenance === "string") {
    // PEP 740: a URL to the provenance object; resolved like the file URL.
    const provenance = resolveHref(raw.provenance, pageUrl);
    if (provenance) file.provenance = provenance.url;
  }
  return file;
}

/**
 * PEP 592 / PEP 691: `yanked` is a boolean or a reason string. As pip does, an empty string
 * means "not yanked" and any other truthy non-string means "yanked without a reason".
 */
function yankedFrom(value: unknown): boolean | string {
  if (typeof value === "string") return value === "" ? false : value;
  if (value === true) return true;
  if (value === false || value === null || value === undefined || value === 0) return false;
  return true;
}

/** PEP 658 / PEP 714: `true`, `false`, or a dictionary of the metadata file's hashes. */
function coreMetadataFrom(value: unknown): boolean | Hashes {
  if (value === true) return true;
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const hashes = cleanHashes(value as Record<string, unknown>);
    // An empty dictionary still says the metadata file exists.
    return Object.keys(hashes).length > 0 ? hashes : true;
  }
  return false;
}
