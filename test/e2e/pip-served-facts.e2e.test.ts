/**
 * Real pip through a gateway over a PEP 503 HTML upstream, which declares no sizes: the JSON page
 * says API 1.0 (PEP 700 makes `size` mandatory from 1.1) until the gateway stored the file, then
 * 1.1 with the verified size and the gateway's own core-metadata digest, which pip checks.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startStaticIndexServer, type IndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { installed, makeVenv, pip26Wheel, pipInstall } from "../helpers/python.js";
import { sharedDataDir } from "../helpers/shared-data.js";

const JSON_TYPE = "application/vnd.pypi.simple.v1+json";
const SIX = "six-1.17.0-py2.py3-none-any.whl";

describe("real pip and the facts a page advertises", () => {
  let tree: string;
  let upstream: IndexServer;
  let gw: TestGateway;
  let bytes: Buffer;

  before(async () => {
    tree = mkdtempSync(join(tmpdir(), "portcullis-html-tree-"));
    mkdirSync(join(tree, "simple", "six"), { recursive: true });
    mkdirSync(join(tree, "files"));
    copyFileSync(join(sharedDataDir(), "wheels", SIX), join(tree, "files", SIX));
    bytes = readFileSync(join(tree, "files", SIX));
    const sha = createHash("sha256").update(bytes).digest("hex");
    writeFileSync(
      join(tree, "simple", "six", "index.html"),
      `<!DOCTYPE html><html><body><a href="../../files/${SIX}#sha256=${sha}">${SIX}</a></body></html>\n`,
    );
    upstream = await startStaticIndexServer({ root: tree });
    gw = await startTestGateway({ upstream: `${upstream.url}/simple/` });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    rmSync(tree, { recursive: true, force: true });
  });

  const page = async () =>
    (await (await fetch(`${gw.url}/simple/six/`, { headers: { accept: JSON_TYPE } })).json()) as {
      meta: { "api-version": string };
      files: { size?: number; "core-metadata"?: unknown }[];
    };

  test("pip 23 installs from a 1.0 page; then the page is 1.1 with the true size and our metadata digest", async () => {
    const first = await page();
    assert.equal(first.meta["api-version"], "1.0");
    assert.equal(first.files[0]!.size, undefined, "no size is made up");
    const venv = await makeVenv();
    const res = await pipInstall(venv, `${gw.url}/simple/`, ["six"]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal((await installed(venv)).get("six"), "1.17.0");

    const then = await page();
    assert.equal(then.meta["api-version"], "1.1");
    assert.equal(then.files[0]!.size, bytes.length);
    const meta = await fetch(
      `${gw.url}/files/${createHash("sha256").update(bytes).digest("hex")}/${SIX}.metadata`,
    );
    const metaSha = createHash("sha256")
      .update(Buffer.from(await meta.arrayBuffer()))
      .digest("hex");
    assert.deepEqual(then.files[0]!["core-metadata"], { sha256: metaSha });
  });

  test("pip 26 installs from the page that advertises the gateway's own digests", async (t) => {
    const wheel = pip26Wheel();
    if (!wheel) return t.skip("pip 26 wheel not in shared data");
    assert.equal((await page()).meta["api-version"], "1.1");
    const venv = await makeVenv();
    const res = await pipInstall(venv, `${gw.url}/simple/`, ["six"], { pipWheel: wheel });
    assert.equal(res.code, 0, res.stderr);
    assert.equal((await installed(venv)).get("six"), "1.17.0");
  });
});
