/**
 * What the audit trail costs on the hot path: requests/s of a warm `/simple/<project>/` page and
 * of a warm file download, on a gateway that audits every request (queued, chained and written
 * in batches with the inventory, as in production) against the same gateway whose audit
 * recorder drops what it is given (the baseline), measured interleaved in one run.
 * Target: auditing costs < 10% (ratio >= 0.90).
 *
 * Run:  node --import tsx bench/audit/run.ts [--quick]
 *   --quick  one 2 s wrk run per figure (default: median of three 5 s runs)
 *
 * Both gateways run in this process (only one is loaded at a time), each over its own SQLite
 * data directory and the same local directory of wheels; wrk -t1 -c4 drives them with pip's
 * User-Agent (so records carry a parsed client, as in production). Exit code 0
 * when the target is met, 1 when not, 2 when a figure could not be measured.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestGateway, type TestGateway } from "../../test/helpers/test-gateway.js";
import { buildWheel } from "../../test/helpers/wheel-builder.js";

const QUICK = process.argv.includes("--quick");
const SECONDS = QUICK ? 2 : 5;
const ROUNDS = QUICK ? 1 : 3;
const TARGET = 0.9;
// What pip 23 sends: every audit record carries the client parsed from it.
const PIP_UA =
  'pip/23.0.1 {"ci":null,"cpu":"x86_64","distro":{"id":"jammy","libc":{"lib":"glibc","version":"2.35"},"name":"Ubuntu","version":"22.04"},"implementation":{"name":"CPython","version":"3.11.4"},"installer":{"name":"pip","version":"23.0.1"},"openssl_version":"OpenSSL 3.0.2 15 Mar 2022","python":"3.11.4","setuptools_version":"65.5.0","system":{"name":"Linux","release":"6.5.0"}}';

/** wrk in a child process, awaited: the gateways share this process's event loop, which must stay free. */
async function wrk(url: string): Promise<number> {
  const child = spawn("wrk", ["-t1", "-c4", `-d${SECONDS}s`, "-H", `User-Agent: ${PIP_UA}`, url], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => child.on("close", resolve));
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!m) throw new Error(`wrk failed: ${out}`);
  return Number(m[1]);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<number> {
  if (spawnSync("wrk", ["--version"]).error) {
    console.error("wrk is needed (apt-get install wrk)");
    return 2;
  }
  const wheels = mkdtempSync(join(tmpdir(), "bench-audit-wheels-"));
  const built = await buildWheel({
    name: "bench-widgets",
    version: "1.0",
    files: { "bench_widgets/__init__.py": "", "bench_widgets/data.bin": randomBytes(64 * 1024) },
  });
  writeFileSync(join(wheels, built.filename), built.bytes);
  const gateways: TestGateway[] = [];
  try {
    const audited = await startTestGateway({ upstream: wheels, logLevel: "silent" });
    const baseline = await startTestGateway({ upstream: wheels, logLevel: "silent" });
    gateways.push(audited, baseline);
    // The baseline's recorder drops every record: same hooks and auth, no audit work.
    baseline.gateway.services.audit.push = () => {};
    const page = "/simple/bench-widgets/";
    const pageJson = (await (
      await fetch(`${audited.url}${page}`, { headers: { accept: "application/vnd.pypi.simple.v1+json" } })
    ).json()) as { files: { url: string }[] };
    const fileUrl = new URL(pageJson.files[0]!.url, audited.url).pathname;
    for (const gw of gateways) {
      for (const path of [page, fileUrl]) {
        const res = await fetch(gw.url + path);
        if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
        await res.arrayBuffer();
      }
    }
    const figures: { name: string; path: string; audited: number[]; baseline: number[] }[] = [
      { name: "warm project page", path: page, audited: [], baseline: [] },
      {
        name: `file download (${Math.round(built.bytes.length / 1024)} KiB)`,
        path: fileUrl,
        audited: [],
        baseline: [],
      },
    ];
    for (let r = 0; r < ROUNDS; r++) {
      for (const f of figures) {
        f.baseline.push(await wrk(baseline.url + f.path));
        f.audited.push(await wrk(audited.url + f.path));
      }
    }
    await audited.gateway.services.audit.flush();
    const written = audited.gateway.services.audit.written;
    let ok = true;
    console.log(`audit cost on the hot path (wrk -t1 -c4, ${ROUNDS} × ${SECONDS} s, interleaved)`);
    console.log(
      "figure".padEnd(32),
      "audited req/s".padStart(14),
      "baseline req/s".padStart(15),
      "ratio".padStart(7),
      " target",
    );
    for (const f of figures) {
      const a = median(f.audited);
      const b = median(f.baseline);
      const ratio = a / b;
      const pass = ratio >= TARGET;
      ok &&= pass;
      console.log(
        f.name.padEnd(32),
        a.toFixed(0).padStart(14),
        b.toFixed(0).padStart(15),
        ratio.toFixed(2).padStart(7),
        ` >= ${TARGET} ${pass ? "PASS" : "FAIL"}`,
      );
    }
    console.log(`audit records written by the audited gateway: ${written}`);
    return ok ? 0 : 1;
  } finally {
    for (const gw of gateways) await gw.close();
    rmSync(wheels, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err);
    process.exit(2);
  },
);
