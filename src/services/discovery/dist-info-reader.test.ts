import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDistInfo, parseInstalledRecord, readSitePackages } from "./dist-info-reader.js";

const b64 = (hex: string) => Buffer.from(hex, "hex").toString("base64url");
const A = "ab".repeat(32);

describe("parseInstalledRecord", () => {
  test("turns sha256 digests into hex and keeps paths outside site-packages", () => {
    const rows = parseInstalledRecord(
      `demo/__init__.py,sha256=${b64(A)},12\n"demo/with,comma.py",sha256=${b64(A)},3\n../../../bin/demo,sha256=${b64(A)},40\ndemo-1.0.dist-info/RECORD,,\ndemo/md5.py,md5=abc,1\n`,
    );
    assert.deepEqual(rows, [
      { path: "demo/__init__.py", sha256: A, size: 12 },
      { path: "demo/with,comma.py", sha256: A, size: 3 },
      { path: "../../../bin/demo", sha256: A, size: 40 },
      { path: "demo-1.0.dist-info/RECORD" },
      { path: "demo/md5.py", size: 1 },
    ]);
  });
});

describe("parseDistInfo", () => {
  test("reads name, version, an SPDX licence expression, Requires-Dist and PEP 610 direct_url", () => {
    const d = parseDistInfo({
      location: "/x/Demo_Pkg-1.0.dist-info",
      metadata:
        "Metadata-Version: 2.4\nName: Demo_Pkg\nVersion: 1.0\nSummary: a demo\nLicense-Expression: mit OR apache-2.0\nRequires-Dist: six>=1\n",
      record: `demo/__init__.py,sha256=${b64(A)},12\n`,
      installer: "pip\n",
      directUrl: '{"url": "file:///tmp/demo_pkg-1.0-py3-none-any.whl", "archive_info": {}}',
    });
    assert.equal(d.project, "demo-pkg");
    assert.equal(d.version, "1.0");
    assert.deepEqual(d.licence, { expression: "MIT OR Apache-2.0", names: [] });
    assert.deepEqual(d.requiresDist, ["six>=1"]);
    assert.equal(d.installer, "pip");
    assert.equal(d.directUrl, "file:///tmp/demo_pkg-1.0-py3-none-any.whl");
    assert.equal(d.files?.length, 1);
  });

  test("a free-text licence is kept as a name, never passed off as an SPDX id", () => {
    const d = parseDistInfo({
      location: "x",
      metadata: "Metadata-Version: 2.1\nName: old\nVersion: 2\nLicense: Some Custom Licence v2\n",
    });
    assert.equal(d.licence.expression, undefined);
    assert.deepEqual(d.licence.names, ["Some Custom Licence v2"]);
    assert.equal(d.files, undefined);
  });
});

describe("readSitePackages", () => {
  test("reads every dist-info and reports the unreadable ones instead of failing", async () => {
    const sp = mkdtempSync(join(tmpdir(), "sp-"));
    mkdirSync(join(sp, "good-1.0.dist-info"));
    writeFileSync(
      join(sp, "good-1.0.dist-info", "METADATA"),
      "Metadata-Version: 2.1\nName: good\nVersion: 1.0\n",
    );
    mkdirSync(join(sp, "broken-1.0.dist-info"));
    mkdirSync(join(sp, "good"));
    const report = await readSitePackages(sp);
    assert.deepEqual(
      report.distributions.map((d) => `${d.project}==${d.version}`),
      ["good==1.0"],
    );
    assert.equal(report.problems.length, 1);
    assert.match(report.problems[0]!.location, /broken-1\.0\.dist-info$/);
  });
});
