import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { sharedDataDir } from "../../../test/helpers/shared-data.js";
import { readWheel } from "../../artifact/wheel-info.js";
import { evaluateMarker, markerEnvironmentFor } from "../../domain/marker.js";
import { parseRequirement } from "../../domain/requirement.js";
import { satisfies } from "../../domain/version.js";
import { parseDistFilename } from "../../domain/wheel-filename.js";
import {
  formatTree,
  resolve,
  ROOT,
  type Candidate,
  type CandidateFile,
  type CandidateSource,
  type Resolution,
  type ResolutionFailure,
  type ResolutionSuccess,
} from "./resolver.js";
import type { TargetEnvironment } from "./target-environment.js";

const LINUX: TargetEnvironment = { pythonVersion: "3.11", platform: "linux", machine: "x86_64" };
const WINDOWS: TargetEnvironment = { pythonVersion: "3.11", platform: "windows", machine: "x86_64" };

/** A release in a fake index: its Requires-Dist lines, or those plus file details. */
type FakeRelease =
  | string[]
  | {
      deps?: string[];
      /** Filenames (or files); default one `py3-none-any` wheel. */
      files?: (string | (Partial<CandidateFile> & { filename: string }))[];
      yanked?: boolean | string;
      requiresPython?: string;
    };

interface FakeSource extends CandidateSource {
  candidateCalls: Map<string, number>;
  dependencyCalls: Map<string, number>;
  /** The file each dependencies() call was given, by `project==version`. */
  filesAsked: Map<string, string>;
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** An in-memory index: `{ project: { version: release } }`; unknown projects have no versions. */
function fakeSource(
  index: Record<string, Record<string, FakeRelease>>,
  options: {
    reject?: (project: string, version: string) => string | undefined;
    fail?: Record<string, string>;
  } = {},
): FakeSource {
  const releases = new Map<string, { candidate: Candidate; deps: string[] }[]>();
  for (const [name, versions] of Object.entries(index)) {
    const project = name.toLowerCase();
    releases.set(
      project,
      Object.entries(versions).map(([version, release]) => {
        const spec = Array.isArray(release) ? { deps: release } : release;
        const files = (spec.files ?? [`${project.replace(/-/g, "_")}-${version}-py3-none-any.whl`]).map(
          (file): CandidateFile => {
            const base = typeof file === "string" ? { filename: file } : file;
            return {
              sha256: sha256(base.filename),
              yanked: spec.yanked ?? false,
              ...(spec.requiresPython === undefined ? {} : { requiresPython: spec.requiresPython }),
              ...base,
            };
          },
        );
        return { candidate: { project, version, files }, deps: spec.deps ?? [] };
      }),
    );
  }
  const source: FakeSource = {
    candidateCalls: new Map(),
    dependencyCalls: new Map(),
    filesAsked: new Map(),
    async candidates(project) {
      bump(source.candidateCalls, project);
      const failure = options.fail?.[project];
      if (failure !== undefined) throw new Error(failure);
      return (releases.get(project) ?? []).map((release) => release.candidate);
    },
    async dependencies(project, version, file) {
      bump(source.dependencyCalls, `${project}==${version}`);
      source.filesAsked.set(`${project}==${version}`, file.filename);
      const release = releases.get(project)?.find((r) => r.candidate.version === version);
      assert.ok(release, `dependencies() asked for unknown ${project} ${version}`);
      assert.ok(release.candidate.files.includes(file), "dependencies() got a file of another release");
      return release.deps;
    },
  };
  if (options.reject) {
    const reject = options.reject;
    source.reject = async (project, version) => reject(project, version);
  }
  return source;
}

function assertOk(result: Resolution): asserts result is ResolutionSuccess {
  if (!result.ok) assert.fail(`expected a resolution, got: ${result.error}`);
}

function assertFailed(result: Resolution): asserts result is ResolutionFailure {
  if (result.ok) assert.fail(`expected a failure, got:\n${formatTree(result)}`);
}

/** Every root is installed and every applicable edge is met by the chosen version and extras. */
function assertConsistent(result: ResolutionSuccess, roots: readonly string[]): void {
  for (const root of roots) assert.ok(result.nodes.has(parseRequirement(root).normalizedName), root);
  for (const node of result.nodes.values()) {
    for (const dependency of node.dependencies) {
      const child = result.nodes.get(dependency.project);
      assert.ok(child, `${node.project} needs ${dependency.project}`);
      assert.ok(
        satisfies(child.version, dependency.specifier, { prereleases: true }),
        dependency.requirement,
      );
      for (const extra of dependency.extras) assert.ok(child.extras.includes(extra), dependency.requirement);
    }
  }
}

function pins(result: ResolutionSuccess): Record<string, string> {
  return Object.fromEntries([...result.nodes.values()].map((node) => [node.project, node.version]));
}

describe("resolve", () => {
  test("resolves a simple tree newest first and prints it", async () => {
    const source = fakeSource({
      app: { "1.0": ["lib>=1.0", "util"], "2.0": ["lib>=2.0", "util"] },
      lib: { "1.0": [], "2.0": ["util<3"], "2.5": ["util<3"] },
      util: { "1.0": [], "2.0": [], "3.0": [] },
    });
    const result = await resolve(["app"], source, LINUX);
    assertOk(result);
    assert.deepEqual(pins(result), { app: "2.0", lib: "2.5", util: "2.0" });
    assert.deepEqual(result.roots, ["app"]);
    const app = result.nodes.get("app");
    assert.equal(app?.depth, 0);
    assert.equal(app?.file.filename, "app-2.0-py3-none-any.whl");
    assert.deepEqual(
      app?.dependencies.map((d) => d.requirement),
      ["lib>=2.0", "util"],
    );
    assert.deepEqual(result.nodes.get("util")?.requiredBy, [
      { project: "app", version: "2.0", requirement: "util" },
      { project: "lib", version: "2.5", requirement: "util<3" },
    ]);
    assert.deepEqual(result.nodes.get("app")?.requiredBy, [{ project: ROOT, requirement: "app" }]);
    assert.equal(
      formatTree(result),
      ["app==2.0", "├── lib==2.5 (>=2.0)", "│   └── util==2.0 (<3)", "└── util==2.0 (any)", ""].join("\n"),
    );
  });

  test("accepts parsed requirements and skips roots whose markers do not apply", async () => {
    const source = fakeSource({ a: { "1.0": [] }, b: { "1.0": [] } });
    const result = await resolve(
      [parseRequirement("a"), parseRequirement('b; sys_platform == "win32"')],
      source,
      LINUX,
    );
    assertOk(result);
    assert.deepEqual(pins(result), { a: "1.0" });
    assert.deepEqual(result.roots, ["a"]);
  });

  test("meets a diamond in one version that satisfies both sides", async () => {
    const source = fakeSource({
      top: { "1.0": ["left", "right"] },
      left: { "1.0": ["shared>=1.5"] },
      right: { "1.0": ["Shared_Lib<3 ; python_version >= '3'"] },
      "shared-lib": { "1.0": [], "2.0": [], "3.0": [] },
      shared: { "1.4": [], "2.0": [] },
    });
    const result = await resolve(["top"], source, LINUX);
    assertOk(result);
    assert.deepEqual(pins(result), {
      top: "1.0",
      left: "1.0",
      right: "1.0",
      shared: "2.0",
      "shared-lib": "2.0",
    });

    const diamond = fakeSource({
      top: { "1.0": ["left", "right"] },
      left: { "1.0": ["d>=1"] },
      right: { "1.0": ["d<3"] },
      d: { "1.0": [], "2.0": [], "3.0": [] },
    });
    const resolved = await resolve(["top"], diamond, LINUX);
    assertOk(resolved);
    assert.equal(resolved.nodes.get("d")?.version, "2.0");
    assert.deepEqual(
      resolved.nodes.get("d")?.requiredBy.map((r) => r.project),
      ["left", "right"],
    );
    assert.equal(resolved.nodes.get("d")?.depth, 2);
    assert.match(formatTree(resolved), /└── right==1\.0 \(any\)\n {4}└── d==2\.0 \(<3\)\n$/);
  });

  test("brings in the dependencies of extras and merges extras asked by different parents", async () => {
    const source = fakeSource({
      app: { "1.0": ["lib[Fast]", "plugin"] },
      plugin: { "1.0": ["lib[secure]>=1"] },
      lib: {
        "1.0": ['speedups; extra == "fast"', 'crypto>=2; extra == "secure"', 'docs; extra == "docs"', "core"],
      },
      speedups: { "1.0": [] },
      crypto: { "1.0": [], "2.0": [] },
      docs: { "1.0": [] },
      core: { "1.0": [] },
    });
    const result = await resolve(["app"], source, LINUX);
    assertOk(result);
    assert.deepEqual(pins(result), {
      app: "1.0",
      lib: "1.0",
      plugin: "1.0",
      core: "1.0",
      speedups: "1.0",
      crypto: "2.0",
    });
    assert.deepEqual(result.nodes.get("lib")?.extras, ["fast", "secure"]);
    assert.deepEqual(result.nodes.get("crypto")?.requiredBy, [
      { project: "lib", version: "1.0", requirement: 'crypto>=2; extra == "secure"' },
    ]);
    assert.equal(result.nodes.get("crypto")?.depth, 2);
    assert.match(formatTree(result), /├── lib\[fast\]==1\.0 \(any\)/);
  });

  test("merges extras given on several root requirements", async () => {
    const source = fakeSource({
      lib: { "1.0": ['a; extra == "x"', 'b; extra == "y"'] },
      a: { "1.0": [] },
      b: { "1.0": [] },
    });
    const result = await resolve(["lib[x]", "lib[y]>=1"], source, LINUX);
    assertOk(result);
    assert.deepEqual(pins(result), { lib: "1.0", a: "1.0", b: "1.0" });
    assert.equal(formatTree(result).split("\n")[0], "lib[x,y]==1.0");
  });

  test("evaluates markers for the target's Python and platform", async () => {
    const index = {
      app: {
        "1.0": [
          "backport; python_version < '3.10'",
          'winlib; sys_platform == "win32"',
          'linlib; sys_platform == "linux"',
          "color; platform_system == 'Windows' and platform_machine == 'AMD64'",
        ],
      },
      backport: { "1.0": [] },
      winlib: { "1.0": [] },
      linlib: { "1.0": [] },
      color: { "1.0": [] },
    };
    const linux = await resolve(["app"], fakeSource(index), LINUX);
    assertOk(linux);
    assert.deepEqual(Object.keys(pins(linux)).sort(), ["app", "linlib"]);
    assert.equal(linux.nodes.get("linlib")?.dependencies.length, 0);
    assert.equal(linux.nodes.get("app")?.dependencies[0]?.marker, 'sys_platform == "linux"');

    const windows = await resolve(["app"], fakeSource(index), WINDOWS);
    assertOk(windows);
    assert.deepEqual(Object.keys(pins(windows)).sort(), ["app", "color", "winlib"]);

    const old = await resolve(["app"], fakeSource(index), { ...LINUX, pythonVersion: "3.9" });
    assertOk(old);
    assert.deepEqual(Object.keys(pins(old)).sort(), ["app", "backport", "linlib"]);
  });

  test("skips yanked versions unless pinned with == or ===", async () => {
    const index = { lib: { "1.0": [], "2.0": { yanked: "broken build" }, "2.0.1": { yanked: true } } };
    const latest = await resolve(["lib"], fakeSource(index), LINUX);
    assertOk(latest);
    assert.equal(latest.nodes.get("lib")?.version, "1.0");

    const pinned = await resolve(["lib==2.0"], fakeSource(index), LINUX);
    assertOk(pinned);
    assert.equal(pinned.nodes.get("lib")?.version, "2.0");
    assert.equal(pinned.nodes.get("lib")?.file.yanked, "broken build");

    const arbitrary = await resolve(["lib===2.0.1"], fakeSource(index), LINUX);
    assertOk(arbitrary);
    assert.equal(arbitrary.nodes.get("lib")?.version, "2.0.1");

    const ranged = await resolve(["lib>=2"], fakeSource(index), LINUX);
    assertFailed(ranged);
    assert.equal(ranged.code, "RESOLUTION_IMPOSSIBLE");
    assert.match(
      ranged.error,
      /no usable version of lib matches >=2 \(required by <root>\): 2\.0\.1 is yanked/,
    );
  });

  test("prefers a non-yanked file of a version over a yanked one", async () => {
    const source = fakeSource({
      lib: {
        "1.0": {
          files: [
            { filename: "lib-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", yanked: "bad wheel" },
            { filename: "lib-1.0-py3-none-any.whl", yanked: false },
          ],
        },
      },
    });
    const result = await resolve(["lib"], source, LINUX);
    assertOk(result);
    assert.equal(result.nodes.get("lib")?.file.filename, "lib-1.0-py3-none-any.whl");
  });

  test("honours the Requires-Python of the file", async () => {
    const index = {
      lib: { "1.0": { requiresPython: ">=3.8" }, "2.0": { requiresPython: ">=3.12" } },
    };
    const py311 = await resolve(["lib"], fakeSource(index), LINUX);
    assertOk(py311);
    assert.equal(py311.nodes.get("lib")?.version, "1.0");

    const py312 = await resolve(["lib"], fakeSource(index), { ...LINUX, pythonVersion: "3.12" });
    assertOk(py312);
    assert.equal(py312.nodes.get("lib")?.version, "2.0");

    const forced = await resolve(["lib>=2"], fakeSource(index), LINUX);
    assertFailed(forced);
    assert.match(forced.error, /2\.0 requires Python >=3\.12/);
  });

  test("takes pre-releases only when named, when nothing else fits, or when asked", async () => {
    const index = { lib: { "1.0": [], "2.0b1": [], "2.0.dev1": [] } };
    const plain = await resolve(["lib"], fakeSource(index), LINUX);
    assertOk(plain);
    assert.equal(plain.nodes.get("lib")?.version, "1.0");

    const named = await resolve(["lib>=2.0b1"], fakeSource(index), LINUX);
    assertOk(named);
    assert.equal(named.nodes.get("lib")?.version, "2.0b1");

    const onlyPre = await resolve(["lib>1.0"], fakeSource(index), LINUX);
    assertOk(onlyPre);
    assert.equal(onlyPre.nodes.get("lib")?.version, "2.0b1");

    const pre = await resolve(["lib"], fakeSource(index), LINUX, { prereleases: true });
    assertOk(pre);
    assert.equal(pre.nodes.get("lib")?.version, "2.0b1");
  });

  test("picks the best wheel for the target and falls back to an sdist or an older version", async () => {
    const index = {
      native: {
        "1.0": [],
        "2.0": { files: ["native-2.0-cp312-cp312-manylinux_2_17_x86_64.whl"] },
      },
      mixed: {
        "2.0": {
          files: [
            "mixed-2.0-py3-none-any.whl",
            "mixed-2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "mixed-2.0-cp311-cp311-win_amd64.whl",
            "mixed-2.0.tar.gz",
          ],
        },
      },
      buildable: {
        "1.0": [],
        "2.0": { files: ["buildable-2.0-cp312-cp312-win_amd64.whl", "buildable-2.0.tar.gz"] },
      },
    };
    const source = fakeSource(index);
    const linux = await resolve(["native", "mixed", "buildable"], source, LINUX);
    assertOk(linux);
    assert.equal(linux.nodes.get("native")?.version, "1.0");
    assert.equal(
      linux.nodes.get("mixed")?.file.filename,
      "mixed-2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    );
    assert.equal(linux.nodes.get("buildable")?.file.filename, "buildable-2.0.tar.gz");
    assert.equal(source.filesAsked.get("buildable==2.0"), "buildable-2.0.tar.gz");

    const windows = await resolve(["mixed"], fakeSource(index), WINDOWS);
    assertOk(windows);
    assert.equal(windows.nodes.get("mixed")?.file.filename, "mixed-2.0-cp311-cp311-win_amd64.whl");

    const py312 = await resolve(["native"], fakeSource(index), { ...LINUX, pythonVersion: "3.12" });
    assertOk(py312);
    assert.equal(py312.nodes.get("native")?.version, "2.0");

    const binaryOnly = await resolve(["buildable"], fakeSource(index), LINUX, { sdists: false });
    assertOk(binaryOnly);
    assert.equal(binaryOnly.nodes.get("buildable")?.version, "1.0");
  });

  test("backtracks out of the classic conflict and proves the answer", async () => {
    // a==2 needs c<2 and b (every version) needs c>=2, so only a==1 works.
    const source = fakeSource({
      a: { "1.0": [], "2.0": ["c<2"] },
      b: { "1.0": ["c>=2"], "2.0": ["c>=2"] },
      c: { "1.0": [], "2.0": [] },
    });
    const result = await resolve(["a", "b"], source, LINUX);
    assertOk(result);
    assert.deepEqual(pins(result), { a: "1.0", b: "2.0", c: "2.0" });
    assert.ok(result.stats.backtracks > 0);
    assertConsistent(result, ["a", "b"]);
    assert.deepEqual(result.nodes.get("c")?.requiredBy, [
      { project: "b", version: "2.0", requirement: "c>=2" },
    ]);
  });

  test("backtracks on an earlier choice that a later requirement excludes", async () => {
    const source = fakeSource({
      a: { "1.0": ["b"] },
      b: { "1.0": ["c<2"] },
      c: { "1.0": [], "2.0": [] },
    });
    // c is a root and gets 2.0 before b (a level deeper) asks for c<2.
    const result = await resolve(["a", "c"], source, LINUX);
    assertOk(result);
    assert.deepEqual(pins(result), { a: "1.0", c: "1.0", b: "1.0" });
  });

  test("jumps over unrelated decisions instead of retrying them", async () => {
    const unrelated = Object.fromEntries(
      Array.from({ length: 8 }, (_, i) => [
        `u${i}`,
        Object.fromEntries(["1", "2", "3", "4", "5"].map((v) => [v, []])),
      ]),
    );
    const source = fakeSource({
      ...unrelated,
      a: { "1.0": ["late>=1"], "2.0": ["late>=2"] },
      late: { "1.0": [] },
    });
    const roots = ["a", ...Object.keys(unrelated)];
    const result = await resolve(roots, source, LINUX);
    assertOk(result);
    assert.equal(result.nodes.get("a")?.version, "1.0");
    // Chronological backtracking would try 5^8 combinations of u0..u7 first.
    assert.ok(result.stats.rounds < 50, `took ${result.stats.rounds} rounds`);
  });

  test("explains an unsatisfiable set naming both requirements", async () => {
    const source = fakeSource({ a: { "1.0": ["b>=2"] }, b: { "1.0": [], "2.0": [] } });
    const result = await resolve(["a", "b<2"], source, LINUX);
    assertFailed(result);
    assert.equal(result.code, "RESOLUTION_IMPOSSIBLE");
    assert.match(result.error, /^Cannot resolve a, b<2 for CPython 3\.11 on linux x86_64: /);
    assert.match(
      result.error,
      /no version of b satisfies <2 \(required by <root>\) and >=2 \(required by a==1\.0\)/,
    );
    assert.equal(result.conflicts[0]?.project, "b");
    assert.deepEqual(result.conflicts[0]?.requirements, [
      { requirement: "b<2", specifier: "<2", requiredBy: ROOT },
      { requirement: "b>=2", specifier: ">=2", requiredBy: "a==1.0" },
    ]);
    assert.ok(result.partial?.has("a"));
    assert.match(formatTree(result), /^Resolution failed \(RESOLUTION_IMPOSSIBLE\): Cannot resolve/);
    assert.match(formatTree(result), /\nConflicts:\n {2}- no version of b satisfies/);
  });

  test("explains a conflict between two dependencies after trying every version", async () => {
    const source = fakeSource({
      a: { "1.0": ["c<1.5"], "2.0": ["c<2"] },
      b: { "1.0": ["c>=2"] },
      c: { "1.0": [], "2.0": [] },
    });
    const result = await resolve(["a", "b"], source, LINUX);
    assertFailed(result);
    assert.match(
      result.error,
      /no version of c satisfies <1\.5 \(required by a==1\.0\) and >=2 \(required by b==1\.0\)/,
    );
    assert.deepEqual(
      result.conflicts.map((c) => c.message),
      [
        "no version of c satisfies <1.5 (required by a==1.0) and >=2 (required by b==1.0) (available: 2.0, 1.0)",
        "no version of c satisfies <2 (required by a==2.0) and >=2 (required by b==1.0) (available: 2.0, 1.0)",
      ],
    );
  });

  test("names a project the index does not have", async () => {
    const result = await resolve(["a"], fakeSource({ a: { "1.0": ["ghost>=1"] } }), LINUX);
    assertFailed(result);
    assert.match(result.error, /no versions of ghost are available from the index \(required by a==1\.0\)/);
  });

  test("moves past a version the veto rejects and records why", async () => {
    const source = fakeSource(
      { requests: { "2.30.0": [], "2.31.0": ["urllib3"] }, urllib3: { "2.0": [] } },
      { reject: (project, version) => (version === "2.31.0" ? "PYSEC-2099-1: known bad" : undefined) },
    );
    const result = await resolve(["requests"], source, LINUX);
    assertOk(result);
    assert.deepEqual(pins(result), { requests: "2.30.0" });
    assert.deepEqual(result.rejected, [
      { project: "requests", version: "2.31.0", reason: "PYSEC-2099-1: known bad" },
    ]);

    const all = fakeSource({ lib: { "1.0": [], "2.0": [] } }, { reject: () => "quarantined" });
    const refused = await resolve(["lib"], all, LINUX);
    assertFailed(refused);
    assert.match(
      refused.error,
      /no usable version of lib matches any version \(required by <root>\): 2\.0 was rejected: quarantined; 1\.0 was rejected: quarantined/,
    );
    assert.equal(refused.rejected.length, 2);
  });

  test("treats an unreadable Requires-Dist as making that version unusable", async () => {
    const source = fakeSource({ lib: { "1.0": [], "2.0": ["bad requirement !!"] } });
    const result = await resolve(["lib"], source, LINUX);
    assertOk(result);
    assert.equal(result.nodes.get("lib")?.version, "1.0");
  });

  test("terminates on dependency cycles and marks them in the tree", async () => {
    const source = fakeSource({ a: { "1.0": ["b"] }, b: { "1.0": ["a>=1"] } });
    const result = await resolve(["a"], source, LINUX);
    assertOk(result);
    assert.deepEqual(pins(result), { a: "1.0", b: "1.0" });
    assert.equal(formatTree(result), "a==1.0\n└── b==1.0 (any)\n    └── a==1.0 (>=1) (cycle)\n");
  });

  test("shows a repeated subtree once", async () => {
    const source = fakeSource({
      app: { "1.0": ["web", "cli"] },
      web: { "1.0": ["core"] },
      cli: { "1.0": ["core>=1"] },
      core: { "1.0": ["tiny"] },
      tiny: { "1.0": [] },
    });
    const result = await resolve(["app"], source, LINUX);
    assertOk(result);
    assert.equal(
      formatTree(result),
      [
        "app==1.0",
        "├── web==1.0 (any)",
        "│   └── core==1.0 (any)",
        "│       └── tiny==1.0 (any)",
        "└── cli==1.0 (any)",
        "    └── core==1.0 (>=1) (see above)",
        "",
      ].join("\n"),
    );
  });

  test("reports a source that throws as a failed resolution", async () => {
    const source = fakeSource({ a: { "1.0": ["b"] } }, { fail: { b: "upstream answered 503" } });
    const result = await resolve(["a"], source, LINUX);
    assertFailed(result);
    assert.equal(result.code, "SOURCE_ERROR");
    assert.equal(result.error, "could not list the versions of b: upstream answered 503");

    const broken: CandidateSource = {
      candidates: async () => [
        { project: "a", version: "1.0", files: [{ filename: "a-1.0.tar.gz", sha256: "0", yanked: false }] },
      ],
      dependencies: async () => {
        throw new Error("metadata fetch timed out");
      },
    };
    const failed = await resolve(["a"], broken, LINUX);
    assertFailed(failed);
    assert.match(failed.error, /could not read the dependencies of a 1\.0: metadata fetch timed out/);
  });

  test("refuses invalid and direct-reference roots", async () => {
    const source = fakeSource({});
    const invalid = await resolve(["flask>=>2"], source, LINUX);
    assertFailed(invalid);
    assert.equal(invalid.code, "INVALID_REQUIREMENT");
    assert.match(invalid.error, /Invalid requirement "flask>=>2"/);

    const direct = await resolve(["pkg @ https://example.com/pkg.whl"], source, LINUX);
    assertFailed(direct);
    assert.match(direct.error, /Direct references cannot be resolved/);
  });

  test("gives up with ResolutionTooComplex after the round cap", async () => {
    const versions = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`${i + 1}.0`, ["c<1"]]));
    const source = fakeSource({ a: versions, c: { "1.0": [] } });
    const result = await resolve(["a"], source, LINUX, { maxRounds: 50 });
    assertFailed(result);
    assert.equal(result.code, "RESOLUTION_TOO_COMPLEX");
    assert.match(result.error, /^ResolutionTooComplex: gave up on a .* after 50 rounds/);

    const enough = await resolve(["a"], fakeSource({ a: versions, c: { "1.0": [] } }), LINUX);
    assertFailed(enough);
    assert.equal(enough.code, "RESOLUTION_IMPOSSIBLE");
  });

  test("stops when the signal aborts", async () => {
    const controller = new AbortController();
    controller.abort(new Error("client went away"));
    await assert.rejects(
      resolve(["a"], fakeSource({ a: { "1.0": [] } }), LINUX, { signal: controller.signal }),
      /client went away/,
    );
  });

  test("resolves ~200 nodes well under a second, asking the source once per project and version", async () => {
    const count = 200;
    const index: Record<string, Record<string, FakeRelease>> = {};
    for (let i = 0; i < count; i++) {
      const deps = [i + 1, i + 7, i + 31]
        .filter((j) => j < count)
        .map((j, k) => `p${String(j).padStart(3, "0")}>=${1 + (k % 2)}.0`);
      index[`p${String(i).padStart(3, "0")}`] = Object.fromEntries(
        ["1.0", "1.5", "2.0", "2.5", "3.0"].map((v) => [v, deps]),
      );
    }
    // A late conflict forces one backjump: p199 3.x needs an absent project.
    index.p199 = { ...index.p199, "3.0": ["absent>=1"] };
    const source = fakeSource(index);
    const started = performance.now();
    const result = await resolve(["p000"], source, LINUX);
    const elapsed = performance.now() - started;
    assertOk(result);
    assert.equal(result.nodes.size, count);
    assert.equal(result.nodes.get("p199")?.version, "2.5");
    assert.ok(elapsed < 1000, `took ${elapsed.toFixed(0)} ms`);
    assert.ok([...source.candidateCalls.values()].every((n) => n === 1));
    assert.ok([...source.dependencyCalls.values()].every((n) => n === 1));
    assert.ok(formatTree(result).split("\n").length > count);
  });

  test("agrees with brute force on random indexes with conflicts and extras", async () => {
    let seed = 20240607;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const markers = markerEnvironmentFor(LINUX);
    let impossible = 0;
    for (let round = 0; round < 150; round++) {
      const names = ["a", "b", "c", "d", "e"].slice(0, 3 + Math.floor(random() * 3));
      const index: Record<string, Record<string, string[]>> = {};
      for (const name of names) {
        index[name] = {};
        for (const version of ["1", "2", "3"]) {
          if (random() < 0.1) continue;
          const deps: string[] = [];
          for (const other of names) {
            if (random() > 0.45) continue;
            const marker = random() < 0.25 ? '; extra == "x"' : "";
            if (other === name && marker === "") continue;
            const extra = random() < 0.25 ? "[x]" : "";
            deps.push(
              `${other}${extra}${pick(["==", ">=", "<", "!=", "<=", ">"])}${pick(["1", "2", "3"])}${marker}`,
            );
          }
          (index[name] as Record<string, string[]>)[version] = deps;
        }
      }
      const roots = names.filter(() => random() < 0.4).map((name) => (random() < 0.3 ? `${name}[x]` : name));
      if (roots.length === 0) roots.push("a");

      // Brute force: any assignment (or absence) per project that installs the roots and meets
      // every applicable edge, with extras propagated to a fixpoint.
      const requirements = new Map<string, ReturnType<typeof parseRequirement>>();
      const parse = (text: string) => {
        let requirement = requirements.get(text);
        if (!requirement) requirements.set(text, (requirement = parseRequirement(text)));
        return requirement;
      };
      const works = (chosen: Map<string, string | undefined>): boolean => {
        const extras = new Map(names.map((name) => [name, new Set<string>()]));
        for (const root of roots.map(parse)) {
          if (chosen.get(root.normalizedName) === undefined) return false;
          for (const extra of root.extras) extras.get(root.normalizedName)?.add(extra);
        }
        const applicable = (name: string) =>
          (index[name]?.[chosen.get(name) as string] ?? [])
            .map(parse)
            .filter((r) => !r.marker || evaluateMarker(r.marker, markers, [...(extras.get(name) ?? [])]));
        for (let changed = true; changed;) {
          changed = false;
          for (const name of names) {
            if (chosen.get(name) === undefined) continue;
            for (const r of applicable(name)) {
              for (const extra of r.extras) {
                const set = extras.get(r.normalizedName) as Set<string>;
                if (set.has(extra)) continue;
                set.add(extra);
                changed = true;
              }
            }
          }
        }
        return names.every(
          (name) =>
            chosen.get(name) === undefined ||
            applicable(name).every((r) => {
              const version = chosen.get(r.normalizedName);
              return version !== undefined && satisfies(version, r.specifier, { prereleases: true });
            }),
        );
      };
      const search = (i: number, chosen: Map<string, string | undefined>): boolean => {
        if (i === names.length) return works(chosen);
        const name = names[i] as string;
        return [undefined, ...Object.keys(index[name] ?? {})].some((version) =>
          search(i + 1, new Map(chosen).set(name, version)),
        );
      };
      const solvable = search(0, new Map());

      const result = await resolve(roots, fakeSource(index), LINUX, { prefetch: round % 2 === 0 ? 8 : 0 });
      const context = `${JSON.stringify(index)} ${JSON.stringify(roots)}`;
      assert.equal(result.ok, solvable, context);
      if (result.ok) assertConsistent(result, roots);
      else {
        assert.equal(result.code, "RESOLUTION_IMPOSSIBLE", context);
        impossible++;
      }
    }
    assert.ok(impossible > 10, `only ${impossible} unsatisfiable cases were generated`);
  });

  test("asks only for what it needs when prefetching is off", async () => {
    const source = fakeSource({ a: { "1.0": ["b"], "2.0": ["b"] }, b: { "1.0": [] }, unused: { "1.0": [] } });
    const result = await resolve(["a"], source, LINUX, { prefetch: 0 });
    assertOk(result);
    assert.deepEqual([...source.candidateCalls.keys()].sort(), ["a", "b"]);
    assert.deepEqual([...source.dependencyCalls.keys()].sort(), ["a==2.0", "b==1.0"]);
  });
});

/** A candidate source over real wheels from PyPI, reading their METADATA through the artifact module. */
async function wheelSource(
  extra: Record<string, Record<string, FakeRelease>> = {},
): Promise<CandidateSource> {
  const dir = join(sharedDataDir(), "wheels");
  const releases = new Map<string, { candidate: Candidate; deps: string[] }>();
  for (const filename of (await readdir(dir)).sort()) {
    const dist = parseDistFilename(filename);
    if (dist?.kind !== "wheel") continue;
    const path = join(dir, filename);
    const wheel = await readWheel(path);
    const file: CandidateFile = {
      filename,
      sha256: createHash("sha256")
        .update(await readFile(path))
        .digest("hex"),
      yanked: false,
      ...(wheel.metadata.requiresPython === undefined
        ? {}
        : { requiresPython: wheel.metadata.requiresPython }),
    };
    releases.set(`${dist.project}==${dist.version}`, {
      candidate: { project: dist.project, version: dist.version, files: [file] },
      deps: wheel.metadata.requiresDist,
    });
  }
  const fallback = fakeSource(extra);
  return {
    async candidates(project) {
      const real = [...releases.values()]
        .filter((r) => r.candidate.project === project)
        .map((r) => r.candidate);
      return [...real, ...(await fallback.candidates(project))];
    },
    async dependencies(project, version, file) {
      return releases.get(`${project}==${version}`)?.deps ?? fallback.dependencies(project, version, file);
    },
  };
}

describe("resolve over the real wheels in shared/data", () => {
  test("resolves flask for CPython 3.11 on linux x86_64", async () => {
    const result = await resolve(["flask"], await wheelSource(), LINUX);
    assertOk(result);
    assert.deepEqual(pins(result), {
      flask: "3.1.3",
      blinker: "1.9.0",
      click: "8.5.0",
      itsdangerous: "2.2.0",
      jinja2: "3.1.6",
      markupsafe: "3.0.3",
      werkzeug: "3.1.9",
    });
    assert.ok(!result.nodes.has("colorama"));
    assert.ok(!result.nodes.has("importlib-metadata"), "python_version < '3.10' does not apply");
    assert.match(result.nodes.get("markupsafe")?.file.filename ?? "", /cp311-cp311-manylinux2014_x86_64/);
    assert.match(result.nodes.get("flask")?.file.sha256 ?? "", /^[0-9a-f]{64}$/);
    const tree = formatTree(result);
    assert.match(tree, /^flask==3\.1\.3\n/);
    assert.match(tree, /├── werkzeug==3\.1\.9 \(>=3\.1\.0\)|└── werkzeug==3\.1\.9 \(>=3\.1\.0\)/);
    assert.match(tree, /│ {3}└── markupsafe==3\.0\.3 \(>=2\.0\)/);
  });

  test("resolves requests, and requests[socks] once PySocks is available", async () => {
    const plain = await resolve(["requests"], await wheelSource(), LINUX);
    assertOk(plain);
    assert.deepEqual(Object.keys(pins(plain)).sort(), [
      "certifi",
      "charset-normalizer",
      "idna",
      "requests",
      "urllib3",
    ]);

    // PySocks is not among the shared wheels: the socks extra cannot be satisfied from them alone.
    const missing = await resolve(["requests[socks]"], await wheelSource(), LINUX);
    assertFailed(missing);
    assert.match(
      missing.error,
      /no versions of pysocks are available from the index \(required by requests\[socks\]==2\.34\.2\)/,
    );

    const withSocks = await resolve(
      ["requests[socks]"],
      await wheelSource({ PySocks: { "1.5.7": [], "1.7.1": { files: ["PySocks-1.7.1-py3-none-any.whl"] } } }),
      LINUX,
    );
    assertOk(withSocks);
    assert.equal(withSocks.nodes.get("pysocks")?.version, "1.7.1");
    assert.deepEqual(withSocks.nodes.get("requests")?.extras, ["socks"]);
    assert.deepEqual(withSocks.nodes.get("urllib3")?.extras, []);
    assert.match(formatTree(withSocks), /^requests\[socks\]==2\.34\.2\n/);
  });

  test('needs colorama on windows only (tqdm: colorama; platform_system == "Windows")', async () => {
    const linux = await resolve(["tqdm"], await wheelSource(), LINUX);
    assertOk(linux);
    assert.deepEqual(pins(linux), { tqdm: "4.70.1" });

    const windows = await resolve(["tqdm"], await wheelSource(), WINDOWS);
    assertFailed(windows);
    assert.match(windows.error, /CPython 3\.11 on windows x86_64/);
    assert.match(
      windows.error,
      /no versions of colorama are available from the index \(required by tqdm==4\.70\.1\)/,
    );
  });

  test("fails flask on windows because the only markupsafe wheel is for linux", async () => {
    const result = await resolve(["flask"], await wheelSource(), WINDOWS);
    assertFailed(result);
    assert.match(
      result.error,
      /no usable version of markupsafe matches >=2\.1\.1 \(required by flask==3\.1\.3\).*: 3\.0\.3 has no file for CPython 3\.11 on windows x86_64 \(wheels: cp311-cp311-manylinux2014_x86_64/,
    );
  });

  test("fails requests on Python 3.9, which its Requires-Python excludes", async () => {
    const result = await resolve(["requests"], await wheelSource(), { ...LINUX, pythonVersion: "3.9" });
    assertFailed(result);
    assert.match(result.error, /2\.34\.2 requires Python >=3\.10/);
  });
});
