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
