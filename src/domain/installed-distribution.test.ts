import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { compareWithWheelRecord, pypiPurl } from "./installed-distribution.js";

const A = "a".repeat(64);
const B = "b".repeat(64);

describe("compareWithWheelRecord", () => {
  const wheel = { "demo/__init__.py": A, "demo-1.0.dist-info/METADATA": B };

  test("files pip installed from the wheel match, whatever the installer added", () => {
    const cmp = compareWithWheelRecord(
      [
        { path: "demo/__init__.py", sha256: A },
        { path: "demo-1.0.dist-info/METADATA", sha256: B },
        { path: "demo-1.0.dist-info/INSTALLER", sha256: "c".repeat(64) },
        { path: "demo-1.0.dist-info/RECORD" },
        { path: "../../../bin/demo", sha256: "d".repeat(64) },
        { path: "demo/__pycache__/__init__.cpython-311.pyc" },
      ],
      wheel,
    );
    assert.deepEqual(cmp, { matches: true, differing: [], extra: [], compared: 2 });
  });

  test("a file with other bytes, or one the wheel does not ship, is a mismatch", () => {
    const cmp = compareWithWheelRecord(
      [
        { path: "demo/__init__.py", sha256: B },
        { path: "demo/evil.py", sha256: A },
      ],
      wheel,
    );
    assert.equal(cmp.matches, false);
    assert.deepEqual(cmp.differing, ["demo/__init__.py"]);
    assert.deepEqual(cmp.extra, ["demo/evil.py"]);
  });

  test("nothing comparable is not a match", () => {
    assert.equal(compareWithWheelRecord([{ path: "demo-1.0.dist-info/RECORD" }], wheel).matches, false);
  });
});

test("pypiPurl normalises the name as the purl spec's pypi type says", () => {
  assert.equal(pypiPurl("Zope.Interface", "6.0"), "pkg:pypi/zope-interface@6.0");
  assert.equal(pypiPurl("torch", "2.1.0+cpu"), "pkg:pypi/torch@2.1.0%2Bcpu");
});
