import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parseJsonProjectList, parseJsonProjectPage } from "./simple-json.js";
import { SimpleParseError } from "./simple-page.js";

const fixture = (name: string) => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), "utf8");
const PAGE_URL = "https://pypi.org/simple/requests/";

function page(files: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ meta: { "api-version": "1.1" }, name: "demo", files, ...extra });
}

const file = (extra: Record<string, unknown> = {}) => ({
  filename: "demo-1.0-py3-none-any.whl",
  url: "../../files/demo-1.0-py3-none-any.whl",
  hashes: { sha256: "ab".repeat(32) },
  ...extra,
});

describe("parseJsonProjectPage", () => {
  it("reads a PyPI-shaped page with its PEP 700, 714, 740 and 792 fields", () => {
    const { page: result, apiVersion } = parseJsonProjectPage(fixture("requests.v1.json"), PAGE_URL);

    assert.equal(apiVersion, "1.4");
    assert.equal(result.name, "requests");
    assert.equal(result.lastSerial, 29813345);
    assert.deepEqual(result.versions, ["0.2.0", "2.32.0", "2.32.3", "2.34.2"]);
    assert.deepEqual(result.status, { status: "active" });
    assert.equal(result.files.length, 5);

    const [oldest, yanked, provenanced] = result.files;
    assert.deepEqual(oldest, {
      filename: "requests-0.2.0.tar.gz",
      url: "https://files.pythonhosted.org/packages/ba/bb/dfa0141a32d773c47e4dede1a617c59a23b74dd302e449cf85413fc96bc4/requests-0.2.0.tar.gz",
      hashes: { sha256: "813202ace4d9301a3c00740c700e012fb9f3f8c73ddcfe02ab558a8df6f175fd" },
      yanked: false,
      coreMetadata: false,
      size: 6383,
      uploadTime: "2011-02-14T20:57:21.948000Z",
      provenance: null,
    });
    assert.equal(yanked?.yanked, "Yanked due to conflicts with CVE-2024-35195 mitigation");
    assert.equal(yanked?.requiresPython, ">=3.8");
    assert.deepEqual(yanked?.coreMetadata, {
      sha256: "1ce8d2e8d02bb3a1f7cb4f74a2a9e3b8f1c8ba8b3c3b1e6a6b5f7c3e9d2f1a0b",
    });
    assert.equal(
      provenanced?.provenance,
      "https://pypi.org/integrity/requests/2.32.3/requests-2.32.3-py3-none-any.whl/provenance",
    );
    const latest = result.files[4];
    assert.equal(latest?.hashes.sha256, "2a0d60c172f83ac6ab31e4554906c0f3b3588d37b5cb939b1c061f4907e278e0");
    assert.equal(latest?.size, 73075);
  });

  it("resolves relative file and provenance URLs against the page URL and drops the fragment", () => {
    const body = page([
      file({ url: "../../files/demo-1.0-py3-none-any.whl#md5=00ff", provenance: "prov/demo" }),
    ]);

    const [only] = parseJsonProjectPage(body, "http://127.0.0.1:8080/simple/demo/").page.files;

    assert.equal(only?.url, "http://127.0.0.1:8080/files/demo-1.0-py3-none-any.whl");
    assert.deepEqual(only?.hashes, { md5: "00ff", sha256: "ab".repeat(32) });
    assert.equal(only?.provenance, "http://127.0.0.1:8080/simple/demo/prov/demo");
  });

  it("reads yanked as PEP 592/691 and pip do", () => {
    const cases: [unknown, boolean | string][] = [
      [true, true],
      [false, false],
      ["broken build", "broken build"],
      ["", false],
      [undefined, false],
      [null, false],
      [1, true],
    ];
    for (const [yanked, expected] of cases) {
      const [only] = parseJsonProjectPage(page([file({ yanked })]), PAGE_URL).page.files;
      assert.equal(only?.yanked, expected, `yanked: ${JSON.stringify(yanked)}`);
    }
  });

  it("prefers core-metadata over the legacy dist-info-metadata names (PEP 714)", () => {
    const hashes = { sha256: "cd".repeat(32) };
    const read = (extra: Record<string, unknown>) =>
      parseJsonProjectPage(page([file(extra)]), PAGE_URL).page.files[0]?.coreMetadata;

    assert.deepEqual(read({ "core-metadata": hashes, "dist-info-metadata": false }), hashes);
    assert.equal(read({ "core-metadata": true }), true);
    assert.deepEqual(read({ "dist-info-metadata": hashes }), hashes);
    assert.deepEqual(read({ "data-dist-info-metadata": hashes }), hashes);
    assert.equal(read({ "core-metadata": {} }), true);
    assert.equal(read({ "core-metadata": "yes" }), false);
    assert.equal(read({}), false);
  });

  it("drops fields of the wrong type instead of trusting them", () => {
    const body = page([
      file({
        size: "12",
        "upload-time": "yesterday",
        "requires-python": 3,
        hashes: { sha256: "not-hex", SHA512: "AB", "bad name!": "00" },
        provenance: 7,
      }),
    ]);

    const [only] = parseJsonProjectPage(body, PAGE_URL).page.files;

    assert.deepEqual(only, {
      filename: "demo-1.0-py3-none-any.whl",
      url: "https://pypi.org/files/demo-1.0-py3-none-any.whl",
      hashes: { sha512: "ab" },
      yanked: false,
      coreMetadata: false,
    });
  });

  it("passes PEP 700 upload times on as given and restates other date forms in UTC (pip parses them)", () => {
    const read = (t: string) =>
      parseJsonProjectPage(page([file({ "upload-time": t })]), PAGE_URL).page.files[0]!.uploadTime;
    assert.equal(read("2011-02-14T20:57:21.948000Z"), "2011-02-14T20:57:21.948000Z");
    assert.equal(read("2026-11-28T12:00:00Z"), "2026-11-28T12:00:00Z");
    assert.equal(read("2026-11-28T12:00:00z"), "2026-11-28T12:00:00.000Z");
    assert.equal(read("2026-11-28T07:00:00-05:00"), "2026-11-28T12:00:00.000Z");
    assert.equal(read("Sat, 28 Nov 2026 12:00:00 GMT"), "2026-11-28T12:00:00.000Z");
    assert.equal(read("2026-11-28"), "2026-11-28T00:00:00.000Z");
  });

  it("skips malformed file entries and keeps the rest", () => {
    const body = page([
      file(),
      { filename: "no-url-1.0.tar.gz" },
      "a string",
      file({ filename: "../evil-1.0.tar.gz" }),
      file({ filename: "dir/evil-1.0.tar.gz" }),
      file({ url: "http://[bad" }),
    ]);

    const files = parseJsonProjectPage(body, PAGE_URL).page.files;

    assert.deepEqual(
      files.map((f) => f.filename),
      ["demo-1.0-py3-none-any.whl"],
    );
  });

  it("reads PEP 792 project status and ignores an unknown status", () => {
    const status = (value: unknown) =>
      parseJsonProjectPage(page([], { "project-status": value }), PAGE_URL).page.status;

    assert.deepEqual(status({ status: "quarantined", reason: "malware" }), {
      status: "quarantined",
      reason: "malware",
    });
    assert.deepEqual(status({ status: "archived" }), { status: "archived" });
    assert.equal(status({ status: "sleeping" }), undefined);
    assert.equal(status("archived"), undefined);
  });

  it("throws a SimpleParseError on garbage", () => {
    const garbage = [
      "<html><body>hello</body></html>",
      "",
      "[]",
      "null",
      JSON.stringify({ files: [] }),
      JSON.stringify({ name: "demo", files: {} }),
      JSON.stringify({ meta: { "api-version": "2.0" }, name: "demo", files: [] }),
    ];
    for (const body of garbage) {
      assert.throws(() => parseJsonProjectPage(body, PAGE_URL), SimpleParseError, body);
    }
  });
});

describe("parseJsonProjectList", () => {
  it("reads the names of the root listing", () => {
    const body = JSON.stringify({
      meta: { "api-version": "1.0", "_last-serial": 5 },
      projects: [{ name: "Django" }, { name: "" }, { nope: 1 }, { name: "requests" }],
    });

    assert.deepEqual(parseJsonProjectList(body), ["Django", "requests"]);
  });

  it("throws a SimpleParseError when there is no project list", () => {
    assert.throws(() => parseJsonProjectList('{"meta": {}}'), SimpleParseError);
    assert.throws(() => parseJsonProjectList("{"), SimpleParseError);
  });
});
