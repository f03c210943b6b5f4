/**
 * Real pip meets the policy: a refused version fails with the reason in pip's own output, an
 * admitted one installs, and an unpinned install quietly takes the admitted version.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { installed, makeVenv, pipInstall } from "../helpers/python.js";
import { buildWheel } from "../helpers/wheel-builder.js";

describe("real pip through the policy gate", () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  let index: string;

  before(async () => {
    const old = "2025-01-01T00:00:00Z";
    const v1 = await buildWheel({ name: "acme-widgets", version: "1.0" });
    const v2 = await buildWheel({ name: "acme-widgets", version: "1.1" });
    upstream = await startJsonIndexServer({
      projects: {
        "acme-widgets": {
          files: [
            { filename: v1.filename, bytes: v1.bytes, uploadTime: old },
            { filename: v2.filename, bytes: v2.bytes, uploadTime: old },
          ],
        },
      },
    });
    gw = await startTestGateway({ upstream: upstream.simpleUrl });
    index = `${gw.url}/simple/`;
    const dir = mkdtempSync(join(tmpdir(), "osv-"));
    writeFileSync(
      join(dir, "PYSEC-2099-7.json"),
      JSON.stringify({
        id: "PYSEC-2099-7",
        aliases: ["CVE-2099-0007"],
        modified: "2026-01-01T00:00:00Z",
        summary: "remote code execution in widget parsing",
        affected: [
          {
            package: { ecosystem: "PyPI", name: "acme-widgets" },
            ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "1.1" }] }],
          },
        ],
      }),
    );
    await gw.gateway.intel.importSource(dir);
    await gw.gateway.policy.refresh();
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test("pinning a blocked version fails, and pip shows why", async () => {
    const venv = await makeVenv();
    const res = await pipInstall(venv, index, ["acme-widgets==1.0"]);
    assert.notEqual(res.code, 0);
    const out = res.stdout + res.stderr;
    // pip prints the status line of the refused metadata (or file) request: the reason and the way out.
    assert.match(
      out,
      /403 Client Error: Forbidden: acme_widgets-1\.0-py3-none-any\.whl is blocked by policy: vulnerability: .*PYSEC-2099-7.*use 1\.1 instead/,
    );
    assert.equal((await installed(venv)).has("acme-widgets"), false);
  });

  test("an unpinned install takes the admitted version", async () => {
    const venv = await makeVenv();
    const res = await pipInstall(venv, index, ["acme-widgets"]);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.equal((await installed(venv)).get("acme-widgets"), "1.1");
  });
});
