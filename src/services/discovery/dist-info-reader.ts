import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseCoreMetadata } from "../../artifact/core-metadata.js";
import { parseCsv } from "../../artifact/record.js";
import type { InstalledDistribution, InstalledFile } from "../../domain/installed-distribution.js";
import { normalizeProjectName } from "../../domain/project-name.js";
import { determineLicence } from "../../policy/checks/licence/licence.js";

/** The files of one `*.dist-info` directory that describe the installed distribution. */
export interface DistInfoFiles {
  /** The dist-info directory, for messages and the inventory. */
  location: string;
  metadata: string | Uint8Array;
  record?: string;
  installer?: string;
  /** PEP 610 `direct_url.json` text. */
  directUrl?: string;
}

/** A RECORD digest `sha256=<urlsafe base64>` as hex; other algorithms are ignored. */
function sha256Hex(hash: string | undefined): string | undefined {
  if (!hash) return undefined;
  const eq = hash.indexOf("=");
  if (eq === -1 || hash.slice(0, eq).toLowerCase() !== "sha256") return undefined;
  const hex = Buffer.from(hash.slice(eq + 1), "base64url").toString("hex");
  return hex.length === 64 ? hex : undefined;
}

/** RECORD rows (PEP 376 / PyPA "Recording installed projects": path, hash, size). */
export function parseInstalledRecord(text: string): InstalledFile[] {
  const out: InstalledFile[] = [];
  for (const row of parseCsv(text.startsWith("\ufeff") ? text.slice(1) : text).rows) {
    const [path, hash, size] = row.fields;
    if (!path) continue;
    const sha256 = sha256Hex(hash);
    const n = size ? Number(size) : NaN;
    out.push({ path, ...(sha256 ? { sha256 } : {}), ...(Number.isInteger(n) && n >= 0 ? { size: n } : {}) });
  }
  return out;
}

/**
 * Builds the inventory entry of one installed distribution from its dist-info files.
 *
 * @throws {Error} when METADATA has no Name or Version (then it describes nothing installable)
 */
export function parseDistInfo(files: DistInfoFiles): InstalledDistribution {
  const md = parseCoreMetadata(files.metadata);
  const licence = determineLicence({
    ...(md.licenseExpression ? { licenseExpression: md.licenseExpression } : {}),
    ...(md.license ? { license: md.license } : {}),
    classifiers: [...md.classifiers],
  });
  const names: string[] = [];
  if (!licence.expression) {
    // Free text (often the whole licence) is kept as a short name, never as an SPDX id.
    const text = md.license?.split("\n")[0]?.trim();
    if (text && text.toUpperCase() !== "UNKNOWN") names.push(text.slice(0, 200));
    for (const c of md.classifiers)
      if (c.startsWith("License ::") && !c.endsWith(":: OSI Approved"))
        names.push(c.split("::").at(-1)!.trim());
  }
  let directUrl: string | undefined;
  if (files.directUrl) {
    try {
      const parsed = JSON.parse(files.directUrl) as { url?: unknown };
      if (typeof parsed.url === "string") directUrl = parsed.url;
    } catch {
      directUrl = "(unreadable direct_url.json)";
    }
  }
  return {
    name: md.name,
    project: normalizeProjectName(md.name),
    version: md.version,
    ...(md.summary ? { summary: md.summary } : {}),
    licence: licence.expression
      ? { expression: licence.expression, names: [] }
      : { names: [...new Set(names)] },
    requiresDist: [...md.requiresDist],
    ...(files.record !== undefined ? { files: parseInstalledRecord(files.record) } : {}),
    ...(files.installer?.trim() ? { installer: files.installer.trim() } : {}),
    ...(directUrl ? { directUrl } : {}),
    location: files.location,
  };
}

export interface SitePackagesReport {
  distributions: InstalledDistribution[];
  /** dist-info directories that could not be read, with why. */
  problems: { location: string; message: string }[];
}

/**
 * Reads every `*.dist-info` directory directly inside a site-packages directory. The files are
 * small and many, so they are read synchronously: a thread-pool round trip per file costs more
 * than the read (and `scan` is a CLI with nothing else to do meanwhile).
 */
export async function readSitePackages(dir: string): Promise<SitePackagesReport> {
  const report: SitePackagesReport = { distributions: [], problems: [] };
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    report.problems.push({ location: dir, message: (err as Error).message });
    return report;
  }
  const distInfos = names.filter((n) => n.endsWith(".dist-info")).sort();
  for (const n of distInfos) {
    const location = join(dir, n);
    try {
      // One listing instead of a failed open (and its exception) per absent optional file.
      const present = new Set(readdirSync(location));
      const readOptional = (name: string) =>
        present.has(name) ? readFileSync(join(location, name), "utf8") : undefined;
      const metadata = readFileSync(join(location, "METADATA"));
      const record = readOptional("RECORD");
      const installer = readOptional("INSTALLER");
      const directUrl = readOptional("direct_url.json");
      report.distributions.push(
        parseDistInfo({
          location,
          metadata,
          ...(record !== undefined ? { record } : {}),
          ...(installer !== undefined ? { installer } : {}),
          ...(directUrl !== undefined ? { directUrl } : {}),
        }),
      );
    } catch (err) {
      report.problems.push({ location, message: (err as Error).message });
    }
  }
  report.distributions.sort(
    (a, b) => a.project.localeCompare(b.project) || a.location.localeCompare(b.location),
  );
  return report;
}
