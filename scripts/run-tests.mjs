#!/usr/bin/env node
// Finds the test files and hands them to Node's own test runner with the tsx loader.
// Node 20's `--test` takes no globs, so the list is built here.
// Usage: node scripts/run-tests.mjs [--unit] [--e2e] [extra node --test flags]
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";

const args = process.argv.slice(2);
const unitOnly = args.includes("--unit");
const e2eOnly = args.includes("--e2e");
const passThrough = args.filter((a) => a !== "--unit" && a !== "--e2e");
const root = new URL("..", import.meta.url).pathname;

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "dist") continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else if (name.endsWith(".test.ts")) out.push(relative(root, full));
  }
  return out;
}

let files = [...walk(join(root, "src"), []), ...walk(join(root, "test"), [])].sort();
const isE2e = (f) => f.startsWith("test/e2e/") || f.includes(".e2e.");
if (unitOnly) files = files.filter((f) => !isE2e(f));
if (e2eOnly) files = files.filter(isE2e);
const fileArgs = passThrough.filter((a) => !a.startsWith("-"));
const flags = passThrough.filter((a) => a.startsWith("-"));
if (fileArgs.length) files = fileArgs;
if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}
const run = (list, extra = []) =>
  spawnSync(
    process.execPath,
    ["--import", "tsx", "--test", "--test-reporter=spec", ...extra, ...flags, ...list],
    {
      stdio: "inherit",
      cwd: root,
    },
  ).status ?? 1;

// The whole suite: unit and integration files two (or cores - 1) at a time, since most of them
// wait on servers, databases and timers more than they compute (Node's default on a 2-vCPU
// machine is one at a time); then the end-to-end files one at a time, since real pip and Chromium
// keep both cores busy and some of them measure time. Files named on the command line, or an
// explicit --test-concurrency, run as given.
if (fileArgs.length || flags.some((f) => f.startsWith("--test-concurrency"))) process.exit(run(files));
const concurrency = Math.max(2, availableParallelism() - 1);
const fast = files.filter((f) => !isE2e(f));
const slow = files.filter(isE2e);
let status = 0;
if (fast.length) status = run(fast, [`--test-concurrency=${concurrency}`]) || status;
if (slow.length) status = run(slow) || status;
process.exit(status);
