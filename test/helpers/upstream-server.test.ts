import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startJsonIndexServer, startStaticIndexServer, type JsonIndexServer } from "./upstream-server.js";

const BYTES = Buffer.from("wheel\n");
const JSON_TYPE = "application/vnd.pypi.simple.v1+json";

describe("startJsonIndexServer", () => {
  let server: JsonIndexServer;
  before(async () => {
    server = await startJsonIndexServer({
      projects: {
        "Demo.Pkg": { files: [{ filename: "demo_pkg-1.0-py3-none-any.whl", bytes: BYTES, yanked: "bad" }] },
      },
    });
  });
  after(() => server.close());

  it("negotiates JSON or HTML, redirects unnormalised names and serves true digests", async () => {
    const json = await fetch(`${server.simpleUrl}demo-pkg/`, { headers: { accept: JSON_TYPE } });
    const page = (await json.json()) as {
      files: { url: string; hashes: { sha256: string } }[];
      versions: string[];
    };
    const html = await fetch(`${server.simpleUrl}Demo.Pkg`, { headers: { accept: "text/html" } });
    const file = await fetch(new URL(page.files[0]?.url ?? "", `${server.simpleUrl}demo-pkg/`));

    assert.equal(json.headers.get("content-type"), JSON_TYPE);
    assert.deepEqual(page.versions, ["1.0"]);
    assert.equal(html.url, `${server.simpleUrl}demo-pkg/`);
    assert.match(await html.text(), /data-yanked="bad"/);
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), BYTES);
    assert.equal(page.files[0]?.hashes.sha256, createHash("sha256").update(BYTES).digest("hex"));
    assert.equal(server.requests.get("/simple/demo-pkg/"), 2);
  });

  it("answers If-None-Match with 304 and applies a fault the given number of times", async () => {
    const first = await fetch(`${server.simpleUrl}demo-pkg/`, { headers: { accept: JSON_TYPE } });
    const etag = first.headers.get("etag") ?? "";
    const again = await fetch(`${server.simpleUrl}demo-pkg/`, {
      headers: { accept: JSON_TYPE, "if-none-match": etag },
    });
    server.setFault({ type: "status", status: 503 }, { times: 1 });
    const faulted = await fetch(`${server.simpleUrl}demo-pkg/`);
    const healed = await fetch(`${server.simpleUrl}demo-pkg/`);

    assert.equal(again.status, 304);
    assert.equal(faulted.status, 503);
    assert.equal(healed.status, 200);
  });
});

describe("startStaticIndexServer", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "portcullis-static-"));
    await mkdir(join(root, "simple", "demo"), { recursive: true });
    await writeFile(join(root, "simple", "demo", "index.html"), "<a href='x'>x</a>");
  });
  after(() => rm(root, { recursive: true, force: true }));

  it("serves index.html for directories, with Last-Modified revalidation, and refuses traversal", async () => {
    const server = await startStaticIndexServer({ root });
    try {
      const page = await fetch(`${server.url}/simple/demo`);
      const lastModified = page.headers.get("last-modified") ?? "";
      const again = await fetch(`${server.url}/simple/demo/`, {
        headers: { "if-modified-since": lastModified },
      });
      const traversal = await fetch(`${server.url}/simple/%2e%2e/%2e%2e/etc/passwd`);

      assert.equal(page.status, 200);
      assert.equal(await page.text(), "<a href='x'>x</a>");
      assert.equal(again.status, 304);
      assert.notEqual(traversal.status, 200);
    } finally {
      await server.close();
    }
  });
});
