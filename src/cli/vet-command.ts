import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { normalizeProjectName } from "../domain/project-name.js";
import { toJUnit, toSarif, type CiFinding } from "../services/discovery/ci-report.js";
import { PORTCULLIS_VERSION } from "../services/discovery/sbom-builder.js";
import { parseRequirement, RequirementParseError } from "../domain/requirement.js";
import { parseRequirementsFile } from "../domain/requirements-file.js";
import { parseTarget, TargetError } from "../services/resolver/target-environment.js";
import {
  DEFAULT_VET_TARGETS,
  formatVetReport,
  vetForTargets,
  type MultiVetReport,
  type VetReport,
} from "../services/vet.js";
import { CliError } from "./cli-error.js";
import {
  addLocalOptions,
  addRemoteOptions,
  callGateway,
  withLocalServices,
  remoteGateway,
} from "./local-services.js";
import { escapeControlCharactersExceptLineFeeds, inert } from "../domain/control-characters.js";

/** Reads requirement strings from arguments and `-r` files, refusing anything unparseable. */
export function collectRequirements(args: string[], files: string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    try {
      parseRequirement(a);
    } catch (err) {
      if (err instanceof RequirementParseError)
        throw new CliError(`invalid requirement ${JSON.stringify(a)}: ${err.message}`);
      throw err;
    }
    out.push(a);
  }
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch (err) {
      throw new CliError(`cannot read ${f}: ${(err as Error).message}`);
    }
    const parsed = parseRequirementsFile(text);
    if (parsed.errors.length)
      throw new CliError(`${f}:${parsed.errors[0]!.line}: ${parsed.errors[0]!.message}`);
    for (const u of parsed.unsupported)
      process.stderr.write(inert`${f}:${u.line}: skipped (${u.kind}): ${u.text}\n`);
    for (const inc of parsed.includes)
      process.stderr.write(
        inert`${f}:${inc.line}: not followed: -${inc.kind === "constraints" ? "c" : "r"} ${inc.path}\n`,
      );
    for (const r of parsed.requirements) out.push(textOf(text, r.line) ?? r.req.name);
  }
  if (out.length === 0) throw new CliError("give requirements (e.g. flask==3.1.3) or -r requirements.txt");
  return out;
}

/** Options of a requirements file that make pip fetch from somewhere other than the gateway. */
const INDEX_OPTIONS = new Set(["--index-url", "--extra-index-url", "--find-links"]);

/**
 * What in `-r` files pip would install without the gateway: another index or link location
 * (`--index-url`, `--extra-index-url`, `--find-links`), and editables, URLs and paths. Each is a
 * reason `vet` cannot say everything is admitted.
 */
export function gatewayBypasses(files: string[]): string[] {
  const out: string[] = [];
  for (const [f, parsed] of readableRequirementsFiles(files)) {
    for (const o of parsed.options)
      if (INDEX_OPTIONS.has(o.name))
        out.push(`${f}:${o.line}: ${o.name} ${o.value ?? ""} sends pip to another index, around the gateway`);
    for (const u of parsed.unsupported)
      out.push(`${f}:${u.line}: ${u.kind} ${u.text} is installed without the gateway, so never vetted`);
  }
  return out;
}

/** Where each requirement of `-r` files is written: normalised name → file and line. */
export function requirementLines(files: string[]): Map<string, { file: string; line: number }> {
  const out = new Map<string, { file: string; line: number }>();
  for (const [f, parsed] of readableRequirementsFiles(files))
    for (const r of parsed.requirements)
      if (!out.has(r.req.normalizedName)) out.set(r.req.normalizedName, { file: f, line: r.line });
  return out;
}

/** `-r` files parsed, each with its path; one that cannot be read is left out (`collectRequirements` already refused it). */
function* readableRequirementsFiles(
  files: string[],
): Generator<[string, ReturnType<typeof parseRequirementsFile>]> {
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch {
      continue;
    }
    yield [f, parseRequirementsFile(text)];
  }
}

/**
 * One CI finding per node and target. A node points at the requirements-file line of the root
 * requirement that pulls it in (its own line when it is a root), so code scanning annotates the
 * line to change.
 */
export function vetFindings(
  reports: readonly VetReport[],
  lines: ReadonlyMap<string, { file: string; line: number }>,
  fallbackFile: string,
): CiFinding[] {
  const out: CiFinding[] = [];
  for (const r of reports) {
    const byProject = new Map(r.nodes.map((n) => [n.project, n]));
    const locate = (project: string) => {
      const seen = new Set<string>();
      const queue = [project];
      while (queue.length) {
        const p = queue.shift()!;
        if (seen.has(p)) continue;
        seen.add(p);
        const at = lines.get(p);
        if (at) return at;
        for (const parent of byProject.get(p)?.requiredBy ?? []) queue.push(parent);
      }
      return undefined;
    };
    if (r.error) {
      // Versions the policy passed over are why nothing resolves: each points at its own line.
      for (const x of r.rejected) {
        const at = locate(x.project);
        out.push({
          name: `${x.project}==${x.version}`,
          group: r.target,
          ok: false,
          rule: x.reason.startsWith("quarantined") ? "quarantined" : "blocked",
          message: x.reason,
          file: at?.file ?? fallbackFile,
          ...(at ? { line: at.line } : {}),
        });
      }
      out.push({
        name: "resolution",
        group: r.target,
        ok: false,
        rule: "unresolvable",
        message: r.error,
        file: [...lines.values()][0]?.file ?? fallbackFile,
        line: [...lines.values()][0]?.line ?? 1,
      });
      continue;
    }
    for (const n of r.nodes) {
      const at = locate(n.project);
      out.push({
        name: `${n.project}==${n.version}`,
        group: r.target,
        ok: n.outcome === "admitted",
        ...(n.outcome === "admitted" ? {} : { rule: n.outcome }),
        message: n.outcome === "admitted" ? "admitted" : n.summary,
        file: at?.file ?? fallbackFile,
        ...(at ? { line: at.line } : {}),
      });
    }
  }
  return out;
}

function textOf(text: string, line: number): string | undefined {
  // The requirement as written on that line, without options and comments.
  const raw = text.split(/\r?\n/)[line - 1];
  return (
    raw
      ?.replace(/\s--hash[= ]\S+/g, "")
      .replace(/(^|\s)#.*$/, "")
      .replace(/\\$/, "")
      .trim() || undefined
  );
}

/** `portcullis vet`: resolve the whole tree and judge every node before anyone installs it. */
export function registerVetCommand(program: Command): void {
  const cmd = program
    .command("vet")
    .argument("[requirements...]", "requirements such as flask or requests==2.31.0")
    .description(
      "Resolve the whole dependency tree against the upstream, judge every node, print the tree with verdicts; exits 1 unless everything is admitted.",
    )
    .option(
      "-r, --requirement <file>",
      "a requirements file (repeatable)",
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option("--python <version>", "one target Python version (default: CPython 3.10, 3.11, 3.12 and 3.13)")
    .option(
      "--platform <platform>",
      "one target platform: linux, macos or windows, optionally -x86_64/-aarch64/-arm64 (default linux-x86_64)",
    )
    .option("--json", "print the report as JSON")
    .option("--sarif <file>", "also write a SARIF 2.1.0 log pointing at the requirements file lines")
    .option("--junit <file>", "also write JUnit XML (one test case per node and target)");
  addRemoteOptions(addLocalOptions(cmd)).action(async (args: string[], flags: Record<string, unknown>) => {
    const requirements = collectRequirements(args, (flags.requirement as string[]) ?? []);
    let targets;
    try {
      targets =
        flags.python || flags.platform
          ? [
              parseTarget({
                ...(flags.python ? { python: flags.python as string } : {}),
                ...(flags.platform ? { platform: flags.platform as string } : {}),
              }),
            ]
          : DEFAULT_VET_TARGETS;
    } catch (err) {
      if (err instanceof TargetError) throw new CliError(err.message);
      throw err;
    }
    const gateway = remoteGateway(flags);
    let report: MultiVetReport;
    if (gateway) {
      report = await callGateway<MultiVetReport>(gateway.url, gateway.token, "api/v1/vet", {
        method: "POST",
        body: {
          requirements,
          targets: targets.map((t) => ({
            python: t.pythonVersion,
            platform: `${t.platform}-${t.machine}`,
          })),
        },
      });
    } else {
      report = await withLocalServices(flags, (s) =>
        vetForTargets(
          { projects: s.projects, policy: s.policy, access: s.access, decisions: s.decisions },
          requirements,
          targets,
        ),
      );
    }
    process.stdout.write(
      flags.json
        ? JSON.stringify(report, null, 2) + "\n"
        : // The report quotes package metadata and advisories: nothing in it may repaint the terminal.
          escapeControlCharactersExceptLineFeeds(report.reports.map(formatVetReport).join("\n")),
    );
    if (flags.sarif || flags.junit) {
      const files = (flags.requirement as string[]) ?? [];
      const lines = requirementLines(files);
      // Requirements given as arguments have no file: they point at the first -r file, if any.
      for (const a of args) {
        const name = normalizeProjectName(a.split(/[\s;<>=!~[@]/)[0] ?? a);
        if (!lines.has(name) && files[0]) lines.set(name, { file: files[0], line: 1 });
      }
      const findings = vetFindings(report.reports, lines, files[0] ?? "requirements.txt");
      if (flags.sarif)
        writeFileSync(
          flags.sarif as string,
          JSON.stringify(toSarif(findings, PORTCULLIS_VERSION), null, 2) + "\n",
        );
      if (flags.junit) writeFileSync(flags.junit as string, toJUnit(findings, "portcullis vet"));
    }
    const bypasses = gatewayBypasses((flags.requirement as string[]) ?? []);
    for (const b of bypasses) process.stderr.write(inert`NOT VETTED: ${b}\n`);
    if (!report.ok || bypasses.length > 0) process.exitCode = 1;
  });
}
