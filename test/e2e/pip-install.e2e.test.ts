/**
 * The decisive end-to-end tests: real pip (23.x from this machine, and 26.x from its wheel)
 * installs through a real running gateway, which proxies a real HTTP upstream on loopback built
 * from real PyPI wheels. pip runs isolated, so nothing but the gateway can satisfy it.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import {
  startJsonIndexServer,
  type JsonIndexServer,
  type JsonIndexProject,
} from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { installed, makeVenv, pip26Wheel, pipInstall } from "../helpers/python.js";
import { sharedDataDir } from "../helpers/shared-data.js";
import { buildWheel } from "../helpers/wheel-builder.js";
import { parseDistFilename } from "../../src/domain/wheel-filename.js";

const FLASK_SET = [
  "flask",
  "werkzeug",
  "jinja2",
  "markupsafe",
  "itsdangerous",
  "click",
  "blinker",
  "requests",
  "urllib3",
  "idna",
  "certifi",
  "charset-normalizer",
];

function realWheelProjects(): Record<string, JsonIndexProject> {
  const dir = join(sharedDataDir(), "wheels");
  const projects: Record<string, JsonIndexProject> = {};
  for (const filename of readdirSync(dir)) {
    const parsed = parseDistFilename(filename);
    if (!parsed || filename.startsWith("pip-")) continue;
    (projects[parsed.project] ??= { files: [] }).files.push({
      filename,
      bytes: readFileSync(join(dir, filename)),
      uploadTime: "2025-06-01T12:00:00Z",
    });
  }
  return projects;
}

describe("real pip through a running gateway", () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  let index: string;
  let giantLibrary: Buffer;

  before(async () => {
    const projects = realWheelProjects();
    // A synthetic project with an old and a new release, for pip 26's client-side cooldown.
    const old = await buildWheel({ name: "cooldown-demo", version: "1.0" });
    const fresh = await buildWheel({ name: "cooldown-demo", version: "2.0" });
    projects["cooldown-demo"] = {
      files: [
        { filename: old.filename, bytes: old.bytes, uploadTime: "2024-01-01T00:00:00Z" },
        { filename: fresh.filename, bytes: fresh.bytes, uploadTime: "2026-11-01T00:00:00Z" },
      ],
    };
    const tampered = await buildWheel({ name: "tampered", version: "1.0" });
    projects.tampered = { files: [{ filename: tampered.filename, bytes: tampered.bytes }] };
    // A giant binary wheel, as torch is: more files than the archive reader once allowed (10,000)
    // and a native library over 16 MiB, which the analysis reads in pieces.
    giantLibrary = Buffer.concat([Buffer.from("\x7fELF"), randomBytes(20 * 1024 * 1024)]);
    const giantFiles: Record<string, string | Buffer> = {
      "giant_native/__init__.py": "",
      "giant_native/_core.so": giantLibrary,
    };
    for (let i = 0; i < 10_000; i++) giantFiles[`giant_native/data/f${i}.txt`] = `${i}\n`;
    const giant = await buildWheel({
      name: "giant-native",
      version: "1.0",
      tag: "py3-none-manylinux_2_17_x86_64",
      files: giantFiles,
    });
    projects["giant-native"] = { files: [{ filename: giant.filename, bytes: giant.bytes }] };
    upstream = await startJsonIndexServer({ projects });
    gw = await startTestGateway({ upstream: upstream.simpleUrl });
    index = `${gw.url}/simple/`;
  });

  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test("pip 23 installs flask and requests with their dependencies", async () => {
    const venv = await makeVenv();
    const res = await pipInstall(venv, index, ["flask", "requests"]);
    assert.equal(res.code, 0, res.stderr + res.stdout);
    const got = await installed(venv);
    for (const name of FLASK_SET) assert.ok(got.has(name), `${name} installed (have ${[...got.keys()]})`);
    assert.equal(got.get("flask"), "3.1.3");
    // pip took metadata through PEP 658 from the gateway, and files only from the gateway.
    assert.match(res.stdout, /\.whl\.metadata/);
    assert.doesNotMatch(res.stdout + res.stderr, /\/opt\/|files\.pythonhosted|pypi\.org/);
    // Each upstream file was fetched once, however many requests the gateway answered.
    for (const [path, n] of upstream.requests) if (path.startsWith("/files/")) assert.equal(n, 1, path);
  });

  test("pip installs with --require-hashes from a fully pinned requirements file", async () => {
    const dir = join(sharedDataDir(), "wheels");
    const lines = readdirSync(dir)
      .filter((f) => FLASK_SET.includes(parseDistFilename(f)?.project ?? ""))
      .map((f) => {
        const p = parseDistFilename(f)!;
        const sha = createHash("sha256")
          .update(readFileSync(join(dir, f)))
          .digest("hex");
        return `${p.project}==${p.version} --hash=sha256:${sha}`;
      });
    const venv = await makeVenv();
    const req = join(venv, "..", "requirements.txt");
    writeFileSync(req, lines.join("\n") + "\n");
    const res = await pipInstall(venv, index, ["--require-hashes", "-r", req]);
    assert.equal(res.code, 0, res.stderr + res.stdout);
    assert.equal((await installed(venv)).get("requests"), "2.34.2");
  });

  test("pip 26 --uploaded-prior-to sees the upload times the gateway passes through (PEP 700)", async (t) => {
    const wheel = pip26Wheel();
    if (!wheel) return t.skip("pip 26 wheel not in shared data");
    const venv = await makeVenv();
    const before2025 = await pipInstall(
      venv,
      index,
      ["--uploaded-prior-to", "2025-01-01T00:00:00Z", "cooldown-demo"],
      {
        pipWheel: wheel,
      },
    );
    assert.equal(before2025.code, 0, before2025.stderr + before2025.stdout);
    assert.equal((await installed(venv)).get("cooldown-demo"), "1.0");
    const latest = await pipInstall(venv, index, ["--upgrade", "cooldown-demo"], { pipWheel: wheel });
    assert.equal(latest.code, 0, latest.stderr + latest.stdout);
    assert.equal((await installed(venv)).get("cooldown-demo"), "2.0");
  });

  test("pip installs a giant binary wheel: 10,000 files and a 20 MiB library, vetted in pieces", async () => {
    const venv = await makeVenv();
    const res = await pipInstall(venv, index, ["--no-deps", "giant-native"]);
    assert.equal(res.code, 0, res.stderr + res.stdout);
    assert.equal((await installed(venv)).get("giant-native"), "1.0");
    const [site] = readdirSync(join(venv, "lib")).map((py) => join(venv, "lib", py, "site-packages"));
    assert.ok(readFileSync(join(site!, "giant_native", "_core.so")).equals(giantLibrary));
    assert.equal(readFileSync(join(site!, "giant_native", "data", "f9999.txt"), "utf8"), "9999\n");
  });

  test("tampered upstream bytes never reach pip and leave nothing in the store", async () => {
    upstream.setFault(
      { type: "garbage", body: "not the wheel you declared" },
      { path: /^\/files\/tampered-/ },
    );
    const venv = await makeVenv();
    const res = await pipInstall(venv, index, ["--no-deps", "tampered"]);
    assert.notEqual(res.code, 0);
    assert.match(res.stdout + res.stderr, /502|do not match the declared hash/);
    assert.equal((await installed(venv)).has("tampered"), false);
    const tmp = join(gw.dataDir, "blobs", "tmp");
    assert.deepEqual(existsSync(tmp) ? readdirSync(tmp) : [], [], "no partial file left behind");
    upstream.setFault(null);
  });
});
