import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findEnvironments } from "./environment-finder.js";
import { formatScan, scan, scanFailed, type InventoryChecker } from "./scan-service.js";

function distInfo(sp: string, name: string, version: string): void {
  const dir = join(sp, `${name}-${version}.dist-info`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "METADATA"), `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\n`);
}

/** A tree with one of everything the walk looks for, and things it must not descend into. */
function makeTree(): string {
  const root = mkdtempSync(join(tmpdir(), "scan-tree-"));
  const venv = join(root, "app", ".venv");
  const sp = join(venv, "lib", "python3.12", "site-packages");
  mkdirSync(sp, { recursive: true });
  writeFileSync(join(venv, "pyvenv.cfg"), "home = /usr/bin\nversion_info = 3.12.1.final.0\n");
  symlinkSync("lib", join(venv, "lib64"));
  distInfo(sp, "flask", "3.1.3");
  distInfo(sp, "six", "1.17.0");
  const conda = join(root, "miniconda");
  mkdirSync(join(conda, "conda-meta"), { recursive: true });
  writeFileSync(
    join(conda, "conda-meta", "openssl-3.0.0-h1.json"),
    JSON.stringify({ name: "openssl", version: "3.0.0" }),
  );
  writeFileSync(
    join(conda, "conda-meta", "numpy-2.0.0-py.json"),
    JSON.stringify({ name: "numpy", version: "2.0.0" }),
  );
  distInfo(join(conda, "lib", "python3.11", "site-packages"), "numpy", "2.0.0");
  distInfo(join(root, "system", "dist-packages"), "requests", "2.31.0");
  writeFileSync(join(root, "app", "requirements.txt"), "# pinned\nflask==3.1.3\nrequests>=2\n");
  mkdirSync(join(root, "app", "requirements"));
  writeFileSync(join(root, "app", "requirements", "dev.txt"), "pytest==8.0.0\n");
  writeFileSync(
    join(root, "app", "pyproject.toml"),
    '[project]\nname = "app"\ndependencies = [\n  "six==1.17.0",\n  "attrs",\n]\n[project.optional-dependencies]\ncli = ["click==8.1.7"]\n',
  );
  mkdirSync(join(root, "node_modules", "x", ".venv"), { recursive: true });
  writeFileSync(join(root, "node_modules", "x", ".venv", "pyvenv.cfg"), "version = 3.9.0\n");
  symlinkSync(root, join(root, "app", "loop"));
  return root;
}

describe("findEnvironments", () => {
  test("finds venvs, conda prefixes, bare site-packages and manifests; skips node_modules and links", async () => {
    const root = makeTree();
    const tree = await findEnvironments([root]);
    assert.deepEqual(
      tree.environments.map((e) => [
        e.kind,
        e.path.slice(root.length),
        e.pythonVersion,
        e.sitePackages.length,
      ]),
      [
        ["venv", "/app/.venv", "3.12.1", 1],
        ["conda", "/miniconda", "3.11", 1],
        ["site-packages", "/system/dist-packages", undefined, 1],
      ],
    );
    assert.deepEqual(
      tree.requirementFiles.map((f) => f.slice(root.length)),
      ["/app/requirements.txt", "/app/requirements/dev.txt"],
    );
    assert.deepEqual(
      tree.pyprojectFiles.map((f) => f.slice(root.length)),
      ["/app/pyproject.toml"],
    );
  });
});

describe("findEnvironments and pip install --target", () => {
  test("a directory holding .dist-info directories is an environment, read once, not descended into", async () => {
    const root = mkdtempSync(join(tmpdir(), "scan-target-"));
    // What `pip install --target lambda/package requests` leaves: packages beside their dist-info.
    const target = join(root, "lambda", "package");
    distInfo(target, "requests", "2.31.0");
    distInfo(target, "idna", "3.7");
    mkdirSync(join(target, "requests"));
    writeFileSync(join(target, "requests", "__init__.py"), "");
    // A file merely named like one does not make a directory an environment.
    mkdirSync(join(root, "notes"));
    writeFileSync(join(root, "notes", "old.dist-info"), "");
    const tree = await findEnvironments([root]);
    assert.deepEqual(
      tree.environments.map((e) => [e.kind, e.path.slice(root.length), e.sitePackages.length]),
      [["site-packages", "/lambda/package", 1]],
    );
    const result = await scan([root]);
    assert.deepEqual(
      result.environments.map((e) =>
        e.distributions.map((d) => `${d.distribution.project}==${d.distribution.version}`),
      ),
      [["idna==3.7", "requests==2.31.0"]],
    );
  });
});

describe("scan without a catalog", () => {
  test("inventories each environment once and lists exact pins with their lines", async () => {
    const root = makeTree();
    const result = await scan([root]);
    const inv = result.environments.map((e) =>
      e.distributions.map((d) => `${d.distribution.project}==${d.distribution.version}`),
    );
    assert.deepEqual(inv, [
      ["flask==3.1.3", "six==1.17.0"],
      ["numpy==2.0.0", "openssl==3.0.0"],
      ["requests==2.31.0"],
    ]);
    assert.ok(result.environments.flatMap((e) => e.distributions).every((d) => d.status === "unknown"));
    const conda = result.environments[1]!.distributions.find((d) => d.distribution.project === "openssl")!;
    assert.equal(conda.distribution.installer, "conda");
    const pins = Object.fromEntries(
      result.manifests.map((m) => [
        m.path.slice(root.length),
        [m.pinned.map((p) => `${p.line}:${p.name}==${p.version}`), m.unpinned],
      ]),
    );
    assert.deepEqual(pins, {
      "/app/requirements.txt": [["2:flask==3.1.3"], 1],
      "/app/requirements/dev.txt": [["1:pytest==8.0.0"], 0],
      "/app/pyproject.toml": [["4:six==1.17.0", "8:click==8.1.7"], 1],
    });
    assert.equal(scanFailed(result), false);
    assert.match(
      formatScan(result, (p) => p),
      /Not checked against a catalog/,
    );
  });
});

describe("scan against a catalog: installed bytes", () => {
  test("a file changed after installation makes an admitted release hash-differs", async () => {
    const { createHash } = await import("node:crypto");
    const root = mkdtempSync(join(tmpdir(), "scan-bytes-"));
    const sp = join(root, "site-packages");
    distInfo(sp, "demo", "1.0");
    mkdirSync(join(sp, "demo"));
    const body = "VALUE = 1\n";
    writeFileSync(join(sp, "demo", "__init__.py"), body);
    const digest = createHash("sha256").update(body).digest();
    writeFileSync(
      join(sp, "demo-1.0.dist-info", "RECORD"),
      `demo/__init__.py,sha256=${digest.toString("base64url")},${body.length}\ndemo-1.0.dist-info/RECORD,,\n`,
    );
    // The admitted wheel's RECORD is the installed one: only the bytes on disk can differ.
    const check: InventoryChecker = async (items) =>
      items.map((i) => ({
        project: i.name,
        version: i.version,
        status: "admitted" as const,
        reason: "admitted",
        files: [
          { filename: "demo-1.0-py3-none-any.whl", sha256: "a".repeat(64), outcome: "admitted" as const },
        ],
        records: [
          {
            filename: "demo-1.0-py3-none-any.whl",
            sha256: "a".repeat(64),
            entries: { "demo/__init__.py": digest.toString("hex") },
          },
        ],
        vulnerabilities: [],
      }));
    const intact = await scan([root], check);
    assert.deepEqual(
      intact.environments[0]!.distributions.map((d) => [d.status, d.reason]),
      [["admitted", "matches demo-1.0-py3-none-any.whl"]],
    );
    writeFileSync(join(sp, "demo", "__init__.py"), "VALUE = 1\nimport os; os.system('evil')\n");
    const tampered = await scan([root], check);
    const [d] = tampered.environments[0]!.distributions;
    assert.equal(d!.status, "hash-differs", d!.reason);
    assert.match(d!.reason, /1 installed file\(s\) do not match RECORD .*demo\/__init__\.py/);
    assert.equal(d!.file, undefined, "no longer claims to be the admitted file");
    assert.equal(scanFailed(tampered), true);
    assert.match(
      formatScan(tampered, (p) => p),
      /hash-differs +demo==1\.0/,
    );
  });
});
