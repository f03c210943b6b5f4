/**
 * `portcullis verify` as users run it: files installed and downloaded by real pip through the
 * gateway verify against its signed attestations online (--gateway) and fully offline
 * (--attestations DIR --keys FILE); a changed byte, a renamed file, an edited installed file and
 * a key the gateway never published each fail, named.
 */
import assert from "node:assert/strict";
import { appendFileSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createHash, generateKeyPairSync } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { keyIdOf } from "../../src/crypto/key-ring.js";
import { isolatedPipEnv, makeVenv, pipInstall, PYTHON, run } from "../helpers/python.js";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { buildWheel } from "../helpers/wheel-builder.js";

const BIN = fileURLToPath(new URL("../../bin/portcullis", import.meta.url));
const cli = (args: string[]) =>
  run(process.execPath, [BIN, ...args], { env: { ...process.env, PORTCULLIS_FROM_SOURCE: "1" } });

describe("portcullis verify: what pip installed through the gateway", () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  let venv: string;
  let downloads: string;
  let exported: string;
  let wheels: string[];

  before(async () => {
    const old = "2025-01-01T00:00:00Z";
    const lib = await buildWheel({ name: "acme-lib", version: "1.0" });
    const app = await buildWheel({ name: "acme-app", version: "1.0", requiresDist: ["acme-lib>=1"] });
    upstream = await startJsonIndexServer({
      projects: {
        "acme-lib": { files: [{ filename: lib.filename, bytes: lib.bytes, uploadTime: old }] },
        "acme-app": { files: [{ filename: app.filename, bytes: app.bytes, uploadTime: old }] },
      },
    });
    gw = await startTestGateway({ upstream: upstream.simpleUrl });
    const index = `${gw.url}/simple/`;
    venv = await makeVenv();
    const installed = await pipInstall(venv, index, ["acme-app"]);
    assert.equal(installed.code, 0, installed.stderr);
    downloads = mkdtempSync(join(tmpdir(), "verify-dl-"));
    const dl = await run(
      PYTHON,
      [
        "-m",
        "pip",
        "download",
        "--isolated",
        "--no-cache-dir",
        "--index-url",
        index,
        "--dest",
        downloads,
        "acme-app",
      ],
      { env: isolatedPipEnv() },
    );
    assert.equal(dl.code, 0, dl.stderr);
    wheels = readdirSync(downloads)
      .filter((f) => f.endsWith(".whl"))
      .sort()
      .map((f) => join(downloads, f));
    assert.equal(wheels.length, 2);
    exported = mkdtempSync(join(tmpdir(), "verify-export-"));
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test("online: downloaded wheels and the venv verify; --export keeps what offline needs", async () => {
    const res = await cli(["verify", ...wheels, venv, "--gateway", gw.url, "--export", exported]);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /^ok {3}acme_app-1\.0-py3-none-any\.whl: attested/m);
    assert.match(res.stdout, /^ok {3}acme_lib-1\.0-py3-none-any\.whl: attested/m);
    assert.match(
      res.stdout,
      /^ok {3}acme[-_]lib==1\.0 \(installed\): installed files are those of the attested acme_lib-1\.0-py3-none-any\.whl$/im,
    );
    assert.match(res.stdout, /4 verified against http:\/\/127\.0\.0\.1:\d+/);
    assert.ok(readdirSync(exported).includes("keys.json"));
  });

  test("offline: the same files verify from --attestations and --keys alone", async () => {
    const sha = createHash("sha256").update(readFileSync(wheels[1]!)).digest("hex");
    const reqs = join(exported, "requirements.txt");
    writeFileSync(reqs, `acme-lib==1.0 --hash=sha256:${sha}\n`);
    const res = await cli([
      "verify",
      ...wheels,
      venv,
      "-r",
      reqs,
      "--attestations",
      exported,
      "--keys",
      join(exported, "keys.json"),
    ]);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /5 verified against /);
    // Offline the wheels are not at hand: the release is attested and RECORD holds, no more.
    assert.match(
      res.stdout,
      /^ok {3}acme[-_]lib==1\.0 \(installed\): release attested by acme_lib-1\.0-py3-none-any\.whl; \d+ installed files match RECORD$/im,
    );
  });

  test("a changed byte, a renamed file, an edited installed file and an unpublished key fail, each named", async () => {
    const work = mkdtempSync(join(tmpdir(), "verify-bad-"));
    const flipped = join(work, "acme_lib-1.0-py3-none-any.whl");
    const bytes = readFileSync(wheels[1]!);
    bytes[bytes.length - 30] = bytes[bytes.length - 30]! ^ 0x01;
    writeFileSync(flipped, bytes);
    const renamed = join(work, "acme_lib-1.0-py2.py3-none-any.whl");
    copyFileSync(wheels[1]!, renamed);
    const site = join(venv, "lib", readdirSync(join(venv, "lib"))[0]!, "site-packages");
    const module = readdirSync(site).find((d) => d === "acme_lib")!;
    appendFileSync(join(site, module, "__init__.py"), "\nimport os  # tampered\n");
    const res = await cli([
      "verify",
      flipped,
      renamed,
      venv,
      "--attestations",
      exported,
      "--keys",
      join(exported, "keys.json"),
    ]);
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(
      res.stdout,
      /^FAIL acme_lib-1\.0-py3-none-any\.whl: missing attestation: no attestation [0-9a-f]{64}\.json/m,
    );
    assert.match(
      res.stdout,
      /^FAIL acme_lib-1\.0-py2\.py3-none-any\.whl: name mismatch: the file is acme_lib-1\.0-py2\.py3-none-any\.whl, the attestation is for acme_lib-1\.0-py3-none-any\.whl/m,
    );
    assert.match(
      res.stdout,
      /^FAIL acme[-_]lib==1\.0 \(installed\): installed files differ from RECORD: acme_lib\/__init__\.py/im,
    );
    assert.match(res.stdout, /^ok {3}acme[-_]app==1\.0 \(installed\)/im);
    assert.match(res.stdout, /3 of 4 failed verification/);

    // Cover the edit in RECORD too: the installer's RECORD holds, but online the attested wheel
    // itself shows the installed file is not its own.
    const recordFile = join(
      site,
      readdirSync(site).find((d) => /^acme_lib-1\.0\.dist-info$/.test(d))!,
      "RECORD",
    );
    const edited = createHash("sha256")
      .update(readFileSync(join(site, module, "__init__.py")))
      .digest("base64url");
    writeFileSync(
      recordFile,
      readFileSync(recordFile, "utf8").replace(
        /^acme_lib\/__init__\.py,sha256=[^,]+,\d+$/m,
        `acme_lib/__init__.py,sha256=${edited},0`,
      ),
    );
    const online = await cli(["verify", venv, "--gateway", gw.url]);
    assert.equal(online.code, 1, online.stdout + online.stderr);
    assert.match(
      online.stdout,
      /^FAIL acme[-_]lib==1\.0 \(installed\): installed files are not those of the attested acme_lib-1\.0-py3-none-any\.whl: acme_lib\/__init__\.py$/im,
    );

    const stranger = generateKeyPairSync("ed25519").publicKey;
    const strangerKeys = join(work, "keys.json");
    writeFileSync(
      strangerKeys,
      JSON.stringify({
        keys: [
          {
            keyid: keyIdOf(stranger),
            algorithm: "ed25519",
            pem: stranger.export({ type: "spki", format: "pem" }),
            status: "active",
          },
        ],
      }),
    );
    const unpublished = await cli(["verify", wheels[0]!, "--attestations", exported, "--keys", strangerKeys]);
    assert.equal(unpublished.code, 1);
    assert.match(
      unpublished.stdout,
      /^FAIL acme_app-1\.0-py3-none-any\.whl: signed by a key that is not published \(keyid [0-9a-f]{64}\)/m,
    );
  });

  test("bad usage is a clear error (exit 2), not a crash", async () => {
    const res = await cli(["verify", wheels[0]!]);
    assert.equal(res.code, 2);
    assert.match(
      res.stderr,
      /say where attestations come from: --gateway URL, or --attestations DIR with --keys FILE/,
    );
  });
});
