import { test } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "./program.js";

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: "", stderr: "" };
  const writes = [process.stdout.write, process.stderr.write];
  process.stdout.write = ((c: string | Uint8Array) => (
    (out.stdout += String(c)),
    true
  )) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => (
    (out.stderr += String(c)),
    true
  )) as typeof process.stderr.write;
  try {
    return { code: await runCli(["node", "portcullis", ...args]), ...out };
  } finally {
    [process.stdout.write, process.stderr.write] = writes as [
      typeof process.stdout.write,
      typeof process.stderr.write,
    ];
  }
}

test("a command's own --version is its option, not the program's version", async () => {
  // Port 1 answers nothing: the command ran (and failed to reach the gateway) rather than
  // printing the program's version and exiting 0 having granted nothing.
  const r = await run([
    "requests",
    "exception",
    "2",
    "--reason",
    "x",
    "--version",
    "2.34.2",
    "--gateway",
    "http://127.0.0.1:1",
    "--token",
    "pcl_000000000000_x",
  ]);
  assert.notEqual(r.stdout.trim(), "0.1.0", "not the program's version");
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /cannot reach http:\/\/127\.0\.0\.1:1/);
  const v = await run(["--version"]);
  assert.equal(v.stdout.trim(), "0.1.0");
});
