/**
 * Discovery and locks with real pip, as users run them: a venv made through the gateway scans as
 * fully admitted; wheels installed into it from local files (pip --no-index) show as ungoverned,
 * the report lands in the environments API with an owner to assign, and `lock` output installs
 * with `pip install --require-hashes` through the gateway.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { installed, makeVenv, pipInstall, run } from "../helpers/python.js";
import { buildWheel, writeWheel } from "../helpers/wheel-builder.js";
import { bearer, createToken } from "../helpers/identity.js";
import { assertCycloneDx16, assertSpdx23 } from "../integration/discovery-schemas.js";

const BIN = fileURLToPath(new URL("../../bin/portcullis", import.meta.url));
const cli = (args: string[]) =>
  run(process.execPath, [BIN, ...args], { env: { ...process.env, PORTCULLIS_FROM_SOURCE: "1" } });
const OLD = "2025-01-01T00:00:00Z";

describe("scan and lock with real pip", () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  let index: string;
  let venv: string;
  const out = mkdtempSync(join(tmpdir(), "scan-out-"));

  before(async () => {
    const lib = await buildWheel({ name: "acme-lib", version: "1.0" });
    const bad = await buildWheel({ name: "acme-bad", version: "1.0" });
    const app = await buildWheel({ name: "acme-app", version: "1.0", requiresDist: ["acme-lib>=1"] });
    upstream = await startJsonIndexServer({
      projects: {
        "acme-lib": { files: [{ filename: lib.filename, bytes: lib.bytes, uploadTime: OLD }] },
        "acme-app": { files: [{ filename: app.filename, bytes: app.bytes, uploadTime: OLD }] },
        "acme-bad": { files: [{ filename: bad.filename, bytes: bad.bytes, uploadTime: OLD }] },
      },
    });
    gw = await startTestGateway({ upstream: upstream.simpleUrl });
    const osv = mkdtempSync(join(tmpdir(), "osv-"));
    writeFileSync(
      join(osv, "PYSEC-2099-5.json"),
      JSON.stringify({
        id: "PYSEC-2099-5",
        modified: "2026-01-01T00:00:00Z",
        summary: "made-up flaw in acme-bad",
        affected: [{ package: { ecosystem: "PyPI", name: "acme-bad" }, versions: ["1.0"] }],
      }),
    );
    await gw.gateway.intel.importSource(osv);
    await gw.gateway.policy.refresh();
    index = `${gw.url}/simple/`;
    venv = await makeVenv();
    const res = await pipInstall(venv, index, ["acme-app"]);
    assert.equal(res.code, 0, res.stdout + res.stderr);
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test("a venv made through the gateway scans as fully admitted", async () => {
    const sbom = join(out, "clean.cdx.json");
    const res = await cli(["scan", venv, "--gateway", gw.url, "--sbom", sbom]);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /venv .*: 2 distributions: 2 admitted/);
    assert.match(res.stdout, /OK: everything scanned passed the gate/);
    const bom = JSON.parse(readFileSync(sbom, "utf8")) as {
      components: { purl: string; hashes?: unknown[] }[];
    };
    assertCycloneDx16(bom);
    assert.deepEqual(bom.components.map((c) => c.purl).sort(), [
      "pkg:pypi/acme-app@1.0",
      "pkg:pypi/acme-lib@1.0",
    ]);
    assert.ok(
      bom.components.every((c) => c.hashes?.length === 1),
      "each component names the admitted wheel it matches",
    );
  });

  test("wheels installed from local files show as ungoverned, and the report reaches the dashboard API", async () => {
    const wheels = mkdtempSync(join(tmpdir(), "local-wheels-"));
    // Same name and version as the admitted wheel, other bytes; and a project the gateway never saw.
    const tampered = await writeWheel(wheels, {
      name: "acme-lib",
      version: "1.0",
      files: { "acme_lib/__init__.py": "import os  # not what the gateway admitted\n" },
    });
    const rogue = await writeWheel(wheels, { name: "rogue-tool", version: "0.1" });
    const res = await pipInstall(venv, index, [
      "--no-index",
      "--no-deps",
      "--force-reinstall",
      tampered.path,
      rogue.path,
    ]);
    assert.equal(res.code, 0, res.stdout + res.stderr);

    const token = await createToken(gw, { user: "scanner", role: "requester" });
    const sarif = join(out, "scan.sarif");
    const junit = join(out, "scan.xml");
    const scanned = await cli([
      "scan",
      venv,
      "--gateway",
      gw.url,
      "--token",
      token,
      "--report",
      "--sarif",
      sarif,
      "--junit",
      junit,
    ]);
    assert.equal(scanned.code, 1, scanned.stdout + scanned.stderr);
    assert.match(
      scanned.stdout,
      /hash-differs +acme-lib==1\.0 +1 file\(s\) differ from the admitted wheel, e\.g\. acme_lib\/__init__\.py; installed from file:/,
    );
    assert.match(scanned.stdout, /not-in-catalog +rogue-tool==0\.1 +never went through the gateway/);
    assert.match(scanned.stdout, /1 admitted/);
    const log = JSON.parse(readFileSync(sarif, "utf8")) as { runs: { results: { ruleId: string }[] }[] };
    assert.deepEqual(log.runs[0]!.results.map((r) => r.ruleId).sort(), ["hash-differs", "not-in-catalog"]);
    assert.match(readFileSync(junit, "utf8"), /<testsuites name="portcullis scan" tests="3" failures="2"/);

    const approver = await createToken(gw, { user: "sec", role: "approver" });
    const hidden = await fetch(`${gw.url}/api/v1/environments`, { headers: bearer(token) });
    assert.equal(hidden.status, 403, "hosts, paths and inventories are for the security team");
    const list = await fetch(`${gw.url}/api/v1/environments`, { headers: bearer(approver) });
    const page = (await list.json()) as {
      items: { id: number; host: string; path: string; ungoverned: number; owner: string | null }[];
    };
    const env = page.items.find((e) => e.path === venv)!;
    assert.equal(env.ungoverned, 2);
    assert.equal(env.owner, null);
    const denied = await fetch(`${gw.url}/api/v1/environments/${env.id}/owner`, {
      method: "POST",
      headers: { ...bearer(token), "content-type": "application/json" },
      body: JSON.stringify({ owner: "data-science" }),
    });
    assert.equal(denied.status, 403, "assigning an owner takes an approver");
    const intruder = await createToken(gw, { user: "someone-else", role: "requester" });
    const overwrite = await fetch(`${gw.url}/api/v1/environments`, {
      method: "POST",
      headers: { ...bearer(intruder), "content-type": "application/json" },
      body: JSON.stringify({
        host: env.host,
        path: env.path,
        kind: "venv",
        owner: "attackers",
        distributions: [],
      }),
    });
    assert.equal(overwrite.status, 403, "another requester cannot replace a reported inventory");
    const assigned = await fetch(`${gw.url}/api/v1/environments/${env.id}/owner`, {
      method: "POST",
      headers: { ...bearer(approver), "content-type": "application/json" },
      body: JSON.stringify({ owner: "data-science" }),
    });
    assert.equal(assigned.status, 200);
    const detail = (await (
      await fetch(`${gw.url}/api/v1/environments/${env.id}`, { headers: bearer(approver) })
    ).json()) as {
      owner: string;
      distributions: { name: string; status: string }[];
    };
    assert.equal(detail.owner, "data-science");
    assert.deepEqual(detail.distributions.map((d) => `${d.name}:${d.status}`).sort(), [
      "acme-app:admitted",
      "acme-lib:hash-differs",
      "rogue-tool:not-in-catalog",
    ]);
  });

  test("vet fails a build on a refused requirement, with SARIF pointing at its line; sbom --env writes SPDX", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vet-"));
    const reqs = join(dir, "requirements.txt");
    writeFileSync(reqs, "acme-app==1.0\n# a comment\nacme-bad==1.0\n");
    const sarif = join(dir, "vet.sarif");
    const res = await cli(["vet", "-r", reqs, "--gateway", gw.url, "--python", "3.12", "--sarif", sarif]);
    assert.equal(res.code, 1, res.stdout + res.stderr);
    const log = JSON.parse(readFileSync(sarif, "utf8")) as {
      runs: {
        results: {
          ruleId: string;
          message: { text: string };
          locations: {
            physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } };
          }[];
        }[];
      }[];
    };
    const blocked = log.runs[0]!.results.find((r) => r.ruleId === "blocked")!;
    assert.match(blocked.message.text, /^acme-bad==1\.0: .*PYSEC-2099-5/);
    assert.equal(blocked.locations[0]!.physicalLocation.region.startLine, 3);
    assert.match(blocked.locations[0]!.physicalLocation.artifactLocation.uri, /requirements\.txt$/);

    const spdx = await cli(["sbom", "--env", venv, "--gateway", gw.url, "--format", "spdx"]);
    assert.equal(spdx.code, 0, spdx.stderr);
    const doc = JSON.parse(spdx.stdout) as { packages: { name: string; comment?: string }[] };
    assertSpdx23(doc);
    assert.ok(
      doc.packages.some((p) => /^rogue[-_]tool$/.test(p.name) && /not-in-catalog/.test(p.comment ?? "")),
    );
  });

  test("lock output installs with pip --require-hashes through the gateway", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lock-"));
    writeFileSync(join(dir, "requirements.in"), "acme-app\n");
    const lockFile = join(dir, "requirements.txt");
    const res = await cli([
      "lock",
      join(dir, "requirements.in"),
      "--gateway",
      gw.url,
      "-o",
      lockFile,
      "--python",
      "3.11",
    ]);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const text = readFileSync(lockFile, "utf8");
    assert.match(text, /^acme-app==1\.0 \\$/m);
    assert.match(text, /^acme-lib==1\.0 \\$/m);
    const fresh = await makeVenv();
    const pip = await pipInstall(fresh, index, ["--require-hashes", "-r", lockFile]);
    assert.equal(pip.code, 0, pip.stdout + pip.stderr);
    const have = await installed(fresh);
    assert.equal(have.get("acme-app"), "1.0");
    assert.equal(have.get("acme-lib"), "1.0");
  });
});
