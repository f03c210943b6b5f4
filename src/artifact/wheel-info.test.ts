import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  buildMalformedZip,
  buildSdist,
  metadataText,
  sharedDataDir,
  writeArtifact,
  writeWheel,
  type WheelSpec,
} from "../../test/helpers/wheel-builder.js";
import { ArchiveError } from "./archive-limits.js";
import { CoreMetadataError } from "./core-metadata.js";
import {
  DistributionError,
  parseEntryPoints,
  readSdistMetadata,
  readWheel,
  readWheelMetadata,
  type DistributionErrorCode,
  type WheelInfo,
} from "./wheel-info.js";
import { openZipArchive } from "./zip-reader.js";

const DEBIAN_WHEELS = "/usr/share/python-wheels";
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-wheel-info-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let counter = 0;
async function readBuilt(spec: WheelSpec): Promise<WheelInfo> {
  const wheel = await writeWheel(join(dir, String(counter++)), spec);
  return readWheel(wheel.path);
}

async function distributionErrorOf(spec: WheelSpec): Promise<DistributionErrorCode | undefined> {
  try {
    await readBuilt(spec);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof DistributionError, `expected a DistributionError, got ${String(err)}`);
    return err.code;
  }
}

describe("readWheel", () => {
  test("reads everything a built wheel declares", async () => {
    const spec: WheelSpec = {
      name: "Demo.Pkg",
      version: "1.0.post1",
      summary: "A demo",
      requiresDist: ["six>=1.0", 'pysocks; extra == "socks"'],
      requiresPython: ">=3.9",
      metadataExtra: "Provides-Extra: socks\n",
      files: {
        "demo_pkg/__init__.py": "VALUE = 1\n",
        "demo_pkg/sub/mod.py": "",
        "demo_helper.py": "",
        "demo-init.pth": "import demo_pkg\n",
        "demo_pkg-1.0.post1.data/purelib/extra_mod.py": "",
        "demo_pkg-1.0.post1.data/scripts/demo-script": "#!python\n",
        // pip installs any top-level *.data directory by its schemes, not only the .dist-info's own.
        "other.data/platlib/other_mod.py": "",
      },
      entryPoints: {
        console_scripts: { demo: "demo_pkg:main" },
        "demo.plugins": { one: "demo_pkg.sub.mod:Plugin" },
      },
      tag: "py2.py3-none-any",
    };
    const info = await readBuilt(spec);
    assert.equal(info.filename.project, "demo-pkg");
    assert.equal(info.distInfoDir, "demo_pkg-1.0.post1.dist-info");
    assert.equal(info.metadata.name, "Demo.Pkg");
    assert.equal(info.metadata.summary, "A demo");
    assert.deepEqual(info.metadata.requiresDist, spec.requiresDist);
    assert.deepEqual(info.metadata.providesExtra, ["socks"]);
    assert.ok(info.metadataBytes.equals(Buffer.from(metadataText(spec))));
    assert.equal(info.wheelFile.wheelVersion, "1.0");
    assert.equal(info.wheelFile.rootIsPurelib, true);
    assert.equal(info.wheelFile.generator, "portcullis-test-helper");
    assert.deepEqual(info.wheelFile.tags, ["py2-none-any", "py3-none-any"]);
    assert.deepEqual(info.recordProblems, []);
    assert.equal(info.record?.entries.length, 11);
    assert.deepEqual(info.entryPoints, [
      { group: "console_scripts", name: "demo", value: "demo_pkg:main" },
      { group: "demo.plugins", name: "one", value: "demo_pkg.sub.mod:Plugin" },
    ]);
    assert.deepEqual(info.topLevel, [
      "demo-init.pth",
      "demo_helper.py",
      "demo_pkg",
      "extra_mod.py",
      "other_mod.py",
    ]);
    assert.equal(info.declaredTopLevel, undefined);
    assert.deepEqual(info.warnings, []);
  });

  test("reports RECORD problems as data", async () => {
    const missing = await readBuilt({ name: "demo", version: "1.0", record: "missing" });
    assert.deepEqual(
      missing.recordProblems.map((p) => p.kind),
      ["MISSING_RECORD"],
    );
    assert.equal(missing.record, undefined);
    const tampered = await readBuilt({ name: "demo", version: "1.0", record: "wrong-hash" });
    assert.deepEqual(
      tampered.recordProblems.map((p) => [p.kind, p.path]),
      [["HASH_MISMATCH", "demo/__init__.py"]],
    );
  });

  test("refuses wheels whose layout or metadata pip would refuse", async () => {
    const base = { name: "demo", version: "1.0" };
    assert.equal(
      await distributionErrorOf({ ...base, metadata: null, wheelFile: null, record: "missing" }),
      "NO_DIST_INFO",
    );
    assert.equal(
      await distributionErrorOf({ ...base, extraDistInfoDir: "other-1.0.dist-info" }),
      "MULTIPLE_DIST_INFO",
    );
    assert.equal(
      await distributionErrorOf({ ...base, distInfoDir: "other-1.0.dist-info" }),
      "DIST_INFO_MISMATCH",
    );
    assert.equal(
      await distributionErrorOf({ ...base, distInfoDir: "demo-2.0.dist-info" }),
      "DIST_INFO_MISMATCH",
    );
    assert.equal(await distributionErrorOf({ ...base, metadata: null }), "MISSING_METADATA");
    assert.equal(
      await distributionErrorOf({ ...base, metadata: "Metadata-Version: 2.1\nName: other\nVersion: 1.0\n" }),
      "METADATA_MISMATCH",
    );
    assert.equal(
      await distributionErrorOf({ ...base, metadata: "Metadata-Version: 2.1\nName: demo\nVersion: 1.1\n" }),
      "METADATA_MISMATCH",
    );
    assert.equal(await distributionErrorOf({ ...base, wheelFile: null }), "BAD_WHEEL_FILE");
    assert.equal(await distributionErrorOf({ ...base, wheelFile: "Generator: x\n" }), "BAD_WHEEL_FILE");
    assert.equal(
      await distributionErrorOf({ ...base, wheelFile: "Wheel-Version: 2.0\n" }),
      "UNSUPPORTED_WHEEL_VERSION",
    );
  });

  test("compares versions by PEP 440, not by spelling", async () => {
    const info = await readBuilt({
      name: "demo",
      version: "1.0",
      metadata: "Metadata-Version: 2.1\nName: DEMO\nVersion: 1.0.0\n",
    });
    assert.equal(info.metadata.version, "1.0.0");
  });

  test("passes METADATA without Name on as a CoreMetadataError", async () => {
    await assert.rejects(
      readBuilt({ name: "demo", version: "1.0", metadata: "Metadata-Version: 2.1\nVersion: 1.0\n" }),
      CoreMetadataError,
    );
  });

  test("refuses a bad filename before opening anything", async () => {
    await assert.rejects(readWheel(join(dir, "not-a-wheel.whl")), (err) => {
      return err instanceof DistributionError && err.code === "BAD_FILENAME";
    });
  });

  test("passes archive problems on as ArchiveErrors", async () => {
    const path = await writeArtifact(dir, {
      filename: "evil-1.0-py3-none-any.whl",
      bytes: buildMalformedZip("path-traversal"),
    });
    await assert.rejects(
      readWheel(path),
      (err) => err instanceof ArchiveError && err.code === "PATH_TRAVERSAL",
    );
  });

  test("takes the filename from the caller when the file is stored under its digest", async () => {
    const wheel = await writeWheel(join(dir, "blob"), { name: "demo", version: "1.0" });
    const blob = await writeArtifact(join(dir, "blob"), { filename: wheel.sha256, bytes: wheel.bytes });
    const info = await readWheel(blob, { filename: wheel.filename });
    assert.equal(info.filename.filename, "demo-1.0-py3-none-any.whl");
  });

  test("reads every real wheel, with a clean RECORD and byte-exact METADATA", async () => {
    const wheelsDir = join(sharedDataDir(), "wheels");
    const files = (await readdir(wheelsDir)).filter((name) => name.endsWith(".whl"));
    assert.ok(files.length >= 18, `expected the shared wheels in ${wheelsDir}`);
    const infos = new Map<string, WheelInfo>();
    for (const file of files) {
      const info = await readWheel(join(wheelsDir, file));
      assert.deepEqual(info.recordProblems, [], file);
      assert.equal(info.metadata.version, info.filename.version, file);
      const archive = await openZipArchive(join(wheelsDir, file));
      try {
        assert.ok(info.metadataBytes.equals(await archive.read(`${info.distInfoDir}/METADATA`)), file);
      } finally {
        await archive.close();
      }
      infos.set(info.filename.project, info);
    }

    const requests = infos.get("requests");
    assert.ok(requests);
    assert.equal(requests.metadata.version, "2.34.2");
    const charset = requests.metadata.requiresDist.find((r) => r.startsWith("charset_normalizer"));
    assert.equal(charset, "charset_normalizer<4,>=2");
    assert.deepEqual(requests.declaredTopLevel, ["requests"]);

    const flask = infos.get("flask");
    assert.equal(flask?.metadata.name, "Flask");
    assert.equal(flask?.metadata.version, "3.1.3");
    assert.ok(flask?.entryPoints.some((ep) => ep.group === "console_scripts" && ep.name === "flask"));
    assert.ok(flask?.metadata.requiresDist.includes("werkzeug>=3.1.0"));
    assert.ok(flask?.metadata.requiresDist.includes(`asgiref>=3.2 ; extra == "async"`));

    assert.deepEqual(infos.get("six")?.topLevel, ["six.py"]);
    assert.deepEqual(infos.get("python-dateutil")?.topLevel, ["dateutil"]);
    assert.equal(infos.get("markupsafe")?.wheelFile.rootIsPurelib, false);
    assert.ok(
      infos
        .get("pip")
        ?.entryPoints.some((ep) => ep.name === "pip" && ep.value === "pip._internal.cli.main:main"),
    );
  });

  test(
    "reads Debian's wheels",
    {
      skip: existsSync(DEBIAN_WHEELS)
        ? false
        : `${DEBIAN_WHEELS} does not exist (apt-get install python3-pip-whl)`,
    },
    async () => {
      const files = (await readdir(DEBIAN_WHEELS)).filter((name) => name.endsWith(".whl"));
      for (const file of files) {
        const info = await readWheel(join(DEBIAN_WHEELS, file));
        assert.deepEqual(info.recordProblems, [], file);
        assert.equal(info.metadata.version, info.filename.version, file);
      }
    },
  );
});

describe("readWheelMetadata", () => {
  test("returns the same METADATA as readWheel without checking RECORD", async () => {
    const wheel = await writeWheel(join(dir, "metadata-only"), {
      name: "demo",
      version: "1.0",
      requiresDist: ["six"],
      record: "wrong-hash",
    });
    const full = await readWheel(wheel.path);
    const light = await readWheelMetadata(wheel.path);
    assert.ok(light.metadataBytes.equals(full.metadataBytes));
    assert.deepEqual(light.metadata.requiresDist, ["six"]);
    assert.equal(light.distInfoDir, "demo-1.0.dist-info");
    assert.equal(full.recordProblems.length, 1);
  });

  test("still refuses hostile archives and mismatched metadata", async () => {
    const path = await writeArtifact(dir, {
      filename: "evil-1.0-py3-none-any.whl",
      bytes: buildMalformedZip("symlink"),
    });
    await assert.rejects(
      readWheelMetadata(path),
      (err) => err instanceof ArchiveError && err.code === "SYMLINK",
    );
    const other = await writeWheel(join(dir, "metadata-mismatch"), {
      name: "demo",
      version: "1.0",
      metadata: "Metadata-Version: 2.1\nName: other\nVersion: 1.0\n",
    });
    await assert.rejects(readWheelMetadata(other.path), (err) => {
      return err instanceof DistributionError && err.code === "METADATA_MISMATCH";
    });
  });
});

describe("parseEntryPoints", () => {
  test("parses sections of name = value, skipping comments and reporting stray lines", () => {
    const warnings: string[] = [];
    const entryPoints = parseEntryPoints(
      "stray = before.section\n# comment\n[console_scripts]\n  tool = pkg.cli:main [extra]\n; other comment\nno equals sign\n\n[gui_scripts]\ngui=pkg.gui:run\n",
      warnings,
    );
    assert.deepEqual(entryPoints, [
      { group: "console_scripts", name: "tool", value: "pkg.cli:main [extra]" },
      { group: "gui_scripts", name: "gui", value: "pkg.gui:run" },
    ]);
    assert.equal(warnings.length, 2);
  });

  test("splits and strips lines as Python's str.splitlines and str.strip do", () => {
    for (const sep of ["\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]) {
      const warnings: string[] = [];
      assert.deepEqual(
        parseEntryPoints(`[console_scripts]\n# launcher${sep}pip = evil:main\n`, warnings),
        [{ group: "console_scripts", name: "pip", value: "evil:main" }],
        JSON.stringify(sep),
      );
      assert.match(warnings[0] ?? "", /line breaks other than/, JSON.stringify(sep));
    }
    assert.deepEqual(parseEntryPoints("[console_scripts]\n\x1fpip\x1f=\x1fevil:main\x1f\n"), [
      { group: "console_scripts", name: "pip", value: "evil:main" },
    ]);
    // A NUL is no line break to Python: it stays part of the line.
    assert.deepEqual(parseEntryPoints("[console_scripts]\npip = evil:main\n#\0\n"), [
      { group: "console_scripts", name: "pip", value: "evil:main" },
    ]);
  });

  test("reads headers as importlib.metadata, pkg_resources and configparser may", () => {
    const warnings: string[] = [];
    assert.deepEqual(
      parseEntryPoints(
        "[[console_scripts]]\na = x:a\n[ gui_scripts ]\nb = x:b\n[console_scripts] junk\nc = x:c\n",
        warnings,
      ),
      [
        { group: "console_scripts", name: "a", value: "x:a" },
        { group: "gui_scripts", name: "b", value: "x:b" },
        { group: "console_scripts", name: "c", value: "x:c" },
      ],
    );
    assert.match(warnings.join("\n"), /line 5 has text after its header/);
  });
});

describe("readSdistMetadata", () => {
  test("reads PKG-INFO from a .tar.gz and a .zip sdist", async () => {
    for (const format of ["tar.gz", "zip"] as const) {
      const sdist = await buildSdist({ name: "Demo.Pkg", version: "1.0", requiresDist: ["six"], format });
      const path = await writeArtifact(join(dir, format), sdist);
      const info = await readSdistMetadata(path);
      assert.equal(info.topDir, "demo_pkg-1.0");
      assert.equal(info.metadata.name, "Demo.Pkg");
      assert.deepEqual(info.metadata.requiresDist, ["six"]);
      assert.equal(info.filename.archive, format);
      assert.ok(info.metadataBytes.toString().startsWith("Metadata-Version: 2.1\n"));
    }
  });

  test("accepts a legacy filename split ambiguously", async () => {
    const sdist = await buildSdist({
      name: "python-dateutil",
      version: "2.9.0",
      pkgInfo: "Metadata-Version: 1.1\nName: python-dateutil\nVersion: 2.9.0\n",
    });
    const path = await writeArtifact(join(dir, "legacy"), {
      filename: "python-dateutil-2.9.0.tar.gz",
      bytes: sdist.bytes,
    });
    const info = await readSdistMetadata(path);
    assert.equal(info.filename.project, "python-dateutil");
    assert.equal(info.metadata.version, "2.9.0");
  });

  test("refuses an sdist without PKG-INFO or with PKG-INFO for another release", async () => {
    const none = await buildSdist({ name: "demo", version: "1.0", pkgInfo: null });
    await assert.rejects(readSdistMetadata(await writeArtifact(join(dir, "none"), none)), (err) => {
      return err instanceof DistributionError && err.code === "NO_PKG_INFO";
    });
    const other = await buildSdist({
      name: "demo",
      version: "1.0",
      pkgInfo: "Metadata-Version: 2.1\nName: demo\nVersion: 6.6\n",
    });
    await assert.rejects(readSdistMetadata(await writeArtifact(join(dir, "other"), other)), (err) => {
      return err instanceof DistributionError && err.code === "METADATA_MISMATCH";
    });
    await assert.rejects(readSdistMetadata(join(dir, "demo.egg")), (err) => {
      return err instanceof DistributionError && err.code === "BAD_FILENAME";
    });
  });
});
