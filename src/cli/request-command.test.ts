import { test } from "node:test";
import assert from "node:assert/strict";
import { CliError } from "./cli-error.js";
import { parseRequestTarget } from "./request-command.js";

test("a request names a project, optionally pinned to one version", () => {
  assert.deepEqual(parseRequestTarget("httpx"), { project: "httpx" });
  assert.deepEqual(parseRequestTarget("Flask_Login==0.6.3"), { project: "Flask_Login", version: "0.6.3" });
  assert.deepEqual(parseRequestTarget(" numpy == 2.1.0 "), { project: "numpy", version: "2.1.0" });
});

test("anything else is a usage error, not a request", () => {
  for (const bad of ["", "-x", "numpy>=2", "numpy==", "a b", "numpy===1"])
    assert.throws(
      () => parseRequestTarget(bad),
      (err: unknown) => err instanceof CliError && err.exitCode === 2,
      bad,
    );
});

test("a pinned version is normalised (PEP 440); an invalid one is refused", () => {
  assert.deepEqual(parseRequestTarget("pkg==1.0-RC1"), { project: "pkg", version: "1.0rc1" });
  assert.deepEqual(parseRequestTarget("pkg==v2.0"), { project: "pkg", version: "2.0" });
  assert.throws(
    () => parseRequestTarget("pkg==latest"),
    (err: unknown) =>
      err instanceof CliError && err.exitCode === 2 && /not a valid version/.test(err.message),
  );
});
