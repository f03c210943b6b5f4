/**
 * The CLI as users run it, as separate processes beside a serving gateway: `intel import` into
 * the same data directory is picked up by the gateway; `explain` and `vet` talk to it.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { run } from "../helpers/python.js";
import { buildWheel } from "../helpers/wheel-builder.js";

const BIN = fileURLToPath(new URL("../../bin/portcullis", import.meta.url));
const cli = (args: string[]) =>
  run(process.execPath, [BIN, ...args], { env: { ...process.env, PORTCULLIS_FROM_SOURCE: "1" } });

describe("portcullis CLI beside a running gateway", () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;

  before(async () => {
    const old = "2025-01-01T00:00:00Z";
    const lib = await buildWheel({ name: "acme-lib", version: "1.0" });
    const lib2 = await buildWheel({ name: "acme-lib", version: "2.0" });
    const app = await buildWheel({ name: "acme-app", version: "1.0", requiresDist: ["acme-lib>=1"] });
    upstream = await startJsonIndexServer({
      projects: {
        "acme-lib": {
          files: [
            { filename: lib.filename, bytes: lib.bytes, uploadTime: old },
            { filename: lib2.filename, bytes: lib2.bytes, uploadTime: old },
          ],
        },
        "acme-app": { files: [{ filename: app.filename, bytes: app.bytes, uploadTime: old }] },
      },
    });
    gw = await startTestGateway({ upstream: upstream.simpleUrl, intelPoll: 0.1 });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test("intel import in another process is picked up by the serving gateway", async () => {
    const dir = mkdtempSync(join(tmpdir(), "osv-"));
    writeFileSync(
      join(dir, "PYSEC-2099-9.json"),
      JSON.stringify({
        id: "PYSEC-2099-9",
        modified: "2026-01-01T00:00:00Z",
        summary: "made-up flaw in acme-lib 2.0",
        affected: [{ package: { ecosystem: "PyPI", name: "acme-lib" }, versions: ["2.0"] }],
      }),
    );
    const res = await cli(["intel", "import", dir, "--data", gw.dataDir]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /imported 1 advisories/);
    let status = "";
    for (let i = 0; i < 100 && status !== "ready"; i++) {
      status = ((await (await fetch(`${gw.url}/readyz`)).json()) as { status: string }).status;
      if (status !== "ready") await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, "ready", "intel is no longer missing");
  });

  test("explain names the advisory and the way out; vet resolves the tree for each target", async () => {
    const explain = await cli(["explain", "acme-lib==2.0", "--gateway", gw.url]);
    assert.equal(explain.code, 0, explain.stderr);
    assert.match(explain.stdout, /BLOCKED/);
    assert.match(explain.stdout, /PYSEC-2099-9/);
    assert.match(explain.stdout, /instead: acme-lib==1\.0/);

    const ok = await cli(["vet", "acme-app", "--gateway", gw.url]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    for (const py of ["3.10", "3.11", "3.12", "3.13"])
      assert.match(ok.stdout, new RegExp(`CPython ${py} on linux x86_64`));
    assert.match(ok.stdout, /acme-lib==1\.0/);
    assert.match(ok.stdout, /Passed over by policy:\n {2}acme-lib==2\.0/);

    const refused = await cli(["vet", "acme-lib==2.0", "--python", "3.11", "--gateway", gw.url]);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /PYSEC-2099-9/);

    const bad = await cli(["vet", "acme-lib[", "--gateway", gw.url]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid requirement/);
  });
});

test("a reader that closes the pipe early (| head) stops the CLI quietly, exit 0, no stack trace", async () => {
  const { spawn } = await import("node:child_process");
  const child = spawn(BIN, ["serve", "--help"], { stdio: ["ignore", "pipe", "pipe"] });
  // Close our end before the command writes: its first write meets a closed pipe (EPIPE).
  child.stdout.destroy();
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  assert.equal(stderr, "");
  assert.equal(code, 0);
});
