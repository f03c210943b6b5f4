/**
 * PEP 751 lock files (`pylock.toml`): the parts a gateway needs to resolve one against its catalog.
 * This module validates the TOML document once parsed; reading TOML is the caller's business.
 */

export interface PylockFile {
  name: string;
  sha256?: string;
}

export interface PylockPackage {
  name: string;
  /** PEP 751: optional only for packages from a VCS, directory or archive. */
  version?: string;
  marker?: string;
  requiresPython?: string;
  wheels: PylockFile[];
  sdist?: PylockFile;
  /** `vcs`, `directory` or `archive`: a source the gateway cannot vouch for. */
  directSource?: "vcs" | "directory" | "archive";
}

export interface Pylock {
  lockVersion: string;
  createdBy?: string;
  requiresPython?: string;
  packages: PylockPackage[];
}

/** A pylock.toml that does not follow PEP 751, with the key that is wrong. */
export class PylockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PylockError";
  }
}

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === "object" && v !== null && !Array.isArray(v);

function optionalString(t: Table, key: string, where: string): string | undefined {
  const v = t[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new PylockError(`${where}.${key} must be a string`);
  return v;
}

function fileOf(v: unknown, where: string): PylockFile {
  if (!isTable(v)) throw new PylockError(`${where} must be a table`);
  const url = optionalString(v, "url", where);
  const path = optionalString(v, "path", where);
  // PEP 751: `name` may be left out when it can be taken from the url or path.
  const name = optionalString(v, "name", where) ?? (url ?? path)?.split("/").at(-1);
  if (!name) throw new PylockError(`${where} needs a name, url or path`);
  const hashes = v.hashes;
  if (hashes !== undefined && !isTable(hashes)) throw new PylockError(`${where}.hashes must be a table`);
  const sha256 = hashes?.sha256;
  if (sha256 !== undefined && (typeof sha256 !== "string" || !/^[0-9a-fA-F]{64}$/.test(sha256)))
    throw new PylockError(`${where}.hashes.sha256 must be 64 hex digits`);
  return { name, ...(sha256 ? { sha256: sha256.toLowerCase() } : {}) };
}

/**
 * Validates a parsed `pylock.toml` (PEP 751, lock-version 1.x).
 *
 * @example parsePylock(TOML.parse(text)).packages.map((p) => `${p.name}==${p.version}`)
 * @throws {PylockError} naming the offending key
 */
export function parsePylock(doc: unknown): Pylock {
  if (!isTable(doc)) throw new PylockError("a pylock.toml must be a TOML table");
  const lockVersion = doc["lock-version"];
  if (typeof lockVersion !== "string") throw new PylockError("lock-version is required (PEP 751)");
  // PEP 751: tools must refuse a major version they do not support.
  if (!/^1(\.\d+)?$/.test(lockVersion))
    throw new PylockError(`lock-version ${lockVersion} is not supported (only 1.x)`);
  const packages = doc.packages;
  if (!Array.isArray(packages)) throw new PylockError("packages must be an array of tables");
  const out: PylockPackage[] = packages.map((p: unknown, i) => {
    const where = `packages[${i}]`;
    if (!isTable(p)) throw new PylockError(`${where} must be a table`);
    const name = optionalString(p, "name", where);
    if (!name) throw new PylockError(`${where}.name is required`);
    const wheels = p.wheels;
    if (wheels !== undefined && !Array.isArray(wheels))
      throw new PylockError(`${where}.wheels must be an array`);
    const direct = (["vcs", "directory", "archive"] as const).find((k) => p[k] !== undefined);
    const version = optionalString(p, "version", where);
    if (!version && !direct)
      throw new PylockError(`${where}.version is required for a package from an index`);
    const marker = optionalString(p, "marker", where);
    const requiresPython = optionalString(p, "requires-python", where);
    return {
      name,
      ...(version ? { version } : {}),
      ...(marker ? { marker } : {}),
      ...(requiresPython ? { requiresPython } : {}),
      wheels: (wheels ?? []).map((w: unknown, j) => fileOf(w, `${where}.wheels[${j}]`)),
      ...(p.sdist !== undefined ? { sdist: fileOf(p.sdist, `${where}.sdist`) } : {}),
      ...(direct ? { directSource: direct } : {}),
    };
  });
  const createdBy = optionalString(doc, "created-by", "");
  const requiresPython = optionalString(doc, "requires-python", "");
  return {
    lockVersion,
    ...(createdBy ? { createdBy } : {}),
    ...(requiresPython ? { requiresPython } : {}),
    packages: out,
  };
}

/**
 * The pinned requirements a lock stands for (`name==version ; marker`), for resolving against the
 * catalog. Packages from a VCS, directory or archive cannot come through an index and are refused.
 */
export function pylockRequirements(lock: Pylock): string[] {
  return lock.packages.map((p) => {
    if (p.directSource || !p.version)
      throw new PylockError(`${p.name} comes from a ${p.directSource ?? "direct"} source, not an index`);
    return `${p.name}==${p.version}${p.marker ? ` ; ${p.marker}` : ""}`;
  });
}
