import { test } from "node:test";
import assert from "node:assert/strict";
import type { CheckResult, FileFacts } from "./check.js";
import { decide } from "./engine.js";
import { parsePolicy, type PolicyException } from "./policy-schema.js";

const NOW = Date.UTC(2026, 10, 29);
const facts: FileFacts = {
  project: "acme",
  version: "1.0",
  filename: "acme-1.0-py3-none-any.whl",
  sha256: "a".repeat(64),
  yanked: false,
};
const fail = (check: string): CheckResult => ({
  check,
  status: "fail",
  message: `${check} failed`,
  findings: [{ kind: "x", message: "x", severity: "high" }],
});
const exception = (e: Partial<PolicyException>): PolicyException => ({
  project: "acme",
  reason: "reviewed",
  approver: "sec",
  "expires-at": "2027-01-01T00:00:00Z",
  ...e,
});
const waived = (results: CheckResult[], e: PolicyException) =>
  decide({
    facts,
    results,
    policy: parsePolicy(""),
    exceptions: [e],
    now: NOW,
    intelSnapshot: "t",
    stage: "full",
  })
    .reasons.filter((r) => r.waivedBy)
    .map((r) => r.check);

test("a version exception without a checks list waives neither a malicious report nor the artifact check", () => {
  const results = [fail("vulnerability"), fail("malicious"), fail("artifact")];
  assert.deepEqual(waived(results, exception({ version: "1.0" })), ["vulnerability"]);
  assert.deepEqual(
    waived(results, exception({ version: "1.0", checks: ["malicious", "vulnerability"] })),
    ["vulnerability", "malicious"],
    "a malicious report is waived per version when named",
  );
  assert.deepEqual(
    waived(results, exception({ sha256: facts.sha256 })),
    ["vulnerability", "malicious", "artifact"],
    "one exact file: every check",
  );
});

test("an artifact waiver for a whole version is refused in the policy file", () => {
  assert.throws(
    () =>
      parsePolicy(
        "exceptions:\n  - project: acme\n    version: '1.0'\n    checks: [artifact]\n    reason: r\n    approver: a\n    expires-at: 2027-01-01T00:00:00Z\n",
        "p.yaml",
      ),
    /artifact check is waived for one exact file/,
  );
});

test("risk: a malicious report is the worst; a malicious check that could not look is a warning like any other", () => {
  const score = (results: CheckResult[]) =>
    decide({ facts, results, policy: parsePolicy(""), now: NOW, intelSnapshot: "t", stage: "full" }).score;
  const noIntel = (check: string): CheckResult => ({
    check,
    status: "warn",
    message: "intel missing",
    findings: [{ kind: "intel-missing", message: "nothing to match against" }],
  });
  assert.equal(score([fail("malicious")]), 100);
  assert.equal(score([]), 0);
  // Without intel every file warned on both checks: it scored 100, the same as a malicious report.
  assert.equal(score([noIntel("malicious")]), score([noIntel("vulnerability")]));
  assert.equal(score([noIntel("malicious"), noIntel("vulnerability")]), 15);
});
