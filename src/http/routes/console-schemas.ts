/**
 * JSON schemas of the shapes the console API answers with, shared by its routes so that Fastify
 * serialises exactly these fields and `/api/docs` documents them.
 */

const nullableString = { type: ["string", "null"] } as const;
const stringArray = { type: "array", items: { type: "string" } } as const;

export const outcomeSchema = {
  type: "string",
  enum: ["admitted", "quarantined", "blocked", "pending"],
} as const;

// Decision records may grow fields (a new check's facts): they pass through rather than vanish.
export const evidenceSchema = {
  type: "object",
  additionalProperties: true,
  properties: {
    file: { type: "string" },
    line: { type: "integer" },
    excerpt: { type: "string" },
    detail: { type: "string" },
    url: { type: "string" },
  },
} as const;

export const reasonSchema = {
  type: "object",
  additionalProperties: true,
  required: ["check", "outcome", "action", "mode", "message", "evidence"],
  properties: {
    check: { type: "string" },
    outcome: { type: "string", enum: ["pass", "fail", "warn", "skip", "error"] },
    action: { type: "string", enum: ["block", "quarantine", "warn", "allow"] },
    mode: { type: "string", enum: ["enforce", "audit"] },
    wouldHave: { type: "string", enum: ["block", "quarantine", "warn", "allow"] },
    message: { type: "string" },
    severity: { type: "string", enum: ["low", "medium", "high", "critical"] },
    ids: stringArray,
    fixedIn: stringArray,
    evidence: { type: "array", items: evidenceSchema },
    waivedBy: {
      type: "object",
      required: ["reason", "approver", "expiresAt"],
      properties: {
        reason: { type: "string" },
        approver: { type: "string" },
        ticket: { type: "string" },
        expiresAt: { type: "string" },
      },
    },
  },
} as const;

/** The decision record (`src/policy/decision.ts`). */
export const decisionSchema = {
  type: "object",
  additionalProperties: true,
  required: [
    "sha256",
    "filename",
    "project",
    "version",
    "outcome",
    "score",
    "reasons",
    "policyVersion",
    "intelSnapshot",
    "decidedAt",
    "stage",
  ],
  properties: {
    sha256: { type: "string" },
    filename: { type: "string" },
    project: { type: "string" },
    version: { type: "string" },
    outcome: outcomeSchema,
    score: { type: "integer", minimum: 0, maximum: 100 },
    reasons: { type: "array", items: reasonSchema },
    policyVersion: { type: "string" },
    intelSnapshot: { type: "string" },
    decidedAt: { type: "string" },
    stage: { type: "string", enum: ["index", "full"] },
  },
} as const;

const outcomeCounts = {
  type: "object",
  required: ["admitted", "quarantined", "blocked", "pending"],
  properties: {
    admitted: { type: "integer" },
    quarantined: { type: "integer" },
    blocked: { type: "integer" },
    pending: { type: "integer" },
  },
} as const;

export const overviewSchema = {
  type: "object",
  required: ["counts", "requests", "history", "topReasons", "recentBlocks"],
  properties: {
    counts: outcomeCounts,
    requests: { type: "object", required: ["pending"], properties: { pending: { type: "integer" } } },
    history: {
      type: "array",
      items: {
        type: "object",
        required: ["day", "admitted", "quarantined", "blocked"],
        properties: {
          day: { type: "string" },
          admitted: { type: "integer" },
          quarantined: { type: "integer" },
          blocked: { type: "integer" },
        },
      },
    },
    topReasons: {
      type: "array",
      items: {
        type: "object",
        required: ["code", "count"],
        properties: { code: { type: "string" }, count: { type: "integer" } },
      },
    },
    recentBlocks: {
      type: "array",
      items: {
        type: "object",
        required: ["project", "version", "filename", "sha256", "outcome", "reasons", "at", "now"],
        properties: {
          project: { type: "string" },
          version: { type: "string" },
          filename: { type: "string" },
          sha256: { type: "string" },
          outcome: outcomeSchema,
          reasons: stringArray,
          at: { type: "string" },
          now: { anyOf: [outcomeSchema, { type: "null" }] },
        },
      },
    },
  },
} as const;

export const projectSummarySchema = {
  type: "object",
  required: ["name", "displayName", "versions", "files", "outcomes", "owner", "updatedAt"],
  properties: {
    name: { type: "string" },
    displayName: { type: "string" },
    versions: { type: "integer" },
    files: { type: "integer" },
    outcomes: outcomeCounts,
    owner: nullableString,
    updatedAt: { type: "string" },
  },
} as const;

export const projectDetailSchema = {
  type: "object",
  // `consumers` only for approvers and admins.
  required: ["name", "displayName", "owner", "summary", "updatedAt", "versions"],
  properties: {
    name: { type: "string" },
    displayName: { type: "string" },
    owner: nullableString,
    summary: nullableString,
    updatedAt: { type: "string" },
    versions: {
      type: "array",
      items: {
        type: "object",
        required: ["version", "requiresPython", "licence", "dependencies", "requires", "extras", "files"],
        properties: {
          version: { type: "string" },
          requiresPython: nullableString,
          licence: nullableString,
          dependencies: stringArray,
          requires: stringArray,
          extras: {
            type: "array",
            items: {
              type: "object",
              required: ["name", "dependencies"],
              properties: { name: { type: "string" }, dependencies: stringArray },
            },
          },
          files: {
            type: "array",
            items: {
              type: "object",
              required: ["filename", "sha256", "size", "uploadTime", "stored", "decision", "links"],
              properties: {
                filename: { type: "string" },
                sha256: { type: "string" },
                size: { type: ["integer", "null"] },
                uploadTime: nullableString,
                stored: { type: "boolean" },
                decision: { anyOf: [decisionSchema, { type: "null" }] },
                links: {
                  type: "object",
                  required: ["download", "decision", "attestation"],
                  properties: {
                    download: { type: "string" },
                    decision: { type: "string" },
                    attestation: { type: "string" },
                  },
                },
              },
            },
          },
        },
      },
    },
    consumers: {
      type: "array",
      items: {
        type: "object",
        required: ["identity", "team", "version", "lastPulled", "pulls"],
        properties: {
          identity: nullableString,
          team: nullableString,
          version: { type: "string" },
          lastPulled: { type: "string" },
          pulls: { type: "integer" },
        },
      },
    },
  },
} as const;

export const advisorySchema = {
  type: "object",
  required: ["id", "kind", "summary", "severity", "aliases", "url", "published", "projects"],
  properties: {
    id: { type: "string" },
    kind: { type: "string" },
    summary: nullableString,
    severity: { type: ["string", "null"], enum: ["low", "medium", "high", "critical", null] },
    aliases: stringArray,
    url: { type: "string" },
    published: nullableString,
    projects: {
      type: "array",
      items: {
        type: "object",
        required: ["project", "owner", "fixedIn", "files", "consumers"],
        properties: {
          project: { type: "string" },
          owner: nullableString,
          fixedIn: stringArray,
          consumers: { type: "integer" },
          files: {
            type: "array",
            items: {
              type: "object",
              required: ["sha256", "filename", "version", "outcome"],
              properties: {
                sha256: { type: "string" },
                filename: { type: "string" },
                version: { type: "string" },
                outcome: {
                  type: ["string", "null"],
                  enum: ["admitted", "quarantined", "blocked", "pending", null],
                },
              },
            },
          },
        },
      },
    },
  },
} as const;

export const policySchema = {
  type: "object",
  required: ["digest", "source", "activatedAt", "intel"],
  properties: {
    digest: { type: "string" },
    source: { type: "string" },
    activatedAt: nullableString,
    intel: {
      type: "object",
      required: ["snapshot", "missing"],
      properties: { snapshot: { type: "string" }, missing: { type: "boolean" } },
    },
  },
} as const;

export const policyVersionSchema = {
  type: "object",
  required: ["digest", "source", "activatedAt", "active"],
  properties: {
    digest: { type: "string" },
    source: { type: "string" },
    activatedAt: { type: "string" },
    active: { type: "boolean" },
  },
} as const;

export const dryRunSchema = {
  type: "object",
  required: ["digest", "checked", "changed", "counts", "changes"],
  properties: {
    digest: { type: "string" },
    checked: { type: "integer" },
    changed: { type: "integer" },
    counts: {
      type: "object",
      required: ["current", "draft"],
      properties: { current: outcomeCounts, draft: outcomeCounts },
    },
    changes: {
      type: "array",
      items: {
        type: "object",
        required: ["sha256", "project", "version", "filename", "from", "to", "reasons"],
        properties: {
          sha256: { type: "string" },
          project: { type: "string" },
          version: { type: "string" },
          filename: { type: "string" },
          from: outcomeSchema,
          to: outcomeSchema,
          reasons: stringArray,
        },
      },
    },
  },
} as const;
