import { createHash } from "node:crypto";
import { isMap, isSeq, parseDocument, type Document, type Node as YamlNode } from "yaml";
import { z } from "zod";
import { isValidProjectName, normalizeProjectName } from "../domain/project-name.js";

/**
 * Policy as code: one YAML document, validated strictly (it is our own config), with line and
 * column in every error. Each rule has an action and a mode; projects may override rules;
 * exceptions waive checks for one version or one exact file.
 */

export const ACTIONS = ["block", "quarantine", "warn", "allow"] as const;
export type Action = (typeof ACTIONS)[number];
export const MODES = ["enforce", "audit"] as const;
export type Mode = (typeof MODES)[number];
export const SEVERITIES = ["low", "medium", "high", "critical"] as const;

const action = z.enum(ACTIONS);
const mode = z.enum(MODES);
const days = z.number().min(0).max(3650);
const isoDate = z
  .union([z.string(), z.date()])
  .refine(
    (v) => !Number.isNaN(new Date(v).getTime()),
    "expected a date such as 2026-12-31 or 2026-12-31T00:00:00Z",
  )
  .transform((v) => new Date(v).toISOString());

const base = { action, mode: mode.default("enforce") };

/** Each rule's settings; the keys are the check ids (one folder each under `policy/checks/`). */
export const RULE_SCHEMAS = {
  vulnerability: z
    .object({
      ...base,
      action: action.default("block"),
      "min-severity": z.enum(SEVERITIES).default("low"),
      // NVD no longer scores most CVEs: an advisory without a severity counts as this.
      "unknown-severity": z.enum(SEVERITIES).default("high"),
    })
    .strict(),
  malicious: z.object({ ...base, action: action.default("block") }).strict(),
  typosquat: z
    .object({
      ...base,
      action: action.default("quarantine"),
      "popular-count": z.number().int().min(0).max(100_000).default(15_000),
    })
    .strict(),
  cooldown: z
    .object({
      ...base,
      action: action.default("quarantine"),
      days: days.default(7),
      /** A release that fixes an advisory affecting an older admitted version may skip the wait. */
      "security-fixes-skip": z.boolean().default(true),
      /** What to do when the upstream gives no upload time. */
      "no-upload-time": action.default("warn"),
      /** Break glass: refuse anything uploaded after this instant. */
      "uploaded-before": isoDate.optional(),
    })
    .strict(),
  yanked: z.object({ ...base, action: action.default("warn") }).strict(),
  "project-status": z.object({ ...base, action: action.default("block") }).strict(),
  licence: z
    .object({
      ...base,
      action: action.default("warn"),
      allow: z.array(z.string()).default([]),
      deny: z.array(z.string()).default([]),
      unknown: z.enum(["pass", "warn", "fail"]).default("warn"),
    })
    .strict(),
  artifact: z.object({ ...base, action: action.default("quarantine") }).strict(),
  "release-drift": z
    .object({
      ...base,
      action: action.default("warn"),
      /** Size growth factor over the previous release that counts as a jump. */
      "size-factor": z.number().min(1).default(3),
    })
    .strict(),
  provenance: z
    .object({
      ...base,
      action: action.default("block"),
      /** Refuse files of this project without verified PEP 740 provenance (set per project). */
      required: z.boolean().default(false),
    })
    .strict(),
} as const;

export type RuleId = keyof typeof RULE_SCHEMAS;
export const RULE_IDS = Object.keys(RULE_SCHEMAS) as RuleId[];
export type RuleConfig<K extends RuleId> = z.output<(typeof RULE_SCHEMAS)[K]>;
export type Rules = { [K in RuleId]: RuleConfig<K> };

const rulesSchema = z
  .object(
    Object.fromEntries(RULE_IDS.map((id) => [id, (RULE_SCHEMAS[id] as z.ZodTypeAny).default({})])) as {
      [K in RuleId]: z.ZodDefault<(typeof RULE_SCHEMAS)[K]>;
    },
  )
  .strict()
  .default({});

const partialRules = z
  .object(
    Object.fromEntries(RULE_IDS.map((id) => [id, z.record(z.unknown()).optional()])) as {
      [K in RuleId]: z.ZodOptional<z.ZodRecord<z.ZodString, z.ZodUnknown>>;
    },
  )
  .strict();

export const exceptionSchema = z
  .object({
    project: z.string().min(1),
    version: z.string().min(1).optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, "sha256 must be 64 lowercase hex digits")
      .optional(),
    /**
     * The checks it waives. Default: all of them, except that a version exception waives
     * `malicious` only when it names it, and `artifact` never (see engine.ts FILE_ONLY_CHECKS).
     */
    checks: z.array(z.string()).optional(),
    reason: z.string().min(1),
    approver: z.string().min(1),
    ticket: z.string().optional(),
    "expires-at": isoDate,
  })
  .strict()
  .refine((e) => (e.version === undefined) !== (e.sha256 === undefined), {
    message: "an exception names exactly one of version or sha256",
  })
  .refine((e) => e.sha256 !== undefined || !e.checks?.includes("artifact"), {
    message: "the artifact check is waived for one exact file (sha256), never for a whole version",
    path: ["checks"],
  });
export type PolicyException = z.output<typeof exceptionSchema>;

/**
 * Remediation items opened when re-evaluation refuses an admitted file: the days an owner has to
 * move off it, per severity, and the severity of findings that carry none (a typo-squat, a
 * static-analysis finding, a changed policy).
 */
const remediationSchema = z
  .object({
    "sla-days": z
      .object({
        critical: days.default(2),
        high: days.default(7),
        medium: days.default(30),
        low: days.default(90),
      })
      .strict()
      .default({}),
    "default-severity": z.enum(SEVERITIES).default("medium"),
  })
  .strict()
  .default({});
export type RemediationSettings = z.output<typeof remediationSchema>;

export const policySchema = z
  .object({
    version: z.literal(1).default(1),
    intel: z
      .object({
        /** Fail closed when no intel was ever imported. */
        required: z.boolean().default(false),
      })
      .strict()
      .default({}),
    rules: rulesSchema,
    remediation: remediationSchema,
    projects: z
      .record(
        z
          .object({
            rules: partialRules.optional(),
            /** Admitted on purpose: never flagged as a typo-squat. */
            "not-a-typosquat": z.boolean().optional(),
          })
          .strict(),
      )
      .default({}),
    exceptions: z.array(exceptionSchema).default([]),
  })
  .strict();

export type PolicyDocument = z.output<typeof policySchema>;

export interface Policy {
  doc: PolicyDocument;
  /** sha256 of the source text: the policy version recorded with every decision. */
  digest: string;
  source: string;
}

export class PolicyError extends Error {
  readonly code = "POLICY_INVALID";
  constructor(message: string) {
    super(message);
    this.name = "PolicyError";
  }
}

/**
 * Parses and validates a policy document. Errors name the file, line and column.
 * @example parsePolicy(readFileSync("policy.yaml", "utf8"), "policy.yaml")
 */
export function parsePolicy(text: string, name = "policy"): Policy {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    throw new PolicyError(`${name}:${pos?.line ?? "?"}:${pos?.col ?? "?"}: ${e.message.split("\n")[0]}`);
  }
  let raw: unknown;
  try {
    // A policy has no use for aliases expanding into thousands of nodes (a "billion laughs"
    // draft sent to the dry run): refused as invalid, like any other bad document.
    raw = (doc.toJS({ maxAliasCount: 100 }) as unknown) ?? {};
  } catch (err) {
    throw new PolicyError(`${name}:1:1: ${(err as Error).message}`);
  }
  const parsed = policySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    let path = issue.path;
    let message = issue.message;
    if (issue.code === "unrecognized_keys") {
      path = [...issue.path, issue.keys[0]!];
      const where = issue.path.join(".");
      message =
        where === "rules" || /^projects\.[^.]+\.rules$/.test(where)
          ? `unknown rule "${issue.keys[0]}" (known: ${RULE_IDS.join(", ")})`
          : `unknown setting "${issue.keys[0]}"`;
    }
    const pos = positionOf(doc, text, path);
    throw new PolicyError(`${name}:${pos}: ${path.join(".") || "(top level)"}: ${message}`);
  }
  // Projects are looked up by their PEP 503 normalised name: `Internal_Tool:` must apply to
  // `internal-tool`, and two spellings of one project would leave which wins to chance.
  const projects: PolicyDocument["projects"] = {};
  const spelled = new Map<string, string>();
  for (const [key, override] of Object.entries(parsed.data.projects)) {
    const where = `${name}:${positionOf(doc, text, ["projects", key])}: projects.${key}`;
    if (!isValidProjectName(key)) throw new PolicyError(`${where}: not a valid project name`);
    const normalized = normalizeProjectName(key);
    const other = spelled.get(normalized);
    if (other !== undefined)
      throw new PolicyError(`${where}: names the same project as projects.${other} (${normalized})`);
    spelled.set(normalized, key);
    projects[normalized] = override;
  }
  parsed.data.projects = projects;
  // Per-project rule overrides are validated against the full rule schema after merging.
  for (const [project, override] of Object.entries(parsed.data.projects)) {
    for (const [id, partial] of Object.entries(override.rules ?? {})) {
      if (!partial) continue;
      const merged = RULE_SCHEMAS[id as RuleId].safeParse({ ...parsed.data.rules[id as RuleId], ...partial });
      if (!merged.success) {
        const path = [
          "projects",
          spelled.get(project) ?? project,
          "rules",
          id,
          ...merged.error.issues[0]!.path,
        ];
        throw new PolicyError(
          `${name}:${positionOf(doc, text, path)}: ${path.join(".")}: ${merged.error.issues[0]!.message}`,
        );
      }
    }
  }
  return { doc: parsed.data, digest: createHash("sha256").update(text).digest("hex"), source: text };
}

/** The effective rules for one project: the policy's rules with the project's overrides. */
export function rulesFor(policy: PolicyDocument, project: string): Rules {
  const override = policy.projects[project]?.rules;
  if (!override) return policy.rules;
  const out = { ...policy.rules } as Record<RuleId, unknown>;
  for (const [id, partial] of Object.entries(override)) {
    if (partial)
      out[id as RuleId] = RULE_SCHEMAS[id as RuleId].parse({ ...policy.rules[id as RuleId], ...partial });
  }
  return out as Rules;
}

function positionOf(doc: Document, text: string, path: (string | number)[]): string {
  let node: YamlNode | null | undefined = doc.contents as YamlNode | null;
  let found: YamlNode | null | undefined = node;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
      if (!pair) break;
      found = (pair.key as YamlNode) ?? found;
      node = pair.value as YamlNode;
    } else if (isSeq(node) && typeof key === "number") {
      node = node.items[key] as YamlNode;
      found = node ?? found;
    } else break;
  }
  const offset = found?.range?.[0] ?? 0;
  const before = text.slice(0, offset).split("\n");
  return `${before.length}:${before.at(-1)!.length + 1}`;
}
