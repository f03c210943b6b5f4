/**
 * `who-has MAL-…` answers for what the gate refuses on that report. A malicious-package report
 * against a project nobody relies on refuses every version of it (a name-only report: the
 * malicious check's `malicious-name` finding), so its consumers of every version are named, not
 * only those of the versions the report's ranges list; a popular project's report stays with
 * the versions it names (compromised releases of real projects are reported one by one).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createToken } from "../helpers/identity.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { buildWheel } from "../helpers/wheel-builder.js";

let upstream: JsonIndexServer;
let gw: TestGateway;
let intelDir: string;
const old = "2025-01-01T00:00:00.000000Z";

/** A MAL report naming only `project` 1.0. */
function malReport(id: string, project: string) {
  return {
    id,
    modified: "2026-01-01T00:00:00Z",
    summary: `Malicious code in ${project} (PyPI)`,
    affected: [{ package: { ecosystem: "PyPI", name: project }, versions: ["1.0"] }],
  };
}

before(async () => {
  const projects: Record<string, { files: { filename: string; bytes: Buffer; uploadTime: string }[] }> = {};
  for (const name of ["quiet-helper", "famous-lib"]) {
    projects[name] = { files: [] };
    for (const version of ["1.0", "2.0"]) {
      const w = await buildWheel({ name, version });
      projects[name].files.push({ filename: w.filename, bytes: w.bytes, uploadTime: old });
    }
  }
  upstream = await startJsonIndexServer({ projects });
  gw = await startTestGateway({ upstream: upstream.simpleUrl });
  intelDir = mkdtempSync(join(tmpdir(), "who-has-mal-"));
  // famous-lib is popular; quiet-helper is not.
  writeFileSync(
    join(intelDir, "top.json"),
    JSON.stringify({ rows: [{ project: "famous-lib", download_count: 1_000_000 }] }),
  );
  await gw.gateway.intel.importSource(join(intelDir, "top.json"), { kind: "popular" });
  await gw.gateway.policy.refresh();
  // Pulled before any report: one consumer per version.
  const token = await createToken(gw, { user: "builder", role: "reader" });
  const auth = { authorization: `Basic ${Buffer.from(`__token__:${token}`).toString("base64")}` };
  for (const name of ["quiet-helper", "famous-lib"]) {
    const page = (await (
      await fetch(`${gw.url}/simple/${name}/`, {
        headers: { ...auth, accept: "application/vnd.pypi.simple.v1+json" },
      })
    ).json()) as { files: { url: string }[] };
    for (const f of page.files) {
      const res = await fetch(new URL(f.url, `${gw.url}/simple/${name}/`), { headers: auth });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
  }
  await gw.gateway.services.audit.flush();
  const osv = join(intelDir, "osv");
  mkdirSync(osv);
  writeFileSync(join(osv, "MAL-2099-11.json"), JSON.stringify(malReport("MAL-2099-11", "quiet-helper")));
  writeFileSync(join(osv, "MAL-2099-12.json"), JSON.stringify(malReport("MAL-2099-12", "famous-lib")));
  await gw.gateway.intel.importSource(osv, { kind: "osv" });
  await gw.gateway.policy.refresh();
});

after(async () => {
  await gw?.close();
  await upstream?.close();
  rmSync(intelDir, { recursive: true, force: true });
});

test("who-has on a name-only malicious report names the consumers of every version the gate refuses", async () => {
  const who = await gw.gateway.services.inventory.whoHas("MAL-2099-11");
  assert.deepEqual(
    who.consumers.map((c) => c.version).sort(),
    ["1.0", "2.0"],
    "quiet-helper 2.0 is refused by name too, so its consumer is named",
  );
  assert.deepEqual(who.advisory?.affected, [{ project: "quiet-helper", versions: ["1.0", "2.0"] }]);
  // And the gate agrees: 2.0 is refused as malicious.
  const page = await fetch(`${gw.url}/simple/quiet-helper/`, {
    headers: { accept: "application/vnd.pypi.simple.v1+json" },
  });
  const listed = page.status === 200 ? ((await page.json()) as { files: unknown[] }).files : [];
  assert.equal(listed.length, 0, "no version of quiet-helper is served");
});

test("who-has on a popular project's report names only the versions it lists", async () => {
  const who = await gw.gateway.services.inventory.whoHas("MAL-2099-12");
  assert.deepEqual(
    who.consumers.map((c) => c.version),
    ["1.0"],
  );
});
