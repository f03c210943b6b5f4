import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import zlib from "node:zlib";
import {
  MALFORMED_ZIP_KINDS,
  buildMalformedZip,
  buildWheel,
  buildZeroBomb,
  buildZip,
  sharedDataDir,
  zip64Records,
  writeArtifact,
  type MalformedZipKind,
} from "../../test/helpers/wheel-builder.js";
import { ArchiveError, type ArchiveErrorCode, type ArchiveLimits } from "./archive-limits.js";
import { normalizeEntryPath } from "./archive-reader.js";
import { openZipArchive } from "./zip-reader.js";

const MiB = 1024 * 1024;
const PKG_FILE = { name: "pkg/__init__.py", data: "print('hello')\n" };
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-zip-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeZip(name: string, bytes: Buffer): Promise<string> {
  return writeArtifact(dir, { filename: name, bytes });
}

/** Opens and fully reads an archive; reports where it failed and with which code. */
async function outcome(
  path: string,
  limits?: Partial<ArchiveLimits>,
): Promise<{ phase: "open" | "read" | "ok"; code?: ArchiveErrorCode }> {
  let archive;
  try {
    archive = await openZipArchive(path, limits === undefined ? {} : { limits });
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

describe("normalizeEntryPath", () => {
  test("canonicalises harmless spellings", () => {
    assert.deepEqual(normalizeEntryPath("pkg/mod.py"), { path: "pkg/mod.py", isDirectory: false });
    assert.deepEqual(normalizeEntryPath("./pkg//sub/./mod.py"), {
      path: "pkg/sub/mod.py",
      isDirectory: false,
    });
    assert.deepEqual(normalizeEntryPath("pkg/"), { path: "pkg", isDirectory: true });
    assert.deepEqual(normalizeEntryPath("./"), { path: "", isDirectory: true });
    assert.deepEqual(normalizeEntryPath("pkg/ab:c.py"), { path: "pkg/ab:c.py", isDirectory: false });
  });

  test("refuses names that leave the target directory on any OS", () => {
    const cases: [string, ArchiveErrorCode][] = [
      ["../evil", "PATH_TRAVERSAL"],
      ["a/../../evil", "PATH_TRAVERSAL"],
      ["a/..", "PATH_TRAVERSAL"],
      ["..\\evil", "PATH_TRAVERSAL"],
      ["a\\b.py", "PATH_TRAVERSAL"],
      ["/etc/passwd", "ABSOLUTE_PATH"],
      ["\\\\server\\share", "ABSOLUTE_PATH"],
      ["C:/Windows/evil", "ABSOLUTE_PATH"],
      ["c:evil", "ABSOLUTE_PATH"],
      ["pkg/C:/evil", "ABSOLUTE_PATH"],
      ["", "CORRUPT"],
      ["pkg/evil\u0000.py", "CORRUPT"],
      ["pkg/evil\n.py", "CORRUPT"],
      [".", "CORRUPT"],
    ];
    for (const [name, code] of cases) {
      assert.throws(
        () => normalizeEntryPath(name),
        (err) => err instanceof ArchiveError && err.code === code,
        JSON.stringify(name),
      );
    }
  });
});

describe("openZipArchive", () => {
  test("lists and reads a well-formed wheel", async () => {
    const wheel = await buildWheel({
      name: "demo",
      version: "1.0",
      files: {
        "demo/__init__.py": "VALUE = 1\n",
        "demo/empty.txt": "",
        "demo/data.bin": Buffer.alloc(100_000, 7),
      },
    });
    const path = await writeZip(wheel.filename, wheel.bytes);
    const archive = await openZipArchive(path);
    try {
      assert.equal(archive.format, "zip");
      const names = archive.entries().map((entry) => entry.name);
      assert.deepEqual(names.slice(0, 3), ["demo/__init__.py", "demo/empty.txt", "demo/data.bin"]);
      const data = archive.entry("demo/data.bin");
      assert.equal(data?.size, 100_000);
      assert.ok(data.compressedSize < 1_000);
      assert.equal((await archive.read("demo/__init__.py")).toString(), "VALUE = 1\n");
      assert.equal((await archive.read("./demo//empty.txt")).length, 0);
      assert.deepEqual(await archive.read("demo/data.bin"), Buffer.alloc(100_000, 7));
      const seen: string[] = [];
      await archive.forEachFile((entry, bytes) => {
        assert.equal(bytes.length, entry.size);
        seen.push(entry.name);
      });
      assert.deepEqual(seen, names);
    } finally {
      await archive.close();
    }
  });

  test("reads stored entries, large deflated entries and directory entries", async () => {
    const random = randomBytes(600 * 1024);
    const path = await writeZip(
      "mixed.zip",
      buildZip([
        { name: "pkg/", method: 0, externalAttributes: (0o40755 << 16) >>> 0 },
        { name: "pkg/stored.bin", data: random, method: 0 },
        { name: "pkg/big.txt", data: "line of text\n".repeat(50_000) },
      ]),
    );
    const archive = await openZipArchive(path);
    try {
      assert.deepEqual(
        archive.entries().map((entry) => [entry.name, entry.isDirectory]),
        [
          ["pkg", true],
          ["pkg/stored.bin", false],
          ["pkg/big.txt", false],
        ],
      );
      assert.deepEqual(await archive.read("pkg/stored.bin"), random);
      assert.equal((await archive.read("pkg/big.txt")).toString(), "line of text\n".repeat(50_000));
      await assert.rejects(
        archive.read("pkg"),
        (err) => err instanceof ArchiveError && err.code === "NOT_FOUND",
      );
      await assert.rejects(
        archive.read("pkg/missing.py"),
        (err) => err instanceof ArchiveError && err.code === "NOT_FOUND",
      );
      const files: string[] = [];
      await archive.forEachFile((entry) => void files.push(entry.name));
      assert.deepEqual(files, ["pkg/stored.bin", "pkg/big.txt"]);
    } finally {
      await archive.close();
    }
  });

  test("reads archives larger than its read-ahead through a moving window", async () => {
    const block = randomBytes(40 * 1024);
    const entries = Array.from({ length: 12 }, (_, i) => ({
      name: `blob/${i}.bin`,
      data: i === 5 ? Buffer.concat([block, block]) : block,
      method: i % 2 === 0 ? 0 : 8,
    }));
    const path = await writeZip("windowed.zip", buildZip(entries));
    // 64 KiB of read-ahead: the 480 KiB archive is read in windows, and entry 5 is larger than one.
    const archive = await openZipArchive(path, { readAhead: 64 * 1024 });
    try {
      let count = 0;
      await archive.forEachFile((entry, bytes) => {
        assert.ok(
          bytes.equals(entry.name === "blob/5.bin" ? Buffer.concat([block, block]) : block),
          entry.name,
        );
        count++;
      });
      assert.equal(count, 12);
      assert.ok((await archive.read("blob/3.bin")).equals(block));
      assert.ok((await archive.read("blob/0.bin")).equals(block));
    } finally {
      await archive.close();
    }
  });

  const expected: Record<MalformedZipKind, { phase: "open" | "read"; code: ArchiveErrorCode }> = {
    "path-traversal": { phase: "open", code: "PATH_TRAVERSAL" },
    "nested-traversal": { phase: "open", code: "PATH_TRAVERSAL" },
    "backslash-traversal": { phase: "open", code: "PATH_TRAVERSAL" },
    "absolute-path": { phase: "open", code: "ABSOLUTE_PATH" },
    "drive-letter": { phase: "open", code: "ABSOLUTE_PATH" },
    symlink: { phase: "open", code: "SYMLINK" },
    "duplicate-name": { phase: "open", code: "DUPLICATE_NAME" },
    "duplicate-after-normalising": { phase: "open", code: "DUPLICATE_NAME" },
    "file-used-as-directory": { phase: "open", code: "DUPLICATE_NAME" },
    "control-character": { phase: "open", code: "CORRUPT" },
    "zip-bomb": { phase: "open", code: "COMPRESSION_RATIO" },
    "lying-size": { phase: "read", code: "CORRUPT" },
    "lying-small-size": { phase: "open", code: "CORRUPT" },
    "too-many-entries": { phase: "open", code: "TOO_MANY_ENTRIES" },
    "overlapping-entries": { phase: "open", code: "CORRUPT" },
    "bad-crc": { phase: "read", code: "CORRUPT" },
    "local-name-mismatch": { phase: "read", code: "CORRUPT" },
    encrypted: { phase: "open", code: "UNSUPPORTED" },
    "unsupported-method": { phase: "open", code: "UNSUPPORTED" },
    "not-a-zip": { phase: "open", code: "CORRUPT" },
    truncated: { phase: "open", code: "CORRUPT" },
    "invalid-deflate": { phase: "read", code: "CORRUPT" },
  };

  for (const kind of MALFORMED_ZIP_KINDS) {
    test(`refuses a zip with ${kind} (${expected[kind].code} on ${expected[kind].phase})`, async () => {
      const path = await writeZip(`${kind}.zip`, buildMalformedZip(kind));
      assert.deepEqual(await outcome(path), expected[kind]);
    });
  }

  test("judges the compression ratio of a bomb even when its size is allowed", async () => {
    const path = await writeZip("bomb-ratio.zip", buildMalformedZip("zip-bomb"));
    assert.deepEqual(await outcome(path, { maxEntryUncompressed: 512 * MiB }), {
      phase: "open",
      code: "COMPRESSION_RATIO",
    });
  });

  test("stops inflating a lying entry right after its declared size", async () => {
    const path = await writeZip("lying.zip", buildMalformedZip("lying-size"));
    const archive = await openZipArchive(path);
    try {
      await assert.rejects(archive.read("pkg/zeros.bin"), (err) => {
        assert.ok(err instanceof ArchiveError);
        assert.equal(err.code, "CORRUPT");
        assert.equal(err.entry, "pkg/zeros.bin");
        assert.match(err.message, /past its declared size/);
        return true;
      });
    } finally {
      await archive.close();
    }
  });

  test("stops a small entry that lies about its size too", async () => {
    // Declares 100 KiB, small enough to be inflated synchronously, but holds 1 MiB of zeros.
    const path = await writeZip("lying-small.zip", buildZeroBomb(1, 100 * 1024));
    const archive = await openZipArchive(path);
    try {
      await assert.rejects(archive.read("pkg/zeros.bin"), /past its declared size of 102400 bytes/);
    } finally {
      await archive.close();
    }
  });

  test("inflates an honest highly compressed entry that the limits allow", async () => {
    const path = await writeZip("zeros-5.zip", buildZeroBomb(5));
    assert.deepEqual(await outcome(path), { phase: "open", code: "COMPRESSION_RATIO" });
    const archive = await openZipArchive(path, { limits: { maxCompressionRatio: 2_000 } });
    try {
      const data = await archive.read("pkg/zeros.bin");
      assert.equal(data.length, 5 * MiB);
      assert.ok(data.equals(Buffer.alloc(5 * MiB)));
    } finally {
      await archive.close();
    }
  });

  test("does not judge the ratio of small entries", async () => {
    const path = await writeZip(
      "small-zeros.zip",
      buildZip([{ name: "zeros.bin", data: Buffer.alloc(512 * 1024) }]),
    );
    assert.deepEqual(await outcome(path), { phase: "ok" });
  });

  test("enforces the entry count, total size and entry size limits", async () => {
    const path = await writeZip(
      "three.zip",
      buildZip([
        { name: "a.txt", data: "a".repeat(1000) },
        { name: "b.txt", data: "b".repeat(1000) },
        { name: "c.txt", data: "c".repeat(1000) },
      ]),
    );
    assert.deepEqual(await outcome(path, { maxEntries: 2 }), { phase: "open", code: "TOO_MANY_ENTRIES" });
    assert.deepEqual(await outcome(path, { maxTotalUncompressed: 2500 }), {
      phase: "open",
      code: "TOO_LARGE",
    });
    assert.deepEqual(await outcome(path, { maxEntryUncompressed: 999 }), {
      phase: "open",
      code: "ENTRY_TOO_LARGE",
    });
    assert.deepEqual(
      await outcome(path, { maxEntries: 3, maxTotalUncompressed: 3000, maxEntryUncompressed: 1000 }),
      {
        phase: "ok",
      },
    );
  });

  test("refuses a second name in an Info-ZIP Unicode Path extra field", async () => {
    const name = Buffer.from("pkg/harmless.py");
    const unicodeName = Buffer.from("pkg/other.py");
    const extra = Buffer.alloc(4 + 5 + unicodeName.length);
    extra.writeUInt16LE(0x7075, 0);
    extra.writeUInt16LE(5 + unicodeName.length, 2);
    extra.writeUInt8(1, 4);
    extra.writeUInt32LE(zlib.crc32(name), 5);
    unicodeName.copy(extra, 9);
    const path = await writeZip("unicode-extra.zip", buildZip([{ name, data: "x", extra }]));
    assert.deepEqual(await outcome(path), { phase: "open", code: "CORRUPT" });
  });

  test("refuses a name flagged UTF-8 that is not", async () => {
    const path = await writeZip(
      "bad-utf8.zip",
      buildZip([{ name: Buffer.from([0x70, 0xff, 0x2e, 0x70, 0x79]), data: "x", flags: 0x800 }]),
    );
    assert.deepEqual(await outcome(path), { phase: "open", code: "CORRUPT" });
  });

  test("decodes names without the UTF-8 flag as CP437, as CPython does", async () => {
    const path = await writeZip(
      "cp437.zip",
      buildZip([{ name: Buffer.from([0x63, 0x61, 0x66, 0x82]), data: "x", flags: 0 }]),
    );
    const archive = await openZipArchive(path);
    try {
      assert.deepEqual(
        archive.entries().map((entry) => entry.name),
        ["café"],
      );
    } finally {
      await archive.close();
    }
  });

  test("passes file-system errors through untouched", async () => {
    await assert.rejects(openZipArchive(join(dir, "does-not-exist.whl")), (err) => {
      assert.ok(!(err instanceof ArchiveError));
      assert.equal((err as NodeJS.ErrnoException).code, "ENOENT");
      return true;
    });
  });

  test("honours an abort signal", async () => {
    const wheel = await buildWheel({ name: "demo", version: "1.0" });
    const path = await writeZip("abort.whl", wheel.bytes);
    await assert.rejects(openZipArchive(path, { signal: AbortSignal.abort() }), { name: "AbortError" });
    const archive = await openZipArchive(path);
    try {
      await assert.rejects(
        archive.forEachFile(() => {}, { signal: AbortSignal.abort() }),
        { name: "AbortError" },
      );
    } finally {
      await archive.close();
    }
  });

  test("refuses to read after close", async () => {
    const wheel = await buildWheel({ name: "demo", version: "1.0" });
    const archive = await openZipArchive(await writeZip("closed.whl", wheel.bytes));
    await archive.close();
    await archive.close();
    await assert.rejects(archive.read("demo/__init__.py"), /closed/);
  });

  test("answers randomly corrupted archives with typed errors only", async () => {
    const base = (
      await buildWheel({ name: "demo", version: "1.0", files: { "demo/a.py": "x = 1\n".repeat(50) } })
    ).bytes;
    let seed = 20240601;
    const random = (below: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % below;
    };
    for (let i = 0; i < 100; i++) {
      const bytes = Buffer.from(base);
      for (let j = 0; j <= random(4); j++) bytes[random(bytes.length)] = random(256);
      const result = await outcome(await writeZip("fuzzed.zip", bytes));
      assert.ok(result.phase === "ok" || result.code !== undefined);
    }
  });

  test("reads every file of every real wheel", async () => {
    const wheelsDir = join(sharedDataDir(), "wheels");
    const files = (await readdir(wheelsDir)).filter((name) => name.endsWith(".whl"));
    assert.ok(files.length >= 18, `expected the shared wheels in ${wheelsDir}`);
    const paths = files.map((file) => join(wheelsDir, file));
    // Debian's python3-pip-whl and friends, where installed: wheels built by other tools.
    const systemWheels = "/usr/share/python-wheels";
    const system = await readdir(systemWheels).catch(() => [] as string[]);
    paths.push(...system.filter((name) => name.endsWith(".whl")).map((name) => join(systemWheels, name)));
    for (const file of paths) {
      const archive = await openZipArchive(file);
      try {
        const expectedBytes = archive
          .entries()
          .filter((entry) => !entry.isDirectory)
          .reduce((sum, entry) => sum + entry.size, 0);
        let bytes = 0;
        await archive.forEachFile((_entry, data) => {
          bytes += data.length;
        });
        assert.equal(bytes, expectedBytes, file);
        assert.ok(
          archive.entries().some((entry) => entry.name.endsWith(".dist-info/METADATA")),
          file,
        );
      } finally {
        await archive.close();
      }
    }
  });
});

/** A zip split into its parts, to reassemble in ways no zip writer would. */
function splitZip(zip: Buffer): { data: Buffer; central: Buffer; count: number } {
  const end = zip.subarray(zip.length - 22);
  assert.equal(end.readUInt32LE(0), 0x06054b50, "the test zip ends with a comment-less end record");
  const size = end.readUInt32LE(12);
  const offset = end.readUInt32LE(16);
  return {
    data: zip.subarray(0, offset),
    central: zip.subarray(offset, offset + size),
    count: end.readUInt16LE(10),
  };
}

/** A copy of a central directory with every local header offset moved by `delta`. */
function shiftCentral(central: Buffer, delta: number): Buffer {
  const out = Buffer.from(central);
  for (let at = 0; at < out.length;) {
    out.writeUInt32LE(out.readUInt32LE(at + 42) + delta, at + 42);
    at += 46 + out.readUInt16LE(at + 28) + out.readUInt16LE(at + 30) + out.readUInt16LE(at + 32);
  }
  return out;
}

function endRecord(fields: { count: number; size: number; offset: number; countOnDisk?: number }): Buffer {
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(fields.countOnDisk ?? fields.count, 8);
  end.writeUInt16LE(fields.count, 10);
  end.writeUInt32LE(fields.size, 12);
  end.writeUInt32LE(fields.offset, 16);
  return end;
}

/** The message of the error opening or reading `path` fails with, which must be an ArchiveError. */
async function refusal(path: string): Promise<string> {
  const result = await outcome(path);
  assert.notEqual(result.phase, "ok", `${path} was accepted`);
  try {
    const archive = await openZipArchive(path);
    try {
      await archive.forEachFile(() => {});
    } finally {
      await archive.close();
    }
  } catch (err) {
    return (err as Error).message;
  }
  return "";
}

async function entryNames(path: string): Promise<string[]> {
  const archive = await openZipArchive(path);
  try {
    return archive.entries().map((entry) => entry.name);
  } finally {
    await archive.close();
  }
}

describe("openZipArchive: files too large to hold whole", () => {
  const KiB = 1024;
  const deflated = Buffer.concat([
    Buffer.from("\x7fELF"),
    randomBytes(300 * KiB),
    Buffer.alloc(200 * KiB, 7),
  ]);
  // Stored, over the 4 MiB a piece reads: three reads through the moving window.
  const stored = randomBytes(9 * MiB + 123);
  const entries = [
    { name: "pkg/__init__.py", data: "x = 1\n" },
    { name: "pkg/_core.so", data: deflated },
    { name: "pkg/blob.bin", data: stored, method: 0 },
  ];

  async function visitAll(path: string, options: Parameters<typeof openZipArchive>[1]) {
    const archive = await openZipArchive(path, options);
    const seen: Record<string, { size: number; head?: Buffer; whole?: Buffer; again?: Buffer }> = {};
    try {
      await archive.forEachFileContent(async (entry, content) => {
        if (Buffer.isBuffer(content)) {
          seen[entry.name] = { size: content.length, whole: Buffer.from(content) };
          return;
        }
        const read = async () => {
          const pieces: Buffer[] = [];
          for await (const piece of content.pieces()) pieces.push(Buffer.from(piece));
          return Buffer.concat(pieces);
        };
        seen[entry.name] = {
          size: content.size,
          head: content.head,
          whole: await read(),
          again: await read(),
        };
      });
    } finally {
      await archive.close();
    }
    return seen;
  }

  test("hands entries over streamAbove over as their head, size and pieces, deflated or stored", async () => {
    const path = await writeZip("large.zip", buildZip(entries));
    const seen = await visitAll(path, { streamAbove: 100 * KiB, readAhead: 256 * KiB });
    assert.deepEqual(seen["pkg/__init__.py"], { size: 6, whole: Buffer.from("x = 1\n") });
    for (const [name, data] of [
      ["pkg/_core.so", deflated],
      ["pkg/blob.bin", stored],
    ] as const) {
      const file = seen[name]!;
      assert.equal(file.size, data.length, name);
      assert.ok(file.head!.equals(data.subarray(0, 64 * KiB)), `${name} head`);
      assert.ok(file.whole!.equals(data), `${name} pieces`);
      assert.ok(file.again!.equals(data), `${name} pieces, read again`);
    }
    // By default (64 MiB) every entry here comes whole.
    const whole = await visitAll(path, {});
    assert.ok(whole["pkg/blob.bin"]!.whole!.equals(stored));
    assert.equal(whole["pkg/blob.bin"]!.head, undefined);
  });

  test("checks a large entry's CRC-32 and size even when the visitor reads none of it", async () => {
    const cases = [
      { entry: { crc32: 1 }, message: /fails its CRC-32 check/ },
      { entry: { declaredSize: deflated.length - 1 }, message: /inflates past its declared size/ },
      { entry: { declaredSize: deflated.length + 1 }, message: /inflates to \d+ bytes, not the declared/ },
    ];
    for (const [i, c] of cases.entries()) {
      const path = await writeZip(
        `bad-large-${i}.zip`,
        buildZip([{ name: "pkg/_core.so", data: deflated, ...c.entry }]),
      );
      const archive = await openZipArchive(path, { streamAbove: 100 * KiB });
      try {
        await assert.rejects(
          archive.forEachFileContent(() => {}),
          (err) => {
            assert.ok(err instanceof ArchiveError, String(err));
            assert.equal(err.code, "CORRUPT");
            assert.equal(err.entry, "pkg/_core.so");
            assert.match(err.message, c.message);
            return true;
          },
        );
      } finally {
        await archive.close();
      }
    }
  });

  test("reads an entry over maxBufferedEntry only in pieces", async () => {
    const path = await writeZip("buffered.zip", buildZip(entries));
    const limits = { maxBufferedEntry: 1 * MiB };
    assert.deepEqual(await outcome(path, limits), { phase: "read", code: "ENTRY_TOO_LARGE" });
    const archive = await openZipArchive(path, { limits });
    try {
      await assert.rejects(
        archive.read("pkg/blob.bin"),
        (err) => err instanceof ArchiveError && err.code === "ENTRY_TOO_LARGE",
      );
      assert.ok((await archive.read("pkg/_core.so")).equals(deflated));
    } finally {
      await archive.close();
    }
    const seen = await visitAll(path, { limits });
    assert.ok(seen["pkg/blob.bin"]!.head && seen["pkg/blob.bin"]!.whole!.equals(stored));
    assert.ok(seen["pkg/_core.so"]!.head === undefined && seen["pkg/_core.so"]!.whole!.equals(deflated));
  });

  test("lets other work in during a long pass", async () => {
    const path = await writeZip(
      "many.zip",
      buildZip(Array.from({ length: 40 }, (_, i) => ({ name: `pkg/m${i}.py`, data: "x = 1\n" }))),
    );
    const archive = await openZipArchive(path);
    let turns = 0;
    let seen = 0;
    const tick = (): void => {
      turns++;
      timer = setImmediate(tick);
    };
    let timer = setImmediate(tick);
    try {
      // Each file takes 1 ms: a pass of 40 must give the event loop a turn between some of them.
      await archive.forEachFile(() => {
        const until = performance.now() + 1;
        while (performance.now() < until);
        seen = Math.max(seen, turns);
      });
    } finally {
      clearImmediate(timer);
      await archive.close();
    }
    assert.ok(seen > 0, "no other work ran during the pass");
  });

  test("honours an abort signal between pieces", async () => {
    const path = await writeZip("abort-large.zip", buildZip(entries));
    const archive = await openZipArchive(path, { streamAbove: 100 * KiB, readAhead: 256 * KiB });
    const controller = new AbortController();
    try {
      await assert.rejects(
        archive.forEachFileContent(
          async (_entry, content) => {
            if (Buffer.isBuffer(content)) return;
            for await (const _ of content.pieces()) controller.abort();
          },
          { signal: controller.signal },
        ),
        (err) => (err as Error).name === "AbortError",
      );
    } finally {
      await archive.close();
    }
  });
});

describe("openZipArchive: zips CPython and yauzl would read differently", () => {
  const BENIGN = [PKG_FILE, { name: "pkg/b.py", data: "b = 1\n" }];
  const PKG_FILE_NAME = "pkg/__init__.py";

  test("reads a zip with a zip64 end record in the one place every reader looks", async () => {
    const { data, central, count } = splitZip(buildZip(BENIGN));
    const recordAt = data.length + central.length;
    const bytes = Buffer.concat([
      data,
      central,
      zip64Records({ count, size: central.length, offset: data.length, recordAt }),
      endRecord({ count: 0xffff, size: 0xffffffff, offset: 0xffffffff }),
    ]);
    assert.deepEqual(await entryNames(await writeZip("zip64.zip", bytes)), [PKG_FILE_NAME, "pkg/b.py"]);
  });

  test("reads a zip whose local data was moved along with every offset", async () => {
    const { data, central, count } = splitZip(buildZip(BENIGN));
    const pad = Buffer.alloc(64);
    const bytes = Buffer.concat([
      pad,
      data,
      shiftCentral(central, pad.length),
      endRecord({ count, size: central.length, offset: pad.length + data.length }),
    ]);
    assert.deepEqual(await outcome(await writeZip("moved.zip", bytes)), { phase: "ok" });
  });

  test("refuses an end record that counts one entry fewer than the directory holds", async () => {
    // yauzl stops after the count and would never list the last entry; CPython reads the
    // directory to its declared size and installs it.
    const { data, central, count } = splitZip(
      buildZip([...BENIGN, { name: "zz_hidden.pth", data: "import os\n" }]),
    );
    const bytes = Buffer.concat([
      data,
      central,
      endRecord({ count: count - 1, size: central.length, offset: data.length }),
    ]);
    assert.deepEqual(await outcome(await writeZip("count.zip", bytes)), { phase: "open", code: "CORRUPT" });
    assert.match(
      await refusal(await writeZip("count.zip", bytes)),
      /holds more than the 2 records the end record counts/,
    );
  });

  test("refuses an end record whose per-disk count differs from its total", async () => {
    const { data, central, count } = splitZip(buildZip(BENIGN));
    const bytes = Buffer.concat([
      data,
      central,
      endRecord({ count, countOnDisk: count - 1, size: central.length, offset: data.length }),
    ]);
    assert.deepEqual(await outcome(await writeZip("disk-count.zip", bytes)), {
      phase: "open",
      code: "CORRUPT",
    });
    assert.match(
      await refusal(await writeZip("disk-count.zip", bytes)),
      /counts 1 entries on this disk but 2 in all/,
    );
  });

  test("refuses a central directory that does not start where the end record puts it", async () => {
    // CPython's "concat" offset: it shifts every offset by (end record position - size - offset),
    // so yauzl reads the benign directory the end record names and CPython the one right before
    // the end record, with the evil entry.
    const benign = splitZip(buildZip(BENIGN));
    const evil = splitZip(buildZip([PKG_FILE, { name: "evil.pth", data: "import os\n" }]));
    const pad = Buffer.alloc(evil.data.length + 64);
    const benignCentralAt = pad.length + benign.data.length;
    const evilDataAt = benignCentralAt + benign.central.length;
    const evilCentralAt = evilDataAt + evil.data.length;
    const concat = evilCentralAt - benignCentralAt;
    const bytes = Buffer.concat([
      pad,
      benign.data,
      shiftCentral(benign.central, pad.length),
      evil.data,
      shiftCentral(evil.central, evilDataAt - concat),
      endRecord({ count: benign.count, size: evil.central.length, offset: benignCentralAt }),
    ]);
    assert.deepEqual(await outcome(await writeZip("concat.zip", bytes)), { phase: "open", code: "CORRUPT" });
    assert.match(
      await refusal(await writeZip("concat.zip", bytes)),
      /central directory is declared at \d+ \(\d+ bytes\) but the end record is at \d+/,
    );
  });

  test("refuses an archive comment that holds an end-of-central-directory signature", async () => {
    // CPython takes the last signature in the file, yauzl the last with room for a whole record
    // after it: a signature in the last 21 bytes splits them.
    const { data, central, count } = splitZip(buildZip(BENIGN));
    const comment = Buffer.from("see PK\x05\x06 here", "latin1");
    const end = endRecord({ count, size: central.length, offset: data.length });
    end.writeUInt16LE(comment.length, 20);
    const bytes = Buffer.concat([data, central, end, comment]);
    assert.deepEqual(await outcome(await writeZip("comment.zip", bytes)), { phase: "open", code: "CORRUPT" });
  });

  test("refuses a zip64 locator that points elsewhere than right before itself", async () => {
    // CPython before 3.14 reads the zip64 end record right before the locator, yauzl reads where
    // the locator points: here a decoy between the entries and the directory, which both read
    // alike only by luck.
    const { data, central, count } = splitZip(buildZip(BENIGN));
    const fields = { count, size: central.length, offset: data.length + 56 };
    const decoy = zip64Records({ ...fields, recordAt: 0 }).subarray(0, 56);
    const bytes = Buffer.concat([
      data,
      decoy,
      central,
      zip64Records({ ...fields, recordAt: data.length }),
      endRecord({ count: 0xffff, size: 0xffffffff, offset: 0xffffffff }),
    ]);
    assert.deepEqual(await outcome(await writeZip("zip64-locator.zip", bytes)), {
      phase: "open",
      code: "CORRUPT",
    });
    assert.match(await refusal(await writeZip("zip64-locator.zip", bytes)), /zip64 locator points elsewhere/);
  });

  test("refuses an end record that disagrees with its zip64 record", async () => {
    const { data, central, count } = splitZip(buildZip([...BENIGN, { name: "pkg/c.py", data: "c = 1\n" }]));
    const recordAt = data.length + central.length;
    const bytes = Buffer.concat([
      data,
      central,
      zip64Records({ count, size: central.length, offset: data.length, recordAt }),
      endRecord({ count: count - 1, size: central.length, offset: data.length }),
    ]);
    assert.deepEqual(await outcome(await writeZip("zip64-disagree.zip", bytes)), {
      phase: "open",
      code: "CORRUPT",
    });
    assert.match(
      await refusal(await writeZip("zip64-disagree.zip", bytes)),
      /end of central directory record and its zip64 record disagree/,
    );
  });

  test("refuses an entry with two zip64 extra fields", async () => {
    const field = Buffer.alloc(12);
    field.writeUInt16LE(0x0001, 0);
    field.writeUInt16LE(8, 2);
    field.writeBigUInt64LE(6n, 4);
    const path = await writeZip(
      "two-zip64.zip",
      buildZip([PKG_FILE, { name: "pkg/b.py", data: "b = 1\n", extra: Buffer.concat([field, field]) }]),
    );
    assert.deepEqual(await outcome(path), { phase: "open", code: "CORRUPT" });
    assert.match(await refusal(path), /more than one zip64 extra field/);
  });

  test("refuses CP437 names with bytes CPython decodes as control characters", async () => {
    // yauzl shows 0x01 as "☺"; CPython, and so pip, as U+0001.
    for (const byte of [0x01, 0x08, 0x1f, 0x7f]) {
      const path = await writeZip(
        "cp437-control.zip",
        buildZip([{ name: Buffer.from([0x65, 0x76, byte, 0x2e, 0x70, 0x74, 0x68]), data: "x", flags: 0 }]),
      );
      assert.deepEqual(
        await outcome(path),
        { phase: "open", code: "CORRUPT" },
        `byte 0x${byte.toString(16)}`,
      );
    }
  });

  test("refuses a Unicode Path extra field naming another file even with a CRC yauzl ignores", async () => {
    const unicodeName = Buffer.from("pkg/other.py");
    const extra = Buffer.alloc(9 + unicodeName.length);
    extra.writeUInt16LE(0x7075, 0);
    extra.writeUInt16LE(5 + unicodeName.length, 2);
    extra.writeUInt8(1, 4);
    extra.writeUInt32LE(0x12345678, 5);
    unicodeName.copy(extra, 9);
    const path = await writeZip(
      "unicode-bad-crc.zip",
      buildZip([{ name: "pkg/harmless.py", data: "x", extra }]),
    );
    assert.deepEqual(await outcome(path), { phase: "open", code: "CORRUPT" });
  });

  test("refuses entry data that runs into the next local header", async () => {
    // An empty file whose local extra field holds the next entry's whole local record: its data
    // starts past that entry's header, which CPython 3.12+ refuses to read (gh-109858).
    const b = splitZip(buildZip([{ name: "pkg/b.py", data: "b = 1\n", method: 0 }]));
    const a = splitZip(buildZip([{ name: "pkg/a.py", data: "", method: 0 }]));
    const aLocal = Buffer.from(a.data);
    aLocal.writeUInt16LE(b.data.length, 28);
    const locals = Buffer.concat([aLocal, b.data]);
    const central = Buffer.concat([a.central, shiftCentral(b.central, aLocal.length)]);
    const bytes = Buffer.concat([
      locals,
      central,
      endRecord({ count: 2, size: central.length, offset: locals.length }),
    ]);
    assert.deepEqual(await outcome(await writeZip("overrun.zip", bytes)), { phase: "read", code: "CORRUPT" });
    assert.match(
      await refusal(await writeZip("overrun.zip", bytes)),
      /data of pkg\/a\.py runs into the next entry/,
    );
  });
});
