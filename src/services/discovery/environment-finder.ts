import { readdir, readFile, realpath } from "node:fs/promises";
import { basename, join, resolve } from "node:path";

/** What kind of Python environment a directory is. */
export type EnvironmentKind = "venv" | "conda" | "site-packages";

export interface FoundEnvironment {
  kind: EnvironmentKind;
  /** The environment's root (the venv or conda prefix, or the site-packages directory itself). */
  path: string;
  /** Where its distributions live. */
  sitePackages: string[];
  /** From pyvenv.cfg (`version`/`version_info`) or the `pythonX.Y` directory name. */
  pythonVersion?: string;
  /** conda only: the `conda-meta/*.json` records. */
  condaMeta?: string[];
}

export interface FoundTree {
  environments: FoundEnvironment[];
  /** requirements*.txt (and *.txt under a requirements/ directory). */
  requirementFiles: string[];
  pyprojectFiles: string[];
  /** Directories that could not be read. */
  problems: { path: string; message: string }[];
  /** Directories visited (for the benchmark and `--verbose`). */
  directories: number;
}

/** Directories never worth descending into: VCS data, JS dependencies, caches. */
const SKIP = new Set([".git", ".hg", ".svn", "node_modules", "__pycache__", ".mypy_cache", ".tox", ".nox"]);

async function listDir(dir: string) {
  return readdir(dir, { withFileTypes: true });
}

async function pythonVersionOf(cfgPath: string): Promise<string | undefined> {
  try {
    const text = await readFile(cfgPath, "utf8");
    // pyvenv.cfg (PEP 405): `key = value` lines; venv writes `version`, virtualenv `version_info`.
    const m = /^\s*(?:version|version_info)\s*=\s*(\d+\.\d+(?:\.\d+)?)/m.exec(text);
    return m?.[1];
  } catch {
    return undefined;
  }
}

/** `lib/pythonX.Y/site-packages`, `lib64/…` and Windows' `Lib/site-packages` under a prefix. */
async function sitePackagesUnder(prefix: string): Promise<{ dirs: string[]; python?: string }> {
  const dirs: string[] = [];
  let python: string | undefined;
  for (const lib of ["lib", "lib64", "Lib"]) {
    let entries;
    try {
      entries = await listDir(join(prefix, lib));
    } catch {
      continue;
    }
    for (const e of entries) {
      if (e.name === "site-packages" && e.isDirectory()) dirs.push(join(prefix, lib, e.name));
      const m = /^python(\d+\.\d+)t?$/.exec(e.name);
      if (m && e.isDirectory()) {
        python ??= m[1];
        const candidate = join(prefix, lib, e.name, "site-packages");
        try {
          await listDir(candidate);
          dirs.push(candidate);
        } catch {
          // no site-packages in this interpreter directory
        }
      }
    }
  }
  // lib64 is often a symlink to lib: keep each real directory once.
  const real = await Promise.all(dirs.map((d) => realpath(d).catch(() => resolve(d))));
  return { dirs: [...new Set(real)], ...(python ? { python } : {}) };
}

/**
 * Walks directories for Python environments, requirements files and pyproject files. An
 * environment is not descended into further (its own site-packages are read as one unit);
 * symbolic links are not followed, so a link loop cannot trap the walk.
 */
export async function findEnvironments(roots: readonly string[]): Promise<FoundTree> {
  const tree: FoundTree = {
    environments: [],
    requirementFiles: [],
    pyprojectFiles: [],
    problems: [],
    directories: 0,
  };
  const seen = new Set<string>();
  const visit = async (dir: string, inRequirementsDir: boolean): Promise<void> => {
    if (seen.has(dir)) return;
    seen.add(dir);
    tree.directories++;
    let entries;
    try {
      entries = await listDir(dir);
    } catch (err) {
      tree.problems.push({ path: dir, message: (err as Error).message });
      return;
    }
    const names = new Set(entries.map((e) => e.name));
    if (names.has("pyvenv.cfg")) {
      const sp = await sitePackagesUnder(dir);
      const version = (await pythonVersionOf(join(dir, "pyvenv.cfg"))) ?? sp.python;
      tree.environments.push({
        kind: "venv",
        path: dir,
        sitePackages: sp.dirs,
        ...(version ? { pythonVersion: version } : {}),
      });
      return;
    }
    if (names.has("conda-meta")) {
      const sp = await sitePackagesUnder(dir);
      let meta: string[] = [];
      try {
        meta = (await readdir(join(dir, "conda-meta")))
          .filter((n) => n.endsWith(".json"))
          .map((n) => join(dir, "conda-meta", n));
      } catch {
        // an empty or unreadable conda-meta still marks a conda prefix
      }
      tree.environments.push({
        kind: "conda",
        path: dir,
        sitePackages: sp.dirs,
        condaMeta: meta.sort(),
        ...(sp.python ? { pythonVersion: sp.python } : {}),
      });
      // A conda base prefix holds further environments under envs/.
      if (names.has("envs")) await visit(join(dir, "envs"), false);
      return;
    }
    // A directory of installed distributions: site-packages, dist-packages, or any directory
    // holding `.dist-info` directories, as `pip install --target DIR` leaves one (vendored
    // dependencies, AWS Lambda bundles, a PYTHONPATH directory): packages that run as surely as a
    // venv's, and a place a compromised one hides as well.
    const base = basename(dir);
    const installDir = base === "site-packages" || base === "dist-packages";
    if (entries.some((e) => e.name.endsWith(".dist-info") && (installDir || e.isDirectory()))) {
      const m = /python(\d+\.\d+)/.exec(dir);
      tree.environments.push({
        kind: "site-packages",
        path: dir,
        sitePackages: [dir],
        ...(m ? { pythonVersion: m[1]! } : {}),
      });
      return;
    }
    const subdirs: string[] = [];
    for (const e of entries) {
      if (e.isFile()) {
        if (e.name === "pyproject.toml") tree.pyprojectFiles.push(join(dir, e.name));
        else if (
          e.name.endsWith(".txt") &&
          (inRequirementsDir || /^requirements([-_.].*)?\.txt$/i.test(e.name))
        )
          tree.requirementFiles.push(join(dir, e.name));
      } else if (e.isDirectory() && !SKIP.has(e.name)) subdirs.push(e.name);
    }
    // Siblings in parallel: the walk is I/O-bound.
    await Promise.all(subdirs.map((n) => visit(join(dir, n), n === "requirements")));
  };
  for (const root of roots) await visit(resolve(root), false);
  tree.environments.sort((a, b) => a.path.localeCompare(b.path));
  tree.requirementFiles.sort();
  tree.pyprojectFiles.sort();
  return tree;
}
