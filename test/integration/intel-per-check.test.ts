/**
 * Each intel check knows whether its own intel was imported: a MAL-only import does not make the
 * vulnerability check report "no known vulnerabilities", and under `intel.required` a missing
 * kind fails closed (typo-squats without a popular list too).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FileFacts } from "../../src/policy/check.js";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { sharedDataDir } from "../helpers/shared-data.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";

const facts: FileFacts = {
  project: "django",
  version: "1.0.1",
  filename: "django-1.0.1-py3-none-any.whl",
  sha256: "d".repeat(64),
  uploadTime: "2020-01-01T00:00:00Z",
  yanked: false,
};

describe("intel per check, under intel.required", () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  const dir = mkdtempSync(join(tmpdir(), "portcullis-intel-kind-"));
  before(async () => {
    upstream = await startJsonIndexServer({ projects: {} });
    const policy = join(dir, "policy.yaml");
    writeFileSync(policy, "intel:\n  required: true\n");
    gw = await startTestGateway({ upstream: upstream.simpleUrl, policy });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const reasons = () =>
    Object.fromEntries(
      gw.gateway.policy
        .judgeIndex(facts, { versions: ["1.0.1", "1.1"] })
        .reasons.map((r) => [r.check, `${r.outcome}: ${r.message}`]),
    );

  test("malicious reports alone: the vulnerability and typo-squat checks fail closed and say why", async () => {
    await gw.gateway.intel.importSource(join(sharedDataDir(), "osv/ossf-malicious-pypi.zip"));
    await gw.gateway.policy.refresh();
    const r = reasons();
    assert.match(r.vulnerability!, /^error: intel missing: no vulnerability advisories were ever imported/);
    assert.match(r.malicious!, /^pass/, r.malicious);
    assert.match(r.typosquat!, /^error: no popular-project list imported/);
  });

  test("once advisories and the popular list are imported, the checks run", async () => {
    await gw.gateway.intel.importSource(join(sharedDataDir(), "osv/pypa-advisory-database.zip"));
    await gw.gateway.intel.importSource(join(sharedDataDir(), "top-pypi-packages.json"));
    await gw.gateway.policy.refresh();
    const r = reasons();
    assert.match(r.vulnerability!, /^fail: .*PYSEC-2007-1/, r.vulnerability);
    assert.match(r.typosquat!, /^pass/, r.typosquat);
  });
});
