import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { writeWheel } from "../../../../test/helpers/wheel-builder.js";
import { analyzeArtifact, type ArtifactShape } from "../artifact/artifact.js";
import { runReleaseDrift, type ReleaseSnapshot } from "./release-drift.js";

const config = { "size-factor": 3 };

function shape(overrides: Partial<ArtifactShape> = {}): ArtifactShape {
  return {
    topLevel: ["demo"],
    pthFiles: [],
    nativeFiles: 0,
    totalUncompressed: 100_000,
    fileCount: 10,
    entryPoints: ["console_scripts:demo"],
    ...overrides,
  };
}

function release(
  version: string,
  overrides: Partial<ArtifactShape> = {},
  publisher?: string,
): ReleaseSnapshot {
  return {
    version,
    shape: shape(overrides),
    ...(publisher === undefined ? {} : { provenance: { publisher } }),
  };
}

function summary(result: ReturnType<typeof runReleaseDrift>): string[] {
  return result.findings.map((f) => `${f.kind}:${f.severity}`);
}

describe("runReleaseDrift", () => {
  test("passes the first release seen", () => {
    assert.deepEqual(runReleaseDrift(release("1.0"), undefined, config), {
      check: "release-drift",
      status: "pass",
      message: "first release seen",
      findings: [],
    });
  });

  test("passes a release shaped like the previous one", () => {
    const result = runReleaseDrift(release("1.1", { fileCount: 12 }), release("1.0"), config);
    assert.equal(result.status, "pass");
    assert.deepEqual(result.findings, []);
    assert.equal(result.message, "1.1 has the shape of 1.0");
  });

  test("fails on a new .pth file", () => {
    const result = runReleaseDrift(release("1.1", { pthFiles: ["demo_init.pth"] }), release("1.0"), config);
    assert.equal(result.status, "fail");
    assert.deepEqual(result.findings, [
      {
        kind: "new-pth",
        message: "new .pth file demo_init.pth, which runs at every interpreter start",
        severity: "high",
        evidence: [{ file: "demo_init.pth", detail: "not in 1.0" }],
      },
    ]);
  });

  test("does not flag a .pth file the previous release already had", () => {
    const before = release("1.0", { pthFiles: ["distutils-precedence.pth"] });
    const after = release("1.1", { pthFiles: ["distutils-precedence.pth"] });
    assert.deepEqual(runReleaseDrift(after, before, config).findings, []);
  });

  test("warns on a new top-level module", () => {
    const result = runReleaseDrift(
      release("1.1", { topLevel: ["demo", "telemetry"] }),
      release("1.0"),
      config,
    );
    assert.equal(result.status, "warn");
    assert.deepEqual(summary(result), ["new-top-level:medium"]);
    assert.equal(result.findings[0]!.message, "new top-level module telemetry since 1.0");
  });

  test("rates a rename (the old module gone) as low", () => {
    const result = runReleaseDrift(release("2.0", { topLevel: ["demo2"] }), release("1.0"), config);
    assert.equal(result.status, "pass");
    assert.deepEqual(result.findings, [
      {
        kind: "new-top-level",
        message: "top-level module renamed: demo2 replaces demo",
        severity: "low",
        evidence: [{ detail: "demo2 replaces demo" }],
      },
    ]);
  });

  test("pairs renames by similarity and reports the surplus as new", () => {
    const result = runReleaseDrift(
      release("2.0", { topLevel: ["backdoor", "yaml_compat"] }),
      release("1.0", { topLevel: ["yaml_compat_old"] }),
      config,
    );
    assert.deepEqual(summary(result), ["new-top-level:medium", "new-top-level:low"]);
    assert.deepEqual(result.findings[0]!.evidence, [{ detail: "backdoor" }]);
    assert.deepEqual(result.findings[1]!.evidence, [{ detail: "yaml_compat replaces yaml_compat_old" }]);
  });

  test("warns when the size grows by more than the factor", () => {
    const before = release("1.0", { totalUncompressed: 1_000_000 });
    const jump = runReleaseDrift(release("1.1", { totalUncompressed: 3_500_000 }), before, config);
    assert.equal(jump.status, "warn");
    assert.deepEqual(summary(jump), ["size-jump:medium"]);
    assert.match(jump.findings[0]!.message, /grew 3\.5 times since 1\.0/);
    assert.deepEqual(
      runReleaseDrift(release("1.1", { totalUncompressed: 3_000_000 }), before, config).findings,
      [],
    );
    assert.deepEqual(
      summary(
        runReleaseDrift(release("1.1", { totalUncompressed: 1_600_000 }), before, { "size-factor": 1.5 }),
      ),
      ["size-jump:medium"],
    );
    const fromNothing = runReleaseDrift(release("1.1"), release("1.0", { totalUncompressed: 0 }), config);
    assert.deepEqual(fromNothing.findings, []);
  });

  test("fails when the previous release's provenance vanished", () => {
    const result = runReleaseDrift(
      release("1.1"),
      release("1.0", {}, "github:demo/demo/release.yml"),
      config,
    );
    assert.equal(result.status, "fail");
    assert.deepEqual(result.findings, [
      {
        kind: "provenance-vanished",
        message: "no publisher provenance, although 1.0 was published by github:demo/demo/release.yml",
        severity: "high",
        evidence: [{ detail: "previous publisher: github:demo/demo/release.yml" }],
      },
    ]);
    const blank = runReleaseDrift(
      { ...release("1.1"), provenance: { publisher: "  " } },
      release("1.0", {}, "github:demo/demo/release.yml"),
      config,
    );
    assert.deepEqual(summary(blank), ["provenance-vanished:high"]);
  });

  test("fails when the publisher changed", () => {
    const result = runReleaseDrift(
      release("1.1", {}, "gitlab:someone-else/demo"),
      release("1.0", {}, "github:demo/demo/release.yml"),
      config,
    );
    assert.equal(result.status, "fail");
    assert.deepEqual(summary(result), ["publisher-changed:high"]);
    assert.equal(
      result.findings[0]!.message,
      "published by gitlab:someone-else/demo, while 1.0 was published by github:demo/demo/release.yml",
    );
  });

  test("accepts the same publisher, a first publisher, and no provenance on either side", () => {
    const same = "github:demo/demo/release.yml";
    assert.deepEqual(
      runReleaseDrift(release("1.1", {}, same), release("1.0", {}, same), config).findings,
      [],
    );
    assert.deepEqual(runReleaseDrift(release("1.1", {}, same), release("1.0"), config).findings, []);
    assert.deepEqual(runReleaseDrift(release("1.1"), release("1.0"), config).findings, []);
  });

  test("notes new entry points as low, naming the commands they shadow", () => {
    const result = runReleaseDrift(
      release("1.1", { entryPoints: ["console_scripts:demo", "console_scripts:pip3", "pytest11:demo"] }),
      release("1.0"),
      config,
    );
    assert.equal(result.status, "pass");
    assert.deepEqual(result.findings, [
      {
        kind: "new-entry-point",
        message: "new entry points console_scripts:pip3 (shadows pip), pytest11:demo since 1.0",
        severity: "low",
        evidence: [{ detail: "console_scripts:pip3 (shadows pip)" }, { detail: "pytest11:demo" }],
      },
    ]);
  });

  test("orders findings by severity and summarises them all", () => {
    const result = runReleaseDrift(
      release("1.82.8", {
        pthFiles: ["litellm_init.pth"],
        topLevel: ["demo", "extra"],
        totalUncompressed: 1_000_000,
      }),
      release("1.82.7", {}, "github:BerriAI/litellm"),
      config,
    );
    assert.equal(result.status, "fail");
    assert.deepEqual(summary(result), [
      "new-pth:high",
      "provenance-vanished:high",
      "new-top-level:medium",
      "size-jump:medium",
    ]);
    assert.match(result.message, /^1\.82\.8 differs from 1\.82\.7: new \.pth file litellm_init\.pth/);
  });

  test("compares shapes measured by analyzeArtifact", async () => {
    const dir = await mkdtemp(join(tmpdir(), "portcullis-release-drift-"));
    try {
      const files = {
        "litellm/__init__.py": "__version__ = '1'\n",
        "litellm/proxy.py": "def run():\n    pass\n",
      };
      const before = await writeWheel(dir, { name: "litellm", version: "1.82.7", files });
      const after = await writeWheel(dir, {
        name: "litellm",
        version: "1.82.8",
        files: {
          ...files,
          "litellm_init.pth":
            "import os, subprocess, sys; exec(__import__('base64').b64decode('cHJpbnQoMSk='))\n",
        },
      });
      const previous = await analyzeArtifact(before.path, before.filename);
      const current = await analyzeArtifact(after.path, after.filename);
      const result = runReleaseDrift(
        { version: "1.82.8", shape: current.shape },
        { version: "1.82.7", shape: previous.shape },
        config,
      );
      assert.deepEqual(summary(result), ["new-pth:high"]);
      assert.equal(result.findings[0]!.evidence![0]!.file, "litellm_init.pth");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
