import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { sharedDataDir } from "../../test/helpers/wheel-builder.js";
import { CoreMetadataError, parseCoreMetadata, parseHeaders } from "./core-metadata.js";
import { openZipArchive } from "./zip-reader.js";

const MINIMAL = "Metadata-Version: 2.4\nName: demo\nVersion: 1.0\n";

describe("parseHeaders", () => {
  test("splits headers from the body at the first blank line, keys lower-cased", () => {
    const { headers, body, warnings } = parseHeaders("A: 1\nB-Field: two\nA: 3\n\nbody\n\nmore\n");
    assert.deepEqual(
      [...headers],
      [
        ["a", ["1", "3"]],
        ["b-field", ["two"]],
      ],
    );
    assert.equal(body, "body\n\nmore\n");
    assert.deepEqual(warnings, []);
  });

  test("joins continuation lines with their indentation, as compat32 does", () => {
    const { headers } = parseHeaders("License: line one\n        line two\n\tline three\nName: x\n");
    assert.deepEqual(headers.get("license"), ["line one\n        line two\n\tline three"]);
  });

  test("treats CRLF and CR like LF", () => {
    const { headers, body } = parseHeaders("Name: demo\r\nVersion: 1.0\r\n\r\nbody\r\n");
    assert.deepEqual(headers.get("version"), ["1.0"]);
    assert.equal(body, "body\n");
  });

  test("a line that is not a header starts the body (compat32 MissingHeaderBodySeparatorDefect)", () => {
    const { headers, body, warnings } = parseHeaders("Name: demo\nthis is not a header\nVersion: 1.0\n");
    assert.deepEqual([...headers.keys()], ["name"]);
    assert.equal(body, "this is not a header\nVersion: 1.0\n");
    assert.equal(warnings.length, 1);
  });

  test("a space before the colon does not make a header", () => {
    const { headers } = parseHeaders("Name : demo\n");
    assert.equal(headers.size, 0);
  });

  test("stores a __proto__ header as data, not as a prototype", () => {
    const { headers } = parseHeaders("__proto__: polluted\nconstructor: x\n");
    assert.deepEqual(headers.get("__proto__"), ["polluted"]);
    assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
  });
});

describe("parseCoreMetadata", () => {
  test("types the well-known fields and collects repeated ones in order", () => {
    const meta = parseCoreMetadata(
      [
        "Metadata-Version: 2.4",
        "Name: Demo.Pkg",
        "Version: 1.0.post1",
        "Summary: A demo",
        "Author-email: A <a@example.org>",
        "License-Expression: MIT OR Apache-2.0",
        "License-File: LICENSE",
        "License-File: NOTICE",
        "Project-URL: Source, https://example.org/src",
        "Project-URL: https://example.org/bare",
        "Classifier: Programming Language :: Python :: 3",
        "Classifier: Typing :: Typed",
        "Requires-Python: >=3.10",
        "Requires-Dist: six>=1.0",
        'Requires-Dist: pysocks!=1.5.7,>=1.5.6; extra == "socks"',
        "Provides-Extra: socks",
        "Dynamic: license-file",
        "Description-Content-Type: text/markdown",
        "",
        "# Demo",
        "",
        "Long text.",
        "",
      ].join("\n"),
    );
    assert.equal(meta.metadataVersion, "2.4");
    assert.equal(meta.name, "Demo.Pkg");
    assert.equal(meta.version, "1.0.post1");
    assert.equal(meta.summary, "A demo");
    assert.equal(meta.authorEmail, "A <a@example.org>");
    assert.equal(meta.licenseExpression, "MIT OR Apache-2.0");
    assert.deepEqual(meta.licenseFiles, ["LICENSE", "NOTICE"]);
    assert.deepEqual(meta.projectUrls, [
      { label: "Source", url: "https://example.org/src" },
      { label: "", url: "https://example.org/bare" },
    ]);
    assert.deepEqual(meta.classifiers, ["Programming Language :: Python :: 3", "Typing :: Typed"]);
    assert.equal(meta.requiresPython, ">=3.10");
    assert.deepEqual(meta.requiresDist, ["six>=1.0", 'pysocks!=1.5.7,>=1.5.6; extra == "socks"']);
    assert.deepEqual(meta.providesExtra, ["socks"]);
    assert.deepEqual(meta.dynamic, ["license-file"]);
    assert.equal(meta.descriptionContentType, "text/markdown");
    assert.equal(meta.description, "# Demo\n\nLong text.\n");
    assert.equal(meta.homePage, undefined);
    assert.deepEqual(meta.warnings, []);
  });

  test("looks fields up case-insensitively", () => {
    const meta = parseCoreMetadata("metadata-version: 1.0\nNAME: demo\nversion: 2\nrequires-dist: a\n");
    assert.equal(meta.name, "demo");
    assert.deepEqual(meta.requiresDist, ["a"]);
    assert.deepEqual(meta.raw.get("name"), ["demo"]);
  });

  test("unfolds folded single-line fields", () => {
    const meta = parseCoreMetadata(`${MINIMAL}Summary: a summary\n  that was folded\n`);
    assert.equal(meta.summary, "a summary  that was folded");
  });

  test("strips the 8-space-and-pipe continuation of a Description header (Core Metadata spec)", () => {
    const meta = parseCoreMetadata(
      `${MINIMAL}Description: This project provides powerful math functions\n        |For example:\n        |\n        |    >>> sum(1, 2)\n        |    3\n        |\n`,
    );
    assert.equal(
      meta.description,
      "This project provides powerful math functions\nFor example:\n\n    >>> sum(1, 2)\n    3",
    );
  });

  test("strips the plain 8-space continuation distutils wrote, keeping deeper indentation", () => {
    const meta = parseCoreMetadata(
      `${MINIMAL}Description: Title\n        =====\n        \n          indented\n`,
    );
    assert.equal(meta.description, "Title\n=====\n\n  indented");
  });

  test("keeps line breaks of a multi-line License", () => {
    const meta = parseCoreMetadata(
      `${MINIMAL}License: Copyright (c) 2024\n        \n        Permission is hereby granted\n`,
    );
    assert.equal(meta.license, "Copyright (c) 2024\n\nPermission is hereby granted");
  });

  test("prefers a body description to a Description header and says so", () => {
    const meta = parseCoreMetadata(`${MINIMAL}Description: header text\n\nbody text\n`);
    assert.equal(meta.description, "body text\n");
    assert.equal(meta.warnings.length, 1);
  });

  test("takes the first of a repeated single field, as Python's email.message does", () => {
    const meta = parseCoreMetadata(`${MINIMAL}Name: other\n`);
    assert.equal(meta.name, "demo");
    assert.match(meta.warnings.join("\n"), /Name appears 2 times/);
  });

  test("parses CRLF metadata with a byte-order mark", () => {
    const meta = parseCoreMetadata(Buffer.from(`\ufeff${MINIMAL.replace(/\n/g, "\r\n")}\r\nbody\r\n`));
    assert.equal(meta.name, "demo");
    assert.equal(meta.version, "1.0");
    assert.equal(meta.description, "body\n");
  });

  test("decodes UTF-8 and replaces invalid bytes with a warning", () => {
    assert.equal(parseCoreMetadata(Buffer.from(`${MINIMAL}Author: Zoë\n`)).author, "Zoë");
    const latin1 = Buffer.concat([
      Buffer.from(`${MINIMAL}Author: Zo`),
      Buffer.from([0xeb]),
      Buffer.from("\n"),
    ]);
    const meta = parseCoreMetadata(latin1);
    assert.equal(meta.author, "Zo\ufffd");
    assert.match(meta.warnings.join("\n"), /not valid UTF-8/);
  });

  test("throws a typed error without Name or Version", () => {
    assert.throws(
      () => parseCoreMetadata("Metadata-Version: 2.1\nVersion: 1.0\n"),
      (err) => err instanceof CoreMetadataError && err.code === "MISSING_FIELD" && err.field === "Name",
    );
    assert.throws(
      () => parseCoreMetadata("Metadata-Version: 2.1\nName: demo\nVersion:   \n"),
      (err) => err instanceof CoreMetadataError && err.field === "Version",
    );
    assert.throws(() => parseCoreMetadata(""), CoreMetadataError);
    assert.throws(() => parseCoreMetadata(Buffer.from([0xff, 0xfe, 0x00])), CoreMetadataError);
  });

  test("parses the real METADATA of requests 2.34.2", async () => {
    const wheel = await openZipArchive(join(sharedDataDir(), "wheels", "requests-2.34.2-py3-none-any.whl"));
    try {
      const meta = parseCoreMetadata(await wheel.read("requests-2.34.2.dist-info/METADATA"));
      assert.equal(meta.metadataVersion, "2.4");
      assert.equal(meta.name, "requests");
      assert.equal(meta.version, "2.34.2");
      assert.equal(meta.requiresPython, ">=3.10");
      assert.ok(meta.requiresDist.includes("charset_normalizer<4,>=2"));
      assert.ok(meta.requiresDist.includes('PySocks!=1.5.7,>=1.5.6; extra == "socks"'));
      assert.deepEqual(meta.providesExtra, ["security", "socks", "use-chardet-on-py3"]);
      assert.deepEqual(meta.licenseFiles, ["LICENSE", "NOTICE"]);
      assert.equal(meta.license, "Apache-2.0");
      assert.ok(
        meta.projectUrls.some(
          (url) => url.label === "Source" && url.url === "https://github.com/psf/requests",
        ),
      );
      assert.ok(meta.description?.startsWith("# Requests"));
      assert.deepEqual(meta.warnings, []);
    } finally {
      await wheel.close();
    }
  });
});
