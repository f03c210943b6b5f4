import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  unlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { sharedDataDir } from "../../../test/helpers/shared-data.js";
import type { DistFile } from "../../domain/distribution.js";
import { DirectoryUpstream } from "./directory-upstream.js";
import { UpstreamFileNotFoundError, UpstreamForbiddenUrlError } from "./upstream.js";

const WHEELS = join(sharedDataDir(), "wheels");
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function fakeClock(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe("DirectoryUpstream over shared/data/wheels", () => {
  const upstream = new DirectoryUpstream({ dir: WHEELS });

  it("groups the 18 wheels into their projects by normalised name", async () => {
    const names = await upstream.listProjects();

    assert.equal(names.length, 18);
    for (const name of ["python-dateutil", "charset-normalizer", "markupsafe", "requests", "jinja2", "pip"]) {
      assert.ok(names.includes(name), name);
    }
  });

  it("serves pages whose sha256 is the digest of the bytes, with size and no upload time by default", async () => {
    const result = await upstream.getProject("Python_DateUtil");

    assert.ok(result);
    assert.equal(result.stale, false);
    assert.equal(result.page.name, "python-dateutil");
    assert.deepEqual(result.page.versions, ["2.9.0.post0"]);
    const [file] = result.page.files;
    const path = join(WHEELS, "python_dateutil-2.9.0.post0-py2.py3-none-any.whl");
    const bytes = await readFile(path);
    assert.deepEqual(file, {
      filename: "python_dateutil-2.9.0.post0-py2.py3-none-any.whl",
      url: pathToFileURL(path).href,
      hashes: { sha256: sha256(bytes) },
      yanked: false,
      size: bytes.length,
      coreMetadata: false,
    });
    assert.equal(upstream.local, true);
  });

  it("reports mtimes as upload times when asked (for cooldowns over a curated directory)", async () => {
    const withTimes = new DirectoryUpstream({ dir: WHEELS, mtimeAsUploadTime: true });
    const result = await withTimes.getProject("six");
    const path = join(WHEELS, "six-1.17.0-py2.py3-none-any.whl");
    assert.equal(result?.page.files[0]?.uploadTime, new Date((await stat(path)).mtimeMs).toISOString());
  });

  it("hashes every wheel correctly and opens its bytes", async () => {
    for (const filename of await readdir(WHEELS)) {
      if (!filename.endsWith(".whl")) continue;
      const project = filename.split("-")[0] as string;
      const result = await upstream.getProject(project);
      const file = result?.page.files.find((f) => f.filename === filename);
      const bytes = await readFile(join(WHEELS, filename));

      assert.equal(file?.hashes.sha256, sha256(bytes), filename);
      assert.equal(sha256(await readAll((await upstream.openFile(file as DistFile)).stream)), sha256(bytes));
    }
  });

  it("answers null for a project it does not have", async () => {
    assert.equal(await upstream.getProject("numpy"), null);
  });
});

describe("DirectoryUpstream on a scratch directory", () => {
  let dir: string;
  let outside: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "portcullis-dir-"));
    outside = await mkdtemp(join(tmpdir(), "portcullis-outside-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it("reads flat files and one level of per-project directories, skipping what is not a distribution", async () => {
    await writeFile(join(dir, "alpha-1.0-py3-none-any.whl"), "a1");
    await writeFile(join(dir, "notes.txt"), "hello");
    await writeFile(join(dir, ".hidden-1.0-py3-none-any.whl"), "h");
    await mkdir(join(dir, "zope.interface"));
    await writeFile(join(dir, "zope.interface", "zope.interface-6.0.tar.gz"), "z6");
    await writeFile(join(dir, "zope.interface", "zope_interface-6.1-cp311-cp311-linux_x86_64.whl"), "z61");
    await mkdir(join(dir, "deep", "deeper"), { recursive: true });
    await writeFile(join(dir, "deep", "deeper", "gamma-1.0.tar.gz"), "g");
    const upstream = new DirectoryUpstream({ dir });

    assert.deepEqual(await upstream.listProjects(), ["alpha", "zope-interface"]);
    const zope = await upstream.getProject("Zope.Interface");
    assert.deepEqual(
      zope?.page.files.map((f) => f.filename),
      ["zope.interface-6.0.tar.gz", "zope_interface-6.1-cp311-cp311-linux_x86_64.whl"],
    );
    assert.deepEqual(zope?.page.versions, ["6.0", "6.1"]);
  });

  it("rescans when the directory changes, even while the clock stands still", async () => {
    const clock = fakeClock();
    const upstream = new DirectoryUpstream({ dir, now: clock.now, rescanTtlMs: 60_000 });
    assert.equal(await upstream.getProject("beta"), null);

    await writeFile(join(dir, "beta-2.0-py3-none-any.whl"), "b2");
    // Force a visible mtime change on file systems with coarse timestamps.
    const later = new Date(Date.now() + 5_000);
    await utimes(dir, later, later);

    assert.equal((await upstream.getProject("beta"))?.page.files.length, 1);
  });

  it("rescans a per-project directory after the TTL", async () => {
    const clock = fakeClock();
    const upstream = new DirectoryUpstream({ dir, now: clock.now, rescanTtlMs: 5_000 });
    const before = await upstream.getProject("zope-interface");

    await writeFile(join(dir, "zope.interface", "zope.interface-7.0.tar.gz"), "z7");
    clock.advance(5_000);
    const after = await upstream.getProject("zope-interface");

    assert.equal(before?.page.files.length, 2);
    assert.equal(after?.page.files.length, 3);
  });

  it("computes a digest once per path, size and mtime", async () => {
    const path = join(dir, "delta-1.0-py3-none-any.whl");
    const mtime = new Date("2025-06-01T12:00:00Z");
    await writeFile(path, "original");
    await utimes(path, mtime, mtime);
    // Pages are rebuilt on every request here: this is about the digests.
    const upstream = new DirectoryUpstream({ dir, pageFreshMs: 0 });
    const first = (await upstream.getProject("delta"))?.page.files[0]?.hashes.sha256;

    // Same size and mtime: the remembered digest stands (which proves nothing was re-read).
    await writeFile(path, "ORIGINAL");
    await utimes(path, mtime, mtime);
    const cached = (await upstream.getProject("delta"))?.page.files[0]?.hashes.sha256;
    const newer = new Date(mtime.getTime() + 10_000);
    await utimes(path, newer, newer);
    const recomputed = (await upstream.getProject("delta"))?.page.files[0]?.hashes.sha256;

    assert.equal(first, sha256(Buffer.from("original")));
    assert.equal(cached, first);
    assert.equal(recomputed, sha256(Buffer.from("ORIGINAL")));
  });

  it("answers a page again for pageFreshMs without statting, the same object while nothing changed", async () => {
    const clock = fakeClock();
    const path = join(dir, "eta-1.0-py3-none-any.whl");
    await writeFile(path, "e1");
    const upstream = new DirectoryUpstream({ dir, now: clock.now, pageFreshMs: 1_000 });
    const first = await upstream.getProject("eta");
    assert.equal(upstream.peekFresh("eta"), first);
    // Within the window a rewrite is not seen yet (nothing is statted): the same answer.
    await writeFile(path, "e1, rewritten");
    assert.equal(await upstream.getProject("eta"), first);
    clock.advance(1_000);
    assert.equal(upstream.peekFresh("eta"), undefined);
    const second = await upstream.getProject("eta");
    assert.notEqual(second!.page, first!.page);
    assert.equal(second!.page.files[0]!.hashes.sha256, sha256(Buffer.from("e1, rewritten")));
    clock.advance(1_000);
    const third = await upstream.getProject("eta");
    assert.notEqual(third, second, "rebuilt after the window");
    assert.equal(third!.page, second!.page, "unchanged files: the same page object");
    assert.equal(upstream.peekFresh("nobody"), undefined);
  });

  it("refuses to open anything that is not a scanned file inside the directory", async () => {
    await writeFile(join(outside, "evil-1.0-py3-none-any.whl"), "evil");
    await symlink(join(outside, "evil-1.0-py3-none-any.whl"), join(dir, "evil-1.0-py3-none-any.whl"));
    const warnings: { meta: object; message: string }[] = [];
    const logger = { warn: (meta: object, message: string) => warnings.push({ meta, message }) };
    const upstream = new DirectoryUpstream({ dir, logger, rescanTtlMs: 0 });
    const file = (url: string): DistFile => ({
      filename: "x.whl",
      url,
      hashes: {},
      yanked: false,
      coreMetadata: false,
    });

    assert.equal(await upstream.getProject("evil"), null);
    // Left out, and said so once (not at every scan), rather than only missing from the index.
    assert.equal(await upstream.getProject("evil"), null);
    assert.deepEqual(
      warnings.map((w) => w.meta),
      [{ upstream: dir, files: 1, examples: ["evil-1.0-py3-none-any.whl"] }],
    );
    assert.match(
      warnings[0]!.message,
      /resolve outside the directory \(a symlink to elsewhere is not followed\)/,
    );
    const refused = [
      pathToFileURL(join(dir, "evil-1.0-py3-none-any.whl")).href,
      `${pathToFileURL(dir).href}/../${outside.split("/").pop()}/evil-1.0-py3-none-any.whl`,
      `${pathToFileURL(dir).href}/%2e%2e/etc/passwd`,
      `${pathToFileURL(dir).href}/zope.interface%2f..%2f..%2fetc%2fpasswd`,
      pathToFileURL(join(dir, "notes.txt")).href,
      "file:///etc/passwd",
      "http://127.0.0.1:1/alpha-1.0-py3-none-any.whl",
      "file://remote.example/share/alpha-1.0-py3-none-any.whl",
    ];
    for (const url of refused) {
      await assert.rejects(upstream.openFile(file(url)), UpstreamForbiddenUrlError, url);
    }
  });

  it("drops a file removed after the scan and reports it missing when opened", async () => {
    const path = join(dir, "epsilon-1.0-py3-none-any.whl");
    await writeFile(path, "e");
    const upstream = new DirectoryUpstream({ dir, now: () => 0 });
    const page = await upstream.getProject("epsilon");
    const file = page?.page.files[0] as DistFile;

    await unlink(path);

    await assert.rejects(upstream.openFile(file), UpstreamFileNotFoundError);
  });

  it("probes the directory", async () => {
    assert.equal((await new DirectoryUpstream({ dir }).probe()).ok, true);
    assert.equal((await new DirectoryUpstream({ dir: join(dir, "nope") }).probe()).ok, false);
  });
});
