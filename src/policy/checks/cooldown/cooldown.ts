import type { CheckResult, FileFacts } from "../../check.js";
import type { RuleConfig } from "../../policy-schema.js";

const DAY_MS = 24 * 60 * 60 * 1000;

export interface CooldownContext {
  now: number;
  /**
   * Advisory ids affecting an older admitted version of the project that this version fixes;
   * such a release may skip the wait when the policy says so.
   */
  fixesAdvisories?: string[];
}

/**
 * `cooldown`: most hijacked releases are found and pulled within days, so a release younger than
 * N days waits; it is admitted by itself once old enough. A hard "nothing uploaded after" date is
 * the break-glass switch during an incident.
 */
export function runCooldown(
  facts: FileFacts,
  config: RuleConfig<"cooldown">,
  ctx: CooldownContext,
): CheckResult {
  const check = "cooldown";
  if (!facts.uploadTime || Number.isNaN(Date.parse(facts.uploadTime))) {
    // Break glass fails closed: without an upload time nothing shows the file predates the cut-off.
    if (config["uploaded-before"])
      return {
        check,
        status: "fail",
        message: `the upstream gives no upload time, so nothing shows it was uploaded before the break-glass cut-off ${config["uploaded-before"]}`,
        findings: [
          {
            kind: "after-cutoff",
            message: `nothing is admitted that cannot be shown uploaded before ${config["uploaded-before"]}`,
          },
        ],
      };
    const status =
      config["no-upload-time"] === "allow" ? "pass" : config["no-upload-time"] === "warn" ? "warn" : "fail";
    return {
      check,
      status,
      message: "the upstream gives no upload time, so the release's age is unknown",
      findings: [{ kind: "no-upload-time", message: "no PEP 700 upload-time for this file" }],
    };
  }
  const uploaded = Date.parse(facts.uploadTime);
  if (config["uploaded-before"] && uploaded >= Date.parse(config["uploaded-before"])) {
    return {
      check,
      status: "fail",
      message: `uploaded ${facts.uploadTime}, after the break-glass cut-off ${config["uploaded-before"]}`,
      findings: [
        {
          kind: "after-cutoff",
          message: `nothing uploaded after ${config["uploaded-before"]} is admitted`,
          evidence: [{ detail: `upload-time ${facts.uploadTime}` }],
        },
      ],
    };
  }
  // An upload time after now (clock skew, or an upstream that lies) is no age at all: the release
  // counts as just released, and waits until `days` after the time the upstream claims.
  const future = uploaded > ctx.now;
  const ageMs = Math.max(0, ctx.now - uploaded);
  const needMs = config.days * DAY_MS;
  const released = future
    ? `upload time ${facts.uploadTime} is in the future (clock skew or a wrong upstream); treated as just released`
    : `released ${formatAge(ageMs)} ago`;
  if (ageMs >= needMs) {
    return {
      check,
      status: "pass",
      message: future ? released : `released ${Math.floor(ageMs / DAY_MS)} days ago`,
      findings: [],
    };
  }
  if (config["security-fixes-skip"] && ctx.fixesAdvisories?.length) {
    return {
      check,
      status: "pass",
      message: `${released}, admitted early: it fixes ${ctx.fixesAdvisories.join(", ")}`,
      findings: [],
    };
  }
  const releaseAt = new Date(uploaded + needMs).toISOString();
  return {
    check,
    status: "fail",
    message: `${released}; releases wait ${config.days} days (admitted from ${releaseAt})`,
    findings: [
      {
        kind: "too-new",
        message: `uploaded ${facts.uploadTime}, younger than the ${config.days}-day cooldown`,
        evidence: [{ detail: `available from ${releaseAt}` }],
      },
    ],
  };
}

function formatAge(ms: number): string {
  const hours = Math.floor(ms / 3_600_000);
  return hours < 48 ? `${hours} hours` : `${Math.floor(hours / 24)} days`;
}
