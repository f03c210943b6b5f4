import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import type { BlobStore } from "../adapters/blob/blob-store.js";
import type { KnownFile } from "../adapters/db/catalog-repository.js";
import type { FileFacts } from "../policy/check.js";
import { normalizeProjectName } from "../domain/project-name.js";
import { parseDistFilename } from "../domain/wheel-filename.js";
import { REFUSING, summarizeDecision, type Decision } from "../policy/decision.js";
import { factsOf } from "./catalog-curator.js";
import type { FileStoreService } from "./file-store.js";
import { GatewayError } from "./gateway-error.js";
import type { PolicyService } from "./policy-service.js";
import type { ProjectIndexService, ProjectView } from "./project-index.js";

/**
 * The gate in front of every file and metadata download: the index checks first (a refused file
 * is never even fetched), then the verified bytes are judged before a byte is served. The
 * decision sticks to the sha256; direct URLs and cached files get no way around it.
 */
type Opened = { file: KnownFile; size: number; decision: Decision };

export class FileAccessService {
  /**
   * Admissions recently granted, so a busy file costs no database round trip per download. An
   * entry holds only while the policy generation is the same, and for a minute at most (clock-
   * driven reasons such as an exception's expiry are re-checked at least that often).
   */
  private readonly admitted = new LRUCache<
    string,
    { filename: string; generation: number; until: number; result: Opened }
  >({ max: 10_000 });

  constructor(
    private readonly deps: {
      files: FileStoreService;
      projects: ProjectIndexService;
      policy: PolicyService;
      blobs: BlobStore;
      log: Logger;
      now: () => number;
      /**
       * Told of a download refused from the index alone (no decision is stored for it), once per
       * file and policy/intel state on this instance: webhooks publish it as `file.blocked`.
       */
      onIndexRefusal?: (decision: Decision) => Promise<void>;
    },
  ) {}

  private readonly refusalsTold = new LRUCache<string, true>({ max: 10_000 });

  /**
   * The verified, admitted file; throws GatewayError POLICY_REFUSED (403) with the reason.
   * `download`: a client asked for the file itself (not the resolver, vetting or pre-vetting
   * looking ahead), so a refusal from the index alone is told as a `file.blocked`.
   */
  async open(sha256: string, filename: string, opts: { download?: boolean } = {}): Promise<Opened> {
    const now = this.deps.now();
    const hit = this.admitted.get(sha256);
    if (
      hit &&
      hit.filename === filename &&
      hit.generation === this.deps.policy.generation &&
      now < hit.until
    ) {
      return hit.result;
    }
    const generation = this.deps.policy.generation;
    const result = await this.judge(sha256, filename, opts.download === true);
    this.admitted.set(sha256, { filename, generation, until: now + 60_000, result });
    return result;
  }

  private async judge(sha256: string, filename: string, download: boolean): Promise<Opened> {
    const known = await this.deps.files.lookup(sha256, filename, (file) => this.listedAs(file, filename));
    const { facts, versions } = await this.factsFor(known);
    const early = this.deps.policy.judgeIndex(facts, { versions });
    if (REFUSING.has(early.outcome)) {
      const told = `${early.sha256}:${early.policyVersion}:${early.intelSnapshot}`;
      if (download && this.deps.onIndexRefusal && !this.refusalsTold.has(told)) {
        this.refusalsTold.set(told, true);
        // Told again by the next download if this one could not be (the database did not answer).
        this.deps.onIndexRefusal(early).catch(() => this.refusalsTold.delete(told));
      }
      throw this.refusal(early);
    }
    const stored = await this.deps.files.ensureStored(known);
    this.deps.projects.noteStored(known.project, sha256, { size: stored.size });
    const path = this.deps.blobs.localPath(sha256);
    if (!path) throw new Error("blob store has no local path for analysis");
    const decision = await this.deps.policy.judgeFile(facts, { versions }, path);
    if (REFUSING.has(decision.outcome)) {
      this.deps.projects.invalidate(known.project);
      this.deps.log.warn(
        { event: "file_refused", file: filename, sha256, outcome: decision.outcome, score: decision.score },
        summarizeDecision(decision),
      );
      throw this.refusal(decision);
    }
    return { file: known, size: stored.size, decision };
  }

  /**
   * PEP 658 metadata, behind the same gate as the file itself, and only ever as bytes that match
   * the digest the client's page promised for this link (see `metadataPromise`).
   */
  async openMetadata(sha256: string, filename: string): Promise<{ sha256: string; size: number }> {
    const { file } = await this.open(sha256, filename);
    const promise = metadataPromise(await this.readRawProject(file.project), sha256, file.filename);
    let promisedSha256: string | undefined;
    let known = file;
    if (promise.kind === "declared") {
      promisedSha256 = promise.sha256;
    } else if (promise.kind === "unknown") {
      // No page to read the promise from: only the gateway's own extraction is safe to serve.
      const own = await this.deps.files.recordedMetadataDigest(file);
      if (!own) throw unconfirmedMetadata(file, promise);
      promisedSha256 = own;
      known = { ...file, metadataSha256: own };
    }
    const meta = await this.deps.files.ensureMetadata(known, promisedSha256);
    this.deps.projects.noteStored(file.project, sha256, { metadataSha256: meta.sha256 });
    return meta;
  }

  /** The raw view of a project, or why it cannot be read now (the upstream's error). */
  private async readRawProject(project: string): Promise<ProjectView | null | { unreadable: string }> {
    try {
      return await this.deps.projects.getRawProject(project);
    } catch (err) {
      if (err instanceof GatewayError && err.code === "UPSTREAM_UNAVAILABLE")
        return { unreadable: err.message };
      throw err;
    }
  }

  /**
   * Whether the upstream lists `filename` for the bytes recorded as `file` (the same bytes under
   * a second name): only a name of the same project and version, on the project's current page.
   */
  private async listedAs(file: KnownFile, filename: string): Promise<boolean> {
    const parsed = parseDistFilename(filename);
    if (!parsed || normalizeProjectName(parsed.project) !== file.project || parsed.version !== file.version)
      return false;
    const view = await this.deps.projects.getRawProject(file.project).catch(() => null);
    return !!view?.files.some((f) => f.sha256 === file.sha256 && f.filename === filename);
  }

  private async factsFor(known: KnownFile): Promise<{ facts: FileFacts; versions: readonly string[] }> {
    let view: ProjectView | null | undefined;
    try {
      // The raw view: the curated one carries the gateway's own refusals, not the upstream's facts.
      view = await this.deps.projects.getRawProject(known.project);
    } catch {
      // Upstream down and nothing cached: judge from what the database knows.
    }
    // The upstream answered that it has no such project (404): taken down whole, as registries do
    // with malware, or renamed away. Its stored files go with it, as a withdrawn file does below.
    if (view === null)
      throw new GatewayError(
        "FILE_NOT_FOUND",
        `${known.filename} is no longer served: the upstream no longer has the project ${known.project}`,
      );
    const served = view?.files.find((f) => f.sha256 === known.sha256);
    if (view && served) return { facts: factsOf(view, served), versions: view.versions };
    // The upstream's page no longer lists these bytes: removed (a takedown, often of malware) or
    // hidden with the project (PEP 792 quarantine lists no files). A stored copy is not a reason
    // to keep serving what the upstream withdrew.
    if (view)
      throw new GatewayError(
        "FILE_NOT_FOUND",
        `${known.filename} is no longer listed by the upstream` +
          (view.status && view.status.status !== "active"
            ? ` (project status ${view.status.status}${view.status.reason ? `: ${view.status.reason}` : ""})`
            : ""),
      );
    return {
      facts: {
        project: known.project,
        version: known.version,
        filename: known.filename,
        sha256: known.sha256,
        yanked: false,
        ...(known.uploadTime ? { uploadTime: known.uploadTime } : {}),
      },
      versions: [known.version],
    };
  }

  private refusal(d: Decision): GatewayError {
    return new GatewayError("POLICY_REFUSED", `${d.filename} is ${summarizeDecision(d)}`);
  }
}

/**
 * What the page a client saw promised about the METADATA of `filename` (PEP 658/714):
 *
 * - `declared`: the page lists the link with a core-metadata digest. That is the upstream's
 *   declared digest until the gateway extracted METADATA itself, and the gateway's own digest
 *   from then on (project-index.ts serves stored facts in the raw view too, so this view is the
 *   page the client got, stale copies from the page cache included). The served bytes must match.
 * - `open`: the link is listed without a digest (`core-metadata=true`), so METADATA extracted
 *   from the verified wheel contradicts nothing.
 * - `unknown`: no current page lists the link (the upstream is down with no kept copy, no
 *   longer has the project, or no longer lists the file), so what the client was shown cannot
 *   be read. The upstream may have declared a digest that nothing recorded (the catalog keeps
 *   only the gateway's own), so neither skipping the check nor trusting a fresh extraction is
 *   safe. Only the gateway's own recorded digest is: every page built since it was recorded
 *   advertises it, and it was checked against the declared digest of the page at the time.
 */
export type MetadataPromise =
  | { kind: "declared"; sha256: string }
  | { kind: "open" }
  | { kind: "unknown"; why: string; code: "UPSTREAM_UNAVAILABLE" | "UPSTREAM_FILE_MISSING" };

export function metadataPromise(
  view: ProjectView | null | { unreadable: string },
  sha256: string,
  filename: string,
): MetadataPromise {
  // A page that cannot be read now may be readable later (503); one that no longer lists the
  // file will not list it again by waiting (502).
  const gone = (why: string) => ({ kind: "unknown", why, code: "UPSTREAM_FILE_MISSING" }) as const;
  if (view === null) return gone("the upstream no longer has the project");
  if ("unreadable" in view) return { kind: "unknown", why: view.unreadable, code: "UPSTREAM_UNAVAILABLE" };
  // By name as well as digest: the same bytes listed under two names carry a promise each.
  const listed = view.files.find((f) => f.sha256 === sha256 && f.filename === filename);
  if (!listed) return gone(`the upstream no longer lists ${filename}`);
  return typeof listed.coreMetadata === "object"
    ? { kind: "declared", sha256: listed.coreMetadata.sha256 }
    : { kind: "open" };
}

function unconfirmedMetadata(
  file: KnownFile,
  promise: Extract<MetadataPromise, { kind: "unknown" }>,
): GatewayError {
  return new GatewayError(
    promise.code,
    `${file.filename}: cannot confirm the core-metadata digest the index declared, so its METADATA ` +
      `is not served until the upstream's page lists it again (${promise.why})`,
  );
}
