/**
 * The domain vocabulary of a package index, after PyPI's warehouse: a project has releases, a
 * release has distribution files. These types are what the upstream adapters produce and what the
 * simple API renders; they carry no I/O.
 */

/** Hash digests keyed by algorithm name as the simple API spells them (`sha256`, `md5`, …). */
export type Hashes = Record<string, string>;

/** One distribution file as an index lists it (PEP 503 / PEP 691 / PEP 700 / PEP 714). */
export interface DistFile {
  /** The file name, exactly as the index gives it (never trusted as a path). */
  filename: string;
  /** Absolute URL (or `file://` URL) where the upstream serves the bytes. */
  url: string;
  /** Digests the upstream declared; `sha256` is what the gateway pins and serves. */
  hashes: Hashes;
  /** PEP 345 / PEP 503 `data-requires-python`, unescaped. */
  requiresPython?: string;
  /** PEP 592: `false`, or `true`, or the reason string. */
  yanked: boolean | string;
  /** PEP 700 size in bytes, when known. */
  size?: number;
  /** PEP 700 upload time as an ISO-8601 string, when known. */
  uploadTime?: string;
  /**
   * PEP 658 / PEP 714: whether the upstream serves `<url>.metadata`; `false`, `true`, or the hashes
   * of the metadata file.
   */
  coreMetadata: boolean | Hashes;
  /** PEP 740: URL of the provenance object, when the upstream gives one. */
  provenance?: string | null;
}

/** PEP 792 project status markers. */
export type ProjectStatus = "active" | "archived" | "quarantined" | "deprecated";

/** A project page as an upstream returned it (the raw view, before any policy). */
export interface ProjectPage {
  /** The project name as the upstream spells it. */
  name: string;
  files: DistFile[];
  /** PEP 700 `versions`, when the upstream gave them. */
  versions?: string[];
  /** The upstream's `X-PyPI-Last-Serial` or `meta._last-serial`, when present. */
  lastSerial?: number;
  /** PEP 792 status, when present. */
  status?: { status: ProjectStatus; reason?: string };
}
