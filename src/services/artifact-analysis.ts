import { compareVersions } from "../domain/version.js";
import { readSdistMetadata, readWheelMetadata } from "../artifact/wheel-info.js";
import type { CheckResult, FileFacts } from "../policy/check.js";
import { analyzeArtifact, runArtifact, type ArtifactReport } from "../policy/checks/artifact/artifact.js";
import { determineLicence, type LicenceConfig, type LicenceInfo } from "../policy/checks/licence/licence.js";
import { runReleaseDrift } from "../policy/checks/release-drift/release-drift.js";

/**
 * The version of what analysis finds. Bump it whenever a change to the analysis (the archive
 * readers, the artifact check, metadata or licence reading) can find something the previous one
 * did not: reports made by an older analyser are then made again from the stored bytes (see
 * PolicyService.upgradeAnalyses), so a detection fix reaches files admitted before it.
 * 2: zip and tar readers refuse what CPython would read differently; startup code anywhere pip
 * installs it, RECORD checked, download-and-run code (2026-11-29).
 * 3: giant binary wheels read (files over 16 MiB in pieces; 4 GiB a file, 8 GiB and 100,000
 * files in all): torch, triton, jaxlib, libtpu, tensorflow-cpu, cmeel-boost and onnx, refused as
 * unreadable archives by version 2, are judged on what they hold (2026-11-30).
 */
export const ANALYSER_VERSION = 3;

/**
 * Everything the byte-stage checks need from one file, kept in the database so that re-judging
 * (new intel, a new policy) never needs the bytes again.
 */
export interface StoredArtifactReport {
  /** ANALYSER_VERSION of the analysis that made it; absent in reports made before versions. */
  analyser?: number;
  facts: FileFacts;
  artifact: ArtifactReport;
  licence: LicenceInfo;
  /** Core metadata the catalog shows and the resolver uses. */
  metadata?: { requiresDist: string[]; requiresPython?: string; summary?: string; license?: string };
  /** Why metadata could not be read, when it could not. */
  metadataError?: string;
}

/** Reads a stored distribution once: static analysis, its core metadata and licence. */
export async function analyzeDistribution(path: string, facts: FileFacts): Promise<StoredArtifactReport> {
  const artifact = await analyzeArtifact(path, facts.filename);
  let metadata: StoredArtifactReport["metadata"];
  let metadataError: string | undefined;
  let licence: LicenceInfo = { ids: [], source: "none" };
  try {
    const md = facts.filename.endsWith(".whl")
      ? (await readWheelMetadata(path, { filename: facts.filename })).metadata
      : (await readSdistMetadata(path, { filename: facts.filename })).metadata;
    metadata = {
      requiresDist: [...md.requiresDist],
      ...(md.requiresPython ? { requiresPython: md.requiresPython } : {}),
      ...(md.summary ? { summary: md.summary } : {}),
      ...(md.license ? { license: md.license.slice(0, 500) } : {}),
    };
    licence = determineLicence({
      ...(md.licenseExpression ? { licenseExpression: md.licenseExpression } : {}),
      ...(md.license ? { license: md.license } : {}),
      classifiers: [...md.classifiers],
    });
  } catch (err) {
    metadataError = (err as Error).message;
  }
  return {
    analyser: ANALYSER_VERSION,
    facts,
    artifact,
    licence,
    ...(metadata ? { metadata } : {}),
    ...(metadataError ? { metadataError } : {}),
  };
}

/** The byte-stage check results from a stored report (and the previous release's, for drift). */
export function runArtifactChecks(
  report: StoredArtifactReport,
  previous: { version: string; report: StoredArtifactReport } | undefined,
  config: {
    licence: LicenceConfig;
    drift: { "size-factor": number };
    runLicence: (info: LicenceInfo, config: LicenceConfig) => CheckResult;
  },
): CheckResult[] {
  return [
    runArtifact(report.artifact),
    config.runLicence(report.licence, config.licence),
    runReleaseDrift(
      { version: report.facts.version, shape: report.artifact.shape },
      previous ? { version: previous.version, shape: previous.report.artifact.shape } : undefined,
      config.drift,
    ),
  ];
}

/** A project's artifact reports, by file. */
export type ProjectReports = { sha256: string; version: string; report: StoredArtifactReport }[];

/** The newest earlier release of the project whose bytes were analysed, of the same kind. */
/** The newest earlier release of the project whose bytes were analysed, of the same kind. */
export function previousRelease(
  facts: FileFacts,
  reports: ProjectReports,
): { version: string; report: StoredArtifactReport } | undefined {
  // Shapes compare only like with like: a wheel with a wheel, an sdist with an sdist.
  const kind = facts.filename.endsWith(".whl") ? "wheel" : "sdist";
  const older = reports
    .filter((r) => compareVersions(r.version, facts.version) < 0)
    .filter((r) => (r.report.facts.filename.endsWith(".whl") ? "wheel" : "sdist") === kind)
    .sort((a, b) => compareVersions(b.version, a.version));
  return older[0] && { version: older[0].version, report: older[0].report };
}
