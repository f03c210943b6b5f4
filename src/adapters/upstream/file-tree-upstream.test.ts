import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import type { DistFile } from "../../domain/distribution.js";
import { FileTreeUpstream } from "./file-tree-upstream.js";
import { UpstreamForbiddenUrlError } from "./upstream.js";

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const WHEEL = Buffer.from("wheel bytes\n");
const SDIST = Buffer.from("sdist bytes\n");

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const asFile = (url: string, filename = "demo-1.0.tar.gz"): DistFile => ({
  filename,
  url,
  hashes: {},
  yanked: false,
  coreMetadata: false,
});

describe("FileTreeUpstream on a tree like /opt/pypi (simple/ and files/)", () => {
  let tree: string;
  let upstream: FileTreeUpstream;

  before(async () => {
    tree = await mkdtemp(join(tmpdir(), "portcullis-tree-"));
    await mkdir(join(tree, "simple", "Demo.Pkg"), { recursive: true });
    await mkdir(join(tree, "files"));
    await writeFile(join(tree, "files", "demo_pkg-1.0-py3-none-any.whl"), WHEEL);
    await writeFile(join(tree, "files", "demo_pkg-1.0.tar.gz"), SDIST);
    await writeFile(join(tree, "..", `${tree.split("/").pop()}-outside-1.0.tar.gz`), "outside");
    await writeFile(
      join(tree, "simple", "Demo.Pkg", "index.html"),
      `<!DOCTYPE html><html><body>
<a href="../../files/demo_pkg-1.0-py3-none-any.whl#sha256=${sha256(WHEEL)}" data-requires-python="&gt;=3.8">demo_pkg-1.0-py3-none-any.whl</a>
<a href="../../files/demo_pkg-1.0.tar.gz" data-yanked="">demo_pkg-1.0.tar.gz</a>
<a href="../../../${tree.split("/").pop()}-outside-1.0.tar.gz">outside-1.0.tar.gz</a>
<a href="https://files.pythonhosted.org/packages/demo_pkg-0.9.tar.gz#sha256=${"0".repeat(64)}">demo_pkg-0.9.tar.gz</a>
<a href="../../files/missing-1.0.tar.gz">missing-1.0.tar.gz</a>
</body></html>`,
    );
    await mkdir(join(tree, "simple", "broken"));
    await writeFile(join(tree, "simple", "broken", "index.html"), "\u0000\u0001 not html");
    upstream = new FileTreeUpstream({ root: tree });
  });
  after(async () => {
    await rm(tree, { recursive: true, force: true });
    await rm(join(tree, "..", `${tree.split("/").pop()}-outside-1.0.tar.gz`), { force: true });
  });

  it("reads a project page, keeping declared hashes and computing missing ones", async () => {
    const result = await upstream.getProject("demo-pkg");

    assert.ok(result);
    assert.equal(upstream.local, true);
    assert.equal(result.page.name, "Demo.Pkg");
    assert.deepEqual(result.page.files, [
      {
        filename: "demo_pkg-1.0-py3-none-any.whl",
        url: pathToFileURL(join(tree, "files", "demo_pkg-1.0-py3-none-any.whl")).href,
        hashes: { sha256: sha256(WHEEL) },
        requiresPython: ">=3.8",
        yanked: false,
        coreMetadata: false,
        size: WHEEL.length,
      },
      {
        filename: "demo_pkg-1.0.tar.gz",
        url: pathToFileURL(join(tree, "files", "demo_pkg-1.0.tar.gz")).href,
        hashes: { sha256: sha256(SDIST) },
        yanked: true,
        coreMetadata: false,
        size: SDIST.length,
      },
    ]);
  });

  it("opens files inside the tree and refuses everything else", async () => {
    const page = await upstream.getProject("DEMO_PKG");
    const opened = await upstream.openFile(page?.page.files[0] as DistFile);

    assert.deepEqual(await readAll(opened.stream), WHEEL);
    const refused = [
      pathToFileURL(join(tree, "..", `${tree.split("/").pop()}-outside-1.0.tar.gz`)).href,
      `${pathToFileURL(tree).href}/files/../../${tree.split("/").pop()}-outside-1.0.tar.gz`,
      pathToFileURL(join(tree, "simple", "Demo.Pkg", "index.html")).href,
      "https://files.pythonhosted.org/packages/demo_pkg-0.9.tar.gz",
      "file:///etc/passwd",
    ];
    for (const url of refused) {
      await assert.rejects(upstream.openFile(asFile(url)), UpstreamForbiddenUrlError, url);
    }
  });

  it("answers null for unknown projects and unavailable for an unreadable page", async () => {
    assert.equal(await upstream.getProject("nope"), null);
    await assert.rejects(upstream.getProject("broken"), { name: "UpstreamUnavailableError" });
  });

  it("lists the project directories", async () => {
    assert.deepEqual(await upstream.listProjects(), ["Demo.Pkg", "broken"]);
    assert.equal((await upstream.probe()).ok, true);
  });

  it("takes the parent of a root named simple as the file root", async () => {
    const fromSimple = new FileTreeUpstream({ root: join(tree, "simple") });

    const result = await fromSimple.getProject("demo-pkg");

    assert.equal(result?.page.files.length, 2);
    assert.deepEqual(
      await readAll((await fromSimple.openFile(result?.page.files[1] as DistFile)).stream),
      SDIST,
    );
  });
});

describe("FileTreeUpstream on a flat tree (<root>/<project>/index.html)", () => {
  let root: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "portcullis-flat-tree-"));
    await mkdir(join(root, "demo"));
    await writeFile(join(root, "demo", "demo-1.0.tar.gz"), SDIST);
    await writeFile(
      join(root, "demo", "index.html"),
      `<a href="demo-1.0.tar.gz">demo-1.0.tar.gz</a><a href="../../escape-1.0.tar.gz">escape-1.0.tar.gz</a>`,
    );
  });
  after(() => rm(root, { recursive: true, force: true }));

  it("keeps files to the root itself", async () => {
    const upstream = new FileTreeUpstream({ root });

    const result = await upstream.getProject("demo");

    assert.deepEqual(
      result?.page.files.map((f) => [f.filename, f.hashes.sha256]),
      [["demo-1.0.tar.gz", sha256(SDIST)]],
    );
  });
});

describe(
  "FileTreeUpstream on /opt/pypi",
  { skip: !existsSync("/opt/pypi/simple") && "no /opt/pypi here" },
  () => {
    it("serves a real page whose smallest file matches its declared sha256", async () => {
      const upstream = new FileTreeUpstream({ root: "/opt/pypi" });
      const [name] = await upstream.listProjects();

      const result = await upstream.getProject(name as string);
      const smallest = [...(result?.page.files ?? [])].sort((a, b) => (a.size ?? 0) - (b.size ?? 0))[0];
      const bytes = await readAll((await upstream.openFile(smallest as DistFile)).stream);

      assert.ok(smallest?.hashes.sha256);
      assert.equal(sha256(bytes), smallest?.hashes.sha256);
    });
  },
);
