/**
 * Importing a full-size OSV database: wall time and peak memory of `IntelService.importSource`
 * and of `IntelService.load` (the in-memory index the gateway builds at start), against a baseline
 * that only reads and parses every record of the same zip.
 *
 * Data: a zip in the format of OSV's PyPI all.zip (flat `<ID>.json` entries, two-space indented)
 * holding `--records` records (default 20,000), cloned from the real PYSEC records of
 * $PORTCULLIS_SHARED_DATA/osv/pypa-advisory-database.zip: new ids (PYSEC, GHSA and MAL styles),
 * new project names (several advisories per project, names written with varying case and
 * separators), versions shifted so ranges and version lists stay consistent, some version lists
 * dropped, some `fixed` events turned into `last_affected`, extra aliases, and CVSS v3/v4 or
 * GitHub severity words on a share of the records. Seeded, so every run writes the same zip.
 *
 * Method: each step (generating the zip too) runs in its own child process (`node --expose-gc
 * --import tsx` on this file with `--child`), so its memory figures are its own: RSS sampled every
 * 50 ms (`process.memoryUsage().rss`), `process.resourceUsage().maxRSS`, and the peak that counts,
 * the kernel's high-water mark `VmHWM` of /proc/self/status, which no sampler can miss (a
 * synchronous step gives the sampler no turn). maxRSS is printed but not used: on Linux it keeps
 * the RSS the parent had when it forked the child. Figures include the ~120 MB that node, tsx and
 * the modules take before the step starts; the step's own growth is printed beside them. The
 * sampler's longest gap between ticks shows how long the step held the event loop (intel syncs and
 * the reload after them run inside the serving gateway). Steps: parse baseline (`readOsvSource`, which runs
 * `parseOsvRecord` on every record), import into a fresh SQLite database, `load()` from it; with
 * `--postgres` the import and load again into a fresh schema of
 * $PORTCULLIS_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
 *
 * Targets: import < 10 s and peak RSS < 300 MB (import; load's peak is held to the same bound).
 * A benchmark, not a test: it prints PASS/FAIL and always exits 0 unless it could not run.
 *
 * Run: node --import tsx bench/intel-import.ts [--records 20000] [--postgres] [--keep]
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import yauzl from "yauzl";
import yazl from "yazl";
import { connectDatabase, type DatabaseHandle } from "../src/adapters/db/connect-database.js";
import { IntelRepository } from "../src/adapters/db/intel-repository.js";
import { readOsvSource } from "../src/intel/osv-source.js";
import { IntelService } from "../src/services/intel-service.js";
import { sharedDataDir } from "../test/helpers/shared-data.js";
import { seededRandom } from "./lib/seeded-random.js";

const IMPORT_TARGET_MS = 10_000;
const RSS_TARGET_BYTES = 300 * 1e6;
const SAMPLE_MS = 50;
const POSTGRES_URL = process.env.PORTCULLIS_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SELF = fileURLToPath(import.meta.url);

const { values: args } = parseArgs({
  options: {
    records: { type: "string", default: "20000" },
    postgres: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    // Internal: one measured step in a child process.
    child: { type: "string" },
    zip: { type: "string" },
    db: { type: "string" },
    data: { type: "string" },
    schema: { type: "string" },
  },
});

// ---------------------------------------------------------------------------------------------
// Child: one measured step.

interface StepResult {
  step: string;
  wallMs: number;
  /** RSS once modules are loaded and the database is open, before the step. */
  startRss: number;
  /** Highest RSS the 50 ms sampler saw. */
  sampledPeakRss: number;
  /**
   * The peak: the kernel's high-water mark of this process image (`VmHWM`, start-up included);
   * `maxRss` where /proc is missing.
   */
  peakRss: number;
  /**
   * `process.resourceUsage().maxRSS`. On Linux it carries over the RSS the parent had when it forked
   * the child (the rusage maximum survives exec), so it is never below the parent's RSS.
   */
  maxRss: number;
  /** RSS and heap after the step, after a full GC, with its result still referenced. */
  retainedRss: number;
  retainedHeap: number;
  retainedHeapTotal: number;
  samples: number;
  /** Longest gap between two sampler ticks: how long the step held the event loop at most. */
  longestStallMs: number;
  detail: Record<string, number | string>;
}

function startSampler() {
  let peak = process.memoryUsage().rss;
  let samples = 0;
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    samples++;
    peak = Math.max(peak, process.memoryUsage().rss);
  }, SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      const now = performance.now();
      longest = Math.max(longest, now - last);
      peak = Math.max(peak, process.memoryUsage().rss);
      return { peak, samples, longestStallMs: Math.max(0, longest - SAMPLE_MS) };
    },
  };
}

/** The kernel's RSS high-water mark of this process image, in bytes; undefined without /proc. */
function vmHwm(): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync("/proc/self/status", "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function openDb(): Promise<DatabaseHandle> {
  if (args.db === "postgres")
    return connectDatabase({ url: POSTGRES_URL, dataDir: "", schema: args.schema! });
  return connectDatabase({ url: "", dataDir: args.data! });
}

async function runChild(step: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  const handle = step === "import" || step === "load" ? await openDb() : undefined;
  const intel = handle
    ? new IntelService({ repo: new IntelRepository(handle.db), now: Date.now })
    : undefined;
  gc();
  const startRss = process.memoryUsage().rss;
  const sampler = startSampler();
  const t0 = performance.now();
  const detail: Record<string, number | string> = {};
  let keepAlive: unknown;
  if (step === "generate") {
    const templates = await readTemplates(join(sharedDataDir(), "osv", "pypa-advisory-database.zip"));
    if (templates.length === 0) throw new Error("no PYSEC templates found in the shared advisory zip");
    const count = Number(args.records);
    const { bytes, uncompressed, stats } = await writeOsvZip(args.zip!, templates, count);
    const pct = (n: number) => `${((n / count) * 100).toFixed(0)}%`;
    detail.summary =
      `${MB(bytes)} zipped, ${MB(uncompressed)} of JSON, from ${templates.length} PYSEC templates; ids ` +
      `${Object.entries(stats.ids)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}; ${stats.projects.size.toLocaleString("en")} projects; ` +
      `versions lists ${pct(stats.withVersions)}, ECOSYSTEM ranges ${pct(stats.withEcosystemRange)}, ` +
      `GIT ranges ${pct(stats.withGitRange)}, last_affected ${pct(stats.withLastAffected)}, ` +
      `severity ${pct(stats.withSeverity)}, withdrawn ${stats.withdrawn}`;
  } else if (step === "parse") {
    let ok = 0;
    let malformed = 0;
    for await (const item of readOsvSource(args.zip!)) {
      if (item.ok) ok++;
      else malformed++;
    }
    Object.assign(detail, { records: ok, malformed });
  } else if (step === "import") {
    const report = await intel!.importSource(args.zip!);
    Object.assign(detail, { added: report.added, skipped: report.skipped, generation: report.generation });
  } else if (step === "load") {
    const state = await intel!.load();
    keepAlive = state;
    const stats = state.index.stats();
    Object.assign(detail, {
      advisories: state.stats.advisories,
      projects: stats.packages ?? 0,
      malicious: state.stats.malicious,
    });
  } else {
    throw new Error(`unknown step ${step}`);
  }
  const wallMs = performance.now() - t0;
  const { peak, samples, longestStallMs } = sampler.stop();
  gc();
  const retained = process.memoryUsage();
  void keepAlive;
  const maxRss = process.resourceUsage().maxRSS * 1024;
  const result: StepResult = {
    step,
    wallMs,
    startRss,
    sampledPeakRss: peak,
    peakRss: vmHwm() ?? maxRss,
    maxRss,
    retainedRss: retained.rss,
    retainedHeap: retained.heapUsed,
    retainedHeapTotal: retained.heapTotal,
    samples,
    longestStallMs,
    detail,
  };
  await handle?.close();
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Parent: generate the zip, run the steps, report.

type Json = Record<string, unknown>;

async function readTemplates(path: string): Promise<Json[]> {
  const zip = await yauzl.openPromise(path, { lazyEntries: true });
  const out: Json[] = [];
  try {
    for await (const entry of zip.eachEntry()) {
      if (!entry.fileName.endsWith(".json")) continue;
      const stream = await zip.openReadStreamPromise(entry);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      const record = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Json;
      if (typeof record.id === "string" && record.id.startsWith("PYSEC-")) out.push(record);
    }
  } finally {
    zip.close();
  }
  return out;
}

const SUFFIXES = ["", "-lite", "-ng", "-core", "-client", "-tools", "-plus", "-server", "-cli", "-extras"];
const GHSA_CHARS = "23456789cfghjmpqrvwx";
const CVSS3 = [
  "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
  "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
  "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H",
  "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
  "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N",
  "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L",
];
const CVSS4 = [
  "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
  "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:P/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N",
  "CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N",
];
const GH_SEVERITY = ["LOW", "MODERATE", "HIGH", "CRITICAL"];
const CWES = ["CWE-79", "CWE-89", "CWE-22", "CWE-400", "CWE-502", "CWE-918", "CWE-1333", "CWE-20"];

/** Adds `offset` to a version's leading release number; `0` (OSV's "from the start") stays. */
function shiftVersion(version: string, offset: number): string {
  if (version === "0") return version;
  const m = /^(\d+)(.*)$/s.exec(version);
  return m ? `${Number(m[1]) + offset}${m[2]}` : version;
}

function isoShift(value: unknown, days: number): string | undefined {
  if (typeof value !== "string") return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t)) return value;
  return new Date(Math.min(t + days * 86_400_000, Date.UTC(2025, 11, 31))).toISOString().replace(".000", "");
}

interface GenStats {
  ids: Record<string, number>;
  withVersions: number;
  withEcosystemRange: number;
  withGitRange: number;
  withSeverity: number;
  withLastAffected: number;
  withdrawn: number;
  projects: Set<string>;
}

/** One clone of a template: a new id, project name, shifted versions and a little variation. */
function cloneRecord(
  template: Json,
  clone: number,
  random: () => number,
  ids: Set<string>,
  seq: Map<string, number>,
  stats: GenStats,
): Json {
  const record = structuredClone(template);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const year = 2015 + Math.floor(random() * 11);
  const r = random();
  const style = r < 0.45 ? "GHSA" : r < 0.9 ? "PYSEC" : "MAL";
  const group = () => Array.from({ length: 4 }, () => pick([...GHSA_CHARS])).join("");
  const ghsa = () => `GHSA-${group()}-${group()}-${group()}`;
  let id: string;
  do {
    if (style === "GHSA") {
      id = ghsa();
    } else {
      const key = `${style}-${year}`;
      const n = (seq.get(key) ?? (style === "PYSEC" ? 1000 : 100)) + 1;
      seq.set(key, n);
      id = `${key}-${n}`;
    }
  } while (ids.has(id));
  ids.add(id);
  stats.ids[style] = (stats.ids[style] ?? 0) + 1;
  record.id = id;

  const offset = clone % 3;
  const suffix = SUFFIXES[clone % SUFFIXES.length]!;
  const cve = `CVE-${year}-${10000 + Math.floor(random() * 89999)}`;
  const aliases = new Set<string>((record.aliases as string[] | undefined) ?? []);
  const oldAliases = [...aliases];
  aliases.clear();
  for (const alias of oldAliases) aliases.add(alias.startsWith("CVE-") ? cve : alias);
  if (style === "PYSEC" && random() < 0.5) aliases.add(ghsa());
  if (style === "GHSA" && !aliases.has(cve) && random() < 0.8) aliases.add(cve);
  if (style === "MAL") aliases.clear();
  if (aliases.size > 0) record.aliases = [...aliases];
  else delete record.aliases;

  const days = Math.floor(random() * 400);
  for (const key of ["modified", "published"]) {
    const shifted = isoShift(record[key], days);
    if (shifted !== undefined) record[key] = shifted;
  }
  if (record.withdrawn !== undefined) stats.withdrawn++;

  let hasVersions = false;
  let hasEcosystem = false;
  let hasGit = false;
  let hasLastAffected = false;
  for (const affected of (record.affected as Json[] | undefined) ?? []) {
    const pkg = affected.package as Json | undefined;
    if (pkg && typeof pkg.name === "string") {
      const base = `${pkg.name}${suffix}`;
      // Names as records write them: mostly lower case, some with capitals or underscores.
      const roll = random();
      const raw =
        roll < 0.1
          ? base.replace(/-/g, "_")
          : roll < 0.15
            ? base.replace(/(^|[-_.])([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase())
            : base;
      pkg.name = raw;
      if (typeof pkg.purl === "string") pkg.purl = `pkg:pypi/${raw.toLowerCase()}`;
      stats.projects.add(base.toLowerCase().replace(/[-_.]+/g, "-"));
    }
    let versions: string[] = [];
    if (Array.isArray(affected.versions)) {
      versions = (affected.versions as string[]).map((v) => shiftVersion(v, offset));
      // Some producers leave the version list out: the ranges alone must then match.
      if (random() < 0.15) delete affected.versions;
      else {
        affected.versions = versions;
        hasVersions ||= versions.length > 0;
      }
    }
    if (style === "MAL") {
      affected.ranges = [{ type: "ECOSYSTEM", events: [{ introduced: "0" }] }];
      hasEcosystem = true;
      continue;
    }
    for (const range of (affected.ranges as Json[] | undefined) ?? []) {
      if (range.type === "GIT") {
        hasGit = true;
        continue;
      }
      hasEcosystem = true;
      // Some advisories name the last affected release instead of the fix.
      const lastAffected = random() < 0.06 ? versions.at(-1) : undefined;
      range.events = ((range.events as Json[]) ?? []).map((event) => {
        const [kind, value] = Object.entries(event)[0] as [string, string];
        if (kind === "fixed" && lastAffected !== undefined) {
          hasLastAffected = true;
          return { last_affected: lastAffected };
        }
        return { [kind]: shiftVersion(value, offset) };
      });
    }
    if (style === "GHSA") {
      affected.database_specific = { source: "https://github.com/github/advisory-database" };
    }
  }

  let hasSeverity = Array.isArray(record.severity) && (record.severity as unknown[]).length > 0;
  if (style === "GHSA") {
    const roll = random();
    if (roll < 0.7) {
      record.severity = [{ type: "CVSS_V3", score: pick(CVSS3) }];
      if (random() < 0.15) (record.severity as Json[]).push({ type: "CVSS_V4", score: pick(CVSS4) });
    } else if (roll < 0.85) record.severity = [{ type: "CVSS_V4", score: pick(CVSS4) }];
    record.database_specific = {
      cwe_ids: [pick(CWES)],
      severity: pick(GH_SEVERITY),
      github_reviewed: true,
      github_reviewed_at: record.modified,
      nvd_published_at: record.published ?? null,
    };
    if (typeof record.details === "string" && record.summary === undefined)
      record.summary = (record.details.split(/\.(\s|$)/)[0] ?? "").slice(0, 120);
    hasSeverity = true;
  } else if (style === "MAL") {
    const name = ((record.affected as Json[] | undefined)?.[0]?.package as Json | undefined)?.name;
    record.summary = `Malicious code in ${String(name)} (PyPI)`;
    record.details = "\n---\n_-= Per source details. Do not edit below this line.=-_\n";
    record.database_specific = { "malicious-packages-origins": [{ source: "ossf-package-analysis" }] };
    delete record.severity;
    hasSeverity = false;
  } else if (!hasSeverity && random() < 0.2) {
    record.severity = [{ type: "CVSS_V3", score: pick(CVSS3) }];
    hasSeverity = true;
  }
  if (hasVersions) stats.withVersions++;
  if (hasEcosystem) stats.withEcosystemRange++;
  if (hasGit) stats.withGitRange++;
  if (hasSeverity) stats.withSeverity++;
  if (hasLastAffected) stats.withLastAffected++;
  return record;
}

async function writeOsvZip(
  path: string,
  templates: Json[],
  count: number,
): Promise<{ bytes: number; uncompressed: number; stats: GenStats }> {
  const random = seededRandom(20_000);
  const ids = new Set<string>();
  const seq = new Map<string, number>();
  const stats: GenStats = {
    ids: {},
    withVersions: 0,
    withEcosystemRange: 0,
    withGitRange: 0,
    withSeverity: 0,
    withLastAffected: 0,
    withdrawn: 0,
    projects: new Set(),
  };
  const zip = new yazl.ZipFile();
  const done = new Promise<void>((resolve, reject) => {
    const out = createWriteStream(path);
    out.on("close", resolve);
    out.on("error", reject);
    zip.outputStream.on("error", reject);
    zip.outputStream.pipe(out);
  });
  const mtime = new Date(Date.UTC(2025, 0, 1));
  let uncompressed = 0;
  for (let i = 0; i < count; i++) {
    const template = templates[i % templates.length]!;
    const record = cloneRecord(template, Math.floor(i / templates.length), random, ids, seq, stats);
    const data = Buffer.from(JSON.stringify(record, null, 2));
    uncompressed += data.length;
    zip.addBuffer(data, `${record.id as string}.json`, { mtime, mode: 0o100644 });
  }
  zip.end();
  await done;
  return { bytes: statSync(path).size, uncompressed, stats };
}

function runStep(step: string, extra: string[]): Promise<StepResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--expose-gc", "--import", "tsx", SELF, "--child", step, ...extra],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("RESULT "));
      if (code !== 0 || !line) reject(new Error(`step ${step} exited with ${code}: ${out.slice(-2000)}`));
      else resolve(JSON.parse(line.slice("RESULT ".length)) as StepResult);
    });
  });
}

const MB = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const ms = (value: number) => `${value.toFixed(0)} ms`;
const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");

function describe(label: string, r: StepResult): void {
  const detail = Object.entries(r.detail)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  console.log(`  ${label.padEnd(14)} ${ms(r.wallMs).padStart(9)}   peak RSS ${MB(r.peakRss)}   ${detail}`);
  console.log(
    `  ${"".padEnd(14)} RSS before the step ${MB(r.startRss)} (node + tsx + modules), ` +
      `so the step adds ${MB(r.peakRss - r.startRss)}; sampled peak ${MB(r.sampledPeakRss)} ` +
      `(${r.samples} samples), maxRSS ${MB(r.maxRss)}; after GC ${MB(r.retainedRss)} RSS, ` +
      `heap ${MB(r.retainedHeap)} used / ${MB(r.retainedHeapTotal)} reserved; ` +
      `longest event-loop stall ${ms(r.longestStallMs)}`,
  );
}

async function main(): Promise<void> {
  const count = Number(args.records);
  if (!Number.isInteger(count) || count <= 0) throw new Error(`--records must be a positive integer`);
  const uptime = (() => {
    try {
      return execFileSync("uptime", { encoding: "utf8" }).trim();
    } catch {
      return `load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(", ")}`;
    }
  })();
  console.log(`intel import benchmark: ${count.toLocaleString("en")} OSV records (${uptime})`);

  const tmp = mkdtempSync(join(tmpdir(), "portcullis-bench-intel-"));
  let schema: string | undefined;
  try {
    // Generated in a child too: the parent stays small, so what the children inherit stays small.
    const zipPath = join(tmp, "PyPI-all.zip");
    const generated = await runStep("generate", ["--zip", zipPath, "--records", String(count)]);
    console.log(`generated ${zipPath} in ${ms(generated.wallMs)}: ${generated.detail.summary}`);

    const parse = await runStep("parse", ["--zip", zipPath]);
    console.log("\nbaseline (read + parse every record, nothing stored):");
    describe("readOsvSource", parse);

    const rows: { db: string; imp: StepResult; load: StepResult; size?: number }[] = [];
    {
      const dataDir = join(tmp, "sqlite");
      const imp = await runStep("import", ["--zip", zipPath, "--db", "sqlite", "--data", dataDir]);
      const load = await runStep("load", ["--db", "sqlite", "--data", dataDir]);
      let size = 0;
      for (const suffix of ["", "-wal"]) {
        try {
          size += statSync(join(dataDir, `portcullis.db${suffix}`)).size;
        } catch {
          // no WAL file left after close
        }
      }
      rows.push({ db: "SQLite", imp, load, size });
    }
    if (args.postgres) {
      schema = `bench_intel_${randomBytes(5).toString("hex")}`;
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`CREATE SCHEMA ${schema}`);
      await admin.end();
      const imp = await runStep("import", ["--zip", zipPath, "--db", "postgres", "--schema", schema]);
      const load = await runStep("load", ["--db", "postgres", "--schema", schema]);
      rows.push({ db: "PostgreSQL", imp, load });
    }

    for (const { db, imp, load, size } of rows) {
      console.log(`\n${db}${size ? ` (database ${MB(size)})` : ""}:`);
      describe("importSource", imp);
      describe("load", load);
      console.log(
        `  import / parse baseline: ${(imp.wallMs / parse.wallMs).toFixed(2)}x time, ` +
          `${(imp.peakRss / parse.peakRss).toFixed(2)}x peak RSS`,
      );
    }

    console.log("\ntargets:");
    for (const { db, imp, load } of rows) {
      console.log(
        `  ${verdict(imp.wallMs < IMPORT_TARGET_MS)}  ${db} import ${ms(imp.wallMs)} < ${ms(IMPORT_TARGET_MS)}`,
      );
      console.log(
        `  ${verdict(imp.peakRss < RSS_TARGET_BYTES)}  ${db} import peak RSS ${MB(imp.peakRss)} < ${MB(RSS_TARGET_BYTES)}`,
      );
      console.log(
        `  ${verdict(load.peakRss < RSS_TARGET_BYTES)}  ${db} load peak RSS ${MB(load.peakRss)} < ${MB(RSS_TARGET_BYTES)}`,
      );
    }
  } finally {
    if (schema) {
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
    if (args.keep) console.log(`kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }
}

if (args.child) {
  await runChild(args.child);
} else {
  await main();
}
