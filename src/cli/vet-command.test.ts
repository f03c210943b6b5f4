import { test } from "node:test";
import assert from "node:assert/strict";
import type { VetNode, VetReport } from "../services/vet.js";
import { vetFindings } from "./vet-command.js";

const node = (
  project: string,
  depth: number,
  requiredBy: string[],
  outcome: VetNode["outcome"] = "admitted",
): VetNode => ({
  project,
  version: "1.0",
  filename: `${project}-1.0-py3-none-any.whl`,
  sha256: "0".repeat(64),
  depth,
  outcome,
  score: 0,
  summary: outcome === "admitted" ? "admitted" : `${outcome} by policy: vulnerability: PYSEC-1`,
  dependsOn: [],
  requiredBy,
});

test("a refused transitive node points at the line of the root requirement that pulls it in", () => {
  const report: VetReport = {
    ok: false,
    target: "CPython 3.12 on linux x86_64",
    tree: "",
    nodes: [node("app", 0, ["<root>"]), node("mid", 1, ["app"]), node("leaf", 2, ["mid"], "blocked")],
    rejected: [],
    treeScore: 50,
  };
  const lines = new Map([["app", { file: "requirements.txt", line: 3 }]]);
  const findings = vetFindings([report], lines, "requirements.txt");
  assert.equal(findings.length, 3);
  const leaf = findings.find((f) => f.name === "leaf==1.0")!;
  assert.deepEqual(
    { ok: leaf.ok, rule: leaf.rule, file: leaf.file, line: leaf.line, group: leaf.group },
    { ok: false, rule: "blocked", file: "requirements.txt", line: 3, group: "CPython 3.12 on linux x86_64" },
  );
  assert.ok(findings.filter((f) => f.name !== "leaf==1.0").every((f) => f.ok));
});

test("an unresolvable target is one failing finding", () => {
  const report: VetReport = {
    ok: false,
    target: "t",
    tree: "",
    nodes: [],
    rejected: [],
    treeScore: 100,
    error: "no admitted version of x",
  };
  const [f] = vetFindings([report], new Map([["x", { file: "req.txt", line: 2 }]]), "req.txt");
  assert.deepEqual(f, {
    name: "resolution",
    group: "t",
    ok: false,
    rule: "unresolvable",
    message: "no admitted version of x",
    file: "req.txt",
    line: 2,
  });
});
