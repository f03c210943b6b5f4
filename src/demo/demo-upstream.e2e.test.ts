/**
 * The demo tells users what will happen; these tests hold it to that: a real gateway over the
 * demo upstream, with the demo intel and the default policy, asked over HTTP and by real pip.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { installed, makeVenv, pipInstall, PYTHON } from "../../test/helpers/python.js";
import { startTestGateway, type TestGateway } from "../../test/helpers/test-gateway.js";
import { DEMO_ADVISORY_ID, importDemoIntel, writeDemoUpstream, type DemoUpstream } from "./demo-upstream.js";
import { wheelNameComponent } from "./demo-wheels.js";

const JSON_ACCEPT = "application/vnd.pypi.simple.v1+json";

interface ProjectPage {
  files: { filename: string; yanked: boolean | string }[];
  "project-status"?: { status: string; reason?: string };
}

const hasPip = spawnSync(PYTHON, ["-m", "pip", "--version"]).status === 0;

describe("portcullis demo: the demo upstream under the default policy", () => {
  let dir: string;
  let demo: DemoUpstream;
  let gw: TestGateway;
  let index: string;
  const venvs: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "portcullis-demo-test-"));
    demo = await writeDemoUpstream(join(dir, "demo-upstream"));
    gw = await startTestGateway({ upstream: demo.dir, upstreamMtimeUploadTime: true });
    const reports = await importDemoIntel(gw.gateway.intel, demo);
    assert.deepEqual(
      reports.map((r) => [r.kind, r.added, r.skipped]),
      [
        ["popular", 20, 0],
        ["osv", 1, 0],
      ],
    );
    await gw.gateway.policy.refresh();
    index = `${gw.url}/simple/`;
  });

  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
    for (const venv of venvs) rmSync(dirname(venv), { recursive: true, force: true });
  });

  const page = async (project: string) => {
    const res = await fetch(`${index}${project}/`, { headers: { accept: JSON_ACCEPT } });
    return { status: res.status, body: (await res.json()) as ProjectPage };
  };
  const listed = async (project: string, version: string) => {
    const file = (await page(project)).body.files.find((f) => f.filename.includes(`-${version}-`));
    assert.ok(file, `${project} ${version} is listed`);
    return file;
  };
  // The file URL from the wheel on disk, not from the page: refused projects are not listed.
  const download = (project: string, version: string) => {
    const filename = `${wheelNameComponent(project)}-${version}-py3-none-any.whl`;
    const sha256 = createHash("sha256")
      .update(readFileSync(join(demo.dir, filename)))
      .digest("hex");
    return fetch(`${gw.url}/files/${sha256}/${filename}`);
  };
  const venv = async () => {
    const made = await makeVenv();
    venvs.push(made);
    return made;
  };

  // First, while nothing has been downloaded: the first fetch is what a user of the demo meets.
  test("real pip is refused what the tour says it will be", { skip: !hasPip && "no pip" }, async () => {
    const target = await venv();
    for (const [requirement, why] of [
      ["acme-core==1.0", new RegExp(`403.*${DEMO_ADVISORY_ID}.*use 1\\.1 instead`)],
      ["reqeusts", /No matching distribution found for reqeusts/],
      ["acme-telemetry", /403.*artifact.*acme_telemetry_init\.pth/],
    ] as const) {
      const res = await pipInstall(target, index, [requirement]);
      assert.notEqual(res.code, 0, `${requirement} must not install: ${res.stdout}`);
      assert.match(res.stdout + res.stderr, why, requirement);
    }
    assert.equal((await installed(target)).size, 0);
  });

  test("real pip installs acme-reports 1.0 with acme-core 1.1", { skip: !hasPip && "no pip" }, async () => {
    const target = await venv();
    const res = await pipInstall(target, index, ["acme-reports"]);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const got = await installed(target);
    assert.equal(got.get("acme-reports"), "1.0");
    assert.equal(got.get("acme-core"), "1.1");
  });

  test("acme-core 1.0 is listed as yanked for DEMO-2026-1 and refused; 1.1 is served", async () => {
    assert.match(String((await listed("acme-core", "1.0")).yanked), new RegExp(DEMO_ADVISORY_ID));
    assert.equal((await listed("acme-core", "1.1")).yanked, false);
    const refused = await download("acme-core", "1.0");
    assert.equal(refused.status, 403);
    assert.match(refused.statusText, new RegExp(DEMO_ADVISORY_ID));
    assert.equal((await download("acme-core", "1.1")).status, 200);
  });

  test("the typo-squat reqeusts is quarantined, project and file", async () => {
    const { status, body } = await page("reqeusts");
    assert.equal(status, 403);
    assert.equal(body["project-status"]?.status, "quarantined");
    const res = await download("reqeusts", "1.0");
    assert.equal(res.status, 403);
    assert.match(res.statusText, /typosquat.*requests/);
  });

  test("acme-telemetry is refused on its bytes, naming the .pth file", async () => {
    const res = await download("acme-telemetry", "0.1");
    assert.equal(res.status, 403);
    assert.match(res.statusText, /artifact/);
    assert.match(await res.text(), /acme_telemetry_init\.pth/);
  });

  test("acme-reports 1.1 waits out the cooldown; 1.0 downloads", async () => {
    assert.match(String((await listed("acme-reports", "1.1")).yanked), /cooldown/);
    assert.equal((await download("acme-reports", "1.1")).status, 403);
    assert.equal((await download("acme-reports", "1.0")).status, 200);
  });
});
