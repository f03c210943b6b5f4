import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parse } from "smol-toml";
import { parsePylock, pylockRequirements, PylockError } from "./pylock.js";

const SHA = "a".repeat(64);

describe("parsePylock (PEP 751)", () => {
  test("reads packages, versions, markers, wheels and sdists with their hashes", () => {
    const lock = parsePylock(
      parse(`
lock-version = "1.0"
created-by = "uv"
requires-python = ">=3.10"

[[packages]]
name = "Flask"
version = "3.1.3"
wheels = [{ name = "flask-3.1.3-py3-none-any.whl", url = "https://x/flask-3.1.3-py3-none-any.whl", hashes = { sha256 = "${SHA.toUpperCase()}" } }]

[[packages]]
name = "colorama"
version = "0.4.6"
marker = "sys_platform == 'win32'"
sdist = { url = "https://x/colorama-0.4.6.tar.gz", hashes = { sha256 = "${SHA}" } }
`),
    );
    assert.equal(lock.lockVersion, "1.0");
    assert.equal(lock.createdBy, "uv");
    assert.deepEqual(lock.packages[0]!.wheels, [{ name: "flask-3.1.3-py3-none-any.whl", sha256: SHA }]);
    assert.deepEqual(lock.packages[1]!.sdist, { name: "colorama-0.4.6.tar.gz", sha256: SHA });
    assert.deepEqual(pylockRequirements(lock), ["Flask==3.1.3", "colorama==0.4.6 ; sys_platform == 'win32'"]);
  });

  test("refuses what PEP 751 does not allow, naming the key", () => {
    assert.throws(() => parsePylock(parse(`packages = []`)), /lock-version is required/);
    assert.throws(() => parsePylock(parse(`lock-version = "2.0"\npackages = []`)), /not supported/);
    assert.throws(
      () => parsePylock(parse(`lock-version = "1.0"\n[[packages]]\nname = "x"`)),
      /packages\[0\]\.version is required/,
    );
    assert.throws(
      () =>
        parsePylock(
          parse(
            `lock-version = "1.0"\n[[packages]]\nname = "x"\nversion = "1"\nwheels = [{ name = "x.whl", hashes = { sha256 = "zz" } }]`,
          ),
        ),
      /wheels\[0\]\.hashes\.sha256 must be 64 hex digits/,
    );
    assert.throws(() => parsePylock("not a table"), PylockError);
  });

  test("a package from a VCS is valid in a lock but cannot be resolved through an index", () => {
    const lock = parsePylock(
      parse(
        `lock-version = "1.0"\n[[packages]]\nname = "tool"\nvcs = { type = "git", url = "https://x/tool.git", commit-id = "abc" }`,
      ),
    );
    assert.equal(lock.packages[0]!.directSource, "vcs");
    assert.throws(() => pylockRequirements(lock), /tool comes from a vcs source, not an index/);
  });
});
