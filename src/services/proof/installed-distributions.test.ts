import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  differencesFromWheel,
  filesDifferingFromRecord,
  readInstalled,
  sitePackagesOf,
} from "./installed-distributions.js";

const digest = (text: string) => createHash("sha256").update(text).digest("base64url");

function site(): string {
  const venv = mkdtempSync(join(tmpdir(), "venv-"));
  const dir = join(venv, "lib", "python3.12", "site-packages");
  mkdirSync(join(dir, "demo-1.0.dist-info"), { recursive: true });
  mkdirSync(join(dir, "demo"));
  symlinkSync("lib", join(venv, "lib64"));
  writeFileSync(join(dir, "demo", "__init__.py"), "x = 1\n");
  writeFileSync(
    join(dir, "demo-1.0.dist-info", "METADATA"),
    "Metadata-Version: 2.1\nName: Demo\nVersion: 1.0\n\nbody\n",
  );
  writeFileSync(join(dir, "demo-1.0.dist-info", "INSTALLER"), "pip\n");
  writeFileSync(
    join(dir, "demo-1.0.dist-info", "RECORD"),
    [
      `demo/__init__.py,sha256=${digest("x = 1\n")},6`,
      `demo-1.0.dist-info/METADATA,sha256=${digest("Metadata-Version: 2.1\nName: Demo\nVersion: 1.0\n\nbody\n")},51`,
      `demo-1.0.dist-info/INSTALLER,sha256=${digest("pip\n")},4`,
      "demo-1.0.dist-info/RECORD,,",
      "../../../bin/demo,sha256=abc,10",
    ].join("\n"),
  );
  return venv;
}

test("reads an environment once (lib64 → lib) and checks installed files against RECORD", async () => {
  const venv = site();
  const sites = await sitePackagesOf(venv);
  assert.equal(sites.length, 1);
  const [dist] = await readInstalled(sites[0]!);
  assert.deepEqual([dist!.project, dist!.version, dist!.modified, dist!.checked], ["demo", "1.0", [], 3]);
  writeFileSync(join(sites[0]!, "demo", "__init__.py"), "x = 2\n");
  assert.deepEqual((await readInstalled(sites[0]!))[0]!.modified, ["demo/__init__.py"]);
});

test("installed files must be the attested wheel's files, byte for byte", async () => {
  const venv = site();
  const [dist] = await readInstalled((await sitePackagesOf(venv))[0]!);
  const wheel = new Map([
    ["demo/__init__.py", digest("x = 1\n")],
    ["demo-1.0.dist-info/METADATA", digest("Metadata-Version: 2.1\nName: Demo\nVersion: 1.0\n\nbody\n")],
  ]);
  assert.deepEqual(differencesFromWheel(dist!.files, wheel), []);
  assert.deepEqual(
    differencesFromWheel(dist!.files, new Map([...wheel, ["demo/__init__.py", digest("x = 2\n")]])),
    ["demo/__init__.py"],
  );
  const purelib = new Map([
    ["demo-1.0.data/purelib/demo/__init__.py", digest("x = 1\n")],
    ["demo-1.0.dist-info/METADATA", wheel.get("demo-1.0.dist-info/METADATA")!],
  ]);
  assert.deepEqual(differencesFromWheel(dist!.files, purelib), []);
  assert.deepEqual(differencesFromWheel(dist!.files, new Map([...wheel].slice(1))), [
    "demo/__init__.py (not in the wheel)",
  ]);
});

test("only a file that is not there counts as missing; a file that cannot be read is an error", async () => {
  const site = mkdtempSync(join(tmpdir(), "pcl-record-"));
  mkdirSync(join(site, "pkg"));
  const digest = createHash("sha256").update("").digest("hex");
  assert.deepEqual(await filesDifferingFromRecord(site, [{ path: "gone.py", sha256: digest }]), {
    checked: 1,
    modified: ["gone.py (missing)"],
  });
  // A path that cannot be read as a file (EISDIR here; EMFILE or EACCES in the field) is not a
  // changed file: the check fails and says why instead of reporting the package as tampered.
  await assert.rejects(filesDifferingFromRecord(site, [{ path: "pkg", sha256: digest }]), /EISDIR/);
});
