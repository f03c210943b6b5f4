/**
 * Release drift: how a release differs in shape from the project's previous one. Hijacked releases
 * tend to look unlike their predecessors: LiteLLM 1.82.8 added a `.pth` file that no earlier
 * release had, and was uploaded without the trusted-publisher provenance its predecessors carried.
 * A pure function of two shapes (from `analyzeArtifact`) and their provenance, so it can be
 * re-run over the catalogue whenever the policy changes.
 */
import type { CheckResult, Evidence, Finding, Severity } from "../../check.js";
import type { RuleConfig } from "../../policy-schema.js";
import { shadowedCommand, type ArtifactShape } from "../artifact/artifact.js";

/**
 * Who published a release, as the caller knows it. Data-driven so that PEP 740 attestations plug in
 * without changing this check: `publisher` is any stable identity string, e.g. the Trusted
 * Publisher `github:pypa/pip/.github/workflows/release.yml`. Absent means "no provenance".
 */
export interface ReleaseProvenance {
  publisher?: string;
}

/** One release as the check compares it: its version, the shape of its file, its provenance. */
export interface ReleaseSnapshot {
  version: string;
  shape: ArtifactShape;
  provenance?: ReleaseProvenance;
}

export type ReleaseDriftConfig = Pick<RuleConfig<"release-drift">, "size-factor">;

const SEVERITY_RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };
const MAX_EVIDENCE = 10;

/**
 * The `release-drift` check: compares a release with the previous release of the same project
 * (the caller picks it: the latest admitted version before this one, same distribution kind).
 *
 * - `new-pth` (high): a `.pth` file the previous release did not have.
 * - `new-top-level` (medium): a new top-level module; low when an old one disappeared in exchange
 *   (a rename).
 * - `size-jump` (medium): the uncompressed size grew by more than `size-factor` times.
 * - `provenance-vanished` (high): the previous release named a publisher, this one none.
 * - `publisher-changed` (high): both name a publisher, and not the same one.
 * - `new-entry-point` (low): new entry points, noting those that shadow common commands.
 *
 * `fail` on a high finding, `warn` on a medium one, `pass` otherwise; without a previous release,
 * `pass` with "first release seen".
 *
 * @example
 * runReleaseDrift(
 *   { version: "1.82.8", shape: current.shape },
 *   { version: "1.82.7", shape: previous.shape, provenance: { publisher: "github:BerriAI/litellm" } },
 *   { "size-factor": 3 },
 * ); // fail: new-pth litellm_init.pth, provenance-vanished
 */
export function runReleaseDrift(
  current: ReleaseSnapshot,
  previous: ReleaseSnapshot | undefined,
  config: ReleaseDriftConfig,
): CheckResult {
  const check = "release-drift";
  if (previous === undefined) {
    return { check, status: "pass", message: "first release seen", findings: [] };
  }
  const was = previous.version;
  const findings: Finding[] = [
    ...newPthFiles(current.shape, previous.shape, was),
    ...newTopLevel(current.shape, previous.shape, was),
    ...sizeJump(current.shape, previous.shape, config["size-factor"], was),
    ...provenanceDrift(current.provenance, previous.provenance, was),
    ...newEntryPoints(current.shape, previous.shape, was),
  ];
  findings.sort((a, b) => SEVERITY_RANK[b.severity ?? "medium"] - SEVERITY_RANK[a.severity ?? "medium"]);
  const worst = findings[0]?.severity;
  const status = worst === "high" || worst === "critical" ? "fail" : worst === "medium" ? "warn" : "pass";
  const message =
    findings.length === 0
      ? `${current.version} has the shape of ${previous.version}`
      : `${current.version} differs from ${previous.version}: ${findings.map((f) => f.message).join("; ")}`;
  return { check, status, message, findings };
}

function added(current: readonly string[], previous: readonly string[]): string[] {
  const before = new Set(previous);
  return current.filter((name) => !before.has(name));
}

function newPthFiles(current: ArtifactShape, previous: ArtifactShape, was: string): Finding[] {
  return added(current.pthFiles, previous.pthFiles).map((file) => ({
    kind: "new-pth",
    message: `new .pth file ${file}, which runs at every interpreter start`,
    severity: "high",
    evidence: [{ file, detail: `not in ${was}` }],
  }));
}

/**
 * New top-level names. As many as disappeared are taken for renames, each paired with the most
 * similar vanished name, and are low; the rest are medium.
 */
function newTopLevel(current: ArtifactShape, previous: ArtifactShape, was: string): Finding[] {
  const appeared = added(current.topLevel, previous.topLevel);
  const vanished = added(previous.topLevel, current.topLevel);
  if (appeared.length === 0) return [];
  const renames: Evidence[] = [];
  const fresh: Evidence[] = [];
  const candidates = [...vanished];
  const pairs = appeared
    .flatMap((name) => candidates.map((old) => ({ name, old, distance: editDistance(name, old) })))
    .sort((a, b) => a.distance - b.distance || a.name.localeCompare(b.name));
  const renamed = new Map<string, string>();
  const used = new Set<string>();
  for (const pair of pairs) {
    if (renamed.has(pair.name) || used.has(pair.old)) continue;
    renamed.set(pair.name, pair.old);
    used.add(pair.old);
  }
  for (const name of appeared) {
    const old = renamed.get(name);
    if (old !== undefined) renames.push({ detail: `${name} replaces ${old}` });
    else fresh.push({ detail: name });
  }
  const findings: Finding[] = [];
  if (fresh.length > 0) {
    findings.push({
      kind: "new-top-level",
      message: `new top-level module${fresh.length === 1 ? "" : "s"} ${list(fresh.map((e) => e.detail!))} since ${was}`,
      severity: "medium",
      evidence: fresh.slice(0, MAX_EVIDENCE),
    });
  }
  if (renames.length > 0) {
    findings.push({
      kind: "new-top-level",
      message: `top-level module${renames.length === 1 ? "" : "s"} renamed: ${list(renames.map((e) => e.detail!))}`,
      severity: "low",
      evidence: renames.slice(0, MAX_EVIDENCE),
    });
  }
  return findings;
}

function sizeJump(current: ArtifactShape, previous: ArtifactShape, factor: number, was: string): Finding[] {
  const before = previous.totalUncompressed;
  const after = current.totalUncompressed;
  if (before <= 0 || after <= before * factor) return [];
  return [
    {
      kind: "size-jump",
      message: `the release grew ${(after / before).toFixed(1)} times since ${was} (${before} to ${after} bytes uncompressed)`,
      severity: "medium",
      evidence: [{ detail: `${before} → ${after} bytes; the limit is ${factor} times` }],
    },
  ];
}

function provenanceDrift(
  current: ReleaseProvenance | undefined,
  previous: ReleaseProvenance | undefined,
  was: string,
): Finding[] {
  const before = previous?.publisher?.trim() || undefined;
  const after = current?.publisher?.trim() || undefined;
  if (before === undefined) return [];
  if (after === undefined) {
    return [
      {
        kind: "provenance-vanished",
        message: `no publisher provenance, although ${was} was published by ${before}`,
        severity: "high",
        evidence: [{ detail: `previous publisher: ${before}` }],
      },
    ];
  }
  if (after === before) return [];
  return [
    {
      kind: "publisher-changed",
      message: `published by ${after}, while ${was} was published by ${before}`,
      severity: "high",
      evidence: [{ detail: `${before} → ${after}` }],
    },
  ];
}

function newEntryPoints(current: ArtifactShape, previous: ArtifactShape, was: string): Finding[] {
  const appeared = added(current.entryPoints, previous.entryPoints);
  if (appeared.length === 0) return [];
  const evidence = appeared.map((entryPoint): Evidence => {
    const name = entryPoint.slice(entryPoint.indexOf(":") + 1);
    const command = /^(?:console_scripts|gui_scripts|scripts):/.test(entryPoint)
      ? shadowedCommand(name)
      : undefined;
    return { detail: command === undefined ? entryPoint : `${entryPoint} (shadows ${command})` };
  });
  return [
    {
      kind: "new-entry-point",
      message: `new entry point${appeared.length === 1 ? "" : "s"} ${list(evidence.map((e) => e.detail!))} since ${was}`,
      severity: "low",
      evidence: evidence.slice(0, MAX_EVIDENCE),
    },
  ];
}

function list(names: readonly string[]): string {
  return names.length <= 3
    ? names.join(", ")
    : `${names.slice(0, 3).join(", ")} and ${names.length - 3} more`;
}

/** Levenshtein distance; names are short. */
function editDistance(a: string, b: string): number {
  let previousRow = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        previousRow[j]! + 1,
        row[j - 1]! + 1,
        previousRow[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previousRow = row;
  }
  return previousRow[b.length]!;
}
