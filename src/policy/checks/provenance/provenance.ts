/**
 * Provenance: whether the upstream's PEP 740 provenance for a file verified, and whether the
 * policy requires it for the file's project. Verification itself (Sigstore, offline) happens
 * where provenance is fetched; this check only reads the recorded result, so re-judging needs no
 * network.
 */
import type { CheckResult } from "../../check.js";
import type { RuleConfig } from "../../policy-schema.js";

/** What is recorded about a file's upstream provenance. */
export interface ProvenanceFacts {
  /**
   * `verified`: every attestation verified for this file and its publisher; `absent`: the
   * upstream has none; `invalid`: it failed verification; `unavailable`: it could not be fetched.
   */
  status: "verified" | "absent" | "invalid" | "unavailable";
  /** Stable publisher identity, e.g. `github:owner/repo/release.yml` (verified only). */
  publisher?: string;
  detail: string;
}

export type ProvenanceConfig = Pick<RuleConfig<"provenance">, "required">;

/**
 * The `provenance` check.
 *
 * | recorded | required | status |
 * | --- | --- | --- |
 * | verified | any | pass |
 * | absent | yes / no | fail / skip |
 * | invalid | yes / no | fail / warn |
 * | unavailable | yes / no | error (fails closed) / skip |
 * | nothing recorded | yes / no | error / skip |
 *
 * @example runProvenance({ status: "verified", publisher: "github:pypa/pip/release.yml", detail: "" }, { required: true })
 */
export function runProvenance(facts: ProvenanceFacts | undefined, config: ProvenanceConfig): CheckResult {
  const check = "provenance";
  const required = config.required;
  if (!facts) {
    return required
      ? { check, status: "error", message: "provenance is required but was never checked", findings: [] }
      : { check, status: "skip", message: "provenance not checked", findings: [] };
  }
  switch (facts.status) {
    case "verified":
      return {
        check,
        status: "pass",
        message: `provenance verified: published by ${facts.publisher ?? "an unnamed publisher"}`,
        findings: [],
      };
    case "absent":
      return required
        ? {
            check,
            status: "fail",
            message: "no provenance, and the policy requires it for this project",
            findings: [
              {
                kind: "provenance-missing",
                message: "the upstream serves no PEP 740 provenance for this file",
                severity: "high",
                evidence: [{ detail: facts.detail }],
              },
            ],
          }
        : { check, status: "skip", message: "no provenance (not required)", findings: [] };
    case "invalid":
      return {
        check,
        status: required ? "fail" : "warn",
        message: `provenance does not verify: ${facts.detail}`,
        findings: [
          {
            kind: "provenance-invalid",
            message: `the upstream's PEP 740 provenance failed verification: ${facts.detail}`,
            severity: "high",
            evidence: [{ detail: facts.detail }],
          },
        ],
      };
    default:
      return required
        ? {
            check,
            status: "error",
            message: `provenance is required but could not be fetched: ${facts.detail}`,
            findings: [],
          }
        : {
            check,
            status: "skip",
            message: `provenance could not be fetched: ${facts.detail}`,
            findings: [],
          };
  }
}
