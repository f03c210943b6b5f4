import { test } from "node:test";
import assert from "node:assert/strict";
import type { VetNode, VetReport } from "../services/vet.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gatewayBypasses, vetFindings } from "./vet-command.js";

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

test("a requirements file that sends pip around the gateway is named line by line (vet then exits 1)", () => {
  const dir = mkdtempSync(join(tmpdir(), "vet-bypass-"));
  try {
    const file = join(dir, "r.txt");
    writeFileSync(
      file,
      "requests==2.34.2\n--index-url http://evil.example/simple/\n--extra-index-url http://evil2.example/simple/\n-e git+https://github.com/x/y#egg=y\n",
    );
    const found = gatewayBypasses([file]);
    assert.equal(found.length, 3, found.join("\n"));
    assert.match(
      found[0]!,
      /r\.txt:2: --index-url http:\/\/evil\.example\/simple\/ sends pip to another index/,
    );
    assert.match(found[2]!, /r\.txt:4: editable .* never vetted/);
    writeFileSync(file, "requests==2.34.2\n");
    assert.deepEqual(gatewayBypasses([file]), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
