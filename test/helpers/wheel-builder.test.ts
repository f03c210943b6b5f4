import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import zlib from "node:zlib";
import tarStream from "tar-stream";
import yauzl from "yauzl";
import {
  MALFORMED_SDIST_KINDS,
  MALFORMED_ZIP_KINDS,
  buildMalformedSdist,
  buildMalformedZip,
  buildSdist,
  buildTarBomb,
  buildWheel,
  buildZeroBomb,
  sharedDataDir,
  writeWheel,
} from "./wheel-builder.js";

const MiB = 1024 * 1024;
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-builder-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Reads a zip with yauzl alone, so the helper is checked independently of the code under test. */
async function unzip(bytes: Buffer): Promise<Map<string, { data: Buffer; declared: number }>> {
  const zip = await yauzl.fromBufferPromise(bytes, { lazyEntries: true, decodeStrings: false });
  const files = new Map<string, { data: Buffer; declared: number }>();
  for await (const entry of zip.eachEntry()) {
    const name = Buffer.from(entry.fileNameRaw).toString("utf8");
    let data = Buffer.alloc(0);
    if (entry.uncompressedSize <= 4 * MiB) {
      const chunks: Buffer[] = [];
      for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
      data = Buffer.concat(chunks);
    }
    files.set(name, { data, declared: entry.uncompressedSize });
  }
  return files;
}

async function untar(bytes: Buffer): Promise<{ name: string; type: string; data: Buffer }[]> {
  const extract = tarStream.extract();
  const members: { name: string; type: string; data: Buffer }[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      members.push({ name: entry.header.name, type: entry.header.type, data: Buffer.concat(chunks) });
    }
  })();
  extract.end(zlib.gunzipSync(bytes));
  await done;
  return members;
}

describe("sharedDataDir", () => {
  test("finds the shared wheels beside the checkout", () => {
    assert.ok(existsSync(join(sharedDataDir(), "wheels", "flask-3.1.3-py3-none-any.whl")), sharedDataDir());
  });

  test("follows PORTCULLIS_SHARED_DATA", () => {
    const saved = process.env.PORTCULLIS_SHARED_DATA;
    try {
      process.env.PORTCULLIS_SHARED_DATA = "/tmp/elsewhere";
      assert.equal(sharedDataDir(), "/tmp/elsewhere");
    } finally {
      if (saved === undefined) delete process.env.PORTCULLIS_SHARED_DATA;
      else process.env.PORTCULLIS_SHARED_DATA = saved;
    }
  });
});

describe("buildWheel", () => {
  test("names the wheel per the spec and writes a RECORD that matches every file", async () => {
    const wheel = await buildWheel({
      name: "Demo.Pkg",
      version: "2.0",
      files: { "demo_pkg/__init__.py": "x = 1\n", "demo_pkg/a, b.txt": "comma" },
      entryPoints: { console_scripts: { demo: "demo_pkg:main" } },
    });
    assert.equal(wheel.filename, "demo_pkg-2.0-py3-none-any.whl");
    assert.equal(wheel.distInfoDir, "demo_pkg-2.0.dist-info");
    assert.equal(wheel.sha256, createHash("sha256").update(wheel.bytes).digest("hex"));

    const files = await unzip(wheel.bytes);
    const record = files.get("demo_pkg-2.0.dist-info/RECORD")!.data.toString();
    const rows = record.trim().split("\n");
    assert.equal(rows.length, files.size);
    assert.ok(
      rows.includes(
        '"demo_pkg/a, b.txt",sha256=' + createHash("sha256").update("comma").digest("base64url") + ",5",
      ),
    );
    assert.ok(rows.includes("demo_pkg-2.0.dist-info/RECORD,,"));
    for (const [name, { data }] of files) {
      if (name.endsWith("/RECORD")) continue;
      const digest = createHash("sha256").update(data).digest("base64url");
      assert.ok(record.includes(`,sha256=${digest},${data.length}\n`), name);
      assert.ok(!digest.includes("="));
    }
    assert.match(
      files.get("demo_pkg-2.0.dist-info/WHEEL")!.data.toString(),
      /^Wheel-Version: 1\.0\n.*Tag: py3-none-any\n$/s,
    );
    assert.equal(
      files.get("demo_pkg-2.0.dist-info/entry_points.txt")!.data.toString(),
      "[console_scripts]\ndemo = demo_pkg:main\n",
    );
  });

  test("is deterministic", async () => {
    const spec = { name: "demo", version: "1.0", requiresDist: ["six"] };
    assert.equal((await buildWheel(spec)).sha256, (await buildWheel(spec)).sha256);
  });

  test("breaks the RECORD on request", async () => {
    const record = async (mode: "wrong-hash" | "missing" | "unlisted-file" | "phantom-file") => {
      const files = await unzip((await buildWheel({ name: "demo", version: "1.0", record: mode })).bytes);
      return files.get("demo-1.0.dist-info/RECORD")?.data.toString();
    };
    assert.equal(await record("missing"), undefined);
    assert.ok(!(await record("unlisted-file"))?.includes("demo/__init__.py"));
    assert.ok((await record("phantom-file"))?.includes("demo/phantom.py"));
    const good = (await unzip((await buildWheel({ name: "demo", version: "1.0" })).bytes)).get(
      "demo-1.0.dist-info/RECORD",
    );
    assert.notEqual(await record("wrong-hash"), good?.data.toString());
  });

  test("writes the wheel into a directory under its filename", async () => {
    const wheel = await writeWheel(dir, { name: "demo", version: "1.0" });
    assert.equal(wheel.path, join(dir, "demo-1.0-py3-none-any.whl"));
    assert.ok((await readFile(wheel.path)).equals(wheel.bytes));
  });
});

describe("buildSdist", () => {
  test("puts PKG-INFO below one {name}-{version} directory", async () => {
    const sdist = await buildSdist({ name: "Demo", version: "1.0", files: { "src/x.py": "x" } });
    assert.equal(sdist.filename, "demo-1.0.tar.gz");
    const members = await untar(sdist.bytes);
    assert.deepEqual(
      members.map((m) => m.name),
      ["demo-1.0/", "demo-1.0/PKG-INFO", "demo-1.0/pyproject.toml", "demo-1.0/src/x.py"],
    );
    assert.match(members[1]!.data.toString(), /^Metadata-Version: 2\.1\nName: Demo\nVersion: 1\.0\n/);
  });
});

describe("malformed archives", () => {
  test("every malformed zip is small and quick to build", () => {
    for (const kind of MALFORMED_ZIP_KINDS) {
      const bytes = buildMalformedZip(kind);
      // One entry more than the default limit (100,000) takes ~100 bytes of headers each.
      const most = kind === "too-many-entries" ? 12 * MiB : 2 * MiB;
      assert.ok(bytes.length > 0 && bytes.length < most, `${kind}: ${bytes.length} bytes`);
    }
  });

  test("the zip bomb declares 300 MiB in a few hundred KiB", async () => {
    const bytes = buildMalformedZip("zip-bomb");
    assert.ok(bytes.length < 400 * 1024);
    assert.equal((await unzip(bytes)).get("pkg/zeros.bin")?.declared, 300 * MiB);
  });

  test("a small zero bomb inflates to exactly its zeros, with the right CRC", async () => {
    const files = await unzip(buildZeroBomb(2));
    assert.ok(files.get("pkg/zeros.bin")?.data.equals(Buffer.alloc(2 * MiB)));
  });

  test("a small tar bomb is a valid gzip of a valid tar", async () => {
    const members = await untar(buildTarBomb(1));
    assert.equal(members.length, 1);
    assert.equal(members[0]?.name, "evil-1.0/zeros.bin");
    assert.ok(members[0]?.data.equals(Buffer.alloc(MiB)));
  });

  test("every malformed sdist builds", async () => {
    for (const kind of MALFORMED_SDIST_KINDS) {
      const bytes = await buildMalformedSdist(kind);
      assert.ok(bytes.length > 0 && bytes.length < 2 * MiB, `${kind}: ${bytes.length} bytes`);
    }
    const symlink = await untar(await buildMalformedSdist("symlink"));
    assert.equal(symlink.at(-1)?.type, "symlink");
  });
});
