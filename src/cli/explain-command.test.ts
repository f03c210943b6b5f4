import { test } from "node:test";
import assert from "node:assert/strict";
import { CliError } from "./cli-error.js";
import { parsePin } from "./explain-command.js";

test("explain's pin comes back in PEP 503 / PEP 440 normal form", () => {
  assert.deepEqual(parsePin("Requests==2.19.0.0"), { project: "requests", version: "2.19.0.0" });
  assert.deepEqual(parsePin("pkg==1.0-rc1"), { project: "pkg", version: "1.0rc1" });
  assert.deepEqual(parsePin("pkg==v1.0"), { project: "pkg", version: "1.0" });
  assert.deepEqual(parsePin("pkg == 1.0-1"), { project: "pkg", version: "1.0.post1" });
});

test("a version that is not PEP 440 is a usage error naming it", () => {
  for (const bad of ["pkg==latest", "pkg==1.0.x", "pkg===1.0", "pkg==1..0"])
    assert.throws(
      () => parsePin(bad),
      (err: unknown) =>
        err instanceof CliError && err.exitCode === 2 && /not a valid version \(PEP 440\)/.test(err.message),
      bad,
    );
});

test("explain with an upstream that cannot be reached says so in one line, exit 1", async () => {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { cli } = await import("../../test/helpers/run-cli.js");
  const dir = mkdtempSync(join(tmpdir(), "explain-"));
  try {
    const setup = await cli("token", "create", "--user", "a", "--role", "reader", "--data", dir);
    assert.equal(setup.code, 0, setup.stderr);
    // Port 9 (discard) on loopback: refused at once.
    const run = await cli(
      "explain",
      "requests==2.0",
      "--data",
      dir,
      "--upstream",
      "http://127.0.0.1:9/simple/",
    );
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /upstream unavailable.*--upstream/);
    assert.doesNotMatch(run.stderr, /unexpected error|\n\s+at /, "no stack trace");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
