import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { sharedDataDir } from "../../../test/helpers/shared-data.js";
import { createUpstream, resolveUpstreamSpec, UpstreamConfigError } from "./create-upstream.js";
import { DirectoryUpstream } from "./directory-upstream.js";
import { FileTreeUpstream } from "./file-tree-upstream.js";
import { HttpUpstream } from "./http-upstream.js";

describe("createUpstream", () => {
  let scratch: string;

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), "portcullis-create-"));
    await mkdir(join(scratch, "tree", "simple", "demo"), { recursive: true });
    await mkdir(join(scratch, "flat-tree", "demo"), { recursive: true });
    await writeFile(
      join(scratch, "flat-tree", "demo", "index.html"),
      "<a href='demo-1.0.tar.gz'>demo-1.0.tar.gz</a>",
    );
    await mkdir(join(scratch, "wheels", "nested"), { recursive: true });
    await writeFile(join(scratch, "wheels", "nested", "nested-1.0.tar.gz"), "n");
    await writeFile(join(scratch, "a-file"), "x");
  });
  after(() => rm(scratch, { recursive: true, force: true }));

  it("builds an HttpUpstream for http(s) URLs", async () => {
    const upstream = await createUpstream("https://pypi.org/simple/", { ttlMs: 1_000, timeoutMs: 5_000 });
    try {
      assert.ok(upstream instanceof HttpUpstream);
      assert.equal(upstream.description, "https://pypi.org/simple/");
    } finally {
      await upstream.close?.();
    }
  });

  it("builds a FileTreeUpstream for a tree with simple/ or per-project index.html", async () => {
    assert.ok((await createUpstream(join(scratch, "tree"))) instanceof FileTreeUpstream);
    assert.ok(
      (await createUpstream(pathToFileURL(join(scratch, "flat-tree")).href)) instanceof FileTreeUpstream,
    );
  });

  it("builds a DirectoryUpstream for a directory of files", async () => {
    const shared = await createUpstream(join(sharedDataDir(), "wheels"));
    const nested = await createUpstream(join(scratch, "wheels"));

    assert.ok(shared instanceof DirectoryUpstream);
    assert.ok(nested instanceof DirectoryUpstream);
    assert.deepEqual(await nested.listProjects?.(), ["nested"]);
  });

  it("says clearly what is wrong with a bad spec", async () => {
    const missing = join(scratch, "does-not-exist");

    await assert.rejects(createUpstream(missing), (error: unknown) => {
      assert.ok(error instanceof UpstreamConfigError);
      assert.match(error.message, /does-not-exist.*does not exist/);
      return true;
    });
    await assert.rejects(createUpstream(join(scratch, "a-file")), /is not a directory/);
    await assert.rejects(createUpstream("ftp://mirror.example/simple/"), /unsupported upstream scheme/);
    await assert.rejects(createUpstream("file://remote.example/share"), UpstreamConfigError);
    await assert.rejects(createUpstream("  "), UpstreamConfigError);
  });

  it("classifies without building", async () => {
    assert.deepEqual(await resolveUpstreamSpec("http://127.0.0.1:8080/simple"), {
      kind: "http",
      location: "http://127.0.0.1:8080/simple",
    });
    assert.equal((await resolveUpstreamSpec(join(scratch, "tree"))).kind, "file-tree");
    assert.equal((await resolveUpstreamSpec(join(scratch, "wheels"))).kind, "directory");
  });
});
