import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sharedDataDir } from "../../test/helpers/shared-data.js";
import { loadMaliciousNames, parseMaliciousNames, type MaliciousNames } from "./malicious-names.js";
import { affectsAllVersions, OsvIndex } from "./osv-index.js";
import { loadOsvSource } from "./osv-source.js";

const NAMES_FILE = join(sharedDataDir(), "osv", "ossf-malicious-pypi-names.jsonl");
const MAL_ZIP = join(sharedDataDir(), "osv", "ossf-malicious-pypi.zip");
const TOP_FILE = join(sharedDataDir(), "top-pypi-packages.json");

/** The popular projects that had specific releases compromised (data README, "Overlap"). */
const COMPROMISED_POPULAR = [
  "always-updates",
  "elementary-data",
  "guardrails-ai",
  "lightning",
  "litellm",
  "mistralai",
  "num2words",
  "telnyx",
];

describe("parseMaliciousNames", () => {
  it("normalises names and counts bad lines, blank lines aside", () => {
    const result = parseMaliciousNames(
      [
        '{"name":"ProjZ.py","id":"MAL-2026-3696"}',
        "",
        "not json",
        '{"name":"","id":"MAL-1"}',
        '{"name":"x","id":7}',
        '["booto3","MAL-2024-1059"]',
        '{"name":"Foo_Bar","id":"MAL-2"}',
        '{"name":"foo-bar","id":"MAL-3"}',
        '{"name":"requeests","id":"MAL-2022-7436"}\r',
      ].join("\n"),
    );
    assert.deepEqual(
      [...result.names],
      [
        ["projz-py", "MAL-2026-3696"],
        ["foo-bar", "MAL-2"],
        ["requeests", "MAL-2022-7436"],
      ],
    );
    assert.equal(result.lines, 8);
    assert.equal(result.badLines, 4);
    assert.equal(result.duplicates, 1);
  });
});

describe("loadMaliciousNames on the real list", () => {
  let list: MaliciousNames;
  before(async () => {
    list = await loadMaliciousNames(NAMES_FILE);
  });

  it("reads all 11,154 lines with no bad line", () => {
    assert.equal(list.lines, 11_154);
    assert.equal(list.badLines, 0);
    assert.equal(list.duplicates, 0);
    assert.equal(list.names.size, 11_154);
  });

  it("finds typosquats, and ProjZ.py as projz-py", () => {
    assert.equal(list.names.get("requeests"), "MAL-2022-7436");
    assert.equal(list.names.get("booto3"), "MAL-2024-1059");
    assert.equal(list.names.get("projz-py"), "MAL-2026-3696");
    assert.equal(list.names.get("ProjZ.py"), undefined, "keys are normalised");
  });

  it("lists the compromised popular projects too, but no report of them covers every version", async () => {
    const top = JSON.parse(await readFile(TOP_FILE, "utf8")) as { rows: { project: string }[] };
    const popular = new Set(top.rows.map((row) => row.project));
    assert.deepEqual([...list.names.keys()].filter((name) => popular.has(name)).sort(), COMPROMISED_POPULAR);

    const index = new OsvIndex();
    await loadOsvSource(MAL_ZIP, index);
    index.addMaliciousNames(list.names);
    for (const name of COMPROMISED_POPULAR) {
      const ids = index.maliciousByName(name);
      assert.ok(ids.length > 0, `${name} was reported`);
      for (const id of ids) {
        const advisory = index.get(id);
        assert.ok(advisory, `${name}: the sample holds ${id}`);
        assert.equal(affectsAllVersions(advisory, name), false, `${name}: ${id} names specific versions`);
      }
    }
    assert.equal(affectsAllVersions(index.get("MAL-2022-7436")!, "requeests"), true);
    assert.deepEqual(index.maliciousByName("fastapi"), [], "withdrawn reports are not in the list");
    assert.equal(index.stats().maliciousNames, 11_154);
  });
});

describe("loadMaliciousNames on a file", () => {
  it("tolerates bad lines and passes file-system errors through", async () => {
    const dir = await mkdtemp(join(tmpdir(), "portcullis-malicious-names-"));
    try {
      const path = join(dir, "names.jsonl");
      await writeFile(path, '{"name":"Costrar","id":"MAL-1"}\n{broken\n\n{"name":"b","id":"MAL-2"}');
      const result = await loadMaliciousNames(path);
      assert.deepEqual(
        [...result.names],
        [
          ["costrar", "MAL-1"],
          ["b", "MAL-2"],
        ],
      );
      assert.equal(result.badLines, 1);
      await assert.rejects(loadMaliciousNames(join(dir, "missing.jsonl")), { code: "ENOENT" });
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(loadMaliciousNames(path, { signal: controller.signal }), { name: "AbortError" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
