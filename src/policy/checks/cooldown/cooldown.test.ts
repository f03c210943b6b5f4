import { test } from "node:test";
import assert from "node:assert/strict";
import type { FileFacts } from "../../check.js";
import { parsePolicy, rulesFor } from "../../policy-schema.js";
import { runCooldown } from "./cooldown.js";

const NOW = Date.parse("2026-03-01T12:00:00Z");
const config = rulesFor(parsePolicy("rules: {}\n").doc, "demo").cooldown;

function facts(uploadTime: string): FileFacts {
  return {
    project: "demo",
    version: "1.0",
    filename: "demo-1.0-py3-none-any.whl",
    sha256: "a".repeat(64),
    yanked: false,
    uploadTime,
  };
}

test("a release uploaded 30 hours ago waits, and says how old it is", () => {
  const r = runCooldown(facts("2026-02-28T06:00:00Z"), config, { now: NOW });
  assert.equal(r.status, "fail");
  assert.match(
    r.message,
    /^released 30 hours ago; releases wait 7 days \(admitted from 2026-03-07T06:00:00.000Z\)$/,
  );
});

test("an upload time after now reads as such and counts as just released, never 'in the future ago'", () => {
  const r = runCooldown(facts("2026-03-02T12:00:00Z"), config, { now: NOW });
  assert.equal(r.status, "fail");
  assert.doesNotMatch(r.message, /ago/, `message: ${r.message}`);
  assert.match(
    r.message,
    /^upload time 2026-03-02T12:00:00Z is in the future \(clock skew or a wrong upstream\); treated as just released; releases wait 7 days \(admitted from 2026-03-09T12:00:00.000Z\)$/,
  );
});

test("an upload time after now passes a zero-day cooldown as just released", () => {
  const r = runCooldown(facts("2026-03-02T12:00:00Z"), { ...config, days: 0 }, { now: NOW });
  assert.equal(r.status, "pass", `message: ${r.message}`);
  assert.match(r.message, /is in the future .*treated as just released$/);
});

test("an early admission for a security fix words a future upload time the same way", () => {
  const r = runCooldown(facts("2026-03-02T12:00:00Z"), config, { now: NOW, fixesAdvisories: ["GHSA-x"] });
  assert.equal(r.status, "pass");
  assert.match(r.message, /is in the future .*treated as just released, admitted early: it fixes GHSA-x$/);
});

test("with the break-glass cut-off set, a file without an upload time is refused, whatever no-upload-time says", () => {
  const glass = { ...config, "uploaded-before": "2026-02-01T00:00:00Z", "no-upload-time": "allow" as const };
  const { uploadTime: _none, ...undated } = facts("2026-01-01T00:00:00Z");
  const r = runCooldown(undated, glass, { now: NOW });
  assert.equal(r.status, "fail");
  assert.match(r.message, /no upload time, so nothing shows it was uploaded before the break-glass cut-off/);
  assert.equal(
    runCooldown(undated, config, { now: NOW }).status,
    "warn",
    "without the cut-off: no-upload-time",
  );
});
