import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { toJUnit, toSarif, type CiFinding } from "./ci-report.js";

const findings: CiFinding[] = [
  {
    name: "flask==3.1.3",
    group: "requirements.txt",
    ok: true,
    message: "admitted",
    file: "requirements.txt",
    line: 1,
  },
  {
    name: "acme-lib==2.0",
    group: "requirements.txt",
    ok: false,
    rule: "blocked",
    message: 'vulnerability: PYSEC-1 <script>&"',
    file: "sub dir/requirements.txt",
    line: 3,
  },
  {
    name: "rogue==1.0",
    group: "venv",
    ok: false,
    rule: "not-in-catalog",
    message: "never went through the gateway",
  },
];

describe("toSarif", () => {
  test("a SARIF 2.1.0 log: rules for the failures, results pointing at file and line", () => {
    const log = toSarif(findings, "0.1.0") as {
      version: string;
      runs: {
        tool: { driver: { name: string; rules: { id: string; defaultConfiguration: { level: string } }[] } };
        results: {
          ruleId: string;
          ruleIndex: number;
          level: string;
          message: { text: string };
          locations: {
            physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } };
          }[];
        }[];
      }[];
    };
    assert.equal(log.version, "2.1.0");
    const run = log.runs[0]!;
    assert.equal(run.tool.driver.name, "portcullis");
    assert.deepEqual(
      run.tool.driver.rules.map((r) => r.id),
      ["blocked", "not-in-catalog"],
    );
    assert.equal(run.results.length, 2, "admitted findings are not results");
    const [blocked, rogue] = run.results;
    assert.equal(blocked!.ruleId, "blocked");
    assert.equal(run.tool.driver.rules[blocked!.ruleIndex]!.id, "blocked");
    assert.equal(blocked!.level, "error");
    assert.match(blocked!.message.text, /^acme-lib==2\.0: vulnerability/);
    assert.deepEqual(blocked!.locations[0]!.physicalLocation, {
      artifactLocation: { uri: "sub%20dir/requirements.txt" },
      region: { startLine: 3 },
    });
    assert.deepEqual(rogue!.locations[0]!.physicalLocation, {
      artifactLocation: { uri: "venv" },
      region: { startLine: 1 },
    });
  });
});

describe("toJUnit", () => {
  test("one suite per group, one case per finding, failures escaped", () => {
    const xml = toJUnit(findings, "portcullis vet");
    assert.match(
      xml,
      /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="portcullis vet" tests="3" failures="2" errors="0">/,
    );
    assert.match(xml, /<testsuite name="requirements\.txt" tests="2" failures="1"/);
    assert.match(
      xml,
      /<testcase classname="requirements\.txt" name="flask==3\.1\.3" file="requirements\.txt" line="1"\/>/,
    );
    assert.match(xml, /<failure type="blocked" message="vulnerability: PYSEC-1 &lt;script&gt;&amp;&quot;">/);
    assert.match(xml, /<testsuite name="venv" tests="1" failures="1"/);
    assert.equal(xml.match(/<testcase /g)!.length, 3);
    assert.equal(xml.includes("<script>"), false);
  });
});
