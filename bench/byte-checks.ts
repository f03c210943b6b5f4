/**
 * How long the gateway takes to judge a ~10 MB wheel on its bytes, from a local directory upstream:
 * the index (`ProjectIndexService.getRawProject`, which lists and hashes the directory's files) and
 * `FileAccessService.open` (download into the blob store, sha256 verification, static analysis and
 * metadata through `analyzeDistribution`, then `PolicyService.judgeFile` and the stored decision).
 * Baseline: a plain copy of the same files with sha256 and fsync (what the blob store does, minus
 * the checks).
 *
 * Data: 20 wheels (10 projects, two releases each, so release drift has a previous release to
 * compare with), each distinct: ~500 generated Python modules (~12 MB of source, compressing as
 * source does), ~5 MB of random binary data (incompressible) and ~1 MB of float32 tables (barely
 * compressible), sizes varied by ±15%, so each wheel is 9-11 MB. The real PyPA advisory database
 * and the top-pypi-packages list are imported first, so the vulnerability and typosquat checks
 * run against realistic intel.
 *
 * Target: p95 of index + open under 2 s. A benchmark, not a test: it prints PASS/FAIL and exits 0
 * unless it could not run.
 *
 * Run: node --import tsx bench/byte-checks.ts [--wheels 20] [--keep]
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config/options.js";
import { buildServices } from "../src/main.js";
import { analyzeDistribution } from "../src/services/artifact-analysis.js";
import { GatewayError } from "../src/services/gateway-error.js";
import { sharedDataDir } from "../test/helpers/shared-data.js";
import { writeWheel } from "../test/helpers/wheel-builder.js";
import { seededRandom } from "./lib/seeded-random.js";

const TARGET_MS = 2000;
const MiB = 1024 * 1024;

const { values: args } = parseArgs({
  options: {
    wheels: { type: "string", default: "20" },
    keep: { type: "boolean", default: false },
  },
});

const SYLLABLES = (
  "ab ac al an ar ba be ca co da de di el en er fa fi ga ge ha in is ka la le li lo ma me mi na ne " +
  "no on or pa pe po ra re ri ro sa se si so ta te ti to un ur va ve vi xa ze zo tr st qu ch sh th"
).split(" ");
const STDLIB = ["os", "re", "json", "math", "typing", "functools", "itertools", "collections", "dataclasses"];

/** A vocabulary of pseudo-words, different for every wheel. */
function vocabulary(random: () => number, size: number): string[] {
  const words = new Set<string>();
  while (words.size < size) {
    const n = 2 + Math.floor(random() * 3);
    words.add(Array.from({ length: n }, () => SYLLABLES[Math.floor(random() * SYLLABLES.length)]).join(""));
  }
  return [...words];
}

/** A plausible, harmless Python module of about `target` bytes. */
function pythonModule(random: () => number, words: readonly string[], target: number): string {
  const w = () => words[Math.floor(random() * words.length)]!;
  const num = () => (random() < 0.5 ? String(Math.floor(random() * 1000)) : (random() * 100).toFixed(3));
  const ident = () => (random() < 0.6 ? `${w()}_${w()}` : w());
  const sentence = (n: number) => Array.from({ length: n }, w).join(" ");
  const out: string[] = [`"""${sentence(6)}.\n\n${sentence(18)}.\n"""`];
  for (const mod of STDLIB) if (random() < 0.4) out.push(`import ${mod}`);
  out.push(`from .${w()} import ${ident()}, ${ident()}`, "");
  out.push(`${ident().toUpperCase()} = ${num()}`, `${ident().toUpperCase()} = "${sentence(3)}"`, "");
  let size = out.join("\n").length;
  while (size < target) {
    const block: string[] = [];
    if (random() < 0.3) {
      const cls = w()[0]!.toUpperCase() + w().slice(1) + w();
      block.push(`class ${cls}:`, `    """${sentence(8)}."""`, "");
      block.push(`    def __init__(self, ${ident()}=None, ${ident()}=${num()}):`);
      for (let i = 0; i < 3; i++) block.push(`        self.${ident()} = ${random() < 0.5 ? num() : "None"}`);
      for (let m = 0, methods = 1 + Math.floor(random() * 4); m < methods; m++) {
        const a = ident();
        block.push("", `    def ${ident()}(self, ${a}):`, `        # ${sentence(7)}`);
        block.push(`        if ${a} is None:`, `            return self.${ident()}`);
        block.push(`        return [x * ${num()} for x in ${a} if x > ${num()}]`);
      }
    } else {
      const [a, b, c] = [ident(), ident(), ident()];
      block.push(`def ${ident()}(${a}, ${b}=${num()}, *, ${c}="${w()}"):`);
      block.push(`    """${sentence(10)}.`, "", `    Args:`, `        ${a}: ${sentence(5)}.`, `    """`);
      for (let i = 0, lines = 2 + Math.floor(random() * 8); i < lines; i++) {
        const roll = random();
        if (roll < 0.3) block.push(`    ${ident()} = ${a} + ${b} * ${num()}`);
        else if (roll < 0.5)
          block.push(`    for ${w()} in range(${num().split(".")[0]}):`, `        ${b} += ${num()}`);
        else if (roll < 0.7)
          block.push(`    if ${c} == "${w()}":`, `        raise ValueError("${sentence(4)}")`);
        else if (roll < 0.85) block.push(`    # ${sentence(9)}`);
        else block.push(`    ${ident()} = {"${w()}": ${num()}, "${w()}": "${sentence(2)}"}`);
      }
      block.push(`    return ${a}`);
    }
    block.push("", "");
    const text = block.join("\n");
    out.push(text);
    size += text.length + 1;
  }
  return out.join("\n");
}

/** float32 tables: smooth curves plus noise, which deflate barely shrinks. */
function floatTable(random: () => number, bytes: number): Buffer {
  const values = new Float32Array(Math.floor(bytes / 4));
  const freq = 0.001 + random() * 0.01;
  for (let i = 0; i < values.length; i++) values[i] = Math.sin(i * freq) * 3 + (random() - 0.5) * 0.1;
  return Buffer.from(values.buffer);
}

interface BuiltWheel {
  project: string;
  version: string;
  filename: string;
  path: string;
  size: number;
  uncompressed: number;
  sha256: string;
}

async function buildBenchWheel(dir: string, index: number): Promise<BuiltWheel> {
  const random = seededRandom(1000 + index);
  const projectIndex = Math.floor(index / 2);
  const namer = seededRandom(50 + projectIndex);
  const project = `bytebench-${vocabulary(namer, 1)[0]}-${projectIndex}`;
  const version = index % 2 === 0 ? "1.0.0" : "1.1.0";
  const module = project.replace(/-/g, "_");
  const words = vocabulary(random, 600);
  const scale = 0.85 + random() * 0.3;
  const files: Record<string, string | Buffer> = {};
  let textBytes = 0;
  let dirIndex = 0;
  for (let i = 0; textBytes < 12 * MiB * scale; i++) {
    if (i % 40 === 0) dirIndex++;
    const text = pythonModule(random, words, 8_000 + random() * 40_000);
    files[`${module}/${words[dirIndex]}/${words[(i * 7) % words.length]}_${i}.py`] = text;
    textBytes += text.length;
  }
  files[`${module}/__init__.py`] = `"""${project}."""\n__version__ = "${version}"\n`;
  for (let i = 0, binary = 5 * MiB * scale; i < 5; i++)
    files[`${module}/data/blob_${i}.bin`] = randomBytes(Math.floor(binary / 5));
  files[`${module}/data/tables.f32`] = floatTable(random, Math.floor(1 * MiB * scale));
  const uncompressed = Object.values(files).reduce((n, f) => n + Buffer.byteLength(f), 0);
  const built = await writeWheel(dir, {
    name: project,
    version,
    files,
    summary: `Benchmark wheel ${index}`,
    requiresPython: ">=3.9",
    requiresDist: ["requests>=2.31", "attrs"],
    metadataExtra:
      "Classifier: License :: OSI Approved :: MIT License\nClassifier: Programming Language :: Python :: 3\n",
  });
  return {
    project,
    version,
    filename: built.filename,
    path: built.path,
    size: built.bytes.length,
    uncompressed,
    sha256: built.sha256,
  };
}

/** The baseline: read, sha256, write and fsync one file. */
async function copyAndHash(src: string, dst: string): Promise<string> {
  const hash = createHash("sha256");
  const out = await open(dst, "w");
  try {
    for await (const chunk of createReadStream(src, { highWaterMark: 256 * 1024 })) {
      hash.update(chunk as Buffer);
      await out.write(chunk as Buffer);
    }
    await out.sync();
  } finally {
    await out.close();
  }
  return hash.digest("hex");
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank.
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const ms = (value: number) => `${value.toFixed(0)} ms`;
const MB = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const summary = (values: readonly number[]) =>
  `p50 ${ms(percentile(values, 50)).padStart(8)}  p95 ${ms(percentile(values, 95)).padStart(8)}  ` +
  `max ${ms(Math.max(...values)).padStart(8)}`;
const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");

async function main(): Promise<void> {
  const count = Number(args.wheels);
  if (!Number.isInteger(count) || count <= 0) throw new Error("--wheels must be a positive integer");
  let uptime: string;
  try {
    uptime = execFileSync("uptime", { encoding: "utf8" }).trim();
  } catch {
    uptime = `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(", ")}`;
  }
  console.log(`byte-check benchmark: ${count} wheels of ~10 MB from a directory upstream (${uptime})`);

  const tmp = mkdtempSync(join(tmpdir(), "portcullis-bench-bytes-"));
  const wheelDir = join(tmp, "wheels");
  const copyDir = join(tmp, "copy");
  const dataDir = join(tmp, "data");
  mkdirSync(copyDir, { recursive: true });
  let services: Awaited<ReturnType<typeof buildServices>> | undefined;
  try {
    const buildStart = performance.now();
    const wheels: BuiltWheel[] = [];
    for (let i = 0; i < count; i++) wheels.push(await buildBenchWheel(wheelDir, i));
    const total = wheels.reduce((n, w) => n + w.size, 0);
    const inflated = wheels.reduce((n, w) => n + w.uncompressed, 0);
    console.log(
      `built ${count} wheels in ${ms(performance.now() - buildStart)}: ${MB(Math.min(...wheels.map((w) => w.size)))}` +
        `-${MB(Math.max(...wheels.map((w) => w.size)))} each, ${MB(total)} in all, ${MB(inflated)} inflated ` +
        `(ratio ${(inflated / total).toFixed(2)})`,
    );

    // Baseline first: both see the wheels just written, in the page cache.
    const copyMs: number[] = [];
    for (const wheel of wheels) {
      const t0 = performance.now();
      const digest = await copyAndHash(wheel.path, join(copyDir, wheel.filename));
      copyMs.push(performance.now() - t0);
      if (digest !== wheel.sha256) throw new Error(`copy of ${wheel.filename} hashed differently`);
    }

    const config = loadConfig({ flags: { data: dataDir, upstream: wheelDir, logLevel: "silent" }, env: {} });
    services = await buildServices(config);
    const intelStart = performance.now();
    const advisories = await services.intel.importSource(
      join(sharedDataDir(), "osv", "pypa-advisory-database.zip"),
    );
    const popular = await services.intel.importSource(join(sharedDataDir(), "top-pypi-packages.json"));
    await services.policy.refresh();
    console.log(
      `imported ${advisories.added} real advisories and ${popular.added} popular names in ` +
        `${ms(performance.now() - intelStart)} (not timed below)`,
    );

    const indexMs: number[] = [];
    const openMs: number[] = [];
    const totalMs: number[] = [];
    const outcomes = new Map<string, number>();
    const findings = new Set<string>();
    console.log(
      `\n  ${"wheel".padEnd(52)} ${"size".padStart(8)} ${"index".padStart(8)} ${"open".padStart(8)} ${"total".padStart(8)}  decision`,
    );
    for (const wheel of wheels) {
      const t0 = performance.now();
      const view = await services.projects.getRawProject(wheel.project);
      const served = view?.files.find((f) => f.filename === wheel.filename);
      if (!served) throw new Error(`the upstream does not list ${wheel.filename}`);
      if (served.sha256 !== wheel.sha256)
        throw new Error(`the upstream hashed ${wheel.filename} differently`);
      const t1 = performance.now();
      let refusal = "";
      try {
        await services.access.open(served.sha256, served.filename);
      } catch (err) {
        if (!(err instanceof GatewayError) || err.code !== "POLICY_REFUSED") throw err;
        refusal = " (refused)";
      }
      const t2 = performance.now();
      indexMs.push(t1 - t0);
      openMs.push(t2 - t1);
      totalMs.push(t2 - t0);
      const decision = await services.decisions.get(served.sha256);
      const outcome = decision ? `${decision.outcome} ${decision.stage} score ${decision.score}` : "none";
      const warnings = (decision?.reasons ?? [])
        .filter((r) => r.outcome !== "pass")
        .map((r) => r.check)
        .join(",");
      for (const r of decision?.reasons ?? [])
        if (r.outcome !== "pass") findings.add(`${r.check} ${r.outcome}: ${r.message}`.slice(0, 160));
      outcomes.set(decision?.outcome ?? "none", (outcomes.get(decision?.outcome ?? "none") ?? 0) + 1);
      console.log(
        `  ${wheel.filename.padEnd(52)} ${MB(wheel.size).padStart(8)} ${ms(t1 - t0).padStart(8)} ` +
          `${ms(t2 - t1).padStart(8)} ${ms(t2 - t0).padStart(8)}  ${outcome}${refusal}${warnings ? ` [${warnings}]` : ""}`,
      );
    }

    // The analysis share of `open`: analyzeDistribution alone on the same files, after the runs
    // above (the page cache is as warm as for them).
    const analyzeMs: number[] = [];
    for (const wheel of wheels) {
      const t0 = performance.now();
      await analyzeDistribution(wheel.path, {
        project: wheel.project,
        version: wheel.version,
        filename: wheel.filename,
        sha256: wheel.sha256,
        yanked: false,
      });
      analyzeMs.push(performance.now() - t0);
    }

    const p95Total = percentile(totalMs, 95);
    const p95Open = percentile(openMs, 95);
    const p95Copy = percentile(copyMs, 95);
    const sum = (values: readonly number[]) => values.reduce((n, v) => n + v, 0);
    console.log(`\nper wheel (${count} wheels, ${MB(total / count)} average):`);
    console.log(`  index + open        ${summary(totalMs)}`);
    console.log(`  index (list + hash) ${summary(indexMs)}`);
    console.log(`  open                ${summary(openMs)}   (fetch + verify + byte checks + decision)`);
    console.log(
      `  analyzeDistribution ${summary(analyzeMs)}   (alone, afterwards: the analysis share of open)`,
    );
    console.log(`  baseline copy+sha256+fsync ${summary(copyMs)}`);
    console.log(
      `  ratio to baseline: index + open ${(p95Total / p95Copy).toFixed(1)}x at p95, ` +
        `${(sum(totalMs) / sum(copyMs)).toFixed(1)}x in total; open alone ${(p95Open / p95Copy).toFixed(1)}x at p95`,
    );
    console.log(`  decisions: ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(", ")}`);
    for (const finding of [...findings].slice(0, 8)) console.log(`    ${finding}`);
    console.log("\ntarget:");
    console.log(`  ${verdict(p95Total < TARGET_MS)}  p95 index + open ${ms(p95Total)} < ${ms(TARGET_MS)}`);
    console.log(`  ${verdict(p95Open < TARGET_MS)}  p95 open alone   ${ms(p95Open)} < ${ms(TARGET_MS)}`);
  } finally {
    await services?.close();
    if (args.keep) console.log(`kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
