import assert from "node:assert/strict";
import { test } from "node:test";
import { runProvenance, type ProvenanceFacts } from "./provenance.js";

const facts = (status: ProvenanceFacts["status"], extra: Partial<ProvenanceFacts> = {}): ProvenanceFacts => ({
  status,
  detail: `detail of ${status}`,
  ...extra,
});

test("verified provenance passes and names the publisher, required or not", () => {
  for (const required of [true, false]) {
    const r = runProvenance(facts("verified", { publisher: "github:pypa/pip/release.yml" }), { required });
    assert.deepEqual(r, {
      check: "provenance",
      status: "pass",
      message: "provenance verified: published by github:pypa/pip/release.yml",
      findings: [],
    });
  }
});

test("absent provenance fails only where the policy requires it", () => {
  const required = runProvenance(facts("absent"), { required: true });
  assert.equal(required.status, "fail");
  assert.deepEqual(
    required.findings.map((f) => [f.kind, f.severity]),
    [["provenance-missing", "high"]],
  );
  assert.equal(runProvenance(facts("absent"), { required: false }).status, "skip");
});

test("provenance that fails verification warns, and fails where required", () => {
  const warn = runProvenance(facts("invalid", { detail: "the statement digest is not the file's" }), {
    required: false,
  });
  assert.equal(warn.status, "warn");
  assert.equal(warn.message, "provenance does not verify: the statement digest is not the file's");
  assert.equal(runProvenance(facts("invalid"), { required: true }).status, "fail");
});

test("fails closed when required provenance could not be fetched or was never checked", () => {
  assert.equal(runProvenance(facts("unavailable"), { required: true }).status, "error");
  assert.equal(runProvenance(undefined, { required: true }).status, "error");
  assert.equal(runProvenance(facts("unavailable"), { required: false }).status, "skip");
  assert.equal(runProvenance(undefined, { required: false }).status, "skip");
});
