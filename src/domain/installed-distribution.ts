/**
 * A distribution installed in an environment, as its `*.dist-info` directory describes it
 * (PyPA "Recording installed projects"), and how it compares with the wheel the gateway admitted.
 */

/** One row of an installed RECORD: a path relative to site-packages and its sha256 (hex). */
export interface InstalledFile {
  path: string;
  sha256?: string;
  size?: number;
}

export interface InstalledDistribution {
  /** The name as METADATA writes it. */
  name: string;
  /** PEP 503 normalised name. */
  project: string;
  version: string;
  summary?: string;
  /** An SPDX expression when one could be determined, else the licence names as written. */
  licence: { expression?: string; names: string[] };
  requiresDist: string[];
  /** RECORD rows; absent when the installer wrote no RECORD (conda, some system packages). */
  files?: InstalledFile[];
  /** The INSTALLER file (`pip`, `uv`, `conda`…). */
  installer?: string;
  /** PEP 610 `direct_url.json` `url`: set when installed from a URL or a local file, not an index. */
  directUrl?: string;
  /** The dist-info directory (or conda-meta record) it was read from. */
  location: string;
}

/** How an installed distribution relates to the gateway's catalog. */
export type GovernanceStatus =
  "admitted" | "blocked" | "quarantined" | "pending" | "not-in-catalog" | "hash-differs" | "unknown";

/** Statuses that mean the distribution did not (or no longer does) pass the gate. */
export const UNGOVERNED: ReadonlySet<GovernanceStatus> = new Set([
  "blocked",
  "quarantined",
  "not-in-catalog",
  "hash-differs",
]);

/**
 * Files an installer writes or rewrites, so they cannot match the wheel's RECORD: RECORD itself,
 * INSTALLER, REQUESTED and PEP 610 direct_url.json in the dist-info directory, byte-code, and
 * anything outside site-packages (console scripts are generated, `.data/scripts` get a new
 * shebang).
 */
function installerWritten(path: string): boolean {
  if (path.startsWith("../") || path.startsWith("/")) return true;
  if (path.endsWith(".pyc") || path.includes("__pycache__/")) return true;
  const m = /^[^/]+\.dist-info\/(.+)$/.exec(path);
  return m !== null && ["RECORD", "INSTALLER", "REQUESTED", "direct_url.json"].includes(m[1]!);
}

export interface RecordComparison {
  /** True when every installed file the wheel also ships has the wheel's digest. */
  matches: boolean;
  /** Paths whose digest differs from the wheel's. */
  differing: string[];
  /** Installed paths (with a digest) the wheel does not ship. */
  extra: string[];
  /** How many paths were compared. */
  compared: number;
}

/**
 * Compares an installed RECORD with the RECORD of a wheel (path → hex sha256). A file pip
 * installs from a wheel keeps its bytes, so a differing digest means the installed copy did not
 * come from that wheel (or was changed after installation was recorded).
 */
export function compareWithWheelRecord(
  installed: readonly InstalledFile[],
  wheel: Readonly<Record<string, string>>,
): RecordComparison {
  const differing: string[] = [];
  const extra: string[] = [];
  let compared = 0;
  for (const f of installed) {
    if (!f.sha256 || installerWritten(f.path)) continue;
    const expected = wheel[f.path];
    if (expected === undefined) {
      extra.push(f.path);
      continue;
    }
    compared++;
    if (expected !== f.sha256) differing.push(f.path);
  }
  return {
    matches: differing.length === 0 && extra.length === 0 && compared > 0,
    differing,
    extra,
    compared,
  };
}

/** `pkg:pypi/<normalised name>@<version>` (purl-spec PyPI type: lower case, `_` becomes `-`). */
export function pypiPurl(project: string, version: string): string {
  const name = project.toLowerCase().replace(/[-_.]+/g, "-");
  return `pkg:pypi/${encodeURIComponent(name)}@${encodeURIComponent(version)}`;
}
