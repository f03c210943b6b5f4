import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  compileTarget,
  describeTarget,
  parsePlatform,
  parsePythonVersion,
  parseTarget,
  requiresPythonMatches,
  TargetError,
  targetMarkers,
  targetTags,
  wheelMatches,
  type TargetEnvironment,
} from "./target-environment.js";

function target(overrides: Partial<TargetEnvironment> = {}): TargetEnvironment {
  return { pythonVersion: "3.11", platform: "linux", machine: "x86_64", ...overrides };
}

function rank(tags: readonly string[], tag: string): number {
  const index = tags.indexOf(tag);
  assert.notEqual(index, -1, `${tag} is missing`);
  return index;
}

describe("targetTags", () => {
  test("lists Windows tags exactly as packaging.tags.sys_tags() does for CPython 3.11", () => {
    const tags = targetTags(target({ platform: "windows" }));
    const abi3 = [10, 9, 8, 7, 6, 5, 4, 3, 2].map((m) => `cp3${m}-abi3-win_amd64`);
    const older = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0].map((m) => `py3${m}`);
    assert.deepEqual(tags, [
      "cp311-cp311-win_amd64",
      "cp311-abi3-win_amd64",
      "cp311-none-win_amd64",
      ...abi3,
      "py311-none-win_amd64",
      "py3-none-win_amd64",
      ...older.map((py) => `${py}-none-win_amd64`),
      "cp311-none-any",
      "py311-none-any",
      "py3-none-any",
      ...older.map((py) => `${py}-none-any`),
    ]);
    assert.equal(targetTags(target({ platform: "windows", machine: "arm64" }))[0], "cp311-cp311-win_arm64");
  });

  test("orders manylinux tags newest glibc first, with the legacy aliases after their glibc", () => {
    const tags = targetTags(target());
    assert.equal(tags[0], "cp311-cp311-manylinux_2_35_x86_64");
    const order = [
      "cp311-cp311-manylinux_2_35_x86_64",
      "cp311-cp311-manylinux_2_17_x86_64",
      "cp311-cp311-manylinux2014_x86_64",
      "cp311-cp311-manylinux_2_16_x86_64",
      "cp311-cp311-manylinux_2_12_x86_64",
      "cp311-cp311-manylinux2010_x86_64",
      "cp311-cp311-manylinux_2_5_x86_64",
      "cp311-cp311-manylinux1_x86_64",
      "cp311-cp311-linux_x86_64",
      "cp311-abi3-manylinux_2_35_x86_64",
      "cp311-none-linux_x86_64",
      "cp310-abi3-manylinux_2_35_x86_64",
      "cp32-abi3-linux_x86_64",
      "py311-none-manylinux_2_35_x86_64",
      "py3-none-manylinux_2_35_x86_64",
      "py30-none-linux_x86_64",
      "cp311-none-any",
      "py311-none-any",
      "py3-none-any",
      "py310-none-any",
    ];
    const ranks = order.map((tag) => rank(tags, tag));
    assert.deepEqual(
      ranks,
      [...ranks].sort((a, b) => a - b),
    );
    assert.equal(tags.at(-1), "py30-none-any");
    assert.ok(!tags.includes("cp311-cp311-manylinux_2_36_x86_64"));
    assert.ok(!tags.some((tag) => tag.includes("musllinux")), "musllinux is off by default");
  });

  test("caps manylinux at the configured glibc and adds musllinux on request", () => {
    const tags = targetTags(target({ glibc: "2.28", musl: "1.2" }));
    assert.equal(tags[0], "cp311-cp311-manylinux_2_28_x86_64");
    assert.ok(!tags.includes("cp311-cp311-manylinux_2_29_x86_64"));
    assert.ok(
      rank(tags, "cp311-cp311-manylinux1_x86_64") < rank(tags, "cp311-cp311-musllinux_1_2_x86_64") &&
        rank(tags, "cp311-cp311-musllinux_1_0_x86_64") < rank(tags, "cp311-cp311-linux_x86_64"),
    );
    const muslOnly = targetTags(target({ glibc: null, musl: "1.1" }));
    assert.equal(muslOnly[0], "cp311-cp311-musllinux_1_1_x86_64");
    assert.ok(!muslOnly.some((tag) => tag.includes("manylinux")));
  });

  test("stops at manylinux2014 on aarch64, which glibc 2.17 introduced", () => {
    const tags = targetTags(target({ machine: "aarch64" }));
    assert.equal(tags[0], "cp311-cp311-manylinux_2_35_aarch64");
    assert.ok(tags.includes("cp311-cp311-manylinux2014_aarch64"));
    assert.ok(!tags.includes("cp311-cp311-manylinux_2_16_aarch64"));
    assert.ok(!tags.some((tag) => tag.includes("manylinux2010") || tag.includes("manylinux1_")));
    assert.deepEqual(targetTags(target({ machine: "arm64" })), tags);
  });

  test("lists macOS arm64 tags from 11.0 with the universal2 down-level list", () => {
    const tags = targetTags(target({ platform: "macos", machine: "arm64" }));
    const platforms = tags.filter((tag) => tag.startsWith("cp311-cp311-")).map((tag) => tag.slice(12));
    assert.deepEqual(platforms, [
      "macosx_11_0_arm64",
      "macosx_11_0_universal2",
      ...[16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4].map((m) => `macosx_10_${m}_universal2`),
    ]);
  });

  test("lists macOS x86_64 tags down from 10.9 by default and from newer majors when asked", () => {
    const tags = targetTags(target({ platform: "macos", machine: "x86_64" }));
    const platforms = tags.filter((tag) => tag.startsWith("cp311-cp311-")).map((tag) => tag.slice(12));
    assert.deepEqual(platforms.slice(0, 7), [
      "macosx_10_9_x86_64",
      "macosx_10_9_intel",
      "macosx_10_9_fat64",
      "macosx_10_9_fat32",
      "macosx_10_9_universal2",
      "macosx_10_9_universal",
      "macosx_10_8_x86_64",
    ]);
    assert.equal(platforms.at(-1), "macosx_10_4_universal");
    assert.ok(!platforms.includes("macosx_10_3_x86_64"));

    const sonoma = targetTags(target({ platform: "macos", machine: "x86_64", macosVersion: "14.0" }));
    assert.ok(
      rank(sonoma, "cp311-cp311-macosx_14_0_x86_64") < rank(sonoma, "cp311-cp311-macosx_11_0_x86_64"),
    );
    assert.ok(
      rank(sonoma, "cp311-cp311-macosx_11_0_universal") < rank(sonoma, "cp311-cp311-macosx_10_16_x86_64"),
    );
  });

  test("uses only major.minor of a full Python version", () => {
    assert.deepEqual(targetTags(target({ pythonVersion: "3.11.4" })), targetTags(target()));
    assert.equal(targetTags(target({ pythonVersion: "3.13" }))[0], "cp313-cp313-manylinux_2_35_x86_64");
  });
});

describe("wheelMatches", () => {
  const linux = target();
  const windows = target({ platform: "windows" });

  test("accepts real wheels that fit and ranks the better tag lower", () => {
    const markupsafe =
      "markupsafe-3.0.3-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl";
    const native = wheelMatches(markupsafe, linux);
    const pure = wheelMatches("six-1.17.0-py2.py3-none-any.whl", linux);
    assert.ok(native !== undefined && pure !== undefined);
    assert.ok(native < pure);
    // The compressed set counts by its best tag, manylinux_2_28.
    assert.equal(native, rank(targetTags(linux), "cp311-cp311-manylinux_2_28_x86_64"));
    assert.equal(wheelMatches(markupsafe, windows), undefined);
  });

  test("refuses other interpreters, newer glibc and non-wheels", () => {
    assert.equal(wheelMatches("demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", linux), undefined);
    assert.equal(wheelMatches("demo-1.0-cp311-cp311-manylinux_2_39_x86_64.whl", linux), undefined);
    assert.equal(wheelMatches("demo-1.0-cp311-cp311-manylinux_2_17_aarch64.whl", linux), undefined);
    assert.equal(wheelMatches("demo-1.0-py2-none-any.whl", linux), undefined);
    assert.equal(wheelMatches("demo-1.0.tar.gz", linux), undefined);
    assert.equal(wheelMatches("not a wheel.whl", linux), undefined);
  });

  test("accepts an abi3 wheel built for an older CPython after the exact-interpreter wheels", () => {
    const abi3 = wheelMatches("demo-1.0-cp38-abi3-win_amd64.whl", windows);
    const exact = wheelMatches("demo-1.0-cp311-cp311-win_amd64.whl", windows);
    assert.ok(abi3 !== undefined && exact !== undefined && exact < abi3);
  });
});

describe("requiresPythonMatches", () => {
  const env = target();

  test("checks the full Python version against the specifier", () => {
    assert.equal(requiresPythonMatches(">=3.10", env), true);
    assert.equal(requiresPythonMatches(">=3.12", env), false);
    assert.equal(requiresPythonMatches("!=3.0.*,!=3.1.*,!=3.2.*,>=2.7", env), true);
    assert.equal(requiresPythonMatches(">=2.7, !=3.0.*, !=3.1.*, !=3.2.*", env), true);
    assert.equal(requiresPythonMatches("<3.11", env), false);
    assert.equal(requiresPythonMatches(">=3.11.4", target({ pythonVersion: "3.11.4" })), true);
  });

  test("admits a missing, blank or unparseable specifier, as pip does", () => {
    assert.equal(requiresPythonMatches(undefined, env), true);
    assert.equal(requiresPythonMatches("  ", env), true);
    assert.equal(requiresPythonMatches(">=3.6.*", env), true);
  });
});

describe("compileTarget", () => {
  test("derives the marker environment for the platform", () => {
    assert.equal(targetMarkers(target()).sys_platform, "linux");
    assert.equal(targetMarkers(target({ platform: "windows" })).platform_system, "Windows");
    assert.equal(targetMarkers(target({ platform: "macos", machine: "arm64" })).platform_machine, "arm64");
    assert.equal(compileTarget(target()).markers.python_full_version, "3.11.0");
  });

  test("caches per target object and describes the target", () => {
    const env = target({ machine: "aarch64" });
    assert.equal(compileTarget(env), compileTarget(env));
    assert.equal(describeTarget(env), "CPython 3.11 on linux aarch64");
    assert.equal(
      describeTarget(target({ platform: "windows", machine: "arm64" })),
      "CPython 3.11 on windows arm64",
    );
  });

  test("refuses targets it cannot describe", () => {
    assert.throws(() => compileTarget(target({ pythonVersion: "2.7" })), TargetError);
    assert.throws(() => compileTarget(target({ pythonVersion: "three" })), /3\.12 or 3\.12\.4/);
    assert.throws(() => compileTarget(target({ glibc: "2" })), /glibc version must look like 2\.35/);
    assert.throws(
      () => compileTarget(target({ platform: "macos", machine: "arm64", macosVersion: "10.15" })),
      /arm64 starts at 11\.0/,
    );
    assert.throws(() => compileTarget({ ...target(), platform: "beos" as never }), /linux, macos or windows/);
  });
});

describe("parseTarget", () => {
  test("parses --python and --platform with defaults", () => {
    assert.deepEqual(parseTarget({ python: "3.11", platform: "windows" }), {
      pythonVersion: "3.11",
      platform: "windows",
      machine: "x86_64",
      implementation: "cp",
    });
    assert.deepEqual(parseTarget(), {
      pythonVersion: "3.12",
      platform: "linux",
      machine: "x86_64",
      implementation: "cp",
    });
    assert.equal(parseTarget({ glibc: "2.28" }).glibc, "2.28");
    assert.equal(parseTarget({ platform: "macos-x86_64", macos: "12.0" }).macosVersion, "12.0");
  });

  test("reads platform spellings and CPU aliases", () => {
    assert.deepEqual(parsePlatform("linux-aarch64"), { platform: "linux", machine: "aarch64" });
    assert.deepEqual(parsePlatform("linux-arm64"), { platform: "linux", machine: "aarch64" });
    assert.deepEqual(parsePlatform("macos"), { platform: "macos", machine: "arm64" });
    assert.deepEqual(parsePlatform("Darwin-x86_64"), { platform: "macos", machine: "x86_64" });
    assert.deepEqual(parsePlatform("windows-amd64"), { platform: "windows", machine: "x86_64" });
    assert.deepEqual(parsePlatform("win32-arm64"), { platform: "windows", machine: "arm64" });
  });

  test("explains what is wrong", () => {
    assert.throws(() => parsePlatform("freebsd"), /--platform must be linux, macos or windows.*"freebsd"/);
    assert.throws(() => parsePlatform("linux-ppc64le"), /CPU must be x86_64 or arm64.*"ppc64le"/);
    assert.throws(() => parsePythonVersion("3"), /--python must look like 3\.12 or 3\.12\.4, not "3"/);
    assert.throws(() => parsePythonVersion("2.7"), /only Python 3 is supported/);
    assert.equal(parsePythonVersion(" 3.12.4 "), "3.12.4");
    assert.throws(
      () => parseTarget({ platform: "windows", glibc: "2.28" }),
      /--glibc applies only to a linux/,
    );
    assert.throws(() => parseTarget({ platform: "linux", glibc: "two" }), TargetError);
  });
});
