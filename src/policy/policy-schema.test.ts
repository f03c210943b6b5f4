import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parsePolicy, PolicyError, rulesFor } from "./policy-schema.js";

const shipped = readFileSync(new URL("../../policy.default.yaml", import.meta.url), "utf8");

test("the shipped default policy equals the built-in defaults", () => {
  const fromFile = parsePolicy(shipped, "policy.default.yaml").doc;
  const builtIn = parsePolicy("", "empty").doc;
  assert.deepEqual(fromFile, builtIn);
  assert.equal(builtIn.rules.vulnerability.action, "block");
  assert.equal(builtIn.rules.vulnerability["unknown-severity"], "high");
  assert.equal(builtIn.rules.malicious.action, "block");
  assert.equal(builtIn.rules.typosquat.action, "quarantine");
  assert.equal(builtIn.rules.artifact.action, "quarantine");
  assert.equal(builtIn.rules.cooldown.days, 7);
  assert.equal(builtIn.rules.licence.action, "warn");
});

test("unknown rules and settings are rejected with line and column", () => {
  assert.throws(
    () =>
      parsePolicy("rules:\n  vulnerability:\n    action: block\n  typosqat:\n    action: warn\n", "p.yaml"),
    (e: Error) =>
      e instanceof PolicyError && /p\.yaml:4:3: rules\.typosqat: unknown rule "typosqat"/.test(e.message),
  );
  assert.throws(
    () => parsePolicy("rules:\n  cooldown:\n    dayz: 3\n", "p.yaml"),
    /p\.yaml:3:5: rules\.cooldown\.dayz: unknown setting/,
  );
  assert.throws(
    () => parsePolicy("rules:\n  malicious:\n    action: destroy\n", "p.yaml"),
    /p\.yaml:3:\d+: rules\.malicious\.action/,
  );
  assert.throws(() => parsePolicy("rules: [\n", "p.yaml"), /p\.yaml:\d+:\d+/);
  assert.throws(
    () => parsePolicy("projects:\n  x:\n    rules:\n      cooldown:\n        days: -1\n", "p.yaml"),
    /p\.yaml:5:9: projects\.x\.rules\.cooldown\.days/,
  );
});

test("exceptions name exactly one of version or sha256 and carry an expiry", () => {
  const ok = parsePolicy(
    "exceptions:\n  - project: requests\n    version: 2.31.0\n    reason: r\n    approver: alice\n    expires-at: 2026-12-31\n",
  );
  assert.equal(ok.doc.exceptions[0]!["expires-at"], "2026-12-31T00:00:00.000Z");
  assert.throws(
    () =>
      parsePolicy(
        "exceptions:\n  - project: x\n    reason: r\n    approver: a\n    expires-at: 2026-12-31\n",
      ),
    /exactly one of version or sha256/,
  );
});

test("per-project overrides merge over the rules", () => {
  const p = parsePolicy("projects:\n  internal:\n    rules:\n      cooldown: { action: allow }\n").doc;
  assert.equal(rulesFor(p, "internal").cooldown.action, "allow");
  assert.equal(rulesFor(p, "internal").cooldown.days, 7);
  assert.equal(rulesFor(p, "other").cooldown.action, "quarantine");
});

test("a draft whose aliases expand exponentially is refused as invalid, not a crash", () => {
  const lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    lines.push(
      `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${prev}`).join(", ")}]`,
    );
  }
  assert.throws(
    () => parsePolicy(lines.join("\n"), "draft"),
    (e: unknown) => {
      assert.ok(e instanceof PolicyError, String(e));
      assert.match(e.message, /^draft:1:1: .*alias/i);
      return true;
    },
  );
});

test("project overrides apply under the normalised name; two spellings of one project, or a bad name, are refused", () => {
  const p = parsePolicy(
    "projects:\n  Internal_Tool:\n    rules:\n      provenance: { required: true }\n    not-a-typosquat: true\n",
  ).doc;
  assert.equal(rulesFor(p, "internal-tool").provenance.required, true, "Internal_Tool is internal-tool");
  assert.deepEqual(Object.keys(p.projects), ["internal-tool"]);
  assert.throws(
    () => parsePolicy("projects:\n  internal-tool: {}\n  Internal.Tool: {}\n", "p.yaml"),
    /^PolicyError: p\.yaml:3:3: projects\.Internal\.Tool: names the same project as projects\.internal-tool \(internal-tool\)$/,
  );
  assert.throws(
    () => parsePolicy("projects:\n  'not a name!': {}\n", "p.yaml"),
    /p\.yaml:2:3: .*not a valid project name/,
  );
});
