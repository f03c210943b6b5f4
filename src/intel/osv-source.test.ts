import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import yazl from "yazl";
import { sharedDataDir } from "../../test/helpers/shared-data.js";
import { OsvIndex } from "./osv-index.js";
import { loadOsvSource, OsvSourceError, readOsvSource, type OsvSourceItem } from "./osv-source.js";

const PYSEC_ZIP = join(sharedDataDir(), "osv", "pypa-advisory-database.zip");
const MAL_ZIP = join(sharedDataDir(), "osv", "ossf-malicious-pypi.zip");

async function readAll(
  path: string,
  options?: Parameters<typeof readOsvSource>[1],
): Promise<OsvSourceItem[]> {
  const items: OsvSourceItem[] = [];
  for await (const item of readOsvSource(path, options)) items.push(item);
  return items;
}

type ZipInput = [name: string, data: string | Buffer, options?: { compress?: boolean }];

async function writeZip(path: string, entries: readonly ZipInput[]): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const [name, data, options] of entries) {
    if (name.endsWith("/")) zip.addEmptyDirectory(name);
    else zip.addBuffer(Buffer.from(data), name, { compress: options?.compress ?? true });
  }
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(path));
}

const record = (id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    id,
    modified: "2024-01-01T00:00:00Z",
    affected: [{ package: { ecosystem: "PyPI", name: "demo" }, versions: ["1.0"] }],
    ...extra,
  });

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-osv-source-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("readOsvSource on the real PyPA advisory database zip", () => {
  it("reads all 2,661 records with none malformed, each named after its file", async () => {
    const items = await readAll(PYSEC_ZIP);
    assert.equal(items.length, 2661);
    const malformed = items.filter((item) => !item.ok);
    assert.deepEqual(malformed, []);
    for (const item of items) {
      assert.ok(item.ok);
      assert.equal(item.source, `${PYSEC_ZIP}!${item.record.id}.json`);
    }
    assert.equal(new Set(items.map((item) => item.ok && item.record.id)).size, 2661);
  });

  it("reads the 24 malicious-package records", async () => {
    const items = await readAll(MAL_ZIP);
    assert.equal(items.filter((item) => item.ok).length, 24);
  });
});

describe("readOsvSource on a zip", () => {
  it("yields malformed entries as errors and goes on", async () => {
    const path = join(dir, "mixed.zip");
    await writeZip(path, [
      ["PyPI/", ""],
      ["PYSEC-1.json", record("PYSEC-1")],
      ["broken.json", "{ not json"],
      ["invalid.json", JSON.stringify({ id: "" })],
      ["latin1.json", Buffer.from([0x7b, 0xe9, 0x7d])],
      ["README.txt", "ignored"],
      [".hidden.json", record("HIDDEN")],
      ["PyPI/PYSEC-2.json", record("PYSEC-2"), { compress: false }],
      ["pair.json", `[${record("PAIR-1")}, ${record("PAIR-2")}]`],
      ["rec.yaml", "id: YAML-1\naffected:\n- package: {ecosystem: PyPI, name: demo}\n  versions: [1.10]\n"],
    ]);
    const items = await readAll(path);
    assert.deepEqual(
      items.map((item) => [item.source.slice(path.length + 1), item.ok ? item.record.id : "error"]),
      [
        ["PYSEC-1.json", "PYSEC-1"],
        ["broken.json", "error"],
        ["invalid.json", "error"],
        ["latin1.json", "error"],
        ["PyPI/PYSEC-2.json", "PYSEC-2"],
        ["pair.json#0", "PAIR-1"],
        ["pair.json#1", "PAIR-2"],
        ["rec.yaml", "YAML-1"],
      ],
    );
    const yaml = items.at(-1)!;
    assert.ok(yaml.ok);
    assert.deepEqual(yaml.record.affected?.[0]?.versions, ["1.10"], "YAML versions stay strings");
  });

  it("refuses an entry over the size cap without reading it, and reads the next", async () => {
    const path = join(dir, "big.zip");
    await writeZip(path, [
      ["BIG.json", record("BIG", { details: "x".repeat(10_000) })],
      ["SMALL.json", record("SMALL")],
    ]);
    const items = await readAll(path, { maxEntryBytes: 2_000 });
    assert.equal(items.length, 2);
    assert.ok(!items[0]!.ok && /more than 2000/.test(items[0]!.error));
    assert.ok(items[1]!.ok);
  });

  it("yields an entry whose bytes fail the CRC check as an error", async () => {
    const path = join(dir, "corrupt.zip");
    const marker = "CORRUPT-ME-PLEASE";
    await writeZip(path, [
      ["A.json", record("A", { summary: marker }), { compress: false }],
      ["B.json", record("B"), { compress: false }],
    ]);
    const bytes = await readFile(path);
    const at = bytes.indexOf(marker);
    bytes[at] = "X".charCodeAt(0);
    await writeFile(path, bytes);
    const items = await readAll(path);
    assert.ok(!items[0]!.ok && /CRC-32/.test(items[0]!.error));
    assert.ok(items[1]!.ok && items[1]!.record.id === "B");
  });

  it("throws when the zip lists more entries than allowed", async () => {
    const path = join(dir, "many.zip");
    await writeZip(path, [
      ["A.json", record("A")],
      ["B.json", record("B")],
      ["C.json", record("C")],
    ]);
    await assert.rejects(readAll(path, { maxEntries: 2 }), OsvSourceError);
  });

  it("recognises a zip saved without the .zip extension", async () => {
    const path = join(dir, "download.bin");
    await writeZip(path, [["A.json", record("A")]]);
    const items = await readAll(path);
    assert.ok(items.length === 1 && items[0]!.ok && items[0]!.record.id === "A");
  });

  it("throws when the file is not a zip at all", async () => {
    const path = join(dir, "junk.zip");
    await writeFile(path, "this is not a zip file");
    await assert.rejects(readAll(path), OsvSourceError);
  });

  it("stops when aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(readAll(PYSEC_ZIP, { signal: controller.signal }), { name: "AbortError" });
    const midway = new AbortController();
    let seen = 0;
    await assert.rejects(
      async () => {
        for await (const _item of readOsvSource(PYSEC_ZIP, { signal: midway.signal })) {
          if (++seen === 10) midway.abort();
        }
      },
      { name: "AbortError" },
    );
    assert.equal(seen, 10);
  });
});

describe("readOsvSource on a directory or a file", () => {
  it("walks a tree of .json/.yaml/.yml in name order, skipping hidden entries and links", async () => {
    const root = join(dir, "tree");
    await mkdir(join(root, "vulns", "django"), { recursive: true });
    await mkdir(join(root, ".git"), { recursive: true });
    await writeFile(join(root, ".git", "X.json"), record("GIT"));
    await writeFile(
      join(root, "vulns", "django", "PYSEC-2.yaml"),
      [
        "id: PYSEC-2",
        "modified: 2021-07-15T02:22:07.728618Z",
        "withdrawn:",
        "affected:",
        "- package:",
        "    name: Django",
        "    ecosystem: PyPI",
        "  ranges:",
        "  - type: ECOSYSTEM",
        "    events:",
        "    - introduced: 0",
        "    - fixed: 1.10",
        "",
      ].join("\n"),
    );
    await writeFile(join(root, "vulns", "django", "PYSEC-1.yml"), "id: [unclosed\n");
    await writeFile(join(root, "vulns", "A.json"), record("A"));
    await writeFile(join(root, "notes.md"), "ignored");
    await symlink(join(root, "vulns", "A.json"), join(root, "vulns", "link.json"));
    const items = await readAll(root);
    assert.deepEqual(
      items.map((item) => [item.source.slice(root.length + 1), item.ok ? item.record.id : "error"]),
      [
        ["vulns/A.json", "A"],
        ["vulns/django/PYSEC-1.yml", "error"],
        ["vulns/django/PYSEC-2.yaml", "PYSEC-2"],
      ],
    );
    const yaml = items[2]!;
    assert.ok(yaml.ok);
    assert.equal(yaml.record.withdrawn, undefined, "an empty YAML value is null, not a withdrawal");
    assert.equal(yaml.record.modified, "2021-07-15T02:22:07.728618Z");
    assert.deepEqual(yaml.record.affected?.[0]?.ranges?.[0]?.events, [
      { introduced: "0" },
      { fixed: "1.10" },
    ]);
  });

  it("reads a single JSON file, and refuses one over the size cap as an error", async () => {
    const path = join(dir, "PYSEC-9.json");
    await writeFile(path, record("PYSEC-9"));
    const [item] = await readAll(path);
    assert.ok(item?.ok && item.record.id === "PYSEC-9");
    const [capped] = await readAll(path, { maxEntryBytes: 10 });
    assert.ok(capped && !capped.ok && /more than 10 bytes/.test(capped.error));
  });

  it("passes file-system errors through", async () => {
    await assert.rejects(readAll(join(dir, "missing.zip")), { code: "ENOENT" });
  });
});

describe("loadOsvSource", () => {
  it("adds the good records to the index and counts the malformed ones", async () => {
    const path = join(dir, "load.zip");
    await writeZip(path, [
      ["A.json", record("A")],
      ["bad.json", "{"],
      ["B.json", record("B")],
    ]);
    const index = new OsvIndex();
    const report = await loadOsvSource(path, index);
    assert.equal(report.records, 2);
    assert.equal(report.malformed, 1);
    assert.equal(report.errors[0]?.source, `${path}!bad.json`);
    assert.deepEqual(
      index.match("demo", "1.0").map((advisory) => advisory.id),
      ["A", "B"],
    );
  });
});
