/**
 * Static-analysis throughput: MB of uncompressed wheel content analysed per second by
 * `analyzeArtifact`, against a baseline that only inflates every entry with the same reader.
 *
 * Run: node --import tsx bench/static-analysis.ts [targetMB=500] [rounds=2]
 * Data: the wheels in /opt/pypi/files (name order, each under 64 MiB uncompressed, until targetMB),
 * else $PORTCULLIS_SHARED_DATA/wheels (../shared/data next to the repository) and Debian's
 * /usr/share/python-wheels; PORTCULLIS_BENCH_DIRS (colon-separated) picks the directories instead. Each round runs the baseline and then the analysis over every wheel;
 * the best round of each counts, so both see a warm page cache.
 */

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isArchiveError } from "../src/artifact/archive-limits.js";
import { openArchive } from "../src/artifact/open-archive.js";
import { analyzeArtifact } from "../src/policy/checks/artifact/artifact.js";

const MiB = 1024 * 1024;
const targetBytes = Number(process.argv[2] ?? 500) * 1e6;
const rounds = Number(process.argv[3] ?? 2);
const maxWheelBytes = 64 * MiB;

const sharedData =
  process.env.PORTCULLIS_SHARED_DATA ?? fileURLToPath(new URL("../../shared/data", import.meta.url));
const mirror = "/opt/pypi/files";
const dirs = process.env.PORTCULLIS_BENCH_DIRS
  ? process.env.PORTCULLIS_BENCH_DIRS.split(":")
  : existsSync(mirror)
    ? [mirror]
    : [join(sharedData, "wheels"), "/usr/share/python-wheels"].filter((dir) => existsSync(dir));

interface Wheel {
  path: string;
  filename: string;
  /** Declared uncompressed bytes of all entries. */
  bytes: number;
  pure: boolean;
}

/** Declared uncompressed size, from the listing alone; `undefined` when the reader refuses it. */
async function declaredSize(path: string): Promise<number | undefined> {
  try {
    const archive = await openArchive(path);
    try {
      return archive.entries().reduce((sum, entry) => sum + entry.size, 0);
    } finally {
      await archive.close();
    }
  } catch (err) {
    if (isArchiveError(err)) return undefined;
    throw err;
  }
}

const wheels: Wheel[] = [];
let selected = 0;
for (const dir of dirs) {
  for (const filename of readdirSync(dir).sort()) {
    if (!filename.endsWith(".whl") || selected >= targetBytes) continue;
    const path = join(dir, filename);
    const bytes = await declaredSize(path);
    if (bytes === undefined || bytes > maxWheelBytes) continue;
    wheels.push({ path, filename, bytes, pure: filename.endsWith("-any.whl") });
    selected += bytes;
  }
}
if (wheels.length === 0) {
  console.error("no wheels found");
  process.exit(1);
}

/** Inflates every entry and touches nothing else. */
async function inflateOnly(wheel: Wheel): Promise<void> {
  try {
    const archive = await openArchive(wheel.path);
    try {
      let sink = 0;
      await archive.forEachFile((_entry, data) => {
        sink += data.length;
      });
      if (sink < 0) console.log(sink);
    } finally {
      await archive.close();
    }
  } catch (err) {
    if (!isArchiveError(err)) throw err;
  }
}

let scannedText = 0;
let findings = 0;
async function analyse(wheel: Wheel): Promise<void> {
  const report = await analyzeArtifact(wheel.path, wheel.filename);
  scannedText = report.scannedTextBytes;
  findings += report.findings.length;
}

interface Timing {
  all: number;
  pure: number;
}

async function timeRound(run: (wheel: Wheel) => Promise<void>): Promise<Timing> {
  const timing: Timing = { all: 0, pure: 0 };
  for (const wheel of wheels) {
    const start = performance.now();
    await run(wheel);
    const ms = performance.now() - start;
    timing.all += ms;
    if (wheel.pure) timing.pure += ms;
  }
  return timing;
}

const best = (a: Timing | undefined, b: Timing): Timing =>
  a === undefined ? b : { all: Math.min(a.all, b.all), pure: Math.min(a.pure, b.pure) };

let baseline: Timing | undefined;
let analysis: Timing | undefined;
let textBytes = 0;
for (let round = 0; round < rounds; round++) {
  baseline = best(baseline, await timeRound(inflateOnly));
  findings = 0;
  textBytes = 0;
  analysis = best(
    analysis,
    await timeRound(async (wheel) => {
      await analyse(wheel);
      textBytes += scannedText;
    }),
  );
}

const totalBytes = wheels.reduce((sum, w) => sum + w.bytes, 0);
const pureBytes = wheels.filter((w) => w.pure).reduce((sum, w) => sum + w.bytes, 0);
const rate = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000);
const fmt = (n: number): string => n.toFixed(1).padStart(8);

console.log(`source: ${dirs.join(", ")}`);
console.log(
  `wheels: ${wheels.length} (${wheels.filter((w) => w.pure).length} pure), ` +
    `${(totalBytes / 1e6).toFixed(1)} MB uncompressed (${(pureBytes / 1e6).toFixed(1)} MB in pure wheels), ` +
    `${(textBytes / 1e6).toFixed(1)} MB of text scanned, ${findings} findings; best of ${rounds} rounds`,
);
console.log(`                        all MB/s   pure MB/s`);
console.log(
  `baseline (inflate)     ${fmt(rate(totalBytes, baseline!.all))}   ${fmt(rate(pureBytes, baseline!.pure))}`,
);
console.log(
  `analyzeArtifact        ${fmt(rate(totalBytes, analysis!.all))}   ${fmt(rate(pureBytes, analysis!.pure))}`,
);
console.log(
  `analysis / baseline time: ${(analysis!.all / baseline!.all).toFixed(2)}x all, ` +
    `${(analysis!.pure / baseline!.pure).toFixed(2)}x pure`,
);
const achieved = rate(totalBytes, analysis!.all);
console.log(`target >= 50 MB/s: ${achieved >= 50 ? "met" : "MISSED"} (${achieved.toFixed(1)} MB/s)`);
