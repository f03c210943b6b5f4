/**
 * Typo-squat detector speed: time per check against the full popular list, compared with a naive
 * scan that computes a full Damerau-Levenshtein (OSA) matrix against every popular name.
 *
 * Run: node --import tsx bench/typosquat.ts [checks=10000] [baselineChecks=300]
 * Data: $PORTCULLIS_SHARED_DATA, else ../shared/data next to the repository.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadPopularProjects } from "../src/policy/checks/typosquat/popular-names.js";
import { createTyposquatDetector } from "../src/policy/checks/typosquat/typosquat.js";

const sharedData =
  process.env.PORTCULLIS_SHARED_DATA ?? fileURLToPath(new URL("../../shared/data", import.meta.url));
const checks = Number(process.argv[2] ?? 10_000);
const baselineChecks = Number(process.argv[3] ?? 300);

/** Deterministic PRNG (mulberry32) so runs compare like with like. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Three reusable rows, so the baseline pays for the distance itself, not for allocation.
const rows = [new Int32Array(1024), new Int32Array(1024), new Int32Array(1024)] as const;

/** Full OSA distance: every cell of the matrix, no band and no early exit. The baseline. */
function naiveOsa(a: string, b: string): number {
  let [before, prev, cur] = rows;
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, before[j - 2]! + 1);
      cur[j] = v;
    }
    [before, prev, cur] = [prev, cur, before];
  }
  return prev[b.length]!;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function timeEach(inputs: readonly string[], fn: (name: string) => unknown): number[] {
  const micros: number[] = [];
  for (const name of inputs) {
    const start = process.hrtime.bigint();
    fn(name);
    micros.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  return micros.sort((x, y) => x - y);
}

const popular = await loadPopularProjects(join(sharedData, "top-pypi-packages.json"));
const malicious = readFileSync(join(sharedData, "osv", "ossf-malicious-pypi-names.jsonl"), "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => (JSON.parse(line) as { name: string }).name);

const buildStart = process.hrtime.bigint();
const detector = createTyposquatDetector({ popular });
const buildMs = Number(process.hrtime.bigint() - buildStart) / 1e6;

// A mix: 40% malicious names, 30% popular names, 30% random strings of 3-24 characters.
const random = prng(20260401);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-";
const randomName = (): string => {
  const length = 3 + Math.floor(random() * 22);
  let s = pick([..."abcdefghijklmnopqrstuvwxyz"]);
  while (s.length < length) s += pick([...alphabet]);
  return s.replace(/-+$/, "") || "x";
};
const inputs: string[] = [];
for (let i = 0; i < checks; i++) {
  const r = random();
  inputs.push(r < 0.4 ? pick(malicious) : r < 0.7 ? pick(popular).name : randomName());
}

timeEach(inputs, (name) => detector.check(name)); // warm the JIT
const fast = timeEach(inputs, (name) => detector.check(name));
const flagged = inputs.filter((name) => detector.check(name) !== null).length;

const names = popular.map((p) => p.name);
const baselineInputs = inputs.slice(0, baselineChecks);
const naive = timeEach(baselineInputs, (name) => {
  const lower = name.toLowerCase();
  let best = Infinity;
  for (const target of names) if (target !== lower) best = Math.min(best, naiveOsa(lower, target));
  return best;
});

const fmt = (n: number): string => n.toFixed(1).padStart(9);
console.log(`popular names: ${detector.size}, detector built in ${buildMs.toFixed(0)} ms`);
console.log(`checks: ${inputs.length} (flagged ${flagged}), baseline checks: ${baselineInputs.length}`);
console.log(`                      median µs   p99 µs    mean µs`);
const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
console.log(
  `detector           ${fmt(percentile(fast, 50))} ${fmt(percentile(fast, 99))} ${fmt(mean(fast))}`,
);
console.log(
  `naive full-scan DL ${fmt(percentile(naive, 50))} ${fmt(percentile(naive, 99))} ${fmt(mean(naive))}`,
);
console.log(`speed-up (median): ${(percentile(naive, 50) / percentile(fast, 50)).toFixed(0)}x`);
console.log(`target < 1000 µs median: ${percentile(fast, 50) < 1000 ? "met" : "MISSED"}`);
