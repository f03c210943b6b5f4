/**
 * Where the gateway's memory goes while it learns many distinct project pages: the in-process
 * companion of bench/serve/run.ts's "RSS after 5,000 distinct pages" figure, with the numbers
 * that figure cannot show (live heap after a full GC, heap spaces, peak RSS, external buffers).
 *
 *   node --expose-gc --import tsx bench/serve/memory-probe.ts [--projects 5000] [--json]
 *        [--settle 10] [--snapshot before.heapsnapshot,after.heapsnapshot]
 *
 * The tree is the one run.ts seeds (21 wheels per project, HTML pages with sha256 fragments and
 * data-requires-python), served by test/helpers/upstream-server.ts from a child process so the
 * upstream's own allocations stay out of the figures. The gateway runs in this process, on
 * SQLite, fetched by 16 requests in flight like run.ts. Figures:
 *   - right after the burst, before any forced GC, and `--settle` seconds later, once the
 *     gateway's heap compactor (after 1 s idle) has had its chance (what run.ts samples, 3 s
 *     after, and what an operator sees);
 *   - peak RSS (VmHWM) over the run;
 *   - after two full GCs: the live heap, i.e. what the gateway retains per project;
 *   - heap spaces: used after those GCs, committed `--settle` seconds after the burst.
 * The young generation is capped as `portcullis serve` caps it.
 * Not a test: nothing asserts; compare before/after a change in the same conditions.
 */
import { fork } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { getHeapSpaceStatistics, writeHeapSnapshot } from "node:v8";
import { pino } from "pino";
import { YoungGenerationCap } from "../../src/adapters/runtime/young-generation-cap.js";

const FILES_PER_PROJECT = 21;
const CONCURRENCY = 16;
const MiB = 2 ** 20;

const { values: args } = parseArgs({
  options: {
    projects: { type: "string", default: "5000" },
    json: { type: "boolean", default: false },
    snapshot: { type: "string" },
    settle: { type: "string", default: "10" },
    "serve-tree": { type: "string" },
  },
});

if (args["serve-tree"]) {
  // Child mode: serve the tree and report the URL to the parent.
  const { startStaticIndexServer } = await import("../../test/helpers/upstream-server.js");
  const server = await startStaticIndexServer({ root: args["serve-tree"] });
  process.send!({ url: server.url });
  process.on("disconnect", () => void server.close().then(() => process.exit(0)));
} else {
  await probe();
}

async function probe(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with node --expose-gc --import tsx");
  // As `portcullis serve` does, before anything else allocates (the tree, tsx compiling the
  // sources): V8 never shrinks a young generation that grew past the cap while it is busy.
  new YoungGenerationCap().start();
  const n = Number(args.projects);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--projects must be a positive integer, got ${args.projects}`);
  const [beforeSnap, afterSnap] = (args.snapshot ?? "").split(",");

  const tmp = mkdtempSync(join(tmpdir(), "portcullis-memprobe-"));
  const names = Array.from({ length: n }, (_, i) => `cat-${String(i).padStart(5, "0")}`);
  writeTree(join(tmp, "tree"), names);
  const child = fork(new URL(import.meta.url), ["--serve-tree", join(tmp, "tree")], {
    execArgv: ["--import", "tsx"],
    stdio: "inherit",
  });
  const upstreamUrl = await new Promise<string>((resolve, reject) => {
    child.once("message", (m) => resolve((m as { url: string }).url));
    child.once("exit", (code) => reject(new Error(`upstream exited with ${code}`)));
  });

  // Loaded after the fork, so the figures include what the gateway itself loads.
  const { loadConfig } = await import("../../src/config/options.js");
  const { createGateway } = await import("../../src/main.js");
  const config = loadConfig({
    env: {},
    flags: {
      host: "127.0.0.1",
      port: 0,
      logLevel: "silent",
      intelSync: "",
      data: join(tmp, "data"),
      upstream: `${upstreamUrl}/simple/`,
    },
  });
  const gw = await createGateway(config, { logger: pino({ level: "silent" }) });
  try {
    const base = await gw.listen();
    gc();
    gc();
    const idle = figures();
    if (beforeSnap) writeHeapSnapshot(beforeSnap);

    const t0 = performance.now();
    let next = 0;
    let failures = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < n) {
          const name = names[next++]!;
          const res = await fetch(`${base}/simple/${name}/`, { headers: { accept: "text/html" } });
          await res.arrayBuffer();
          if (res.status !== 200) failures++;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    if (failures) throw new Error(`${failures} of ${n} pages failed`);
    const burst = figures();
    // What an operator sees once the burst is over: V8's memory reducer shrinks the heap a few
    // seconds after the allocation rate drops (no forced GC here).
    const settleSeconds = Number(args.settle);
    await new Promise((r) => setTimeout(r, settleSeconds * 1000));
    const settled = figures();
    // Committed, not used: what V8 holds on to (the gateway compacts once idle for 1 s after it).
    const settledSpaces = spaceSizes("space_size");
    gc();
    gc();
    const live = figures();
    if (afterSnap) writeHeapSnapshot(afterSnap);

    const spaces = spaceSizes("space_used_size");
    const result = {
      projects: n,
      seconds: round(seconds),
      idle,
      burst,
      settleSeconds,
      settled,
      live,
      peakRssMiB: vmHwmMiB(),
      liveHeapGrowthMiB: round(live.heapUsedMiB - idle.heapUsedMiB),
      liveHeapPerProjectKiB: round(((live.heapUsedMiB - idle.heapUsedMiB) * 1024) / n),
      heapSpacesUsedMiB: spaces,
      heapSpacesCommittedSettledMiB: settledSpaces,
    };
    if (args.json) {
      console.log(JSON.stringify(result, null, 2));
    } else {
      const row = (label: string, f: Figures) =>
        console.log(
          `${label.padEnd(18)} rss ${f.rssMiB.toFixed(1).padStart(6)}  heapUsed ${f.heapUsedMiB.toFixed(1).padStart(6)}` +
            `  heapTotal ${f.heapTotalMiB.toFixed(1).padStart(6)}  external ${f.externalMiB.toFixed(1).padStart(5)}` +
            `  arrayBuffers ${f.arrayBuffersMiB.toFixed(1).padStart(5)}`,
        );
      console.log(`${n} distinct pages in ${result.seconds} s (${CONCURRENCY} in flight), MiB:`);
      row("idle (after GC)", idle);
      row("after the burst", burst);
      row(`${settleSeconds} s later`, settled);
      row("live (after GC)", live);
      console.log(`peak RSS (VmHWM) ${result.peakRssMiB} MiB`);
      console.log(
        `live heap growth ${result.liveHeapGrowthMiB} MiB (${result.liveHeapPerProjectKiB} KiB per project)`,
      );
      console.log(`heap spaces used: ${JSON.stringify(spaces)}`);
      console.log(`heap spaces committed ${settleSeconds} s later: ${JSON.stringify(settledSpaces)}`);
    }
  } finally {
    await gw.close();
    child.disconnect();
    rmSync(tmp, { recursive: true, force: true });
  }
}

interface Figures {
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  arrayBuffersMiB: number;
}

function figures(): Figures {
  const m = process.memoryUsage();
  return {
    rssMiB: round(m.rss / MiB),
    heapUsedMiB: round(m.heapUsed / MiB),
    heapTotalMiB: round(m.heapTotal / MiB),
    externalMiB: round(m.external / MiB),
    arrayBuffersMiB: round(m.arrayBuffers / MiB),
  };
}

/** MiB per heap space (non-empty ones), of one of V8's per-space figures. */
function spaceSizes(field: "space_size" | "space_used_size"): Record<string, number> {
  return Object.fromEntries(
    getHeapSpaceStatistics()
      .filter((s) => s.space_size > 0)
      .map((s) => [s.space_name, round(s[field] / MiB)]),
  );
}

function vmHwmMiB(): number {
  const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? round(Number(m[1]) / 1024) : NaN;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/** The same pages as bench/serve/run.ts's catalog tree (21 wheels per project). */
function writeTree(root: string, names: string[]): void {
  const simple = join(root, "simple");
  for (const project of names) {
    const dist = project.replace(/-/g, "_");
    const body = Array.from({ length: FILES_PER_PROJECT }, (_, i) => {
      const f = `${dist}-1.${Math.floor(i / 10)}.${i % 10}-py3-none-any.whl`;
      const sha = createHash("sha256").update(f).digest("hex");
      return `<a href="../../files/${f}#sha256=${sha}" data-requires-python="&gt;=3.8">${f}</a><br/>\n`;
    }).join("");
    mkdirSync(join(simple, project), { recursive: true });
    writeFileSync(
      join(simple, project, "index.html"),
      `<!DOCTYPE html>\n<html><head><title>Links for ${project}</title></head><body>\n<h1>Links for ${project}</h1>\n${body}</body></html>\n`,
    );
  }
}
