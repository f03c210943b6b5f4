import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parseHtmlProjectList, parseHtmlProjectPage, SimpleHtmlReader } from "./simple-html.js";
import { SimpleParseError } from "./simple-page.js";

const fixture = (name: string) => readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), "utf8");
const PAGE = { pageUrl: "https://pypi.org/simple/requests/", name: "requests" };

describe("parseHtmlProjectPage", () => {
  it("reads a PyPI-shaped page: fragments, entities, yanks, metadata, provenance, status", () => {
    const { page, apiVersion } = parseHtmlProjectPage(fixture("requests.v1.html"), PAGE);

    assert.equal(apiVersion, "1.4");
    assert.equal(page.name, "requests");
    assert.equal(page.lastSerial, 29813345);
    assert.deepEqual(page.status, { status: "deprecated", reason: 'Use "niquests" & friends' });
    assert.equal(page.files.length, 5);
    const [oldest, yanked, provenanced, sdist, latest] = page.files;

    assert.deepEqual(oldest, {
      filename: "requests-0.2.0.tar.gz",
      url: "https://files.pythonhosted.org/packages/ba/bb/dfa0141a32d773c47e4dede1a617c59a23b74dd302e449cf85413fc96bc4/requests-0.2.0.tar.gz",
      hashes: { sha256: "813202ace4d9301a3c00740c700e012fb9f3f8c73ddcfe02ab558a8df6f175fd" },
      yanked: false,
      coreMetadata: false,
    });
    assert.equal(yanked?.requiresPython, ">=3.8");
    assert.equal(yanked?.yanked, "Yanked due to conflicts with CVE-2024-35195 mitigation");
    assert.deepEqual(yanked?.coreMetadata, {
      sha256: "1ce8d2e8d02bb3a1f7cb4f74a2a9e3b8f1c8ba8b3c3b1e6a6b5f7c3e9d2f1a0b",
    });
    assert.equal(
      provenanced?.provenance,
      "https://pypi.org/integrity/requests/2.32.3/requests-2.32.3-py3-none-any.whl/provenance",
    );
    assert.equal(sdist?.coreMetadata, false);
    assert.equal(latest?.requiresPython, "<4,>=3.9");
    assert.equal(latest?.yanked, true);
    assert.equal(latest?.coreMetadata, true);
    assert.equal(latest?.url.includes("#"), false);
  });

  it("resolves hrefs against <base href> and the page URL", () => {
    const html = `<html><head><base href="/mirror/"></head><body>
      <a href="files/a-1.0.tar.gz#sha256=${"0".repeat(64)}">a-1.0.tar.gz</a>
      <a href="//cdn.example/b-1.0.tar.gz">b-1.0.tar.gz</a></body></html>`;

    const files = parseHtmlProjectPage(html, { pageUrl: "http://127.0.0.1:1/simple/a/", name: "a" }).page
      .files;

    assert.deepEqual(
      files.map((f) => f.url),
      ["http://127.0.0.1:1/mirror/files/a-1.0.tar.gz", "http://cdn.example/b-1.0.tar.gz"],
    );
    assert.deepEqual(files[0]?.hashes, { sha256: "0".repeat(64) });
  });

  it("uses the requested name when the page has no 'Links for' title", () => {
    const html = `<a href="../../files/x-1.0.zip">x-1.0.zip</a>`;

    const { page } = parseHtmlProjectPage(html, { pageUrl: "file:///srv/simple/x/index.html", name: "x" });

    assert.equal(page.name, "x");
    assert.equal(page.files[0]?.url, "file:///srv/files/x-1.0.zip");
    assert.deepEqual(page.files[0]?.hashes, {});
  });

  it("reads legacy data-dist-info-metadata and prefers data-core-metadata", () => {
    const html = `<html><body>
      <a href="a-1.0-py3-none-any.whl" data-dist-info-metadata="sha256=${"a".repeat(64)}">a-1.0-py3-none-any.whl</a>
      <a href="a-1.1-py3-none-any.whl" data-core-metadata="true" data-dist-info-metadata="sha256=${"b".repeat(64)}">a-1.1-py3-none-any.whl</a>
      <a href="a-1.2-py3-none-any.whl" data-core-metadata="false">a-1.2-py3-none-any.whl</a>
    </body></html>`;

    const files = parseHtmlProjectPage(html, PAGE).page.files;

    assert.deepEqual(
      files.map((f) => f.coreMetadata),
      [{ sha256: "a".repeat(64) }, true, false],
    );
  });

  it("skips anchors without href or with an unusable name, and falls back to the URL's file name", () => {
    const html = `<html><body>
      <a name="top">anchor</a>
      <a href="https://h.example/pkgs/c-2.0.tar.gz"></a>
      <a href="https://h.example/pkgs/">../evil</a>
    </body></html>`;

    const files = parseHtmlProjectPage(html, PAGE).page.files;

    assert.deepEqual(
      files.map((f) => f.filename),
      ["c-2.0.tar.gz"],
    );
  });

  it("parses a page of 2,000 files correctly and fast", () => {
    const anchors = Array.from(
      { length: 2000 },
      (_, i) =>
        `<a href="../../packages/${i}/big-${i}.0-py3-none-any.whl#sha256=${i.toString(16).padStart(64, "0")}" data-requires-python="&gt;=3.${i % 13}">big-${i}.0-py3-none-any.whl</a><br/>`,
    );
    const html = `<!DOCTYPE html><html><head><title>Links for big</title></head><body>${anchors.join("\n")}</body></html>`;

    const started = performance.now();
    const { page } = parseHtmlProjectPage(html, { pageUrl: "https://idx.example/simple/big/", name: "big" });
    const elapsed = performance.now() - started;

    assert.equal(page.files.length, 2000);
    assert.deepEqual(page.files[1234], {
      filename: "big-1234.0-py3-none-any.whl",
      url: "https://idx.example/packages/1234/big-1234.0-py3-none-any.whl",
      hashes: { sha256: (1234).toString(16).padStart(64, "0") },
      requiresPython: `>=3.${1234 % 13}`,
      yanked: false,
      coreMetadata: false,
    });
    assert.ok(elapsed < 1000, `took ${elapsed} ms`);
  });

  it("gives the same result when fed in small chunks", () => {
    const html = fixture("requests.v1.html");
    const reader = new SimpleHtmlReader();
    for (let i = 0; i < html.length; i += 7) reader.write(html.slice(i, i + 7));

    assert.deepEqual(reader.endProjectPage(PAGE), parseHtmlProjectPage(html, PAGE));
  });

  it("throws a SimpleParseError on bodies that are not HTML", () => {
    for (const body of ["", "\u0000\u00ff\u0013binary", '{"name": "requests", "files": []}', "just text"]) {
      assert.throws(() => parseHtmlProjectPage(body, PAGE), SimpleParseError, JSON.stringify(body));
    }
  });

  it("refuses an unknown major repository version", () => {
    const html = `<html><head><meta name="pypi:repository-version" content="2.0"></head><body></body></html>`;

    assert.throws(() => parseHtmlProjectPage(html, PAGE), SimpleParseError);
  });

  it("reads an empty project page as a page without files", () => {
    const html = `<!DOCTYPE html><html><head><title>Links for gone</title></head><body><h1>Links for gone</h1></body></html>`;

    assert.deepEqual(parseHtmlProjectPage(html, { ...PAGE, name: "gone" }).page, { name: "gone", files: [] });
  });
});

describe("parseHtmlProjectList", () => {
  it("reads project names from the anchors' text", () => {
    const html = `<!DOCTYPE html><html><body>
      <a href="/simple/django/">Django</a>
      <a href="/simple/zope-interface/"> zope.interface </a>
      <a href="/simple/empty/"></a>
    </body></html>`;

    assert.deepEqual(parseHtmlProjectList(html), ["Django", "zope.interface"]);
  });

  it("throws a SimpleParseError on garbage", () => {
    assert.throws(() => parseHtmlProjectList("\u0000\u0001"), SimpleParseError);
  });
});
