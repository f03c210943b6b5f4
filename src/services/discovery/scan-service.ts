import { readFile } from "node:fs/promises";
import { basename, dirname } from "node:path";
import {
  UNGOVERNED,
  type GovernanceStatus,
  type InstalledDistribution,
} from "../../domain/installed-distribution.js";
import { normalizeProjectName } from "../../domain/project-name.js";
import { parseRequirement } from "../../domain/requirement.js";
import { parseRequirementsFile } from "../../domain/requirements-file.js";
import { parseSpecifier } from "../../domain/version.js";
import { filesDifferingFromRecord } from "../proof/installed-distributions.js";
import type { CiFinding, CiRuleId } from "./ci-report.js";
import { readSitePackages } from "./dist-info-reader.js";
import { findEnvironments, type FoundEnvironment, type FoundTree } from "./environment-finder.js";
import { governDistribution, type GovernedDistribution, type InventoryVerdict } from "./inventory-check.js";

/** Asks the catalog about `name==version` pairs: the gateway's API, or local services. */
export type InventoryChecker = (
  items: { name: string; version: string }[],
  opts: { records: boolean },
) => Promise<InventoryVerdict[]>;

export interface ScannedEnvironment {
  environment: FoundEnvironment;
  distributions: GovernedDistribution[];
  problems: { location: string; message: string }[];
}

/** A pinned (`==`) requirement of a requirements or pyproject file, with its verdict. */
export interface DeclaredRequirement {
  line: number;
  name: string;
  version: string;
  status: GovernanceStatus;
  reason: string;
}

export interface ScannedManifest {
  path: string;
  kind: "requirements" | "pyproject";
  pinned: DeclaredRequirement[];
  /** Requirements without an exact pin: nothing to judge until resolved (`portcullis vet`). */
  unpinned: number;
  problems: string[];
}

export interface ScanResult {
  tree: FoundTree;
  environments: ScannedEnvironment[];
  manifests: ScannedManifest[];
  /** Whether a catalog was asked (otherwise every status is `unknown`). */
  checked: boolean;
  policyVersion?: string;
}

/** conda-meta records (`<name>-<version>-<build>.json`) of packages with no dist-info of their own. */
async function condaOnly(env: FoundEnvironment, known: Set<string>): Promise<InstalledDistribution[]> {
  const out: InstalledDistribution[] = [];
  for (const file of env.condaMeta ?? []) {
    try {
      const meta = JSON.parse(await readFile(file, "utf8")) as {
        name?: unknown;
        version?: unknown;
        license?: unknown;
      };
      if (typeof meta.name !== "string" || typeof meta.version !== "string") continue;
      const project = normalizeProjectName(meta.name);
      if (known.has(project)) continue;
      out.push({
        name: meta.name,
        project,
        version: meta.version,
        licence: { names: typeof meta.license === "string" && meta.license ? [meta.license] : [] },
        requiresDist: [],
        installer: "conda",
        location: file,
      });
    } catch {
      // An unreadable conda-meta record is not a Python distribution we can judge.
    }
  }
  return out;
}

/** Every distribution installed in one environment, read from its dist-info directories. */
export async function inventoryOf(
  env: FoundEnvironment,
): Promise<{ distributions: InstalledDistribution[]; problems: { location: string; message: string }[] }> {
  const distributions: InstalledDistribution[] = [];
  const problems: { location: string; message: string }[] = [];
  for (const sp of env.sitePackages) {
    const report = await readSitePackages(sp);
    distributions.push(...report.distributions);
    problems.push(...report.problems);
  }
  if (env.kind === "conda")
    distributions.push(...(await condaOnly(env, new Set(distributions.map((d) => d.project)))));
  return { distributions, problems };
}

function exactPin(specifier: string): string | undefined {
  const clauses = parseSpecifier(specifier);
  if (clauses?.length !== 1) return undefined;
  const [c] = clauses;
  return c && (c.operator === "==" || c.operator === "===") && !c.version.includes("*")
    ? c.version
    : undefined;
}

async function readManifest(path: string, kind: ScannedManifest["kind"]): Promise<ScannedManifest> {
  const manifest: ScannedManifest = { path, kind, pinned: [], unpinned: 0, problems: [] };
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    manifest.problems.push((err as Error).message);
    return manifest;
  }
  const add = (line: number, name: string, specifier: string) => {
    const version = exactPin(specifier);
    if (version) manifest.pinned.push({ line, name, version, status: "unknown", reason: "not checked" });
    else manifest.unpinned++;
  };
  if (kind === "requirements") {
    const parsed = parseRequirementsFile(text);
    for (const e of parsed.errors) manifest.problems.push(`line ${e.line}: ${e.message}`);
    for (const r of parsed.requirements) add(r.line, r.req.name, r.req.specifier);
    return manifest;
  }
  // PEP 621: [project] dependencies and optional-dependencies are PEP 508 strings.
  const { parse } = await import("smol-toml");
  let doc: { project?: { dependencies?: unknown; "optional-dependencies"?: unknown } };
  try {
    doc = parse(text) as typeof doc;
  } catch (err) {
    manifest.problems.push(`not valid TOML: ${(err as Error).message.split("\n")[0]}`);
    return manifest;
  }
  const lines = text.split(/\r?\n/);
  const lineOf = (req: string) => {
    const i = lines.findIndex((l) => l.includes(req));
    return i === -1 ? 1 : i + 1;
  };
  const strings: string[] = [];
  if (Array.isArray(doc.project?.dependencies))
    strings.push(...doc.project.dependencies.filter((d): d is string => typeof d === "string"));
  const optional = doc.project?.["optional-dependencies"];
  if (optional && typeof optional === "object")
    for (const list of Object.values(optional))
      if (Array.isArray(list)) strings.push(...list.filter((d): d is string => typeof d === "string"));
  for (const s of strings) {
    try {
      const req = parseRequirement(s);
      add(lineOf(s), req.name, req.specifier);
    } catch (err) {
      manifest.problems.push(`${JSON.stringify(s)}: ${(err as Error).message}`);
    }
  }
  return manifest;
}

/**
 * An admitted distribution whose installed RECORD matches the admitted wheel's may still have had
 * its files changed after installation: the bytes on disk are hashed against RECORD (as `verify`
 * does), and any that differ make it `hash-differs`.
 */
async function checkInstalledBytes(g: GovernedDistribution): Promise<GovernedDistribution> {
  const d = g.distribution;
  if (g.status !== "admitted" || !d.files) return g;
  const recorded = d.files.flatMap((f) => (f.sha256 ? [{ path: f.path, sha256: f.sha256 }] : []));
  const { modified } = await filesDifferingFromRecord(dirname(d.location), recorded);
  if (modified.length === 0) return g;
  const { file: _file, ...rest } = g;
  return {
    ...rest,
    status: "hash-differs",
    reason: `${modified.length} installed file(s) do not match RECORD (changed since installation), e.g. ${modified[0]}`,
  };
}

/**
 * Walks `roots`, inventories every environment found and judges each distribution (and each exact
 * pin in requirements and pyproject files) against the catalog through `check`.
 */
export async function scan(roots: readonly string[], check?: InventoryChecker): Promise<ScanResult> {
  const tree = await findEnvironments(roots);
  const inventories = await Promise.all(tree.environments.map((env) => inventoryOf(env)));
  const manifests = await Promise.all([
    ...tree.requirementFiles.map((p) => readManifest(p, "requirements")),
    ...tree.pyprojectFiles.map((p) => readManifest(p, "pyproject")),
  ]);
  // One question for everything: each distinct name==version once.
  const verdicts = new Map<string, InventoryVerdict>();
  const key = (name: string, version: string) => `${normalizeProjectName(name)}==${version}`;
  if (check) {
    const wanted = new Map<string, { name: string; version: string }>();
    for (const inv of inventories) for (const d of inv.distributions) wanted.set(key(d.name, d.version), d);
    for (const m of manifests) for (const p of m.pinned) wanted.set(key(p.name, p.version), p);
    const items = [...wanted.values()].map((d) => ({ name: d.name, version: d.version }));
    for (let i = 0; i < items.length; i += 2000) {
      const batch = items.slice(i, i + 2000);
      const answers = await check(batch, { records: true });
      answers.forEach((v, j) => verdicts.set(key(batch[j]!.name, batch[j]!.version), v));
    }
  }
  // One distribution's files at a time: hashing every environment's files at once ran out of
  // file handles on large trees (and a file that could not be opened is not a changed file).
  const environments: ScanResult["environments"] = [];
  for (const [i, environment] of tree.environments.entries()) {
    const distributions: GovernedDistribution[] = [];
    for (const d of inventories[i]!.distributions)
      distributions.push(
        await checkInstalledBytes(
          governDistribution(d, check ? verdicts.get(key(d.name, d.version)) : undefined),
        ),
      );
    environments.push({ environment, distributions, problems: inventories[i]!.problems });
  }
  if (check)
    for (const m of manifests)
      for (const p of m.pinned) {
        const v = verdicts.get(key(p.name, p.version));
        if (v) {
          p.status = v.status;
          p.reason = v.reason;
        }
      }
  return { tree, environments, manifests, checked: check !== undefined };
}

const RULE_OF: Partial<Record<GovernanceStatus, CiRuleId>> = {
  blocked: "blocked",
  quarantined: "quarantined",
  pending: "pending",
  "not-in-catalog": "not-in-catalog",
  "hash-differs": "hash-differs",
};

/** One CI finding per distribution and per pinned requirement; paths relative to `cwd`. */
export function scanFindings(result: ScanResult, relative: (path: string) => string): CiFinding[] {
  const out: CiFinding[] = [];
  for (const e of result.environments) {
    const group = relative(e.environment.path);
    for (const g of e.distributions) {
      const rule = RULE_OF[g.status];
      out.push({
        name: `${g.distribution.name}==${g.distribution.version}`,
        group,
        ok: rule === undefined,
        ...(rule ? { rule } : {}),
        message: g.reason,
        file: relative(g.distribution.location),
      });
    }
  }
  for (const m of result.manifests) {
    const group = relative(m.path);
    for (const p of m.pinned) {
      const rule = RULE_OF[p.status];
      out.push({
        name: `${p.name}==${p.version}`,
        group,
        ok: rule === undefined,
        ...(rule ? { rule } : {}),
        message: p.reason,
        file: group,
        line: p.line,
      });
    }
  }
  return out;
}

/** Whether a scan found anything that did not pass the gate (CI fails on it). */
export function scanFailed(result: ScanResult): boolean {
  return (
    result.environments.some((e) => e.distributions.some((d) => UNGOVERNED.has(d.status))) ||
    result.manifests.some((m) => m.pinned.some((p) => UNGOVERNED.has(p.status)))
  );
}

/** The printed summary: per environment its counts and each distribution that is not admitted. */
export function formatScan(result: ScanResult, relative: (path: string) => string): string {
  const lines: string[] = [];
  const counts = (statuses: GovernanceStatus[]) => {
    const c = new Map<string, number>();
    for (const s of statuses) c.set(s, (c.get(s) ?? 0) + 1);
    return [...c.entries()].map(([s, n]) => `${n} ${s}`).join(", ");
  };
  for (const e of result.environments) {
    const env = e.environment;
    lines.push(
      `${env.kind} ${relative(env.path) || basename(env.path)}${env.pythonVersion ? ` (Python ${env.pythonVersion})` : ""}: ${e.distributions.length} distributions${e.distributions.length ? `: ${counts(e.distributions.map((d) => d.status))}` : ""}`,
    );
    for (const d of e.distributions)
      if (d.status !== "admitted" && d.status !== "unknown")
        lines.push(`  ${d.status.padEnd(14)} ${d.distribution.name}==${d.distribution.version}  ${d.reason}`);
    for (const p of e.problems) lines.push(`  unreadable     ${relative(p.location)}: ${p.message}`);
  }
  for (const m of result.manifests) {
    lines.push(
      `${m.kind} ${relative(m.path)}: ${m.pinned.length} pinned${m.pinned.length ? ` (${counts(m.pinned.map((p) => p.status))})` : ""}, ${m.unpinned} unpinned`,
    );
    for (const p of m.pinned)
      if (p.status !== "admitted" && p.status !== "unknown")
        lines.push(`  ${p.status.padEnd(14)} line ${p.line}: ${p.name}==${p.version}  ${p.reason}`);
    for (const problem of m.problems) lines.push(`  problem        ${problem}`);
  }
  const all = result.environments.flatMap((e) => e.distributions.map((d) => d.status));
  lines.push(
    "",
    `Scanned ${result.tree.directories} directories: ${result.environments.length} environments, ${all.length} distributions, ${result.manifests.length} manifests.`,
  );
  if (!result.checked)
    lines.push("Not checked against a catalog: give --gateway URL (or --data DIR) to judge them.");
  else
    lines.push(
      scanFailed(result)
        ? "UNGOVERNED: some distributions did not pass the gate."
        : "OK: everything scanned passed the gate.",
    );
  return lines.join("\n") + "\n";
}
