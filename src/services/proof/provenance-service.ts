import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import type { ProvenanceRepository } from "../../adapters/db/provenance-repository.js";
import type { ProvenanceTable } from "../../adapters/db/schema-proof.js";
import type { DistFile } from "../../domain/distribution.js";
import type { Upstream } from "../../adapters/upstream/upstream.js";
import type { FileFacts } from "../../policy/check.js";
import type { ProvenanceFacts, ProvenanceSource } from "../policy-service.js";
import { loadSigstoreTrust, verifyProvenance, type SigstoreTrust } from "./pep740-verifier.js";

/** An upstream that can fetch PEP 740 provenance (the HTTP upstream can). */
interface ProvenanceFetcher {
  fetchProvenance(
    file: Pick<DistFile, "filename" | "provenance">,
    release: { project: string; version: string },
    signal?: AbortSignal,
  ): Promise<unknown>;
}

function canFetch(upstream: Upstream): upstream is Upstream & ProvenanceFetcher {
  return typeof (upstream as Partial<ProvenanceFetcher>).fetchProvenance === "function";
}

export type ProvenanceRecord = ProvenanceFacts & {
  sha256: string;
  project: string;
  version: string;
  filename: string;
  publisherDetail?: Record<string, unknown>;
  /** The verified provenance object. */
  provenance?: unknown;
  checkedAt: number;
};

/**
 * Upstream provenance (PEP 740): fetched from the upstream once per file, verified offline
 * against the Sigstore trusted root, and recorded with its publisher. Verification failures are
 * recorded as `invalid` (never as "no provenance"), so policy and release-drift see them.
 */
export class ProvenanceService implements ProvenanceSource {
  private trust: Promise<SigstoreTrust> | undefined;

  constructor(
    private readonly deps: {
      upstream: Upstream;
      repo: ProvenanceRepository;
      log: Logger;
      now: () => number;
      /** The trusted root file (JSON). */
      trustedRoot: () => string;
      signal?: AbortSignal;
    },
  ) {}

  /** Forgets the loaded trusted root (after a refresh). */
  reloadTrust(): void {
    this.trust = undefined;
  }

  private loadTrust(): Promise<SigstoreTrust> {
    this.trust ??= readFile(this.deps.trustedRoot(), "utf8")
      .then((text) => loadSigstoreTrust(JSON.parse(text)))
      .catch((err: Error) => {
        this.trust = undefined;
        throw new Error(`cannot load the Sigstore trusted root ${this.deps.trustedRoot()}: ${err.message}`, {
          cause: err,
        });
      });
    return this.trust;
  }

  /** Verifies a provenance object for a file against the trusted root (no network). */
  async verify(provenance: unknown, dist: { filename: string; sha256: string }) {
    return verifyProvenance(await this.loadTrust(), provenance, dist);
  }

  async prepare(facts: FileFacts): Promise<void> {
    await this.ensure(facts);
  }

  /** The recorded provenance of a file, fetching and verifying it first when not recorded yet. */
  async ensure(
    facts: Pick<FileFacts, "project" | "version" | "filename" | "sha256">,
  ): Promise<ProvenanceRecord> {
    const stored = await this.deps.repo.get(facts.sha256);
    // `unavailable` is retried: the upstream could not answer last time.
    if (stored && stored.status !== "unavailable") return toRecord(stored);
    const record = await this.check(facts);
    await this.deps.repo.put(toRow(record));
    if (record.status === "invalid")
      this.deps.log.warn(
        { event: "provenance_invalid", file: facts.filename, sha256: facts.sha256, detail: record.detail },
        "upstream provenance failed verification",
      );
    return record;
  }

  async lookup(sha256s: string[]): Promise<Map<string, ProvenanceFacts>> {
    const rows = await this.deps.repo.getMany(sha256s);
    return new Map([...rows].map(([k, r]) => [k, toRecord(r)]));
  }

  async get(sha256: string): Promise<ProvenanceRecord | undefined> {
    const row = await this.deps.repo.get(sha256);
    return row && toRecord(row);
  }

  private async check(
    facts: Pick<FileFacts, "project" | "version" | "filename" | "sha256">,
  ): Promise<ProvenanceRecord> {
    const base = { ...facts, checkedAt: this.deps.now() };
    const { upstream } = this.deps;
    if (!canFetch(upstream))
      return { ...base, status: "absent", detail: "the upstream serves no PEP 740 provenance" };
    let provenance: unknown;
    try {
      const page = await upstream.getProject(facts.project, this.deps.signal);
      const listed = page?.page.files.find((f) => f.hashes.sha256 === facts.sha256);
      if (!listed)
        return { ...base, status: "unavailable", detail: "the upstream no longer lists this file" };
      provenance = await upstream.fetchProvenance(listed, facts, this.deps.signal);
    } catch (err) {
      return { ...base, status: "unavailable", detail: (err as Error).message };
    }
    if (provenance === null)
      return { ...base, status: "absent", detail: "the upstream has no provenance for this file" };
    let verdict;
    try {
      verdict = await this.verify(provenance, facts);
    } catch (err) {
      // The trusted root itself could not load: nothing can be said about the file.
      return { ...base, status: "unavailable", detail: (err as Error).message };
    }
    if (!verdict.ok) return { ...base, status: "invalid", detail: verdict.reason };
    return {
      ...base,
      status: "verified",
      publisher: verdict.identity,
      publisherDetail: verdict.publisher,
      provenance,
      detail: `${verdict.attestations} attestation${verdict.attestations === 1 ? "" : "s"} verified (${verdict.predicateTypes.join(", ")})`,
    };
  }
}

function toRow(r: ProvenanceRecord): ProvenanceTable {
  return {
    sha256: r.sha256,
    project: r.project,
    version: r.version,
    filename: r.filename,
    status: r.status,
    publisher: r.publisher ?? null,
    publisher_json: r.publisherDetail ? JSON.stringify(r.publisherDetail) : null,
    detail: r.detail,
    provenance_json: r.provenance === undefined ? null : JSON.stringify(r.provenance),
    checked_at: r.checkedAt,
  };
}

function toRecord(row: ProvenanceTable): ProvenanceRecord {
  return {
    sha256: row.sha256,
    project: row.project,
    version: row.version,
    filename: row.filename,
    status: row.status as ProvenanceFacts["status"],
    ...(row.publisher ? { publisher: row.publisher } : {}),
    ...(row.publisher_json
      ? { publisherDetail: JSON.parse(row.publisher_json) as Record<string, unknown> }
      : {}),
    ...(row.provenance_json ? { provenance: JSON.parse(row.provenance_json) as unknown } : {}),
    detail: row.detail,
    checkedAt: Number(row.checked_at),
  };
}
