/**
 * `portcullis scan` speed: a generated tree of 20 virtual environments holding 5,000 installed
 * distributions (METADATA, RECORD with sha256 rows, INSTALLER, package files), scanned with the
 * catalog check against a local data directory, compared with a plain recursive directory walk of
 * the same tree (the floor any scan pays). Target: the whole scan in < 5 s.
 *
 * Run: node --import tsx bench/scan/run.ts [--quick]   (quick: 5 environments, 1,250 distributions)
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { loadConfig } from "../../src/config/options.js";
import { buildServices } from "../../src/main.js";
import { checkInventory } from "../../src/services/discovery/inventory-check.js";
import { scan } from "../../src/services/discovery/scan-service.js";

const quick = process.argv.includes("--quick");
const ENVS = quick ? 5 : 20;
const PER_ENV = 250;
const TARGET_MS = 5000;

function b64(text: string): string {
  return createHash("sha256").update(text).digest("base64url");
}

/** One venv: pyvenv.cfg, lib/python3.11/site-packages with PER_ENV distributions. */
function writeVenv(root: string, index: number): void {
  const venv = join(root, `project-${index}`, ".venv");
  const sp = join(venv, "lib", "python3.11", "site-packages");
  mkdirSync(sp, { recursive: true });
  writeFileSync(
    join(venv, "pyvenv.cfg"),
    "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.7\n",
  );
  writeFileSync(join(root, `project-${index}`, "requirements.txt"), "flask==3.1.3\nrequests>=2\n");
  for (let i = 0; i < PER_ENV; i++) {
    const name = `pkg_${index}_${i}`;
    const dist = join(sp, `${name}-1.${i}.dist-info`);
    const pkg = join(sp, name);
    mkdirSync(dist);
    mkdirSync(pkg);
    const rows: string[] = [];
    for (let f = 0; f < 6; f++) {
      const body = `# module ${f} of ${name}\nVALUE = ${f}\n`;
      writeFileSync(join(pkg, `m${f}.py`), body);
      rows.push(`${name}/m${f}.py,sha256=${b64(body)},${body.length}`);
    }
    const metadata = `Metadata-Version: 2.1\nName: ${name}\nVersion: 1.${i}\nSummary: generated\nLicense-Expression: MIT\nRequires-Dist: pkg_${index}_${(i + 1) % PER_ENV}>=1\n`;
    writeFileSync(join(dist, "METADATA"), metadata);
    writeFileSync(join(dist, "INSTALLER"), "pip\n");
    rows.push(`${name}-1.${i}.dist-info/METADATA,sha256=${b64(metadata)},${metadata.length}`);
    rows.push(`${name}-1.${i}.dist-info/RECORD,,`);
    writeFileSync(join(dist, "RECORD"), rows.join("\n") + "\n");
  }
}

/** The baseline: visit every directory and list it, nothing else. */
async function plainWalk(dir: string): Promise<number> {
  let n = 0;
  const entries = await readdir(dir, { withFileTypes: true });
  n += entries.length;
  const subs = entries.filter((e) => e.isDirectory()).map((e) => plainWalk(join(dir, e.name)));
  for (const c of await Promise.all(subs)) n += c;
  return n;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "bench-scan-"));
  const data = mkdtempSync(join(tmpdir(), "bench-scan-data-"));
  const upstream = mkdtempSync(join(tmpdir(), "bench-scan-up-"));
  try {
    process.stdout.write(`generating ${ENVS} environments × ${PER_ENV} distributions in ${root} …\n`);
    for (let e = 0; e < ENVS; e++) writeVenv(root, e);
    const services = await buildServices(
      loadConfig({ env: {}, flags: { data, upstream, logLevel: "silent", intelSync: "" } }),
      { logger: pino({ level: "silent" }), preVet: false },
    );
    try {
      // Warm the file system cache once for both, so neither pays the first cold read.
      await plainWalk(root);
      const t0 = performance.now();
      const entries = await plainWalk(root);
      const walkMs = performance.now() - t0;

      const t1 = performance.now();
      const result = await scan([root], (items, opts) => checkInventory(services, items, opts));
      const scanMs = performance.now() - t1;
      const dists = result.environments.reduce((n, e) => n + e.distributions.length, 0);
      if (result.environments.length !== ENVS || dists !== ENVS * PER_ENV)
        throw new Error(`scan found ${result.environments.length} environments / ${dists} distributions`);

      const t2 = performance.now();
      await scan([root]);
      const inventoryMs = performance.now() - t2;

      const ok = scanMs < TARGET_MS;
      process.stdout.write(
        [
          `tree: ${ENVS} environments, ${dists} distributions, ${entries} directory entries, ${readdirSync(root).length} projects`,
          `plain directory walk (baseline):   ${walkMs.toFixed(0)} ms`,
          `scan, inventory only:              ${inventoryMs.toFixed(0)} ms (${(inventoryMs / walkMs).toFixed(1)}× the walk)`,
          `scan with the catalog check:       ${scanMs.toFixed(0)} ms (${(scanMs / walkMs).toFixed(1)}× the walk)`,
          `target: < ${TARGET_MS} ms for 20 environments / 5,000 distributions: ${quick ? "(quick run: scaled down) " : ""}${ok ? "PASS" : "FAIL"}`,
        ].join("\n") + "\n",
      );
      if (!ok) process.exitCode = 1;
    } finally {
      await services.close();
    }
  } finally {
    for (const d of [root, data, upstream]) rmSync(d, { recursive: true, force: true });
  }
}

await main();
