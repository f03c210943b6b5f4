/**
 * CI outputs of `vet` and `scan`: SARIF 2.1.0 for code-scanning dashboards and JUnit XML for test
 * report views. One finding per thing checked; only failing ones become SARIF results.
 */

export type CiRuleId =
  "blocked" | "quarantined" | "pending" | "not-in-catalog" | "hash-differs" | "unresolvable";

export interface CiFinding {
  /** What was checked, e.g. `flask==3.1.3` or `venv/ requests==2.19.0`. */
  name: string;
  /** The test suite it belongs to: a requirements file, an environment. */
  group: string;
  ok: boolean;
  /** For failures. */
  rule?: CiRuleId;
  message: string;
  /** Where to point: a requirements file (relative path) and line, else the environment path. */
  file?: string;
  line?: number;
}

const RULES: Record<CiRuleId, { level: "error" | "warning"; title: string; help: string }> = {
  blocked: {
    level: "error",
    title: "Package blocked by policy",
    help: "The gateway's policy blocks this version. Use the version `portcullis explain` suggests, or ask for an exception.",
  },
  quarantined: {
    level: "error",
    title: "Package quarantined for review",
    help: "The gateway holds this version for review. Wait for a decision or ask the security team.",
  },
  pending: {
    level: "warning",
    title: "Package not yet judged",
    help: "The gateway knows this version but has not judged its bytes yet. Install it through the gateway once to have it judged.",
  },
  "not-in-catalog": {
    level: "error",
    title: "Package never went through the gateway",
    help: "This distribution was installed from somewhere other than the gateway. Reinstall it through the gateway.",
  },
  "hash-differs": {
    level: "error",
    title: "Installed files differ from the admitted wheel",
    help: "The installed files do not match the wheel the gateway admitted for this version: it was built or fetched elsewhere, or changed after installation.",
  },
  unresolvable: {
    level: "error",
    title: "Requirements cannot be resolved to admitted files",
    help: "No set of admitted versions satisfies these requirements. `portcullis vet` prints the conflict.",
  },
};

/** A SARIF 2.1.0 log (OASIS SARIF v2.1.0, sections 3.13 run, 3.19 tool, 3.27 result). */
export function toSarif(findings: readonly CiFinding[], toolVersion: string): Record<string, unknown> {
  const failing = findings.filter((f) => !f.ok && f.rule);
  const ruleIds = [...new Set(failing.map((f) => f.rule!))].sort();
  return {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "portcullis",
            version: toolVersion,
            informationUri: "https://github.com/portcullis/portcullis",
            rules: ruleIds.map((id) => ({
              id,
              name: RULES[id].title.replace(/[^A-Za-z]+/g, ""),
              shortDescription: { text: RULES[id].title },
              fullDescription: { text: RULES[id].help },
              help: { text: RULES[id].help },
              defaultConfiguration: { level: RULES[id].level },
            })),
          },
        },
        results: failing.map((f) => ({
          ruleId: f.rule!,
          ruleIndex: ruleIds.indexOf(f.rule!),
          level: RULES[f.rule!].level,
          message: { text: `${f.name}: ${f.message}` },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: toUri(f.file ?? f.group) },
                // SARIF 3.30.5: lines are 1-based; a finding with no line points at the file's top.
                region: { startLine: f.line ?? 1 },
              },
            },
          ],
        })),
      },
    ],
  };
}

/** A relative path as a SARIF artifact URI: forward slashes, each segment percent-encoded. */
function toUri(path: string): string {
  return path
    .replace(/\\/g, "/")
    .split("/")
    .map((s) => encodeURIComponent(s))
    .join("/");
}

function xml(text: string): string {
  return (
    text
      // XML 1.0 forbids most control characters, even escaped.
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "")
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
  );
}

/** JUnit XML: one testsuite per group, one testcase per finding, a failure for each refusal. */
export function toJUnit(findings: readonly CiFinding[], suiteName = "portcullis"): string {
  const groups = new Map<string, CiFinding[]>();
  for (const f of findings) {
    const list = groups.get(f.group) ?? [];
    list.push(f);
    groups.set(f.group, list);
  }
  const failures = findings.filter((f) => !f.ok).length;
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xml(suiteName)}" tests="${findings.length}" failures="${failures}" errors="0">`,
  ];
  for (const [group, list] of groups) {
    const groupFailures = list.filter((f) => !f.ok).length;
    out.push(
      `  <testsuite name="${xml(group)}" tests="${list.length}" failures="${groupFailures}" errors="0" skipped="0">`,
    );
    for (const f of list) {
      const attrs = `classname="${xml(group)}" name="${xml(f.name)}"${f.file ? ` file="${xml(f.file)}"` : ""}${f.line ? ` line="${f.line}"` : ""}`;
      if (f.ok) out.push(`    <testcase ${attrs}/>`);
      else
        out.push(
          `    <testcase ${attrs}>`,
          `      <failure type="${xml(f.rule ?? "failure")}" message="${xml(f.message)}">${xml(`${f.name}: ${f.message}`)}</failure>`,
          "    </testcase>",
        );
    }
    out.push("  </testsuite>");
  }
  out.push("</testsuites>");
  return out.join("\n") + "\n";
}
