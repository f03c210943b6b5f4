/**
 * The upstream `portcullis demo` serves: a directory of real wheels, each showing one thing the
 * default policy does, plus the intel that makes the policy bite (a sample OSV advisory and a
 * small popular-names list). Everything is written locally, so the demo runs offline.
 *
 * | project          | version | mtime       | what the default policy does                       |
 * | ---------------- | ------- | ----------- | -------------------------------------------------- |
 * | `acme-core`      | 1.0     | 30 days ago | blocked: `DEMO-2026-1` (HIGH), fixed in 1.1        |
 * | `acme-core`      | 1.1     | 30 days ago | admitted                                           |
 * | `acme-reports`   | 1.0     | 30 days ago | admitted (needs `acme-core>=1`)                    |
 * | `acme-reports`   | 1.1     | 1 day ago   | quarantined: cooldown (7 days on `upload-time`)    |
 * | `reqeusts`       | 1.0     | 30 days ago | quarantined: typo-squat of `requests`              |
 * | `acme-telemetry` | 0.1     | 30 days ago | quarantined on its bytes: a `.pth` payload         |
 *
 * The ages are set with `utimes`: a directory upstream started with `upstream-mtime-upload-time`
 * reports each file's mtime as its PEP 700 `upload-time`, which the cooldown reads.
 */
import { mkdir, utimes, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { ImportReport, IntelService } from "../services/intel-service.js";
import { writeDemoWheel, type DemoWheelSpec } from "./demo-wheels.js";

const DAY = 24 * 3600 * 1000;

/** The sample advisory's id: not a real database's prefix, so it can never be mistaken for one. */
export const DEMO_ADVISORY_ID = "DEMO-2026-1";

export interface DemoUpstream {
  /** The directory to start the gateway on (`--upstream`). */
  dir: string;
  /** The sample OSV advisory (`<dir>/intel/DEMO-2026-1.json`). */
  advisory: string;
  /** The sample popular-names list (`<dir>/intel/popular.json`). */
  popular: string;
}

interface DemoRelease extends DemoWheelSpec {
  /** How long ago it was "uploaded" (the file's mtime). */
  ageDays: number;
}

const RELEASES: readonly DemoRelease[] = [
  {
    name: "acme-core",
    version: "1.0",
    summary: "Core helpers of the Acme report suite (demo).",
    ageDays: 30,
  },
  {
    name: "acme-core",
    version: "1.1",
    summary: "Core helpers of the Acme report suite (demo). Fixes DEMO-2026-1.",
    ageDays: 30,
  },
  {
    name: "acme-reports",
    version: "1.0",
    summary: "Reports on top of acme-core (demo).",
    requiresDist: ["acme-core>=1"],
    ageDays: 30,
  },
  {
    name: "acme-reports",
    version: "1.1",
    summary: "Reports on top of acme-core (demo), released yesterday.",
    requiresDist: ["acme-core>=1"],
    ageDays: 1,
  },
  {
    name: "reqeusts",
    version: "1.0",
    summary: "Not requests (demo typo-squat).",
    ageDays: 30,
  },
  {
    name: "acme-telemetry",
    version: "0.1",
    summary: "Usage statistics for Acme (demo): ships a .pth file that runs at every interpreter start.",
    ageDays: 30,
    files: {
      "acme_telemetry/__init__.py": "",
      // CPython `site`: a .pth line starting with `import` is executed at every interpreter start.
      // The payload is harmless (it prints one line to stderr), but it is shaped like the real
      // attacks: an exec of base64-decoded code.
      "acme_telemetry_init.pth": `import os, base64; exec(base64.b64decode("${Buffer.from(
        'import sys; sys.stderr.write("acme-telemetry: this .pth line ran at interpreter start\\n")',
      ).toString("base64")}"))\n`,
    },
  },
];

/**
 * A sample of the most-downloaded PyPI projects, in the format of hugovk's
 * `top-pypi-packages.json`. The names are real; the counts are rounded, illustrative figures.
 * A real site imports the full list (`portcullis intel import top-pypi-packages.json`).
 */
const POPULAR_SAMPLE: readonly [string, number][] = [
  ["boto3", 1_500_000_000],
  ["urllib3", 900_000_000],
  ["botocore", 850_000_000],
  ["requests", 800_000_000],
  ["setuptools", 750_000_000],
  ["certifi", 700_000_000],
  ["charset-normalizer", 650_000_000],
  ["idna", 640_000_000],
  ["typing-extensions", 630_000_000],
  ["python-dateutil", 560_000_000],
  ["packaging", 550_000_000],
  ["s3transfer", 540_000_000],
  ["numpy", 450_000_000],
  ["six", 440_000_000],
  ["pyyaml", 420_000_000],
  ["cryptography", 400_000_000],
  ["pydantic", 380_000_000],
  ["attrs", 350_000_000],
  ["pandas", 330_000_000],
  ["pip", 320_000_000],
];

/**
 * Writes the demo upstream into `dir` (created if needed; files of an earlier run are rewritten
 * and their ages reset).
 *
 * @example
 * const demo = await writeDemoUpstream(join(dataDir, "demo-upstream"));
 * // portcullis serve --upstream <demo.dir>; portcullis intel import <demo.advisory>
 */
export async function writeDemoUpstream(
  dir: string,
  options: { now?: () => number } = {},
): Promise<DemoUpstream> {
  const now = (options.now ?? Date.now)();
  const root = resolve(dir);
  await mkdir(root, { recursive: true });
  for (const release of RELEASES) {
    // A declared licence keeps the licence check quiet, so each release shows just its one finding.
    const path = await writeDemoWheel(root, { license: "MIT", ...release });
    const at = new Date(now - release.ageDays * DAY);
    await utimes(path, at, at);
  }

  const intelDir = join(root, "intel");
  await mkdir(intelDir, { recursive: true });
  const advisory = join(intelDir, `${DEMO_ADVISORY_ID}.json`);
  await writeFile(advisory, JSON.stringify(demoAdvisory(now), null, 2) + "\n");
  const popular = join(intelDir, "popular.json");
  const rows = POPULAR_SAMPLE.map(([project, download_count]) => ({ download_count, project }));
  await writeFile(
    popular,
    JSON.stringify(
      { last_update: new Date(now).toISOString(), note: "portcullis demo sample", rows },
      null,
      2,
    ) + "\n",
  );
  return { dir: root, advisory, popular };
}

/** The sample advisory, as an OSV record (OSV schema 1.6). */
function demoAdvisory(now: number): object {
  const published = new Date(now - 3 * DAY).toISOString().replace(/\.\d{3}Z$/, "Z");
  return {
    schema_version: "1.6.0",
    id: DEMO_ADVISORY_ID,
    published,
    modified: published,
    summary: "acme-core before 1.1 runs report templates as Python code (demo advisory)",
    details:
      "A sample advisory written by `portcullis demo`. acme-core 1.0 evaluates report templates " +
      "with eval(), so a crafted template runs arbitrary code. Fixed in 1.1.",
    affected: [
      {
        package: { ecosystem: "PyPI", name: "acme-core" },
        ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "1.1" }] }],
      },
    ],
    // GitHub's advisories carry their severity word here; the gateway reads it first.
    database_specific: { severity: "HIGH" },
  };
}

/**
 * Imports the demo intel: the popular-names sample (for the typo-squat check) and the sample
 * advisory. Callers refresh the policy afterwards (a running gateway also notices on its own).
 */
export async function importDemoIntel(intel: IntelService, demo: DemoUpstream): Promise<ImportReport[]> {
  return [
    await intel.importSource(demo.popular, { kind: "popular" }),
    await intel.importSource(demo.advisory, { kind: "osv" }),
  ];
}
