/**
 * Serving benchmark: the gateway, built (`node dist/cli/main.js serve`, what bin/portcullis runs),
 * against nginx serving the same static PEP 503 tree, in one run.
 *
 *   1. warm project page req/s, HTML and JSON, vs nginx serving the page's index.html   (>= 0.5x)
 *   2. `/simple/` root listing 5,000 projects, vs nginx serving a 5,000-anchor index.html (>= 0.3x)
 *   3. file download MB/s for a ~2 MB wheel (after the first fetch), vs nginx         (>= 0.7x)
 *   4. cold project page: latency the gateway adds over the upstream's own time         (< 5 ms)
 *   5. warm page req/s with ~100k files known vs with 15 files known                    (>= 0.9x)
 *   6. start-up to ready (< 1 s), idle RSS (< 120 MiB), RSS after 5,000 pages (< 250 MiB)
 *
 * Run:  node --import tsx bench/serve/run.ts [--quick] [--no-build] [--synthetic]
 *   --quick      one 3 s wrk run per figure (gateway warmed 1 s first) instead of the median of
 *                three 10 s runs after a 2 s warm-up; start-up and idle RSS from one start
 *   --no-build   use dist/ as it is (default: `npm run build` first; --quick skips it when dist/
 *                is newer than every source file)
 *   --synthetic  use a generated tree even where /opt/pypi exists
 *
 * wrk -t2 -c4. Each ratio is measured interleaved (nginx run, gateway run, nginx run, ...), so a
 * change in background load hits both sides; the CPU time the serving process spent per request
 * (/proc/<pid>/stat) is recorded next to req/s, as it is less sensitive to a busy machine.
 * Trees: /opt/pypi (the real mirror: its largest page, the wheel nearest 2 MiB, 50 other projects
 * for the cold test) or, where it is missing, a generated one (3 projects x 300 files, 60 small
 * projects, a generated ~2 MiB wheel). The catalog figures (2, 5, 6c) use a generated tree of
 * 5,000 projects (104,994 files) that one gateway learns by fetching every page, while a second
 * gateway knows only the measured 15-file page; the two are measured interleaved.
 *
 * Needs nginx and wrk (Debian packages; installed with apt-get when missing and running as root).
 * nginx runs as a foreground child (`daemon off; master_process off; worker_processes 1`: one
 * process, like the single-threaded gateway) on 127.0.0.1 with a generated config in a temp dir,
 * access_log off, stock Debian settings otherwise (sendfile on, tcp_nopush on) plus
 * keepalive_requests raised so that neither side closes wrk's keep-alive connections.
 * The same nginx is the gateway's upstream (HTTP, a second server block serves the synthetic
 * catalog tree). Every process is started in its own process group and killed with it; the temp
 * dir is removed at the end, also on errors and on Ctrl-C.
 *
 * Output: a table on stdout and bench/serve/last-run.json. Exit code 0 when every target is met,
 * 1 when a target is missed, 2 when a figure could not be measured.
 */

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import yazl from "yazl";

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

const argv = process.argv.slice(2);
const USAGE =
  "usage: node --import tsx bench/serve/run.ts [--quick] [--no-build] [--synthetic] [--ref <git-rev>]";
const QUICK = argv.includes("--quick");
const NO_BUILD = argv.includes("--no-build");
const FORCE_SYNTHETIC = argv.includes("--synthetic");
const REF = argv.includes("--ref") ? argv[argv.indexOf("--ref") + 1] : undefined;
for (const [i, a] of argv.entries()) {
  if (["--quick", "--no-build", "--synthetic", "--ref"].includes(a) || argv[i - 1] === "--ref") continue;
  console.error(`unknown argument ${a}\n${USAGE}`);
  process.exit(2);
}
if (argv.includes("--ref") && (!REF || REF.startsWith("--"))) {
  console.error(`--ref needs a git revision\n${USAGE}`);
  process.exit(2);
}

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const OUT_JSON = join(REPO, "bench", "serve", "last-run.json");
const MIRROR = "/opt/pypi";

const RUNS = QUICK ? 1 : 3;
const DURATION_S = QUICK ? 3 : 10;
const WARMUP_S = QUICK ? 1 : 2;
const WRK_THREADS = 2;
const WRK_CONNECTIONS = 4;
const COLD_PROJECTS = 50;
const STARTUP_SAMPLES = QUICK ? 1 : 3;
const CATALOG_PROJECTS = 5_000; // including the measured project
const CATALOG_FILES_PER_PROJECT = 21; // 4,999 x 21 + 15 = 104,994 files
const WARM_PROJECT_FILES = 15;
const SEED_CONCURRENCY = 16;
const WHEEL_TARGET_BYTES = 2 * 1024 * 1024;

const ACCEPT_HTML = { accept: "text/html" };
const ACCEPT_JSON = { accept: "application/vnd.pypi.simple.v1+json" };

// ---------------------------------------------------------------------------------------------
// Metrics and results
// ---------------------------------------------------------------------------------------------

type Kind = "ratio-min" | "max";
interface MetricDef {
  id: string;
  name: string;
  unit: string;
  kind: Kind;
  /** ratio-min: gateway/baseline must be >= target; max: the value must be < target. */
  target: number;
  targetText: string;
}

const METRICS: MetricDef[] = [
  {
    id: "warm-html",
    name: "warm project page, HTML",
    unit: "req/s",
    kind: "ratio-min",
    target: 0.5,
    targetText: ">= 0.50x",
  },
  {
    id: "warm-json",
    name: "warm project page, JSON",
    unit: "req/s",
    kind: "ratio-min",
    target: 0.5,
    targetText: ">= 0.50x",
  },
  {
    id: "root",
    name: "/simple/ root, 5,000 projects",
    unit: "req/s",
    kind: "ratio-min",
    target: 0.3,
    targetText: ">= 0.30x",
  },
  {
    id: "file",
    name: "file download, ~2 MB wheel",
    unit: "MB/s",
    kind: "ratio-min",
    target: 0.7,
    targetText: ">= 0.70x",
  },
  {
    id: "cold",
    name: "cold page, added latency (median)",
    unit: "ms",
    kind: "max",
    target: 5,
    targetText: "< 5 ms",
  },
  {
    id: "catalog",
    name: "warm page, ~100k files vs 15 known",
    unit: "req/s",
    kind: "ratio-min",
    target: 0.9,
    targetText: ">= 0.90x",
  },
  {
    id: "startup",
    name: "start-up to ready (median)",
    unit: "ms",
    kind: "max",
    target: 1000,
    targetText: "< 1000 ms",
  },
  {
    id: "rss-idle",
    name: "idle RSS after start (max)",
    unit: "MiB",
    kind: "max",
    target: 120,
    targetText: "< 120 MiB",
  },
  {
    id: "rss-5000",
    name: "RSS after 5,000 distinct pages",
    unit: "MiB",
    kind: "max",
    target: 250,
    targetText: "< 250 MiB",
  },
];

interface MetricResult {
  id: string;
  name: string;
  unit: string;
  /** The gateway's figure (for `max` metrics: the value compared with the target). */
  gateway: number | null;
  baseline: number | null;
  ratio: number | null;
  target: string;
  pass: boolean | null;
  error?: string;
  details?: Record<string, unknown>;
}

const results = new Map<string, MetricResult>();

function record(
  id: string,
  gateway: number,
  baseline: number | null,
  details?: Record<string, unknown>,
): void {
  const def = METRICS.find((m) => m.id === id);
  if (!def) throw new Error(`unknown metric ${id}`);
  const ratio = baseline !== null && baseline > 0 ? gateway / baseline : null;
  const pass = def.kind === "ratio-min" ? ratio !== null && ratio >= def.target : gateway < def.target;
  results.set(id, {
    id,
    name: def.name,
    unit: def.unit,
    gateway,
    baseline,
    ratio,
    target: def.targetText,
    pass,
    ...(details ? { details } : {}),
  });
  log(
    `  => ${def.name}: ${fmt(gateway)} ${def.unit}` +
      (baseline !== null ? ` vs ${fmt(baseline)} ${def.unit}` : "") +
      (ratio !== null ? ` = ${ratio.toFixed(2)}x` : "") +
      ` (${def.targetText}) ${pass ? "PASS" : "FAIL"}`,
  );
}

function recordError(ids: string[], err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  for (const id of ids) {
    if (results.has(id)) continue;
    const def = METRICS.find((m) => m.id === id)!;
    results.set(id, {
      id,
      name: def.name,
      unit: def.unit,
      gateway: null,
      baseline: null,
      ratio: null,
      target: def.targetText,
      pass: null,
      error: message,
    });
  }
}

/** Runs one part of the benchmark; an error there marks its metrics ERROR and the run goes on. */
async function step(title: string, ids: string[], fn: () => Promise<void>): Promise<void> {
  if (aborting) return;
  log(`${title}`);
  try {
    await fn();
  } catch (err) {
    if (aborting) return;
    log(`  !! ${title} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    recordError(ids, err);
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

const started = performance.now();
function log(msg: string): void {
  const t = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`[${t}s] ${msg}\n`);
}

function fmt(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return "-";
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString("en-US");
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

function normalize(name: string): string {
  return name.replace(/[-_.]+/g, "-").toLowerCase();
}

function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 64 });

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  ms: number;
}

/** A GET, timed from the call to the last body byte. */
function get(
  url: string,
  headers: Record<string, string> = {},
  opts: { agent?: http.Agent | false; timeoutMs?: number } = {},
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(
      url,
      { headers, agent: opts.agent ?? keepAlive, timeout: opts.timeoutMs ?? 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            ms: performance.now() - t0,
          }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timed out: GET ${url}`)));
    req.on("error", reject);
  });
}

async function getOk(url: string, headers: Record<string, string> = {}): Promise<Response> {
  const res = await get(url, headers);
  if (res.status !== 200) {
    throw new Error(`GET ${url} answered ${res.status}: ${res.body.subarray(0, 300).toString("utf8")}`);
  }
  return res;
}

/** Runs `fn` over `items` with at most `n` in flight. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

function countAnchors(html: string): number {
  return (html.match(/<a\s/gi) ?? []).length;
}

// ---------------------------------------------------------------------------------------------
// Processes: every child in its own process group, killed with it
// ---------------------------------------------------------------------------------------------

const children = new Set<ChildProcess>();

function startChild(
  cmd: string,
  args: string[],
  opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): ChildProcess {
  const fd = openSync(opts.logFile, "a");
  try {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? REPO,
      env: opts.env ?? process.env,
      detached: true, // own process group: killGroup() takes every descendant with it
      stdio: ["ignore", fd, fd],
    });
    children.add(child);
    child.once("exit", () => children.delete(child));
    return child;
  } finally {
    closeSync(fd);
  }
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (!alive(child)) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  killGroup(child, "SIGTERM");
  const inTime = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!inTime) {
    killGroup(child, "SIGKILL");
    await exited;
  }
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

// ---------------------------------------------------------------------------------------------
// Tools: nginx and wrk (Debian packages), the build
// ---------------------------------------------------------------------------------------------

function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
  for (const d of dirs) {
    if (d && existsSync(join(d, name))) return join(d, name);
  }
  return undefined;
}

function ensureTools(): { nginx: string; wrk: string } {
  let nginx = findTool("nginx");
  let wrk = findTool("wrk");
  if (nginx && wrk) return { nginx, wrk };
  const missing = [!nginx && "nginx", !wrk && "wrk"].filter(Boolean).join(" and ");
  console.log(
    `\n*** ${missing} not found. The benchmark needs the Debian packages nginx and wrk;\n` +
      `*** installing them now: apt-get update && apt-get install -y nginx wrk\n`,
  );
  const sudo = process.getuid?.() === 0 ? [] : findTool("sudo") ? ["sudo", "-n"] : undefined;
  if (!sudo) {
    throw new Error(
      `${missing} missing and not running as root: run 'sudo apt-get install -y nginx wrk' first`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [
    ["apt-get", "update"],
    ["apt-get", "install", "-y", "nginx", "wrk"],
  ]) {
    const [cmd, ...rest] = [...sudo, ...args];
    const r = spawnSync(cmd!, rest, { stdio: "inherit", env });
    if (r.status !== 0)
      throw new Error(`'${args.join(" ")}' failed (exit ${r.status}); install nginx and wrk by hand`);
  }
  nginx = findTool("nginx");
  wrk = findTool("wrk");
  if (!nginx || !wrk) throw new Error("nginx or wrk still missing after apt-get install");
  return { nginx, wrk };
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts"))
      newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * The gateway under test: the working tree (built in place), or with --ref a committed revision
 * exported with `git archive` into the temp dir and built there (the working tree is not touched;
 * useful while others are mid-edit, and to compare revisions).
 */
function prepareGateway(tmp: string): {
  root: string;
  built: boolean;
  ms: number;
  ref?: string;
  note?: string;
} {
  if (REF) {
    const root = join(tmp, "gateway-src");
    mkdirSync(root, { recursive: true });
    log(`exporting ${REF} (git archive) and building it in ${root} ...`);
    const t0 = performance.now();
    const archive = spawnSync(
      "sh",
      ["-c", 'git -C "$1" archive --format=tar "$2" | tar -x -C "$3"', "sh", REPO, REF, root],
      {
        encoding: "utf8",
      },
    );
    if (archive.status !== 0) throw new Error(`git archive ${REF} failed: ${archive.stderr}`);
    symlinkSync(join(REPO, "node_modules"), join(root, "node_modules"));
    const r = spawnSync("npm", ["run", "build", "--silent"], { cwd: root, encoding: "utf8" });
    const ms = performance.now() - t0;
    if (!existsSync(join(root, "dist", "cli", "main.js"))) {
      throw new Error(
        `building ${REF} failed:\n${`${r.stdout ?? ""}${r.stderr ?? ""}`.trim().slice(0, 2000)}`,
      );
    }
    const commit = spawnSync("git", ["-C", REPO, "rev-parse", REF], { encoding: "utf8" }).stdout.trim();
    return {
      root,
      built: true,
      ms,
      ref: commit,
      ...(r.status !== 0 ? { note: "build reported type errors" } : {}),
    };
  }
  const main = join(REPO, "dist", "cli", "main.js");
  if (NO_BUILD) {
    if (!existsSync(main)) throw new Error("--no-build, but dist/ is missing: run npm run build");
    return { root: REPO, built: false, ms: 0, note: "--no-build" };
  }
  if (QUICK && existsSync(main) && statSync(main).mtimeMs > newestSource(join(REPO, "src"))) {
    log("dist/ is newer than every source file: not rebuilding (--quick)");
    return { root: REPO, built: false, ms: 0, note: "dist/ up to date" };
  }
  log("building dist/ (npm run build) ...");
  const t0 = performance.now();
  const r = spawnSync("npm", ["run", "build", "--silent"], { cwd: REPO, encoding: "utf8" });
  const ms = performance.now() - t0;
  if (r.status !== 0) {
    const out = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n").slice(0, 15).join("\n");
    if (!existsSync(main)) throw new Error(`npm run build failed and dist/ is missing:\n${out}`);
    // tsc still emits on type errors; other engineers may be mid-edit.
    log(`WARNING: npm run build reported errors; benchmarking the emitted dist/ anyway:\n${out}`);
    return { root: REPO, built: true, ms, note: "build reported type errors" };
  }
  return { root: REPO, built: true, ms };
}

// ---------------------------------------------------------------------------------------------
// Trees
// ---------------------------------------------------------------------------------------------

interface WheelRef {
  project: string;
  filename: string;
  /** URL path on the tree's nginx, e.g. /files/x.whl */
  urlPath: string;
  sha256: string;
  size: number;
}

interface MainTree {
  root: string;
  source: string;
  projects: number;
  warmProject: string;
  warmFiles: number;
  wheel: WheelRef;
  coldProjects: string[];
}

const ANCHOR_RE = /<a\s[^>]*?href="([^"]+)"[^>]*>/gi;

/** Reads the real mirror: the largest page, the wheel nearest 2 MiB, 50 cold projects. */
function scanMirror(root: string): MainTree {
  const simple = join(root, "simple");
  const pages: { name: string; links: number }[] = [];
  let wheel: WheelRef | undefined;
  for (const name of readdirSync(simple).sort()) {
    const index = join(simple, name, "index.html");
    if (name !== normalize(name) || !existsSync(index)) continue;
    const html = readFileSync(index, "utf8");
    let links = 0;
    for (const m of html.matchAll(ANCHOR_RE)) {
      links++;
      const href = m[1]!.replace(/&amp;/g, "&");
      const u = new URL(href, `http://x/simple/${name}/`);
      const sha = /sha256=([0-9a-f]{64})/.exec(u.hash)?.[1];
      if (!sha || !u.pathname.endsWith(".whl")) continue;
      const path = join(root, decodeURIComponent(u.pathname));
      let size: number;
      try {
        size = statSync(path).size;
      } catch {
        continue;
      }
      if (!wheel || Math.abs(size - WHEEL_TARGET_BYTES) < Math.abs(wheel.size - WHEEL_TARGET_BYTES)) {
        wheel = {
          project: name,
          filename: decodeURIComponent(u.pathname.split("/").pop()!),
          urlPath: u.pathname,
          sha256: sha,
          size,
        };
      }
    }
    pages.push({ name, links });
  }
  if (!wheel || pages.length < COLD_PROJECTS + 2) throw new Error(`${root} has too few usable pages`);
  const warm = [...pages].sort((a, b) => b.links - a.links || (a.name < b.name ? -1 : 1))[0]!;
  const rest = pages.filter((p) => p.name !== warm.name && p.name !== wheel!.project);
  const step = rest.length / COLD_PROJECTS;
  const coldProjects = Array.from({ length: COLD_PROJECTS }, (_, i) => rest[Math.floor(i * step)]!.name);
  return {
    root,
    source: `${root} (real mirror)`,
    projects: pages.length,
    warmProject: warm.name,
    warmFiles: warm.links,
    wheel,
    coldProjects,
  };
}

function anchor(filename: string, sha: string): string {
  return `<a href="../../files/${filename}#sha256=${sha}" data-requires-python="&gt;=3.8">${filename}</a><br/>\n`;
}

function writePage(simpleDir: string, project: string, filenames: string[]): void {
  mkdirSync(join(simpleDir, project), { recursive: true });
  const body = filenames.map((f) => anchor(f, sha256Hex(f))).join("");
  writeFileSync(
    join(simpleDir, project, "index.html"),
    `<!DOCTYPE html>\n<html><head><title>Links for ${project}</title></head><body>\n<h1>Links for ${project}</h1>\n${body}</body></html>\n`,
  );
}

function writeRoot(simpleDir: string, projects: string[]): void {
  const body = projects.map((p) => `<a href="${p}/">${p}</a>\n`).join("");
  writeFileSync(
    join(simpleDir, "index.html"),
    `<!DOCTYPE html>\n<html><head><title>Simple index</title></head><body>\n${body}</body></html>\n`,
  );
}

function wheelFiles(project: string, count: number, versionPrefix = "1"): string[] {
  const dist = project.replace(/-/g, "_");
  return Array.from(
    { length: count },
    (_, i) => `${dist}-${versionPrefix}.${Math.floor(i / 10)}.${i % 10}-py3-none-any.whl`,
  );
}

/** Deterministic pseudo-random bytes (xorshift32), so the wheel does not compress away. */
function noise(size: number): Buffer {
  const buf = Buffer.alloc(size);
  let x = 0x9e3779b9;
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf.writeUInt32LE(x >>> 0, i);
  }
  return buf;
}

/** A valid wheel (METADATA, WHEEL, RECORD with digests) holding ~`size` bytes of stored noise. */
async function writeWheel(path: string, name: string, version: string, size: number): Promise<void> {
  const dist = name.replace(/-/g, "_");
  const info = `${dist}-${version}.dist-info`;
  const members: [string, Buffer][] = [
    [`${dist}/__init__.py`, Buffer.from('"""Benchmark payload."""\n')],
    [`${dist}/payload.bin`, noise(size)],
    [
      `${info}/METADATA`,
      Buffer.from(`Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nSummary: benchmark payload\n`),
    ],
    [
      `${info}/WHEEL`,
      Buffer.from(
        "Wheel-Version: 1.0\nGenerator: portcullis-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
      ),
    ],
  ];
  const recordLines = members.map(
    ([p, b]) => `${p},sha256=${createHash("sha256").update(b).digest("base64url")},${b.length}`,
  );
  members.push([`${info}/RECORD`, Buffer.from(`${recordLines.join("\n")}\n${info}/RECORD,,\n`)]);
  const zip = new yazl.ZipFile();
  for (const [p, b] of members)
    zip.addBuffer(b, p, { compress: false, mtime: new Date(Date.UTC(2020, 0, 1)) });
  zip.end();
  const out = createWriteStream(path);
  zip.outputStream.pipe(out);
  await finished(out);
}

/** Where /opt/pypi is missing: 3 projects x 300 files, 60 small projects, one ~2 MiB wheel. */
async function syntheticMainTree(root: string): Promise<MainTree> {
  const simple = join(root, "simple");
  const files = join(root, "files");
  mkdirSync(simple, { recursive: true });
  mkdirSync(files, { recursive: true });
  const projects: string[] = [];
  for (let i = 0; i < 3; i++) {
    const p = `big-project-${i}`;
    writePage(simple, p, wheelFiles(p, 300));
    projects.push(p);
  }
  const coldProjects: string[] = [];
  for (let i = 0; i < 60; i++) {
    const p = `small-project-${String(i).padStart(3, "0")}`;
    writePage(simple, p, wheelFiles(p, 3));
    projects.push(p);
    coldProjects.push(p);
  }
  const filename = "benchwheel-1.0.0-py3-none-any.whl";
  const path = join(files, filename);
  await writeWheel(path, "benchwheel", "1.0.0", WHEEL_TARGET_BYTES - 2048);
  const bytes = readFileSync(path);
  const sha256 = sha256Hex(bytes);
  mkdirSync(join(simple, "benchwheel"), { recursive: true });
  writeFileSync(
    join(simple, "benchwheel", "index.html"),
    `<!DOCTYPE html><html><body>\n${anchor(filename, sha256)}</body></html>\n`,
  );
  projects.push("benchwheel");
  writeRoot(simple, projects.sort());
  return {
    root,
    source: `synthetic tree (${projects.length} projects)`,
    projects: projects.length,
    warmProject: "big-project-0",
    warmFiles: 300,
    wheel: { project: "benchwheel", filename, urlPath: `/files/${filename}`, sha256, size: bytes.length },
    coldProjects: coldProjects.slice(0, COLD_PROJECTS),
  };
}

/**
 * The catalog tree: `bench-warm` with 15 files and 4,999 projects with 21 files each (104,994
 * files), plus a root index.html listing all 5,000. The files themselves are never fetched, so
 * they do not exist.
 */
function catalogTree(root: string): { warmProject: string; others: string[]; totalFiles: number } {
  const simple = join(root, "simple");
  mkdirSync(simple, { recursive: true });
  const warmProject = "bench-warm";
  writePage(simple, warmProject, wheelFiles(warmProject, WARM_PROJECT_FILES));
  const others = Array.from({ length: CATALOG_PROJECTS - 1 }, (_, i) => `cat-${String(i).padStart(5, "0")}`);
  for (const p of others) writePage(simple, p, wheelFiles(p, CATALOG_FILES_PER_PROJECT));
  writeRoot(simple, [warmProject, ...others].sort());
  return { warmProject, others, totalFiles: WARM_PROJECT_FILES + others.length * CATALOG_FILES_PER_PROJECT };
}

// ---------------------------------------------------------------------------------------------
// nginx, wrk, the gateway
// ---------------------------------------------------------------------------------------------

async function startNginx(
  bin: string,
  tmp: string,
  servers: { port: number; root: string }[],
): Promise<ChildProcess> {
  const dir = join(tmp, "nginx");
  mkdirSync(join(dir, "temp"), { recursive: true });
  const conf = `# Generated by bench/serve/run.ts
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
  types { text/html html; application/zip whl; application/json json; }
  default_type application/octet-stream;
  client_body_temp_path ${dir}/temp/client;
  proxy_temp_path ${dir}/temp/proxy;
  fastcgi_temp_path ${dir}/temp/fastcgi;
  uwsgi_temp_path ${dir}/temp/uwsgi;
  scgi_temp_path ${dir}/temp/scgi;
${servers.map((s) => `  server { listen 127.0.0.1:${s.port}; root ${s.root}; index index.html; }`).join("\n")}
}
`;
  writeFileSync(join(dir, "nginx.conf"), conf);
  const logFile = join(dir, "stdout.log");
  const child = startChild(
    bin,
    ["-p", `${dir}/`, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log")],
    {
      logFile,
    },
  );
  const deadline = performance.now() + 10_000;
  for (const s of servers) {
    for (;;) {
      if (!alive(child)) throw new Error(`nginx exited:\n${tail(join(dir, "error.log"))}\n${tail(logFile)}`);
      try {
        await get(`http://127.0.0.1:${s.port}/`, {}, { agent: false, timeoutMs: 1000 });
        break;
      } catch {
        if (performance.now() > deadline) throw new Error("nginx did not answer within 10 s");
        await sleep(20);
      }
    }
  }
  return child;
}

interface WrkRun {
  rps: number;
  bytesPerSec: number;
  requests: number;
  p50ms: number;
  p99ms: number;
  socketErrors: number;
}

const WRK_LUA = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\":%.0f,\\"duration_us\\":%.0f,\\"bytes\\":%.0f,\\"connect\\":%.0f,\\"read\\":%.0f,\\"write\\":%.0f,\\"status\\":%.0f,\\"timeout\\":%.0f,\\"p50_us\\":%.0f,\\"p99_us\\":%.0f}\\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;

let wrkBin = "wrk";
/** Where dist/ of the gateway under test is (the repository, or the --ref export). */
let gatewayRoot = REPO;
let wrkScript = "";

async function wrkOnce(url: string, headers: Record<string, string>, seconds: number): Promise<WrkRun> {
  const args = [`-t${WRK_THREADS}`, `-c${WRK_CONNECTIONS}`, `-d${seconds}s`, "-s", wrkScript];
  for (const [k, v] of Object.entries(headers)) args.push("-H", `${k}: ${v}`);
  args.push(url);
  const child = spawn(wrkBin, args, { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  children.delete(child);
  const line = out.split("\n").find((l) => l.startsWith("WRKJSON "));
  if (code !== 0 || !line) throw new Error(`wrk ${url} failed (exit ${code}):\n${out}`);
  const j = JSON.parse(line.slice("WRKJSON ".length)) as Record<string, number>;
  const secs = j.duration_us! / 1e6;
  if (j.status! > 0) throw new Error(`wrk ${url}: ${j.status} responses with status >= 400`);
  if (j.requests === 0) throw new Error(`wrk ${url}: no requests completed\n${out}`);
  return {
    rps: j.requests! / secs,
    bytesPerSec: j.bytes! / secs,
    requests: j.requests!,
    p50ms: j.p50_us! / 1000,
    p99ms: j.p99_us! / 1000,
    socketErrors: j.connect! + j.read! + j.write! + j.timeout!,
  };
}

interface Target {
  label: string;
  url: string;
  headers?: Record<string, string>;
  /** The serving process, for CPU time per request. */
  pid: number;
  /** Warm up this target first (the gateway's JIT); nginx needs none in --quick. */
  warmup?: boolean;
}

interface Measured {
  rps: number;
  bytesPerSec: number;
  /** Median CPU time (user + system) of the serving process per request, in microseconds. */
  cpuUsPerRequest: number;
  runs: (WrkRun & { cpuUsPerRequest: number })[];
}

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim()) || 100;

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/**
 * Interleaved: a warm-up run per target (discarded), then RUNS rounds that each run every target
 * once, so a change in background load hits both sides alike. The median by req/s per target.
 */
async function compare(targets: Target[]): Promise<Measured[]> {
  for (const t of targets)
    if (t.warmup !== false && WARMUP_S > 0) await wrkOnce(t.url, t.headers ?? {}, WARMUP_S);
  const runs: Measured["runs"][] = targets.map(() => []);
  for (let i = 0; i < RUNS; i++) {
    for (const [k, t] of targets.entries()) {
      const cpu0 = cpuSeconds(t.pid);
      const r = await wrkOnce(t.url, t.headers ?? {}, DURATION_S);
      const cpu = cpuSeconds(t.pid) - cpu0;
      runs[k]!.push({ ...r, cpuUsPerRequest: (cpu / r.requests) * 1e6 });
    }
  }
  return targets.map((t, k) => {
    const rs = runs[k]!;
    const m: Measured = {
      rps: median(rs.map((r) => r.rps)),
      bytesPerSec: median(rs.map((r) => r.bytesPerSec)),
      cpuUsPerRequest: median(rs.map((r) => r.cpuUsPerRequest)),
      runs: rs,
    };
    log(
      `  wrk ${t.label}: ${rs.map((r) => fmt(r.rps)).join(" / ")} req/s -> median ${fmt(m.rps)};` +
        ` ${fmt(m.cpuUsPerRequest)} us CPU/req; p50 ${median(rs.map((r) => r.p50ms)).toFixed(2)} ms,` +
        ` p99 ${median(rs.map((r) => r.p99ms)).toFixed(2)} ms`,
    );
    return m;
  });
}

function gatewayEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("PORTCULLIS_")) env[k] = v;
  env.PORTCULLIS_LOG_LEVEL = "warn";
  return env;
}

interface Gateway {
  child: ChildProcess;
  pid: number;
  base: string;
  dataDir: string;
  logFile: string;
  startupMs: number;
}

async function startGateway(tmp: string, label: string, upstream: string): Promise<Gateway> {
  const port = await freePort();
  const dataDir = join(tmp, `data-${label}`);
  const logFile = join(tmp, `gateway-${label}.log`);
  const base = `http://127.0.0.1:${port}`;
  const args = [
    // The built bundle directly, not bin/portcullis: the latter runs the sources through tsx when
    // any file under src/ is newer than dist/, which others editing src/ would trigger mid-run.
    existsSync(join(gatewayRoot, "dist", "bundle", "portcullis.mjs"))
      ? join(gatewayRoot, "dist", "bundle", "portcullis.mjs")
      : join(gatewayRoot, "dist", "cli", "main.js"),
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--data",
    dataDir,
    "--upstream",
    upstream,
    "--shutdown-grace",
    "2",
  ];
  const t0 = performance.now();
  const child = startChild(process.execPath, args, { logFile, env: gatewayEnv(), cwd: tmp });
  for (;;) {
    if (!alive(child)) {
      const log = tail(logFile, 40);
      const why = log.split("\n").findLast((l) => /error/i.test(l)) ?? log.split("\n").pop();
      throw new Error(`gateway ${label} exited (${child.exitCode}): ${why?.trim()}\n${log}`);
    }
    try {
      const res = await get(`${base}/healthz`, {}, { agent: false, timeoutMs: 2000 });
      if (res.status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (performance.now() - t0 > 30_000)
      throw new Error(`gateway ${label} not ready after 30 s:\n${tail(logFile)}`);
    await sleep(2);
  }
  const startupMs = performance.now() - t0;
  return { child, pid: child.pid!, base, dataDir, logFile, startupMs };
}

function catalogCounts(dataDir: string): { projects: number; files: number } {
  const db = new Database(join(dataDir, "portcullis.db"), { readonly: true, fileMustExist: true });
  try {
    const files = (db.prepare("select count(*) as n from dist_files").get() as { n: number }).n;
    const projects = (db.prepare("select count(*) as n from projects").get() as { n: number }).n;
    return { projects, files };
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

let tmpRoot: string | undefined;
/** Set on SIGINT/SIGTERM: remaining steps are skipped while cleanup runs. */
let aborting = false;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...children].map((c) => stopChild(c)));
    keepAlive.destroy();
    if (tmpRoot) rmSync(tmpRoot, { recursive: true, force: true });
  })();
  return cleaning;
}

for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(sig, () => {
    aborting = true;
    log(`${sig}: stopping children and removing ${tmpRoot ?? "temp dir"}`);
    void cleanup().finally(() => process.exit(130));
  });
}
// Last resort if something exits the process without the finally below.
process.once("exit", () => {
  for (const c of children) killGroup(c, "SIGKILL");
  if (tmpRoot) rmSync(tmpRoot, { recursive: true, force: true });
});

async function main(): Promise<number> {
  const tools = ensureTools();
  wrkBin = tools.wrk;
  const nginxVersion = spawnSync(tools.nginx, ["-v"], { encoding: "utf8" }).stderr.trim();
  const wrkVersion = (spawnSync(tools.wrk, ["-v"], { encoding: "utf8" }).stdout ?? "").split("\n")[0]!.trim();
  tmpRoot = mkdtempSync(join(os.tmpdir(), "portcullis-bench-serve-"));
  const tmp = tmpRoot;
  const buildInfo = prepareGateway(tmp);
  gatewayRoot = buildInfo.root;
  wrkScript = join(tmp, "report.lua");
  writeFileSync(wrkScript, WRK_LUA);

  const loadStart = os.loadavg();
  log(
    `mode ${QUICK ? "quick (1 x 3 s per figure)" : `full (median of ${RUNS} x ${DURATION_S} s per figure, interleaved)`};` +
      ` ${os.cpus().length} CPUs, load ${loadStart.map((l) => l.toFixed(2)).join(" ")}; temp ${tmp}`,
  );
  if (loadStart[0]! > os.cpus().length * 0.25) {
    log(
      `WARNING: the machine is busy (1-min load ${loadStart[0]!.toFixed(2)} on ${os.cpus().length} CPUs): ` +
        "throughput figures will be noisy; ratios are measured interleaved to limit the damage",
    );
  }
  const useMirror = !FORCE_SYNTHETIC && existsSync(join(MIRROR, "simple"));
  const main: MainTree = useMirror ? scanMirror(MIRROR) : await syntheticMainTree(join(tmp, "tree-main"));
  log(
    `main tree: ${main.source}, ${main.projects} projects; warm page ${main.warmProject} (${main.warmFiles} files); ` +
      `wheel ${main.wheel.filename} (${(main.wheel.size / 1e6).toFixed(2)} MB)`,
  );
  const t0 = performance.now();
  const catalogRoot = join(tmp, "tree-catalog");
  const catalog = catalogTree(catalogRoot);
  log(
    `catalog tree: ${CATALOG_PROJECTS} projects, ${catalog.totalFiles.toLocaleString("en-US")} files ` +
      `(generated in ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );

  const mainPort = await freePort();
  const catPort = await freePort();
  const nginx = await startNginx(tools.nginx, tmp, [
    { port: mainPort, root: main.root },
    { port: catPort, root: catalogRoot },
  ]);
  const nginxPid = nginx.pid!;
  const nginxMain = `http://127.0.0.1:${mainPort}`;
  const nginxCat = `http://127.0.0.1:${catPort}`;
  log(`nginx (pid ${nginxPid}) on ${nginxMain} (main tree) and ${nginxCat} (catalog tree)`);

  // 6a/6b. Start-up and idle RSS, each on a fresh data directory. In --quick the main gateway's
  // own start is the one sample.
  const startupSamples: number[] = [];
  const idleRss: number[] = [];
  const sampleStart = async (gw: Gateway) => {
    startupSamples.push(gw.startupMs);
    await sleep(1000);
    idleRss.push(rssMiB(gw.pid));
  };
  const recordStartup = () => {
    log(
      `  start-up ${startupSamples.map((s) => s.toFixed(0)).join(" / ")} ms;` +
        ` idle RSS ${idleRss.map((r) => r.toFixed(1)).join(" / ")} MiB`,
    );
    record("startup", median(startupSamples), null, { samplesMs: startupSamples });
    record("rss-idle", Math.max(...idleRss), null, { samplesMiB: idleRss });
  };
  if (!QUICK) {
    await step("6. start-up and idle RSS", ["startup", "rss-idle"], async () => {
      for (let i = 0; i < STARTUP_SAMPLES; i++) {
        const gw = await startGateway(tmp, `startup-${i}`, `${nginxMain}/simple/`);
        await sampleStart(gw);
        await stopChild(gw.child);
      }
      recordStartup();
    });
  }

  // Gateway A: the main tree over HTTP.
  let gwA: Gateway | undefined;
  await step(
    "gateway on the main tree",
    ["warm-html", "warm-json", "file", "cold", ...(QUICK ? ["startup", "rss-idle"] : [])],
    async () => {
      gwA = await startGateway(tmp, "main", `${nginxMain}/simple/`);
      log(
        `  gateway (pid ${gwA.pid}) on ${gwA.base}, upstream ${nginxMain}/simple/, ready in ${gwA.startupMs.toFixed(0)} ms`,
      );
      if (QUICK) {
        await sampleStart(gwA);
        recordStartup();
      }
    },
  );

  if (gwA) {
    const a = gwA;
    // 1. Warm project page.
    await step(`1. warm project page /simple/${main.warmProject}/`, ["warm-html", "warm-json"], async () => {
      const nginxUrl = `${nginxMain}/simple/${main.warmProject}/index.html`;
      const gwUrl = `${a.base}/simple/${main.warmProject}/`;
      const html = await getOk(gwUrl, ACCEPT_HTML);
      const json = await getOk(gwUrl, ACCEPT_JSON);
      const jsonFiles = (JSON.parse(json.body.toString("utf8")) as { files: unknown[] }).files.length;
      const direct = await getOk(nginxUrl);
      if (jsonFiles !== main.warmFiles) log(`  note: gateway lists ${jsonFiles} of ${main.warmFiles} files`);
      const sizes = {
        nginxBytes: direct.body.length,
        gatewayHtmlBytes: html.body.length,
        gatewayJsonBytes: json.body.length,
      };
      log(
        `  page sizes: nginx ${sizes.nginxBytes} B, gateway HTML ${sizes.gatewayHtmlBytes} B, JSON ${sizes.gatewayJsonBytes} B`,
      );
      const [n, h, j] = await compare([
        { label: "nginx index.html", url: nginxUrl, pid: nginxPid, warmup: !QUICK },
        { label: "gateway HTML", url: gwUrl, headers: ACCEPT_HTML, pid: a.pid },
        { label: "gateway JSON", url: gwUrl, headers: ACCEPT_JSON, pid: a.pid },
      ]);
      const common = { project: main.warmProject, files: main.warmFiles, ...sizes, nginx: n };
      record("warm-html", h!.rps, n!.rps, { ...common, gateway: h });
      record("warm-json", j!.rps, n!.rps, {
        ...common,
        baselineNote: "nginx serving the same index.html (there is no static JSON)",
        gateway: j,
      });
    });

    // 3. File download.
    await step(`3. file download ${main.wheel.filename}`, ["file"], async () => {
      const w = main.wheel;
      const pageUrl = `${a.base}/simple/${normalize(w.project)}/`;
      const page = await getOk(pageUrl, ACCEPT_JSON);
      const listed = (
        JSON.parse(page.body.toString("utf8")) as { files: { filename: string; url: string }[] }
      ).files.find((f) => f.filename === w.filename);
      if (!listed) throw new Error(`${w.filename} not listed on the gateway's page for ${w.project}`);
      const gwUrl = new URL(listed.url, pageUrl).href;
      const first = await getOk(gwUrl);
      if (sha256Hex(first.body) !== w.sha256) throw new Error("first download: sha256 mismatch");
      log(`  first fetch (upstream -> verify -> store -> send): ${first.ms.toFixed(1)} ms`);
      const nginxUrl = `${nginxMain}${w.urlPath}`;
      const [n, g] = await compare([
        { label: "nginx file", url: nginxUrl, pid: nginxPid, warmup: !QUICK },
        { label: "gateway /files/", url: gwUrl, pid: a.pid },
      ]);
      // MB/s: completed responses x file size, in 10^6 bytes.
      record("file", (g!.rps * w.size) / 1e6, (n!.rps * w.size) / 1e6, {
        filename: w.filename,
        size: w.size,
        firstFetchMs: first.ms,
        gateway: g,
        nginx: n,
      });
    });

    // 4. Cold project pages.
    await step(
      `4. cold project page (${main.coldProjects.length} projects, each once)`,
      ["cold"],
      async () => {
        const up: number[] = [];
        const gw: number[] = [];
        const added: number[] = [];
        for (const p of main.coldProjects) {
          // The upstream's own time for the request the gateway makes, then the same page through the gateway.
          const direct = await getOk(`${nginxMain}/simple/${p}/`);
          const through = await getOk(`${a.base}/simple/${normalize(p)}/`, ACCEPT_HTML);
          up.push(direct.ms);
          gw.push(through.ms);
          added.push(through.ms - direct.ms);
        }
        log(
          `  upstream median ${median(up).toFixed(2)} ms; gateway cold median ${median(gw).toFixed(2)} ms,` +
            ` p90 ${percentile(gw, 90).toFixed(2)} ms, max ${Math.max(...gw).toFixed(2)} ms`,
        );
        record("cold", median(added), null, {
          projects: main.coldProjects.length,
          upstreamMedianMs: median(up),
          gatewayMedianMs: median(gw),
          gatewayP90Ms: percentile(gw, 90),
          gatewayMaxMs: Math.max(...gw),
          addedP90Ms: percentile(added, 90),
        });
      },
    );
    await stopChild(a.child);
  }

  // Catalog: two gateways on the catalog tree, one knowing 15 files, one ~100k, measured interleaved.
  await step("gateways on the catalog tree", ["catalog", "rss-5000", "root"], async () => {
    const upstream = `${nginxCat}/simple/`;
    const small = await startGateway(tmp, "catalog-small", upstream);
    const big = await startGateway(tmp, "catalog-big", upstream);
    log(`  gateways (pids ${small.pid}, ${big.pid}) on ${small.base} and ${big.base}, upstream ${upstream}`);
    const warmPath = `/simple/${catalog.warmProject}/`;
    for (const gw of [small, big]) {
      const first = await getOk(`${gw.base}${warmPath}`, ACCEPT_HTML);
      if (countAnchors(first.body.toString("utf8")) !== WARM_PROJECT_FILES)
        throw new Error(`${warmPath} incomplete`);
    }

    log(
      `seeding ${catalog.others.length} more projects through one gateway (${SEED_CONCURRENCY} in flight) ...`,
    );
    const s0 = performance.now();
    let failures = 0;
    const failed: string[] = [];
    await pool(catalog.others, SEED_CONCURRENCY, async (p) => {
      const res = await get(`${big.base}/simple/${p}/`, ACCEPT_HTML);
      if (res.status !== 200) {
        failures++;
        if (failed.length < 3) failed.push(`${p}: HTTP ${res.status} ${String(res.body).slice(0, 200)}`);
      }
    });
    const seedMs = performance.now() - s0;
    if (failures) throw new Error(`${failures} seed requests failed, e.g. ${failed.join("; ")}`);
    const smallCounts = catalogCounts(small.dataDir);
    const bigCounts = catalogCounts(big.dataDir);
    log(
      `  seeded in ${(seedMs / 1000).toFixed(1)} s (${fmt((catalog.others.length / seedMs) * 1000)} cold pages/s);` +
        ` catalogs: ${smallCounts.projects} project / ${smallCounts.files} files vs` +
        ` ${bigCounts.projects} projects / ${bigCounts.files.toLocaleString("en-US")} files`,
    );

    // 6c. RSS after 5,000 distinct pages: what the gateway holds once it has learned them, 3 s
    // after the burst (it compacts its heap when idle after one; right after the burst the figure
    // mostly says where V8's collection cycle happened to be).
    await sleep(3000);
    const heap = await heapFigures(big.base);
    record("rss-5000", rssMiB(big.pid), null, {
      projects: bigCounts.projects,
      files: bigCounts.files,
      ...heap,
    });

    // 5. The same warm page, 15 files known vs ~100k.
    log(
      `5. warm page ${warmPath} with ${smallCounts.files} vs ${bigCounts.files.toLocaleString("en-US")} files known`,
    );
    const [s, b] = await compare([
      {
        label: "gateway, 15 files known",
        url: `${small.base}${warmPath}`,
        headers: ACCEPT_HTML,
        pid: small.pid,
      },
      {
        label: "gateway, ~100k files known",
        url: `${big.base}${warmPath}`,
        headers: ACCEPT_HTML,
        pid: big.pid,
      },
    ]);
    record("catalog", b!.rps, s!.rps, {
      smallCatalog: smallCounts,
      largeCatalog: bigCounts,
      seedSeconds: seedMs / 1000,
      seedPagesPerSecond: (catalog.others.length / seedMs) * 1000,
      small: s,
      big: b,
    });
    await stopChild(small.child);

    // 2. The root listing with 5,000 projects.
    log("2. /simple/ root with 5,000 projects");
    const root = await getOk(`${big.base}/simple/`, ACCEPT_HTML);
    const listed = countAnchors(root.body.toString("utf8"));
    if (listed !== CATALOG_PROJECTS)
      throw new Error(`gateway root lists ${listed} projects, expected ${CATALOG_PROJECTS}`);
    const nginxRootUrl = `${nginxCat}/simple/index.html`;
    const nginxRoot = await getOk(nginxRootUrl);
    log(`  root sizes: nginx ${nginxRoot.body.length} B, gateway ${root.body.length} B`);
    const [n, g] = await compare([
      { label: "nginx root index.html", url: nginxRootUrl, pid: nginxPid, warmup: !QUICK },
      { label: "gateway /simple/", url: `${big.base}/simple/`, headers: ACCEPT_HTML, pid: big.pid },
    ]);
    record("root", g!.rps, n!.rps, {
      projects: listed,
      nginxBytes: nginxRoot.body.length,
      gatewayBytes: root.body.length,
      gateway: g,
      nginx: n,
    });
    await stopChild(big.child);
  });

  await stopChild(nginx);

  // Report.
  const rows: MetricResult[] = METRICS.map(
    (m) =>
      results.get(m.id) ?? {
        id: m.id,
        name: m.name,
        unit: m.unit,
        gateway: null,
        baseline: null,
        ratio: null,
        target: m.targetText,
        pass: null,
        error: "not measured",
      },
  );
  printTable(rows);
  const failed = rows.filter((r) => r.pass === false).length;
  const errored = rows.filter((r) => r.pass === null).length;
  const loadEnd = os.loadavg();
  const distMain = join(gatewayRoot, "dist", "cli", "main.js");
  const srcChanged = !REF && newestSource(join(REPO, "src")) > statSync(distMain).mtimeMs;
  if (srcChanged) {
    log(
      `note: src/ changed during the run; the figures are for dist/ as built at ${statSync(distMain).mtime.toISOString()}`,
    );
  }
  const report = {
    date: new Date().toISOString(),
    mode: QUICK ? "quick" : "full",
    seconds: (performance.now() - started) / 1000,
    settings: {
      runs: RUNS,
      durationSeconds: DURATION_S,
      warmupSeconds: WARMUP_S,
      wrk: `-t${WRK_THREADS} -c${WRK_CONNECTIONS} -d${DURATION_S}s`,
      coldProjects: COLD_PROJECTS,
      startupSamples: QUICK ? 1 : STARTUP_SAMPLES,
      nginx: "1 process (daemon off, master_process off, worker_processes 1), access_log off, sendfile on",
    },
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGiB: os.totalmem() / 1024 ** 3,
      loadAverageStart: loadStart,
      loadAverageEnd: loadEnd,
      node: process.version,
      nginx: nginxVersion,
      wrk: wrkVersion,
    },
    git: REF ? { ref: REF, commit: buildInfo.ref, workingTree: false } : gitInfo(),
    build: {
      ...buildInfo,
      distBuiltAt: statSync(distMain).mtime.toISOString(),
      srcChangedDuringRun: srcChanged,
    },
    trees: {
      main: {
        source: main.source,
        projects: main.projects,
        warmProject: main.warmProject,
        warmFiles: main.warmFiles,
        wheel: main.wheel,
      },
      catalog: { projects: CATALOG_PROJECTS, files: catalog.totalFiles, warmProject: catalog.warmProject },
    },
    summary: { passed: rows.length - failed - errored, failed, errors: errored },
    metrics: rows,
  };
  writeFileSync(OUT_JSON, `${JSON.stringify(report, null, 2)}\n`);
  log(
    `results written to ${OUT_JSON} (load average at the end ${loadEnd.map((l) => l.toFixed(2)).join(" ")})`,
  );
  return errored ? 2 : failed ? 1 : 0;
}

/** Heap figures from the gateway's own Prometheus metrics, when it exposes them. */
async function heapFigures(base: string): Promise<Record<string, number>> {
  try {
    const text = (await get(`${base}/metrics`)).body.toString("utf8");
    const pick = (name: string) => {
      const m = new RegExp(`^\\w*${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, "m").exec(text);
      return m ? Number(m[1]) / 1024 ** 2 : undefined;
    };
    const out: Record<string, number> = {};
    for (const [k, n] of [
      ["heapUsedMiB", "nodejs_heap_size_used_bytes"],
      ["heapTotalMiB", "nodejs_heap_size_total_bytes"],
      ["externalMiB", "nodejs_external_memory_bytes"],
    ] as const) {
      const v = pick(n);
      if (v !== undefined) out[k] = v;
    }
    if (Object.keys(out).length) {
      log(
        `  heap used ${fmt(out.heapUsedMiB ?? NaN)} MiB of ${fmt(out.heapTotalMiB ?? NaN)} MiB, external ${fmt(out.externalMiB ?? NaN)} MiB`,
      );
    }
    return out;
  } catch {
    return {};
  }
}

function gitInfo(): { commit?: string; dirty?: boolean } {
  const head = spawnSync("git", ["rev-parse", "HEAD"], { cwd: REPO, encoding: "utf8" });
  const status = spawnSync("git", ["status", "--porcelain", "--", "src"], { cwd: REPO, encoding: "utf8" });
  return head.status === 0 ? { commit: head.stdout.trim(), dirty: (status.stdout ?? "").trim() !== "" } : {};
}

function printTable(rows: MetricResult[]): void {
  const lines: string[][] = [["metric", "gateway", "baseline", "ratio / target", "result"]];
  for (const r of rows) {
    const unit = ` ${r.unit}`;
    let gateway = r.gateway === null ? "-" : `${fmt(r.gateway)}${unit}`;
    let baseline = r.baseline === null ? "-" : `${fmt(r.baseline)}${unit}`;
    let ratio: string;
    if (r.id === "cold" && r.gateway !== null) {
      const d = r.details as { gatewayMedianMs: number; upstreamMedianMs: number };
      gateway = `${fmt(d.gatewayMedianMs)} ms`;
      baseline = `${fmt(d.upstreamMedianMs)} ms (nginx)`;
      ratio = `+${fmt(r.gateway)} ms (${r.target})`;
    } else if (r.id === "catalog" && r.gateway !== null) {
      baseline = `${fmt(r.baseline)}${unit} (15 files)`;
      ratio = `${r.ratio?.toFixed(2)}x (${r.target})`;
    } else if (r.ratio !== null) {
      baseline += " (nginx)";
      ratio = `${r.ratio.toFixed(2)}x (${r.target})`;
    } else {
      ratio = r.target;
    }
    lines.push([
      r.name,
      gateway,
      baseline,
      ratio,
      r.pass === null ? `ERROR: ${(r.error ?? "").split("\n")[0]}`.slice(0, 70) : r.pass ? "PASS" : "FAIL",
    ]);
  }
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const out = lines.map((l) =>
    l.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "),
  );
  out.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  process.stdout.write(`\n${out.join("\n")}\n\n`);
}

let exitCode = 2;
try {
  exitCode = await main();
} catch (err) {
  log(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  exitCode = 2;
} finally {
  await cleanup();
}
process.exit(exitCode);
