import { redactUrl } from "../domain/url-secrets.js";
import { fileURLToPath } from "node:url";
import type { Actor } from "../domain/identity.js";
import type { AuditEntryInput } from "./audit-entry.js";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { open, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Agent, interceptors, request } from "undici";
import type { IntelRepository, StoredAdvisory } from "../adapters/db/intel-repository.js";
import { loadMaliciousNames } from "../intel/malicious-names.js";
import { OsvIndex } from "../intel/osv-index.js";
import { parseOsvRecord, toAdvisory, type Advisory } from "../intel/osv-record.js";
import { OsvSourceError, readOsvSource } from "../intel/osv-source.js";
import { parsePopularProjects, type PopularProject } from "../policy/checks/typosquat/popular-names.js";

/** OSV's published PyPI database: the default source of a connected site's scheduled sync. */
export const OSV_PYPI_ALL_ZIP = "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip";

export type IntelKind = "osv" | "malicious-names" | "popular";

export interface ImportReport {
  source: string;
  kind: IntelKind;
  /** Records stored. */
  added: number;
  /** Malformed records skipped (never fatal). */
  skipped: number;
  /** A few of the skipped records and why. */
  errors: { source: string; error: string }[];
  /** True when a URL source answered 304 (nothing new). */
  unchanged?: boolean;
  generation: number;
}

/** What the checks read: built once per intel generation, shared by every judgement. */
export interface IntelState {
  generation: number;
  index: OsvIndex;
  popular: PopularProject[];
  /** No OSV advisories were ever imported: vulnerability and malicious checks cannot run. */
  missing: boolean;
  /**
   * Per check, whether its intel was never imported: no vulnerability advisory (a MAL-only
   * import), or neither a malicious report nor a malicious-name list. The check then says so
   * (and fails closed under `intel.required`) instead of reporting nothing found.
   */
  missingFor: { vulnerability: boolean; malicious: boolean };
  /** Recorded with each decision: which intel the checks saw. */
  snapshot: string;
  stats: { advisories: number; malicious: number; maliciousNames: number; popular: number };
}

/**
 * Why an import failed: the source could not be fetched (`unavailable`: the network, an HTTP
 * status; trying again may work), or what it names or holds cannot be used (`input`: a missing
 * path, a corrupt zip, a list that is not one). The CLI exits 1 for the first and 2 for the second.
 */
export type IntelImportFailure = "input" | "unavailable";

export class IntelImportError extends Error {
  readonly code = "INTEL_IMPORT_FAILED";
  readonly failure: IntelImportFailure;
  constructor(message: string, options?: { cause?: unknown; failure?: IntelImportFailure }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "IntelImportError";
    this.failure = options?.failure ?? "input";
  }
}

/**
 * The audit record of an import (`intel.import`): who brought which source in, and what it
 * changed, or why it failed. A URL's credentials and query are left out (either may hold a secret).
 */
export function intelImportRecord(
  source: string,
  actor: Actor,
  outcome: { report: ImportReport } | { error: Error },
): AuditEntryInput {
  const named = /^https?:\/\//i.test(source) ? redactUrl(source) : source.slice(0, 500);
  if ("error" in outcome)
    return {
      action: "intel.import",
      actor,
      outcome: "error",
      detail: { source: named, error: outcome.error.message.slice(0, 500) },
    };
  const r = outcome.report;
  return {
    action: "intel.import",
    actor,
    outcome: "ok",
    detail: r.unchanged
      ? { source: named, unchanged: true }
      : { source: named, kind: r.kind, added: r.added, skipped: r.skipped, generation: r.generation },
  };
}

/**
 * Imports intel (OSV zips or directories, OpenSSF malicious-name lists, popular-project lists)
 * into the database, and loads the in-memory state the checks use.
 */
export class IntelService {
  constructor(private readonly deps: { repo: IntelRepository; now: () => number }) {}

  /**
   * Imports one source: a local path or an http(s) URL (downloaded with ETag revalidation).
   * @example await intel.importSource("shared/data/osv/pypa-advisory-database.zip")
   */
  async importSource(
    source: string,
    options: { signal?: AbortSignal; kind?: IntelKind } = {},
  ): Promise<ImportReport> {
    if (/^https?:\/\//i.test(source)) return this.importUrl(source, options);
    // `file:///…` names a local path, as `--upstream` takes it.
    if (/^file:/i.test(source)) {
      try {
        source = fileURLToPath(source);
      } catch (err) {
        throw new IntelImportError(`cannot read ${source}: ${(err as Error).message}`, { cause: err });
      }
    }
    let info;
    try {
      info = await stat(source);
    } catch (err) {
      throw new IntelImportError(`cannot read ${source}: ${(err as Error).message}`, { cause: err });
    }
    const kind = options.kind ?? (info.isDirectory() ? "osv" : await detectKind(source));
    return this.importFile(source, kind, options.signal);
  }

  private async importUrl(
    url: string,
    options: { signal?: AbortSignal; kind?: IntelKind },
  ): Promise<ImportReport> {
    const dir = mkdtempSync(join(tmpdir(), "portcullis-intel-"));
    try {
      const etag = await this.deps.repo.lastEtag(url);
      let res;
      try {
        res = await request(url, {
          headers: etag ? { "if-none-match": etag } : {},
          signal: options.signal ?? AbortSignal.timeout(300_000),
          // Published intel (OSV's bucket) may redirect; undici 7 follows through an interceptor.
          dispatcher: new Agent().compose(interceptors.redirect({ maxRedirections: 3 })),
        });
      } catch (err) {
        throw new IntelImportError(`cannot download ${url}: ${(err as Error).message}`, {
          cause: err,
          failure: "unavailable",
        });
      }
      if (res.statusCode === 304) {
        await res.body.dump();
        return {
          source: url,
          kind: options.kind ?? "osv",
          added: 0,
          skipped: 0,
          errors: [],
          unchanged: true,
          generation: await this.deps.repo.generation(),
        };
      }
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new IntelImportError(`download of ${url} answered HTTP ${res.statusCode}`, {
          failure: "unavailable",
        });
      }
      const name = new URL(url).pathname.split("/").pop() || "intel";
      const file = join(dir, name.replace(/[^A-Za-z0-9._-]/g, "_"));
      try {
        await pipeline(res.body, createWriteStream(file));
      } catch (err) {
        throw new IntelImportError(`download of ${url} broke off: ${(err as Error).message}`, {
          cause: err,
          failure: "unavailable",
        });
      }
      const kind = options.kind ?? (await detectKind(file));
      const newEtag = typeof res.headers.etag === "string" ? res.headers.etag : undefined;
      return await this.importFile(file, kind, options.signal, url, newEtag);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  private async importFile(
    path: string,
    kind: IntelKind,
    signal?: AbortSignal,
    sourceName = path,
    etag?: string,
  ): Promise<ImportReport> {
    const { repo } = this.deps;
    let added = 0;
    let skipped = 0;
    let usable = 0;
    const errors: { source: string; error: string }[] = [];
    if (kind === "osv") {
      let batch: StoredAdvisory[] = [];
      for await (const item of readOsvAsImport(path, signal)) {
        if (!item.ok) {
          skipped++;
          if (errors.length < 20) errors.push({ source: item.source, error: item.error });
          continue;
        }
        const advisory = toAdvisory(item.record);
        if (advisory.packages.length === 0) {
          skipped++;
          if (errors.length < 20) errors.push({ source: item.source, error: "names no PyPI package" });
          continue;
        }
        batch.push({
          id: advisory.id,
          kind: advisory.kind,
          ...(advisory.modified ? { modified: advisory.modified } : {}),
          ...(advisory.withdrawn ? { withdrawn: advisory.withdrawn } : {}),
          recordJson: JSON.stringify(item.record),
          advisoryJson: JSON.stringify(advisory),
          projects: advisory.packages.map((p) => p.name),
        });
        usable++;
        if (batch.length >= 1000) {
          added += await repo.upsertAdvisories(batch);
          batch = [];
        }
      }
      // A record already held in a newer version (or twice in this source) is not stored again.
      added += await repo.upsertAdvisories(batch);
    } else if (kind === "malicious-names") {
      const names = await loadMaliciousNames(path, signal ? { signal } : {});
      // The list replaces the one held: an empty or unreadable file would switch the malicious
      // name check off without a word, so it is refused and the list kept.
      if (names.names.size === 0)
        throw new IntelImportError(
          `${sourceName} holds no malicious package names (${names.badLines} malformed lines); the current list is kept`,
        );
      await repo.replaceMaliciousNames(names.names);
      added = names.names.size;
      skipped = names.badLines;
    } else {
      let data: unknown;
      try {
        data = JSON.parse(await readFile(path, "utf8")) as unknown;
      } catch (err) {
        throw new IntelImportError(`${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
      }
      let projects: PopularProject[];
      try {
        projects = parsePopularProjects(data, Number.MAX_SAFE_INTEGER);
      } catch (err) {
        throw new IntelImportError(`${path} is not a top-pypi-packages list: ${firstIssue(err)}`, {
          cause: err,
        });
      }
      if (projects.length === 0)
        throw new IntelImportError(
          `${sourceName} holds no popular projects; the current list is kept (typo-squat checks need it)`,
        );
      await repo.replacePopular(projects);
      added = projects.length;
    }
    if (kind === "osv" && usable === 0) {
      throw new IntelImportError(`${sourceName} holds no usable OSV records (${skipped} malformed)`);
    }
    const generation = await repo.recordImport({
      source: sourceName,
      kind,
      added,
      skipped,
      ...(etag ? { etag } : {}),
      at: new Date(this.deps.now()).toISOString(),
    });
    return { source: sourceName, kind, added, skipped, errors, generation };
  }

  /** Builds the in-memory state from the database. */
  async load(): Promise<IntelState> {
    const { repo } = this.deps;
    const generation = await repo.generation();
    const index = new OsvIndex();
    let advisories = 0;
    for await (const row of repo.allAdvisories()) {
      if (row.advisoryJson) {
        // Validated at import; stored by us.
        index.add(JSON.parse(row.advisoryJson) as Advisory);
      } else {
        const parsed = parseOsvRecord(JSON.parse(row.recordJson) as unknown);
        if (!parsed.ok) continue;
        index.add(toAdvisory(parsed.record));
      }
      // Building a large index must not stall a serving gateway: let I/O run now and then.
      if (++advisories % 500 === 0) await new Promise((r) => setImmediate(r));
    }
    const maliciousNames = await repo.maliciousNames();
    index.addMaliciousNames(maliciousNames);
    const popular = await repo.popular();
    const stats = index.stats();
    return {
      generation,
      index,
      popular,
      missing: advisories === 0,
      missingFor: {
        vulnerability: advisories - (stats.malicious ?? 0) - (stats.withdrawn ?? 0) <= 0,
        malicious: (stats.malicious ?? 0) === 0 && maliciousNames.size === 0,
      },
      snapshot: `intel-${generation}:${advisories}a:${maliciousNames.size}m:${popular.length}p`,
      stats: {
        advisories,
        malicious: stats.malicious ?? 0,
        maliciousNames: maliciousNames.size,
        popular: popular.length,
      },
    };
  }
}

/** Tells an OSV zip or record from a malicious-names JSONL and a popular-projects JSON. */
async function detectKind(path: string): Promise<IntelKind> {
  const ext = extname(path).toLowerCase();
  if (ext === ".zip" || ext === ".yaml" || ext === ".yml") return "osv";
  if (ext === ".jsonl") return "malicious-names";
  const fh = await open(path);
  try {
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead).toString("utf8");
    if (/"rows"\s*:/.test(head) || /"last_update"/.test(head)) return "popular";
    if (/^\s*\{"name"/.test(head) && head.split("\n").length > 1) return "malicious-names";
    if (head.startsWith("PK")) return "osv";
    return "osv";
  } finally {
    await fh.close();
  }
}

/** The OSV source's records; a zip or directory that cannot be read is the import's bad input. */
async function* readOsvAsImport(path: string, signal?: AbortSignal): ReturnType<typeof readOsvSource> {
  try {
    yield* readOsvSource(path, signal ? { signal } : {});
  } catch (err) {
    if (err instanceof OsvSourceError) throw new IntelImportError(err.message, { cause: err });
    throw err;
  }
}

/** One line for a schema error (zod lists every issue as multi-line JSON): the first issue and where. */
function firstIssue(err: unknown): string {
  const issues = (err as { issues?: { path: (string | number)[]; message: string }[] }).issues;
  const first = issues?.[0];
  if (!first) return (err as Error).message.split("\n")[0] ?? String(err);
  const where = first.path.length ? first.path.join(".") : "the document";
  return `${where}: ${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""}`;
}
