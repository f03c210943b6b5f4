import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  MAX_VERSION_LENGTH,
  compareVersions,
  isPrerelease,
  isValidSpecifier,
  isValidVersion,
  normalizeVersion,
  parseSpecifier,
  satisfies,
  sortVersions,
} from "./version.js";

describe("isValidVersion", () => {
  it("accepts PEP 440 versions, including the forms normalisation allows", () => {
    const valid = [
      "0",
      "1.0",
      "1.0.0",
      "2012.10",
      "1!1.0",
      "1.0a1",
      "1.0b2",
      "1.0rc1",
      "1.0c1",
      "1.0.post1",
      "1.0.dev1",
      "1.0a1.post2.dev3",
      "1.0+abc.5",
      "1.0+5",
      "1.0+ubuntu-1",
      "1.0-1",
      "1.0.post",
      "v1.0",
      "1.0ALPHA1",
      " 1.0 ",
    ];
    for (const version of valid) assert.equal(isValidVersion(version), true, version);
  });

  it("rejects what PEP 440 does not define", () => {
    const invalid = [
      "",
      "foo",
      "1.0+",
      "1.0+abc..1",
      "1.0.",
      "1..0",
      "1.0-",
      "french toast",
      "1.0a1a1",
      "1.0 a1",
    ];
    for (const version of invalid) assert.equal(isValidVersion(version), false, JSON.stringify(version));
  });

  it("refuses overlong input without looking at it", () => {
    assert.equal(isValidVersion("1." + "0".repeat(MAX_VERSION_LENGTH)), false);
  });
});

describe("normalizeVersion", () => {
  it("applies the PEP 440 normalisation rules", () => {
    const cases: [string, string][] = [
      ["1.1RC1", "1.1rc1"],
      ["1.1a", "1.1a0"],
      ["1.1-a1", "1.1a1"],
      ["1.1_a1", "1.1a1"],
      ["1.1.a1", "1.1a1"],
      ["1.1alpha1", "1.1a1"],
      ["1.1beta2", "1.1b2"],
      ["1.1c3", "1.1rc3"],
      ["1.1pre1", "1.1rc1"],
      ["1.1preview1", "1.1rc1"],
      ["1.2-post2", "1.2.post2"],
      ["1.2post2", "1.2.post2"],
      ["1.2.rev2", "1.2.post2"],
      ["1.2.r2", "1.2.post2"],
      ["1.2-post", "1.2.post0"],
      ["1.0-1", "1.0.post1"],
      ["1.2-dev2", "1.2.dev2"],
      ["1.2dev2", "1.2.dev2"],
      ["1.2.dev", "1.2.dev0"],
      ["1.0+ubuntu-1", "1.0+ubuntu.1"],
      ["1.0+ubuntu_1", "1.0+ubuntu.1"],
      ["1.0+ABC", "1.0+abc"],
      ["1.0+Abc.007-x_1", "1.0+abc.7.x.1"],
      ["1!2.0RC1.post2.DEV3+a", "1!2.0rc1.post2.dev3+a"],
      ["v1.0", "1.0"],
      ["1.01", "1.1"],
      ["0!1.0", "1.0"],
      ["1!1.0", "1!1.0"],
      [" 1.0\n", "1.0"],
    ];
    for (const [input, expected] of cases) assert.equal(normalizeVersion(input), expected, input);
  });

  it("returns null for invalid versions", () => {
    assert.equal(normalizeVersion("not a version"), null);
    assert.equal(normalizeVersion("1".repeat(MAX_VERSION_LENGTH + 1)), null);
  });
});

describe("isPrerelease", () => {
  it("counts pre-releases and development releases, not post-releases", () => {
    assert.equal(isPrerelease("1.0a1"), true);
    assert.equal(isPrerelease("1.0rc1"), true);
    assert.equal(isPrerelease("1.0.dev0"), true);
    assert.equal(isPrerelease("1.0.post1.dev1"), true);
    assert.equal(isPrerelease("1.0.post1"), false);
    assert.equal(isPrerelease("1.0+local"), false);
    assert.equal(isPrerelease("junk"), false);
  });
});

describe("compareVersions and sortVersions", () => {
  // The ordering example from PEP 440 ("Summary of permitted suffixes and relative ordering").
  const pep440Order = [
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
  ];

  it("orders the PEP 440 example", () => {
    const shuffled = [...pep440Order].reverse();
    assert.deepEqual(sortVersions(shuffled), pep440Order);
    for (let i = 1; i < pep440Order.length; i++) {
      assert.equal(compareVersions(pep440Order[i - 1] ?? "", pep440Order[i] ?? ""), -1, pep440Order[i]);
    }
  });

  it("puts a later epoch after any earlier-epoch version", () => {
    assert.equal(compareVersions("1!0.1", "2013.10"), 1);
    assert.deepEqual(sortVersions(["1!1.0", "2024.1", "1.0"]), ["1.0", "2024.1", "1!1.0"]);
  });

  it("treats trailing zeros as equal, but sorts equal versions by text so the result is stable", () => {
    assert.equal(compareVersions("1.0", "1.0.0"), 0);
    assert.equal(compareVersions("v1.0", "1.0"), 0);
    assert.deepEqual(sortVersions(["1.0.0", "1.0"]), ["1.0", "1.0.0"]);
    assert.deepEqual(sortVersions(["1.0", "1.0.0"]), ["1.0", "1.0.0"]);
  });

  it("puts invalid versions first, in a fixed order, and never throws", () => {
    assert.equal(compareVersions("junk", "0"), -1);
    assert.equal(compareVersions("0", "junk"), 1);
    assert.equal(compareVersions("b-junk", "a-junk"), 1);
    assert.equal(compareVersions("junk", "junk"), 0);
    assert.deepEqual(sortVersions(["2.0", "zz", "1.0", "", "aa"]), ["", "aa", "zz", "1.0", "2.0"]);
  });

  it("does not modify its input", () => {
    const input = ["2", "1"];
    sortVersions(input);
    assert.deepEqual(input, ["2", "1"]);
  });
});

describe("parseSpecifier and isValidSpecifier", () => {
  it("splits a specifier set into trimmed clauses", () => {
    assert.deepEqual(parseSpecifier(" >= 1.0 , != 1.3.* ,<2 "), [
      { operator: ">=", version: "1.0" },
      { operator: "!=", version: "1.3.*" },
      { operator: "<", version: "2" },
    ]);
    assert.deepEqual(parseSpecifier("===foobar"), [{ operator: "===", version: "foobar" }]);
    assert.deepEqual(parseSpecifier(""), []);
  });

  it("accepts what PEP 440 allows", () => {
    const valid = [
      "",
      "  ",
      "~=2.2",
      "~=1.4.5a4",
      "~=2.2.post3",
      "==1.0+local",
      "!=1.0+local",
      "==1.*",
      "!=1.0.*",
      "==1!2.*",
      "===1.0-weird",
      ">=1.0.dev1",
      ">1.0.post1",
      "<=2",
      ">=1.0,<2.0",
    ];
    for (const specifier of valid) assert.equal(isValidSpecifier(specifier), true, specifier);
  });

  it("rejects what PEP 440 forbids", () => {
    const invalid = [
      "1.0",
      "=1.0",
      "~=1",
      "~=1.0+local",
      ">=1.0+local",
      ">=1.*",
      "~=1.0.*",
      "==1.0.dev1.*",
      "==1.0+local.*",
      "==1.0a1.*",
      "==",
      ">=1.0,",
      ",>=1.0",
      ">=junk",
      "=== ",
      ">=1.0 <2",
    ];
    for (const specifier of invalid) assert.equal(isValidSpecifier(specifier), false, specifier);
  });
});

describe("satisfies", () => {
  function check(specifier: string, yes: string[], no: string[], prereleases?: boolean): void {
    const options = prereleases === undefined ? {} : { prereleases };
    for (const version of yes)
      assert.equal(satisfies(version, specifier, options), true, `${version} ${specifier}`);
    for (const version of no)
      assert.equal(satisfies(version, specifier, options), false, `${version} ${specifier}`);
  }

  it("treats an empty specifier as any final release", () => {
    check("", ["1.0", "0", "1!2.0+local"], ["1.0a1", "junk"]);
    check("", ["1.0a1"], [], true);
  });

  it("implements compatible release (~=)", () => {
    check("~=2.2", ["2.2", "2.3", "2.10", "2.2.post1"], ["2.1", "3.0", "3.0a1"]);
    check("~=1.4.5", ["1.4.5", "1.4.9"], ["1.5.0", "1.4.4"]);
    check("~=2.2.post3", ["2.2.post3", "2.3"], ["2.2", "3.0"]);
    check("~=1.4.5a4", ["1.4.5a4", "1.4.5", "1.4.6", "1.4.6b1"], ["1.4.5a3", "1.5"]);
    check("~=2.2.0", ["2.2.1"], ["2.3.0"]);
    check("~=1!2.2", ["1!2.5"], ["2.5", "1!3.0"]);
  });

  it("implements version matching (==), with prefixes and local labels", () => {
    check("==1.1", ["1.1", "1.1.0", "1.1+local"], ["1.1.post1", "1.1.1", "1.1a1"]);
    check("==1.1.post1", ["1.1.post1"], ["1.1", "1.1.post1.dev1"]);
    check("==1.1.*", ["1.1", "1.1.0", "1.1.post1", "1.1.9+local"], ["1.10", "1.2", "1.1a1"]);
    check("==1.1.*", ["1.1a1", "1.1.dev1"], [], true);
    check("==1.0.*", ["1"], ["1!1.0"]);
    check("==1!2.*", ["1!2.0"], ["2.0"]);
    check("==1.0+abc", ["1.0+abc", "1.0+ABC", "1.0.0+abc"], ["1.0+def", "1.0", "1.0+abc.1"]);
  });

  it("implements version exclusion (!=)", () => {
    check("!=1.*", ["2.0", "0.9", "10.0"], ["1.0", "1.5", "1.0.post1"]);
    check("!=1.0", ["1.0.post1", "1.1"], ["1.0", "1.0.0", "1.0+local"]);
    check("!=1.0+abc", ["1.0", "1.0+def"], ["1.0+abc"]);
  });

  it("implements inclusive ordered comparison, ignoring local labels", () => {
    check("<=1.0", ["1.0", "0.9", "1.0+local"], ["1.0.post1", "1.1"]);
    check(">=1.0", ["1.0", "1.0+local", "1.0.post1", "2"], ["0.9", "1.0a1"]);
  });

  it("implements exclusive ordered comparison as PEP 440 defines it", () => {
    check("<1.0", ["0.9", "0.9.post1"], ["1.0", "1.0+local", "1.1"]);
    // `<V` never admits a pre-release of V itself, even when pre-releases are allowed.
    check("<1.0", ["0.9a1"], ["1.0a1", "1.0.dev0", "1.0rc1"], true);
    check("<1.0rc1", ["1.0a1", "1.0b9", "0.9"], ["1.0rc1", "1.0rc2", "1.0"]);
    check("<1!1.0", ["1.0", "2024.1"], ["1!1.0"]);
    // `>V` never admits a post-release or a local version of V unless V is a post-release.
    check(">1.0", ["1.1", "1.0.1", "1.0.1+local"], ["1.0", "1.0.post1", "1.0+local", "0.9"]);
    check(">1.0.post1", ["1.0.post2", "1.1"], ["1.0.post1", "1.0"]);
    check(">1.0a1", ["1.0b1", "1.0", "1.0a2"], ["1.0a1", "0.9"]);
  });

  it("implements arbitrary equality (===) as a string match", () => {
    check("===1.0", ["1.0", " 1.0 "], ["1.0.0", "1.0+local"]);
    check("===foobar", ["foobar", "FooBar"], ["foobar2"]);
  });

  it("excludes pre-releases unless a clause names one, or the caller allows them", () => {
    check(">=1.0", ["1.0"], ["2.0a1", "2.0.dev1"]);
    check(">=1.0", ["2.0a1", "2.0.dev1"], [], true);
    check(">=1.0", ["1.0"], ["2.0a1"], false);
    check(">=1.0a1,<2", ["1.5a1", "1.0a1", "1.5"], ["2.0a1", "0.9"]);
    check(">=1.0.dev0", ["1.0.dev0", "1.0a1"], []);
    // `!=` excludes a pre-release rather than asking for one.
    check("!=1.0a1", ["1.0"], ["1.0a2"]);
    check(">=1.0b1", [], ["1.0b2"], false);
  });

  it("combines clauses as an intersection", () => {
    check(">=2,<4", ["2", "3.9.9", "2.0.post1"], ["4", "1.9", "4.0.post1"]);
    check("!=1.5.7,>=1.5.6", ["1.5.6", "1.5.8", "1.7.1"], ["1.5.7", "1.5.5"]);
  });

  it("never matches an invalid version or specifier", () => {
    assert.equal(satisfies("junk", ">=1.0"), false);
    assert.equal(satisfies("junk", ""), false);
    assert.equal(satisfies("1.0", ">=junk"), false);
    assert.equal(satisfies("1.0", "1.0"), false);
    assert.equal(satisfies("1.0", ">=1.0,"), false);
  });
});
