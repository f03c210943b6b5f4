/**
 * How fast the OSV index answers "is project==version affected?", against a naive scan.
 *
 * Loads the real PyPA advisory database and the malicious-package sample, builds 100,000
 * (project, version) pairs (half from advisory projects with versions the advisories name, half
 * popular projects from top-pypi-packages.json with made-up versions), and times:
 *   - OsvIndex.match, first pass (cold: every version string is parsed once) and warm passes;
 *   - a naive scan: every advisory checked per pair with the literal OSV algorithm, re-parsing every
 *     version on every comparison. It is timed on a slice of the pairs and reported per second.
 * Both must agree on that slice. Target: at least 100,000 pairs/s.
 *
 * Run: node --import tsx bench/intel-match.ts
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { advisoryAffects, OsvIndex } from "../src/intel/osv-index.js";
import { loadOsvSource } from "../src/intel/osv-source.js";
import { sharedDataDir } from "../test/helpers/shared-data.js";
import { seededRandom } from "./lib/seeded-random.js";

const PAIRS = 100_000;
const NAIVE_SLICE = 1_000;
const TARGET = 100_000;

const rate = (count: number, ms: number) => Math.round((count / ms) * 1000);
const fmt = (n: number) => n.toLocaleString("en");

async function main(): Promise<void> {
  const data = sharedDataDir();
  const index = new OsvIndex();
  const loadStart = performance.now();
  const reports = [
    await loadOsvSource(join(data, "osv", "pypa-advisory-database.zip"), index),
    await loadOsvSource(join(data, "osv", "ossf-malicious-pypi.zip"), index),
  ];
  const loadMs = performance.now() - loadStart;
  const stats = index.stats();
  console.log(
    `loaded ${fmt(stats.advisories)} advisories (${reports.reduce((n, r) => n + r.malformed, 0)} malformed) ` +
      `for ${fmt(stats.packages)} projects in ${loadMs.toFixed(0)} ms`,
  );

  const advisories = [...index.advisories()];
  const versionsByProject = new Map<string, Set<string>>();
  for (const advisory of advisories) {
    for (const pkg of advisory.packages) {
      const set = versionsByProject.get(pkg.name) ?? new Set<string>();
      for (const v of [...pkg.versions, ...pkg.fixed, ...pkg.lastAffected]) set.add(v);
      versionsByProject.set(pkg.name, set);
    }
  }
  const advisoryProjects = [...versionsByProject]
    .filter(([, versions]) => versions.size > 0)
    .map(([name, versions]) => [name, [...versions]] as const);
  const top = JSON.parse(await readFile(join(data, "top-pypi-packages.json"), "utf8")) as {
    rows: { project: string }[];
  };
  const popular = top.rows.map((row) => row.project);

  const random = seededRandom(440);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const pairs: [string, string][] = [];
  for (let i = 0; i < PAIRS; i++) {
    if (i % 2 === 0) {
      const [name, versions] = pick(advisoryProjects);
      pairs.push([name, pick(versions)]);
    } else {
      const version = `${Math.floor(random() * 5)}.${Math.floor(random() * 40)}.${Math.floor(random() * 10)}`;
      pairs.push([pick(popular), version]);
    }
  }

  let hits = 0;
  let started = performance.now();
  for (const [project, version] of pairs) hits += index.match(project, version).length;
  const coldMs = performance.now() - started;

  const warmRates: number[] = [];
  for (let round = 0; round < 5; round++) {
    started = performance.now();
    for (const [project, version] of pairs) index.match(project, version);
    warmRates.push(rate(pairs.length, performance.now() - started));
  }
  const warm = warmRates.sort((a, b) => a - b)[Math.floor(warmRates.length / 2)]!;

  const slice = pairs.slice(0, NAIVE_SLICE);
  const naiveAnswers: string[][] = [];
  started = performance.now();
  for (const [project, version] of slice) {
    naiveAnswers.push(advisories.filter((a) => advisoryAffects(a, project, version)).map((a) => a.id));
  }
  const naive = rate(slice.length, performance.now() - started);
  slice.forEach(([project, version], i) => {
    const fromIndex = index
      .match(project, version)
      .map((a) => a.id)
      .sort();
    if (fromIndex.join() !== naiveAnswers[i]!.sort().join()) {
      throw new Error(`index and naive scan disagree on ${project}==${version}`);
    }
  });

  console.log(`pairs: ${fmt(pairs.length)} (${fmt(hits)} advisory hits)`);
  console.log(`OsvIndex, first pass: ${fmt(rate(pairs.length, coldMs))} pairs/s`);
  console.log(`OsvIndex, warm (median of 5): ${fmt(warm)} pairs/s`);
  console.log(`naive scan (${fmt(slice.length)} pairs, agrees with the index): ${fmt(naive)} pairs/s`);
  console.log(`ratio warm/naive: ${fmt(Math.round(warm / naive))}x`);
  console.log(`target ${fmt(TARGET)} pairs/s: ${warm >= TARGET ? "met" : "NOT met"}`);
}

await main();
