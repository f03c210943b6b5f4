import { test } from "node:test";
import assert from "node:assert/strict";
import type { DecisionRepository } from "../adapters/db/decision-repository.js";
import type { Decision } from "../policy/decision.js";
import { decisionsFor, sameVersion } from "./explain.js";
import type { PolicyService } from "./policy-service.js";
import type { ProjectIndexService } from "./project-index.js";

test("versions are the same release by PEP 440, not by their text", () => {
  assert.equal(sameVersion("2.19.0", "2.19.0.0"), true);
  assert.equal(sameVersion("1.0rc1", "1.0-RC1"), true);
  assert.equal(sameVersion("1.0", "1.0+local"), false);
  assert.equal(sameVersion("1.0", "1.0.1"), false);
  assert.equal(sameVersion("not-pep440", "not-pep440"), true);
});

test("decisionsFor finds a version's decisions however the version is spelled", async () => {
  const stored = [
    {
      sha256: "a".repeat(64),
      project: "requests",
      version: "2.19.0",
      filename: "requests-2.19.0-py3-none-any.whl",
    },
    {
      sha256: "b".repeat(64),
      project: "requests",
      version: "2.20.0",
      filename: "requests-2.20.0-py3-none-any.whl",
    },
  ] as Decision[];
  // Like the repository: a version filter is an exact text match.
  const decisions = {
    byProject: async (_project: string, version?: string) =>
      stored.filter((d) => version === undefined || d.version === version),
  } as unknown as DecisionRepository;
  const deps = {
    decisions,
    projects: { getRawProject: async () => undefined } as unknown as ProjectIndexService,
    policy: {} as PolicyService,
  };
  const found = await decisionsFor(deps, "requests", "2.19.0.0");
  assert.deepEqual(
    found?.map((d) => d.version),
    ["2.19.0"],
  );
});
