import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  cvss3BaseScore,
  cvss4ApproximateScore,
  parseOsvRecord,
  severityFromScore,
  toAdvisory,
  type OsvRecord,
} from "./osv-record.js";

/** A minimal valid OSV record; `overrides` replace top-level fields. */
function osvJson(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "PYSEC-0000-1",
    modified: "2024-01-01T00:00:00Z",
    affected: [
      {
        package: { ecosystem: "PyPI", name: "Demo_Pkg" },
        ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "1.2" }] }],
        versions: ["1.0", "1.1"],
      },
    ],
    ...overrides,
  };
}

function parseOk(json: unknown): OsvRecord {
  const result = parseOsvRecord(json);
  assert.ok(result.ok, result.ok ? "" : result.error);
  return result.record;
}

function parseError(json: unknown): string {
  const result = parseOsvRecord(json);
  assert.equal(result.ok, false, "expected a malformed record");
  return result.ok ? "" : result.error;
}

describe("parseOsvRecord", () => {
  it("accepts a minimal record and keeps unknown fields", () => {
    const record = parseOk(osvJson({ credits: [{ name: "someone" }], schema_version: "1.7.4" }));
    assert.equal(record.id, "PYSEC-0000-1");
    assert.deepEqual(record.aliases, []);
    assert.deepEqual((record as Record<string, unknown>)["credits"], [{ name: "someone" }]);
  });

  it("tolerates the quirks of real data: year-1 modified, no published, no aliases, no summary", () => {
    const record = parseOk(osvJson({ modified: "0001-01-01T00:00:00Z" }));
    assert.equal(record.modified, "0001-01-01T00:00:00Z");
    assert.equal(record.published, undefined);
    assert.deepEqual(record.aliases, []);
    assert.equal(record.summary, undefined);
  });

  it("tolerates null or odd metadata, dropping what cannot be used", () => {
    const record = parseOk(
      osvJson({
        aliases: ["CVE-2020-1", 7, null],
        withdrawn: null,
        published: 12,
        severity: [
          { type: "CVSS_V3" },
          { type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" },
        ],
        references: [{ url: "https://example.org" }, "junk"],
        database_specific: "not an object",
      }),
    );
    assert.deepEqual(record.aliases, ["CVE-2020-1"]);
    assert.equal(record.withdrawn, undefined);
    assert.equal(record.published, undefined);
    assert.equal(record.severity.length, 1);
    assert.equal(record.references.length, 1);
    assert.equal(record.database_specific, undefined);
  });

  it("rejects what would change a match: no id, a bad event, a non-string version", () => {
    assert.match(parseError({ modified: "x" }), /id/);
    assert.match(parseError(osvJson({ id: "" })), /id/);
    assert.match(parseError("not an object"), /record/);
    const twoKinds = osvJson();
    (twoKinds["affected"] as { ranges: unknown[] }[])[0]!.ranges = [
      { type: "ECOSYSTEM", events: [{ introduced: "0", fixed: "1.0" }] },
    ];
    assert.match(parseError(twoKinds), /^PYSEC-0000-1: affected\.0\.ranges\.0\.events\.0: .*exactly one/);
    const unknownKind = osvJson();
    (unknownKind["affected"] as { ranges: unknown[] }[])[0]!.ranges = [
      { type: "ECOSYSTEM", events: [{ since: "1" }] },
    ];
    assert.match(parseError(unknownKind), /exactly one/);
    const numericVersion = osvJson();
    (numericVersion["affected"] as { versions: unknown[] }[])[0]!.versions = [1.1];
    assert.match(parseError(numericVersion), /affected\.0\.versions\.0/);
  });
});

describe("toAdvisory", () => {
  it("normalises PyPI names and collects ranges, versions and fixes", () => {
    const advisory = toAdvisory(parseOk(osvJson()));
    assert.equal(advisory.kind, "vulnerability");
    assert.equal(advisory.url, "https://osv.dev/vulnerability/PYSEC-0000-1");
    assert.deepEqual(advisory.packages, [
      {
        name: "demo-pkg",
        rawName: "Demo_Pkg",
        ranges: [
          {
            events: [
              { kind: "introduced", version: "0" },
              { kind: "fixed", version: "1.2" },
            ],
          },
        ],
        versions: ["1.0", "1.1"],
        fixed: ["1.2"],
        lastAffected: [],
      },
    ]);
  });

  it("keeps only PyPI packages (any case), ECOSYSTEM ranges only, and merges entries for one name", () => {
    const advisory = toAdvisory(
      parseOk(
        osvJson({
          affected: [
            { package: { ecosystem: "npm", name: "demo" }, versions: ["1.0"] },
            {
              package: { ecosystem: "pypi", name: "Demo" },
              ranges: [
                { type: "GIT", repo: "https://g/x", events: [{ introduced: "abc" }, { fixed: "def" }] },
                { type: "ECOSYSTEM", events: [{ introduced: "1.0" }, { last_affected: "1.4" }] },
              ],
            },
            { package: { ecosystem: "PyPI", name: "demo", purl: "pkg:pypi/demo" }, versions: ["2.0"] },
          ],
        }),
      ),
    );
    assert.equal(advisory.packages.length, 1);
    const pkg = advisory.packages[0]!;
    assert.equal(pkg.name, "demo");
    assert.equal(pkg.ranges.length, 1);
    assert.deepEqual(pkg.lastAffected, ["1.4"]);
    assert.deepEqual(pkg.versions, ["2.0"]);
  });

  it("takes the name from the purl when the package has none", () => {
    const advisory = toAdvisory(
      parseOk(osvJson({ affected: [{ package: { ecosystem: "PyPI", purl: "pkg:pypi/Some.Thing@1.0" } }] })),
    );
    assert.equal(advisory.packages[0]?.name, "some-thing");
  });

  it("marks MAL- ids malicious and keeps withdrawn", () => {
    const advisory = toAdvisory(parseOk(osvJson({ id: "MAL-2024-1", withdrawn: "2024-02-02T00:00:00Z" })));
    assert.equal(advisory.kind, "malicious");
    assert.equal(advisory.withdrawn, "2024-02-02T00:00:00Z");
  });

  it("summarises with the summary, else the first sentence of details", () => {
    assert.equal(toAdvisory(parseOk(osvJson({ summary: " Bad thing ", details: "x" }))).summary, "Bad thing");
    assert.equal(
      toAdvisory(parseOk(osvJson({ details: "\nDjango 1.0 leaks memory. More text follows." }))).summary,
      "Django 1.0 leaks memory.",
    );
    assert.equal(toAdvisory(parseOk(osvJson())).summary, undefined);
    assert.equal(toAdvisory(parseOk(osvJson({ summary: "x".repeat(500) }))).summary?.length, 200);
  });

  it("takes severity from the database's word first, then CVSS v3, then CVSS v4", () => {
    const v3High = { type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N" };
    const v4 = { type: "CVSS_V4", score: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N" };
    assert.equal(
      toAdvisory(parseOk(osvJson({ database_specific: { severity: "MODERATE" }, severity: [v3High] })))
        .severity,
      "medium",
    );
    const fromV3 = toAdvisory(parseOk(osvJson({ severity: [v3High, v4] })));
    assert.equal(fromV3.severity, "high");
    assert.deepEqual(fromV3.cvss[0], { type: "CVSS_V3", vector: v3High.score, score: 7.5 });
    assert.equal(toAdvisory(parseOk(osvJson({ severity: [v4] }))).severity, "critical");
    assert.equal(
      toAdvisory(parseOk(osvJson({ severity: [{ type: "Ubuntu", score: "low" }] }))).severity,
      "low",
    );
    assert.equal(toAdvisory(parseOk(osvJson())).severity, undefined);
  });
});

describe("cvss3BaseScore", () => {
  // Expected scores as published by NVD / the FIRST calculator for these vectors.
  const cases: [string, number][] = [
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10],
    ["CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1],
    ["CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5],
    ["CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9],
    ["CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6],
    ["CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:N", 6.5],
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0],
    // Temporal metrics do not change the base score.
    ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:C", 9.8],
  ];
  for (const [vector, score] of cases) {
    it(`scores ${vector} as ${score}`, () => assert.equal(cvss3BaseScore(vector), score));
  }

  it("refuses incomplete or foreign vectors", () => {
    for (const vector of [
      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",
      "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
      "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
      "AV:N/AC:L/Au:N/C:P/I:P/A:P",
      "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
      "",
    ]) {
      assert.equal(cvss3BaseScore(vector), undefined, vector);
    }
  });
});

describe("cvss4ApproximateScore", () => {
  it("lands in the same severity band as the official v4 score for common vectors", () => {
    // The official CVSS v4.0 scores of the first two are 9.3 (critical) and 8.7 (high).
    const cases: [string, string][] = [
      ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "critical"],
      ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N", "high"],
      ["CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:A/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N", "medium"],
    ];
    for (const [vector, band] of cases) {
      assert.equal(severityFromScore(cvss4ApproximateScore(vector)!), band, vector);
    }
  });

  it("refuses malformed vectors", () => {
    assert.equal(cvss4ApproximateScore("CVSS:4.0/AV:N/AC:L"), undefined);
    assert.equal(cvss4ApproximateScore("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"), undefined);
  });
});

describe("severityFromScore", () => {
  it("follows the CVSS v3.1 rating scale", () => {
    assert.equal(severityFromScore(0), undefined);
    assert.equal(severityFromScore(0.1), "low");
    assert.equal(severityFromScore(3.9), "low");
    assert.equal(severityFromScore(4), "medium");
    assert.equal(severityFromScore(6.9), "medium");
    assert.equal(severityFromScore(7), "high");
    assert.equal(severityFromScore(8.9), "high");
    assert.equal(severityFromScore(9), "critical");
    assert.equal(severityFromScore(10), "critical");
  });
});
