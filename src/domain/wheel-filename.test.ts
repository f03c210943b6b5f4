import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseDistFilename, parseSdistFilename, parseWheelFilename } from "./wheel-filename.js";

describe("parseWheelFilename", () => {
  test("parses a pure-Python wheel with a compressed python tag set", () => {
    const wheel = parseWheelFilename("six-1.17.0-py2.py3-none-any.whl");
    assert.deepEqual(wheel, {
      filename: "six-1.17.0-py2.py3-none-any.whl",
      name: "six",
      project: "six",
      version: "1.17.0",
      pythonTags: ["py2", "py3"],
      abiTags: ["none"],
      platformTags: ["any"],
      tags: ["py2-none-any", "py3-none-any"],
    });
  });

  test("expands compressed platform tags of a manylinux wheel", () => {
    const wheel = parseWheelFilename(
      "charset_normalizer-3.5.2-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
    );
    assert.ok(wheel);
    assert.equal(wheel.project, "charset-normalizer");
    assert.equal(wheel.name, "charset_normalizer");
    assert.deepEqual(wheel.platformTags, [
      "manylinux2014_x86_64",
      "manylinux_2_17_x86_64",
      "manylinux_2_28_x86_64",
    ]);
    assert.equal(wheel.tags.length, 3);
    assert.equal(wheel.tags[1], "cp311-cp311-manylinux_2_17_x86_64");
  });

  test("parses a build tag, which must start with a digit", () => {
    assert.equal(parseWheelFilename("demo-1.0-2abc-py3-none-any.whl")?.buildTag, "2abc");
    assert.equal(parseWheelFilename("demo-1.0-abc-py3-none-any.whl"), null);
  });

  test("keeps the name as spelled and normalises the project", () => {
    const wheel = parseWheelFilename("Zope.Interface-5.0-cp39-cp39-win_amd64.whl");
    assert.equal(wheel?.name, "Zope.Interface");
    assert.equal(wheel?.project, "zope-interface");
  });

  test("accepts local versions", () => {
    assert.equal(parseWheelFilename("torch-2.3.0+cpu-cp311-cp311-linux_x86_64.whl")?.version, "2.3.0+cpu");
  });

  test("rejects malformed and hostile names", () => {
    const bad = [
      "",
      "six-1.17.0-py3-none-any.zip",
      "six-1.17.0-py3-none.whl",
      "six-1.17.0-1-2-py3-none-any.whl",
      "six-not.a.version-py3-none-any.whl",
      "../six-1.17.0-py3-none-any.whl",
      "dir/six-1.17.0-py3-none-any.whl",
      "dir\\six-1.17.0-py3-none-any.whl",
      "six\u0000-1.17.0-py3-none-any.whl",
      ".six-1.17.0-py3-none-any.whl",
      "six 2-1.17.0-py3-none-any.whl",
      "my__pkg-1.0-py3-none-any.whl",
      "_six-1.0-py3-none-any.whl",
      "six-1.0-py3..py2-none-any.whl",
      "six-1.0-py3--any.whl",
      `${"a".repeat(250)}-1.0-py3-none-any.whl`,
    ];
    for (const filename of bad) assert.equal(parseWheelFilename(filename), null, JSON.stringify(filename));
  });
});

describe("parseSdistFilename", () => {
  test("parses PEP 625 sdists", () => {
    assert.deepEqual(parseSdistFilename("python_dateutil-2.9.0.post0.tar.gz"), {
      filename: "python_dateutil-2.9.0.post0.tar.gz",
      name: "python_dateutil",
      project: "python-dateutil",
      version: "2.9.0.post0",
      archive: "tar.gz",
    });
  });

  test("splits legacy names at their last dash", () => {
    const sdist = parseSdistFilename("python-dateutil-2.8.2.tar.gz");
    assert.equal(sdist?.project, "python-dateutil");
    assert.equal(sdist?.version, "2.8.2");
  });

  test("parses zip sdists", () => {
    assert.equal(parseSdistFilename("Django-1.4.zip")?.archive, "zip");
  });

  test("rejects other formats and malformed names", () => {
    for (const filename of [
      "six-1.0.tar.bz2",
      "six-1.0.egg",
      "six.tar.gz",
      "-1.0.tar.gz",
      "six-.tar.gz",
      "six-latest.tar.gz",
      "../six-1.0.tar.gz",
      ".six-1.0.tar.gz",
      "six-1.0.tar.gz\u0000.whl",
    ]) {
      assert.equal(parseSdistFilename(filename), null, filename);
    }
  });
});

describe("parseDistFilename", () => {
  test("tells wheels from sdists", () => {
    assert.equal(parseDistFilename("flask-3.1.3-py3-none-any.whl")?.kind, "wheel");
    const sdist = parseDistFilename("flask-3.1.3.tar.gz");
    assert.equal(sdist?.kind, "sdist");
    assert.equal(sdist?.project, "flask");
    assert.equal(sdist?.version, "3.1.3");
  });

  test("returns null for anything else", () => {
    assert.equal(parseDistFilename("flask-3.1.3-py3-none-any.whl.metadata"), null);
    assert.equal(parseDistFilename("flask-3.1.3.exe"), null);
    assert.equal(parseDistFilename("flask-3.1.3-py3-none-any.whl/x"), null);
  });
});
