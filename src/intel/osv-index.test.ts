import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { sharedDataDir } from "../../test/helpers/shared-data.js";
import {
  advisoryAffects,
  affectsAllVersions,
  firstFixedAbove,
  OsvIndex,
  pep440SortKey,
} from "./osv-index.js";
import type { Advisory, AffectedPackage, RangeEvent } from "./osv-record.js";
import { loadOsvSource } from "./osv-source.js";

const PYSEC_ZIP = join(sharedDataDir(), "osv", "pypa-advisory-database.zip");
const MAL_ZIP = join(sharedDataDir(), "osv", "ossf-malicious-pypi.zip");

type EventSpec = Partial<Record<RangeEvent["kind"], string>>;

/** An affected package: `ranges` as lists of one-key event objects, as OSV writes them. */
function pkg(name: string, spec: { ranges?: EventSpec[][]; versions?: string[] } = {}): AffectedPackage {
  const ranges = (spec.ranges ?? []).map((events) => ({
    events: events.map((event) => {
      const [kind, version] = Object.entries(event)[0] as [RangeEvent["kind"], string];
      return { kind, version };
    }),
  }));
  const all = ranges.flatMap((range) => range.events);
  return {
    name,
    rawName: name,
    ranges,
    versions: spec.versions ?? [],
    fixed: all.filter((e) => e.kind === "fixed").map((e) => e.version),
    lastAffected: all.filter((e) => e.kind === "last_affected").map((e) => e.version),
  };
}

function advisory(id: string, packages: AffectedPackage[], extra: Partial<Advisory> = {}): Advisory {
  return {
    id,
    aliases: [],
    related: [],
    kind: id.startsWith("MAL-") ? "malicious" : "vulnerability",
    cvss: [],
    packages,
    references: [],
    url: `https://osv.dev/vulnerability/${id}`,
    ...extra,
  };
}

function indexOf(...advisories: Advisory[]): OsvIndex {
  const index = new OsvIndex();
  for (const a of advisories) index.add(a);
  return index;
}

const ids = (advisories: readonly Advisory[]) => advisories.map((a) => a.id);

describe("pep440SortKey", () => {
  it("orders the PEP 440 example versions", () => {
    // The ordering example of PEP 440 ("Summary of permitted suffixes and relative ordering")
    // and pypa/packaging's local-version cases.
    const ordered = [
      "1.0.dev456",
      "1.0a1",
      "1.0a2.dev456",
      "1.0a12.dev456",
      "1.0a12",
      "1.0b1.dev456",
      "1.0b2",
      "1.0b2.post345.dev456",
      "1.0b2.post345",
      "1.0rc1.dev456",
      "1.0rc1",
      "1.0",
      "1.0+abc.5",
      "1.0+abc.7",
      "1.0+5",
      "1.0.post456.dev34",
      "1.0.post456",
      "1.0.15",
      "1.1.dev1",
      "1.2+123abc",
      "1.2+123abc456",
      "1.2+abc",
      "1.2+abc123",
      "1.2+abc123def",
      "1.2+1234.abc",
      "1.2+123456",
      "1.2.r32+123456",
      "1.2.rev33+123456",
      "99999999999.0",
      "100000000000.0",
      "1!0.1",
    ];
    for (let i = 1; i < ordered.length; i++) {
      assert.ok(
        pep440SortKey(ordered[i - 1]!) < pep440SortKey(ordered[i]!),
        `${ordered[i - 1]} < ${ordered[i]}`,
      );
    }
  });

  it("gives versions PEP 440 calls equal the same key", () => {
    for (const [a, b] of [
      ["1.0", "1.0.0.0"],
      ["1.0", "v1.0"],
      ["1.0", " 1.0 "],
      ["01.0", "1.0"],
      ["1.0-1", "1.0.post1"],
      ["1.0c1", "1.0rc1"],
      ["1.0alpha", "1.0a0"],
      ["1.0+ABC", "1.0+abc"],
      ["1.0+1-2", "1.0+1.2"],
      ["0!1.0", "1.0"],
    ]) {
      assert.equal(pep440SortKey(a!), pep440SortKey(b!), `${a} == ${b}`);
    }
  });

  it("sorts invalid versions before every valid one", () => {
    assert.ok(pep440SortKey("2019-09-12") < pep440SortKey("0.dev0"));
    assert.ok(pep440SortKey("not a version") < pep440SortKey("0"));
  });
});

describe("OsvIndex.match", () => {
  it("opens at introduced (inclusive) and closes at fixed (exclusive)", () => {
    const index = indexOf(
      advisory("A", [pkg("demo", { ranges: [[{ introduced: "1.0" }, { fixed: "2.0" }]] })]),
    );
    assert.deepEqual(ids(index.match("demo", "0.9")), []);
    assert.deepEqual(ids(index.match("demo", "1.0")), ["A"]);
    assert.deepEqual(ids(index.match("demo", "1.0.0")), ["A"]);
    assert.deepEqual(ids(index.match("demo", "1.9.9")), ["A"]);
    assert.deepEqual(
      ids(index.match("demo", "2.0rc1")),
      ["A"],
      "a pre-release of the fix is still before it",
    );
    assert.deepEqual(ids(index.match("demo", "2.0")), []);
    assert.deepEqual(ids(index.match("demo", "2.0.post1")), []);
  });

  it('treats introduced "0" as before every version, dev releases included', () => {
    const index = indexOf(
      advisory("A", [pkg("demo", { ranges: [[{ introduced: "0" }, { fixed: "1.0" }]] })]),
    );
    assert.deepEqual(ids(index.match("demo", "0.dev0")), ["A"]);
    assert.deepEqual(ids(index.match("demo", "0")), ["A"]);
    assert.deepEqual(ids(index.match("demo", "1.0")), []);
  });

  it("closes after last_affected (inclusive)", () => {
    const index = indexOf(
      advisory("A", [pkg("demo", { ranges: [[{ introduced: "0" }, { last_affected: "1.11.0" }]] })]),
    );
    assert.deepEqual(ids(index.match("demo", "1.11.0")), ["A"]);
    assert.deepEqual(ids(index.match("demo", "1.11.0.post1")), []);
    assert.deepEqual(ids(index.match("demo", "1.11.1")), []);
  });

  it("sorts events before evaluating them and handles several introduced/fixed pairs", () => {
    const index = indexOf(
      advisory("A", [
        pkg("demo", {
          ranges: [
            [
              { introduced: "4.0" },
              { fixed: "4.0.4" },
              { introduced: "3.2" },
              { fixed: "3.2.13" },
              { introduced: "2.2" },
              { fixed: "2.2.28" },
            ],
          ],
        }),
      ]),
    );
    const affected = ["2.2", "2.2.27", "3.2.12", "4.0.3"];
    const clean = ["2.1", "2.2.28", "3.1.5", "3.2.13", "3.3", "4.0.4", "5.0"];
    for (const v of affected) assert.deepEqual(ids(index.match("demo", v)), ["A"], v);
    for (const v of clean) assert.deepEqual(ids(index.match("demo", v)), [], v);
  });

  it("an open range (introduced only) affects everything from there on", () => {
    const index = indexOf(advisory("A", [pkg("demo", { ranges: [[{ introduced: "1.5" }]] })]));
    assert.deepEqual(ids(index.match("demo", "1.4")), []);
    assert.deepEqual(ids(index.match("demo", "999")), ["A"]);
  });

  it("ignores limit events and ranges with no introduced event", () => {
    const index = indexOf(
      advisory("A", [
        pkg("demo", { ranges: [[{ introduced: "1.0" }, { limit: "1.5" }], [{ fixed: "3.0" }]] }),
      ]),
    );
    assert.deepEqual(ids(index.match("demo", "2.0")), ["A"]);
    assert.deepEqual(ids(index.match("demo", "0.5")), []);
  });

  it("reads an introduced and a fixed event at the same version as an empty range", () => {
    const index = indexOf(
      advisory("A", [pkg("demo", { ranges: [[{ fixed: "1.0" }, { introduced: "1.0" }]] })]),
    );
    assert.deepEqual(ids(index.match("demo", "1.0")), []);
  });

  it("ORs the explicit versions list with the ranges, comparing by PEP 440 equality", () => {
    const index = indexOf(
      advisory("A", [
        pkg("demo", { ranges: [[{ introduced: "2.0" }, { fixed: "2.1" }]], versions: ["1.0", "1.5rc1"] }),
      ]),
    );
    assert.deepEqual(ids(index.match("demo", "1.0")), ["A"]);
    assert.deepEqual(ids(index.match("demo", "1.0.0")), ["A"]);
    assert.deepEqual(ids(index.match("demo", "1.5c1")), ["A"]);
    assert.deepEqual(ids(index.match("demo", "2.0.5")), ["A"]);
    assert.deepEqual(ids(index.match("demo", "1.1")), []);
  });

  it("matches any spelling of the project name, and nothing for other projects", () => {
    const index = indexOf(advisory("A", [pkg("zope-interface", { versions: ["1.0"] })]));
    assert.deepEqual(ids(index.match("Zope.Interface", "1.0")), ["A"]);
    assert.deepEqual(ids(index.match("zope_interface", "1.0")), ["A"]);
    assert.deepEqual(ids(index.match("zope", "1.0")), []);
  });

  it("lists every matching advisory once, in the order added", () => {
    const index = indexOf(
      advisory("B", [pkg("demo", { versions: ["1.0"], ranges: [[{ introduced: "0" }]] })]),
      advisory("A", [pkg("demo", { ranges: [[{ introduced: "0" }, { fixed: "2.0" }]] })]),
      advisory("C", [pkg("other", { versions: ["1.0"] })]),
    );
    assert.deepEqual(ids(index.match("demo", "1.0")), ["B", "A"]);
  });

  it("never matches a withdrawn advisory", () => {
    const index = indexOf(
      advisory("A", [pkg("demo", { versions: ["1.0"], ranges: [[{ introduced: "0" }]] })], {
        withdrawn: "2024-01-01T00:00:00Z",
      }),
    );
    assert.deepEqual(ids(index.match("demo", "1.0")), []);
    assert.equal(index.get("A")?.id, "A");
    assert.equal(index.stats().withdrawn, 1);
    assert.equal(index.stats().packages, 0);
  });

  it("keeps the newer copy of an advisory added twice", () => {
    const older = advisory("A", [pkg("demo", { versions: ["1.0"] })], { modified: "2024-01-01T00:00:00Z" });
    const newer = advisory("A", [pkg("demo", { versions: ["2.0"] })], { modified: "2024-06-01T00:00:00Z" });
    const index = indexOf(older, newer, older);
    assert.deepEqual(ids(index.match("demo", "1.0")), []);
    assert.deepEqual(ids(index.match("demo", "2.0")), ["A"]);
    assert.equal(index.stats().advisories, 1);
    index.add({ ...newer, modified: "2025-01-01T00:00:00Z", withdrawn: "2025-01-01T00:00:00Z" });
    assert.deepEqual(ids(index.match("demo", "2.0")), []);
    assert.equal(index.stats().packages, 0);
  });

  it("orders versions that are not PEP 440 before all valid ones", () => {
    const index = indexOf(
      advisory("A", [pkg("demo", { ranges: [[{ introduced: "0" }, { fixed: "2019-09-12" }]] })]),
      advisory("B", [
        pkg("demo", { ranges: [[{ introduced: "0" }, { fixed: "1.0" }]], versions: ["1.0-final"] }),
      ]),
    );
    assert.deepEqual(ids(index.match("demo", "0.5")), ["B"]);
    // Invalid versions compare among themselves by code unit: "1.0-final" < "2019-09-12".
    assert.deepEqual(ids(index.match("demo", "1.0-final")), ["A", "B"]);
    assert.deepEqual(
      ids(index.match("demo", "final")),
      ["B"],
      '"final" sorts after "2019-09-12", before "1.0"',
    );
    assert.equal(index.stats().invalidEventVersions, 1);
  });
});

describe("fixedVersionsFor and firstFixedAbove", () => {
  const a = advisory("A", [
    pkg("demo", {
      ranges: [[{ introduced: "0" }, { fixed: "1.4.2" }, { introduced: "2.0" }, { fixed: "2.0.3" }]],
    }),
  ]);
  const b = advisory("B", [
    pkg("demo", {
      ranges: [[{ introduced: "1.0" }, { fixed: "1.4.2" }, { introduced: "2.0" }, { fixed: "2.0.5" }]],
    }),
  ]);
  const c = advisory("C", [pkg("demo", { ranges: [[{ introduced: "0" }, { last_affected: "2.0.1" }]] })]);
  const index = indexOf(a, b, c);

  it("gives each matching advisory's nearest fix above the version, deduplicated and sorted", () => {
    assert.deepEqual(index.fixedVersionsFor("demo", "1.2"), ["1.4.2"]);
    assert.deepEqual(index.fixedVersionsFor("demo", "2.0.1"), ["2.0.3", "2.0.5"]);
    assert.deepEqual(index.fixedVersionsFor("demo", "2.0.4"), ["2.0.5"]);
    assert.deepEqual(index.fixedVersionsFor("demo", "3.0"), []);
  });

  it("firstFixedAbove picks the fix of the range the version is in", () => {
    assert.equal(firstFixedAbove(a, "Demo", "1.0"), "1.4.2");
    assert.equal(firstFixedAbove(a, "demo", "2.0.1"), "2.0.3");
    assert.equal(firstFixedAbove(a, "demo", "2.0.3"), undefined);
    assert.equal(firstFixedAbove(c, "demo", "1.0"), undefined);
  });
});

describe("nearestFixed", () => {
  const index = indexOf(
    advisory("A", [pkg("requests", { ranges: [[{ introduced: "0" }, { fixed: "2.31.0" }]] })]),
    advisory("B", [pkg("requests", { versions: ["2.31.1", "2.32.0"] })]),
  );

  it("offers the lowest clean candidate above the version", () => {
    const candidates = ["2.32.3", "2.31.0", "2.29.0", "2.30.0", "2.31.1", "2.32.0", "junk"];
    assert.equal(index.nearestFixed("requests", "2.30.0", candidates), "2.31.0");
    assert.equal(index.nearestFixed("requests", "2.31.0", candidates), "2.32.3");
    assert.equal(index.nearestFixed("requests", "2.32.3", candidates), undefined);
  });

  it("skips pre-releases unless asked or unless the version is one", () => {
    const candidates = ["2.31.0", "2.31.0.post1", "2.33.0b1", "2.33.0"];
    assert.equal(index.nearestFixed("requests", "2.31.1", candidates), "2.33.0");
    assert.equal(index.nearestFixed("requests", "2.31.1", candidates, { prereleases: true }), "2.33.0b1");
    assert.equal(index.nearestFixed("requests", "2.32.0rc1", candidates), "2.33.0b1");
  });
});

describe("maliciousByName and affectsAllVersions", () => {
  const typosquat = advisory("MAL-1", [pkg("requeests", { ranges: [[{ introduced: "0" }]] })]);
  const compromised = advisory("MAL-2", [pkg("litellm", { versions: ["1.82.7", "1.82.8"] })]);
  const withdrawn = advisory("MAL-3", [pkg("fastapi", { versions: ["0.136.3"] })], {
    withdrawn: "2026-05-26T13:04:03Z",
  });
  const index = indexOf(typosquat, compromised, withdrawn);
  index.addMaliciousNames(
    new Map([
      ["litellm", "MAL-2"],
      ["ProjZ.py", "MAL-9"],
    ]),
  );

  it("reports every name with a report, from the list and from MAL advisories", () => {
    assert.deepEqual(index.maliciousByName("Requeests"), ["MAL-1"]);
    assert.deepEqual(index.maliciousByName("litellm"), ["MAL-2"]);
    assert.deepEqual(index.maliciousByName("projz_py"), ["MAL-9"]);
    assert.deepEqual(index.maliciousByName("fastapi"), []);
    assert.deepEqual(index.maliciousByName("requests"), []);
  });

  it("says a report covers every version only for an open range from 0", () => {
    assert.equal(affectsAllVersions(typosquat, "requeests"), true);
    assert.equal(affectsAllVersions(typosquat, "requests"), false);
    assert.equal(affectsAllVersions(compromised, "litellm"), false);
    assert.equal(
      affectsAllVersions(
        advisory("X", [pkg("demo", { ranges: [[{ introduced: "0" }, { last_affected: "1.0" }]] })]),
        "demo",
      ),
      false,
    );
    assert.equal(affectsAllVersions({ ...typosquat, withdrawn: "2024-01-01T00:00:00Z" }, "requeests"), false);
  });

  it("counts what it holds", () => {
    assert.deepEqual(index.stats(), {
      advisories: 3,
      packages: 2,
      withdrawn: 1,
      malicious: 2,
      maliciousNames: 2,
      invalidEventVersions: 0,
    });
  });
});

describe("OsvIndex on the real advisory data", () => {
  const index = new OsvIndex();
  before(async () => {
    const pysec = await loadOsvSource(PYSEC_ZIP, index);
    const mal = await loadOsvSource(MAL_ZIP, index);
    assert.equal(pysec.records, 2661);
    assert.equal(pysec.malformed, 0);
    assert.equal(mal.records, 24);
    assert.equal(mal.malformed, 0);
  });

  const matches = (project: string, version: string, id: string) =>
    ids(index.match(project, version)).includes(id);

  it("holds every record, 14 of them withdrawn", () => {
    assert.deepEqual(index.stats(), {
      advisories: 2685,
      packages: 680,
      withdrawn: 14,
      malicious: 20,
      maliciousNames: 0,
      // PYSEC-2021-371 (binderhub, fixed "0.2.0-n653") and PYSEC-2019-125 (steam, fixed "2019-09-12").
      invalidEventVersions: 2,
    });
  });

  it("flags django 1.0.1 with PYSEC-2007-1 but not 1.1, its fixed version", () => {
    assert.ok(matches("django", "1.0.1", "PYSEC-2007-1"));
    assert.ok(matches("Django", "1.0.4", "PYSEC-2007-1"));
    assert.ok(!matches("django", "1.1", "PYSEC-2007-1"));
  });

  it("evaluates django's unsorted multi-branch ranges (PYSEC-2022-190)", () => {
    for (const v of ["2.2.27", "3.2.12", "4.0.3"]) assert.ok(matches("django", v, "PYSEC-2022-190"), v);
    for (const v of ["2.2.28", "3.1.5", "3.2.13", "4.0.4"])
      assert.ok(!matches("django", v, "PYSEC-2022-190"), v);
    assert.equal(firstFixedAbove(index.get("PYSEC-2022-190")!, "django", "3.2.12"), "3.2.13");
  });

  it("orders pre-releases inside a range (PYSEC-2015-18: introduced 1.8a0, fixed 1.8c1)", () => {
    assert.ok(matches("django", "1.8b2", "PYSEC-2015-18"));
    assert.ok(!matches("django", "1.8rc1", "PYSEC-2015-18"));
  });

  it("includes last_affected (PYSEC-2022-42969: py up to 1.11.0)", () => {
    assert.ok(matches("py", "1.11.0", "PYSEC-2022-42969"));
    assert.ok(matches("py", "1.4.7.dev3", "PYSEC-2022-42969"));
    assert.ok(!matches("py", "1.11.1", "PYSEC-2022-42969"));
  });

  it("matches a versions-only record (PYSEC-2024-1: gratient 0.5)", () => {
    assert.deepEqual(ids(index.match("gratient", "0.5")), ["PYSEC-2024-1"]);
    assert.deepEqual(ids(index.match("gratient", "0.5.0")), ["PYSEC-2024-1"]);
    assert.deepEqual(ids(index.match("gratient", "0.6")), []);
  });

  it("never matches withdrawn records", () => {
    assert.equal(index.get("PYSEC-2021-13")?.withdrawn, "2023-07-25T12:32:00Z");
    assert.ok(!matches("flask-caching", "2.0.2", "PYSEC-2021-13"));
    assert.ok(!matches("loguru", "0.5.3", "PYSEC-2022-15"));
    assert.deepEqual(ids(index.match("fastapi", "0.136.3")), []);
    assert.deepEqual(ids(index.match("strawberry-graphql", "0.315.6")), []);
    assert.deepEqual(ids(index.match("lodestone", "0.0.58")), []);
  });

  it("flags the compromised litellm releases only", () => {
    assert.deepEqual(ids(index.match("litellm", "1.82.8")), ["MAL-2026-2144"]);
    assert.deepEqual(ids(index.match("litellm", "1.82.7")), ["MAL-2026-2144"]);
    assert.deepEqual(ids(index.match("litellm", "1.82.6")), []);
    assert.equal(affectsAllVersions(index.get("MAL-2026-2144")!, "litellm"), false);
  });

  it("flags typosquats reported from introduced 0 at any version", () => {
    for (const v of ["1.0", "0.0.1", "2.31.0", "99.0"]) {
      assert.deepEqual(ids(index.match("requeests", v)), ["MAL-2022-7436"], v);
    }
    assert.equal(affectsAllVersions(index.get("MAL-2022-7436")!, "requeests"), true);
    assert.equal(affectsAllVersions(index.get("MAL-2024-10727")!, "huggingface-hubs"), true);
    assert.ok(matches("booto3", "0.0.1", "MAL-2024-1059"));
    assert.equal(
      affectsAllVersions(index.get("MAL-2024-1059")!, "booto3"),
      false,
      "booto3 lists one version",
    );
  });

  it("evaluates every range as the literal OSV algorithm does, at each advisory's boundaries", () => {
    // The literal algorithm re-parses every version on every comparison, so it is run on the ranges
    // alone (versions lists emptied, in both) and only at the versions where a mistake would show:
    // each event and its neighbours, and the extremes.
    const rangesOnly = new OsvIndex();
    const stripped = [...index.advisories()].map((a) => ({
      ...a,
      packages: a.packages.map((p) => ({ ...p, versions: [] })),
    }));
    for (const a of stripped) rangesOnly.add(a);
    let checked = 0;
    for (const a of stripped) {
      for (const p of a.packages) {
        const probes = new Set(["0", "0.dev0", "9999", "not-a-version"]);
        for (const range of p.ranges) {
          for (const e of range.events)
            for (const v of [e.version, `${e.version}.post1`, `${e.version}rc1`]) probes.add(v);
        }
        for (const version of probes) {
          const got = ids(rangesOnly.match(p.name, version)).includes(a.id);
          assert.equal(got, advisoryAffects(a, p.name, version), `${a.id}: ${p.name}==${version}`);
          checked++;
        }
      }
    }
    assert.ok(checked > 20_000, `checked ${checked} pairs`);
  });

  it("matches every version an advisory lists", () => {
    for (const a of index.advisories()) {
      if (a.withdrawn !== undefined) continue;
      for (const p of a.packages) {
        for (const v of p.versions)
          assert.ok(ids(index.match(p.name, v)).includes(a.id), `${a.id}: ${p.name}==${v}`);
      }
    }
  });

  it("is quick (reported, not asserted)", () => {
    const pairs: [string, string][] = [];
    for (const a of index.advisories()) {
      for (const p of a.packages) for (const v of p.versions.slice(0, 5)) pairs.push([p.name, v]);
    }
    const started = performance.now();
    let rounds = 0;
    while (rounds * pairs.length < 200_000) {
      for (const [project, version] of pairs) index.match(project, version);
      rounds++;
    }
    const rate = (rounds * pairs.length) / ((performance.now() - started) / 1000);
    console.log(
      `OsvIndex.match: ${Math.round(rate).toLocaleString("en")} pairs/s over ${pairs.length} advisory pairs`,
    );
  });
});
