import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, readFile, realpath, stat } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import { parseRecord } from "../../artifact/record.js";
import { normalizeProjectName } from "../../domain/project-name.js";

/** One distribution installed in an environment (a `*.dist-info` directory). */
export interface InstalledDistribution {
  project: string;
  name: string;
  version: string;
  distInfo: string;
  /** Installed files whose bytes no longer match RECORD (or are missing). */
  modified: string[];
  /** Files RECORD lists with a hash that were checked. */
  checked: number;
  /** Installed files inside site-packages, by RECORD path: their urlsafe-base64 sha256 (no padding). */
  files: Map<string, string>;
}

/** The `site-packages` directories of a virtual environment, or the directory itself if it is one. */
export async function sitePackagesOf(dir: string): Promise<string[]> {
  const found: string[] = [];
  const entries = await readdir(dir).catch(() => [] as string[]);
  if (entries.some((e) => e.endsWith(".dist-info"))) return [dir];
  for (const lib of ["lib", "lib64", "Lib"]) {
    const libDir = join(dir, lib);
    if (lib === "Lib") {
      if ((await stat(join(libDir, "site-packages")).catch(() => null))?.isDirectory())
        found.push(join(libDir, "site-packages"));
      continue;
    }
    for (const py of await readdir(libDir).catch(() => [] as string[])) {
      const site = join(libDir, py, "site-packages");
      if (py.startsWith("python") && (await stat(site).catch(() => null))?.isDirectory()) found.push(site);
    }
  }
  // lib64 is often a symlink to lib: one environment, listed once.
  return [...new Set(await Promise.all(found.map((p) => realpath(resolve(p)))))];
}

function header(text: string, name: string): string | undefined {
  const re = new RegExp(`^${name}:[ \\t]*(.*)$`, "im");
  // Headers end at the first blank line (RFC 822 style core metadata).
  return re.exec(text.split(/\r?\n\r?\n/)[0] ?? "")?.[1]?.trim();
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** A file as RECORD lists it: its path relative to site-packages and its sha256 (hex). */
export interface RecordedFile {
  path: string;
  sha256: string;
}

function insideSite(site: string, path: string): boolean {
  const rel = relative(site, resolve(site, path));
  return rel !== ".." && !rel.startsWith(`..${sep}`);
}

/**
 * The installed files whose bytes no longer match their RECORD hash (`path`, or `path (missing)`),
 * and how many were checked. Only files inside `site` are read: files outside it (scripts the
 * installer rewrote) carry the installer's hash, not the wheel's. One implementation for `verify`
 * and `scan`.
 */
export async function filesDifferingFromRecord(
  site: string,
  files: readonly RecordedFile[],
): Promise<{ checked: number; modified: string[] }> {
  const modified: string[] = [];
  let checked = 0;
  for (const f of files) {
    if (!insideSite(site, f.path)) continue;
    checked++;
    // Only a file that is not there is "missing"; any other failure (out of file handles, no
    // permission) is an error to report, never a verdict on the file.
    const actual = await sha256File(resolve(site, f.path)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT" || err.code === "ENOTDIR") return undefined;
      throw err;
    });
    if (actual === undefined) modified.push(`${f.path} (missing)`);
    else if (actual !== f.sha256.toLowerCase()) modified.push(f.path);
  }
  return { checked, modified };
}

/**
 * Reads every distribution installed in a site-packages directory, and checks its installed
 * files against the hashes in its RECORD (files outside site-packages, such as scripts the
 * installer rewrote, are not checked: their RECORD hash is the installer's, not the wheel's).
 */
export async function readInstalled(site: string): Promise<InstalledDistribution[]> {
  const out: InstalledDistribution[] = [];
  for (const entry of (await readdir(site)).sort()) {
    if (!entry.endsWith(".dist-info")) continue;
    const distInfo = join(site, entry);
    const metadata = await readFile(join(distInfo, "METADATA"), "utf8").catch(() => "");
    const name = header(metadata, "Name");
    const version = header(metadata, "Version");
    if (!name || !version) continue;
    const modified: string[] = [];
    const files = new Map<string, string>();
    let checked = 0;
    const recordText = await readFile(join(distInfo, "RECORD"), "utf8").catch(() => undefined);
    if (recordText === undefined) modified.push(`${entry}/RECORD (missing)`);
    else {
      const rows: RecordedFile[] = [];
      for (const row of parseRecord(recordText, `${entry}/RECORD`).entries) {
        if (!row.hash || row.hash.algorithm !== "sha256") continue;
        const digest = row.hash.digest.replace(/=+$/, "");
        rows.push({ path: row.path, sha256: Buffer.from(digest, "base64url").toString("hex") });
        if (insideSite(site, row.path)) files.set(row.path, digest);
      }
      const result = await filesDifferingFromRecord(site, rows);
      checked = result.checked;
      modified.push(...result.modified);
    }
    out.push({ project: normalizeProjectName(name), name, version, distInfo, modified, checked, files });
  }
  return out;
}

/** Files an installer writes itself (PEP 376, PEP 610, PEP 627): never in the wheel's RECORD. */
const INSTALLER_FILES = /\.dist-info\/(RECORD|INSTALLER|REQUESTED|direct_url\.json)$/;

/**
 * Installed files that are not exactly the attested wheel's: each installed file (inside
 * site-packages) must appear in the wheel's RECORD with the same sha256. A `.data/purelib` or
 * `.data/platlib` member installs at the root, so it matches there too.
 */
export function differencesFromWheel(
  installed: ReadonlyMap<string, string>,
  wheelRecord: ReadonlyMap<string, string>,
): string[] {
  const byInstallPath = new Map(wheelRecord);
  for (const [path, digest] of wheelRecord) {
    const m = /^[^/]+\.data\/(?:purelib|platlib)\/(.+)$/.exec(path);
    if (m) byInstallPath.set(m[1]!, digest);
  }
  const out: string[] = [];
  for (const [path, digest] of installed) {
    if (INSTALLER_FILES.test(path)) continue;
    const expected = byInstallPath.get(path);
    if (expected === undefined) out.push(`${path} (not in the wheel)`);
    else if (expected !== digest) out.push(path);
  }
  return out;
}
