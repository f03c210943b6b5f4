import { createHash } from "node:crypto";
import type { RemediationItem } from "../../adapters/db/remediation-repository.js";
import type { Severity } from "../../policy/check.js";
import { REFUSING, type Outcome, type Reason } from "../../policy/decision.js";
import type { RemediationSettings } from "../../policy/policy-schema.js";
import { compareVersions } from "../../domain/version.js";
import type { GatewayEvent } from "../event-bus.js";

/**
 * The rules of remediation items, free of I/O: which decision changes open one, its cause (the
 * idempotency key with the file's sha256), its severity, due date and the state machine.
 */

export const REMEDIATION_STATES = ["open", "acknowledged", "fixed", "accepted-risk"] as const;

/** The name the gateway acts under when it opens, closes or reopens items by itself. */
export const SYSTEM_ACTOR_NAME = "portcullis";
export type RemediationState = (typeof REMEDIATION_STATES)[number];
export const SEVERITY_ORDER: readonly Severity[] = ["low", "medium", "high", "critical"];
const DAY = 86_400_000;

/** A change that opens an item: a file that was admitted is now refused (re-evaluation). */
export function opensItem(from: Outcome | null, to: Outcome): boolean {
  return from === "admitted" && REFUSING.has(to);
}

/** A change that closes a file's items as fixed: the file is admitted again. */
export function closesItems(from: Outcome | null, to: Outcome): boolean {
  return from !== null && REFUSING.has(from) && to === "admitted";
}

/** The reasons that refused the file (enforced block or quarantine). */
export function refusingReasons(reasons: readonly Reason[]): Reason[] {
  return reasons.filter((r) => r.action === "block" || r.action === "quarantine");
}

/**
 * The cause of a refusal, stable across instances and re-judgements: each refusing check with
 * the advisory or report ids it named, sorted. Two instances seeing the same change agree on it.
 */
export function causeOf(reasons: readonly Reason[], advisoryIds: (r: Reason) => string[]): string {
  const parts = refusingReasons(reasons).map((r) => {
    const ids = advisoryIds(r);
    return ids.length ? `${r.check}:${[...ids].sort().join("+")}` : r.check;
  });
  const cause = [...new Set(parts)].sort().join(",");
  return (cause || "policy").slice(0, 400);
}

/**
 * The severity of an item: the highest of its refusing reasons. A malicious report is critical;
 * a vulnerability carries its advisory's severity (or the rule's `unknown-severity`, which the
 * check already applied); any other finding counts as the policy's `default-severity`.
 */
export function severityOf(reasons: readonly Reason[], settings: RemediationSettings): Severity {
  let best: Severity | undefined;
  for (const r of refusingReasons(reasons)) {
    const s: Severity = r.check === "malicious" ? "critical" : (r.severity ?? settings["default-severity"]);
    if (!best || SEVERITY_ORDER.indexOf(s) > SEVERITY_ORDER.indexOf(best)) best = s;
  }
  return best ?? settings["default-severity"];
}

/** Due date: opened plus the SLA days of its severity. */
export function dueAt(openedAt: number, severity: Severity, settings: RemediationSettings): number {
  return openedAt + settings["sla-days"][severity] * DAY;
}

/**
 * The version to move to: the highest version any refusing advisory names as fixed (all of them
 * are fixed there), else the nearest admitted version the catalog knows.
 */
export function fixedVersionOf(reasons: readonly Reason[], nearestAdmitted?: string): string | null {
  const fixed = refusingReasons(reasons).flatMap((r) => r.fixedIn ?? []);
  if (fixed.length) return [...fixed].sort(compareVersions).at(-1)!;
  return nearestAdmitted ?? null;
}

/** The `remediation.opened` event of one item. */
export type RemediationOpened = Extract<GatewayEvent, { itemId: number }> & { type: "remediation.opened" };
/** One message for the items a batch of decision changes opened. */
export type RemediationsOpened = Extract<GatewayEvent, { type: "remediations.opened" }>;

/**
 * The `remediations.opened` digest standing for these `remediation.opened` events (of one batch,
 * non-empty), listing the first `listed` items. An item opened twice in the batch (refused,
 * admitted, refused again) counts once, as its last opening.
 */
export function openedDigest(opened: readonly RemediationOpened[], listed: number): RemediationsOpened {
  const items = [...new Map(opened.map((e) => [e.itemId, e])).values()];
  const bySeverity = new Map<string, number>();
  const byOwner = new Map<string, number>();
  for (const e of items) {
    bySeverity.set(e.severity, (bySeverity.get(e.severity) ?? 0) + 1);
    if (e.owner !== null) byOwner.set(e.owner, (byOwner.get(e.owner) ?? 0) + 1);
  }
  items.sort(
    (a, b) =>
      byText(a.due, b.due) ||
      severityRank(b.severity) - severityRank(a.severity) ||
      byText(a.project, b.project) ||
      compareVersions(a.version, b.version) ||
      a.itemId - b.itemId,
  );
  // Every opening told, not only the items listed: another batch is another message. These are
  // the keys of the `remediation.opened` events the digest replaces.
  const told = opened.map((e) => `${e.itemId}:${e.due}`).sort();
  return {
    type: "remediations.opened",
    count: items.length,
    bySeverity: [...bySeverity]
      .map(([severity, count]) => ({ severity, count }))
      .sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || byText(a.severity, b.severity)),
    byOwner: [...byOwner]
      .map(([owner, count]) => ({ owner, count }))
      .sort((a, b) => b.count - a.count || byText(a.owner, b.owner)),
    unowned: items.filter((e) => e.owner === null).length,
    // ISO 8601 times in UTC: their text order is their time order.
    earliestDue: items[0]!.due,
    items: items.slice(0, listed).map((e) => ({
      itemId: e.itemId,
      project: e.project,
      version: e.version,
      severity: e.severity,
      owner: e.owner,
      due: e.due,
    })),
    at: opened.reduce((latest, e) => (e.at > latest ? e.at : latest), opened[0]!.at),
    batch: createHash("sha256").update(told.join("\n")).digest("hex"),
  };
}

/** A severity's rank, higher is more severe; one the order does not know ranks lowest. */
function severityRank(severity: string): number {
  return SEVERITY_ORDER.indexOf(severity as Severity);
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A requested state change, as the CLI and the API take it. */
export type StateChange =
  | { state: "acknowledged"; note?: string }
  | { state: "fixed"; note?: string }
  | { state: "accepted-risk"; reason: string; until: number }
  | { state: "open"; note?: string };

export class RemediationTransitionError extends Error {
  constructor(
    message: string,
    /** The item changed between reading and writing (another approver or instance). */
    readonly conflict = false,
  ) {
    super(message);
    this.name = "RemediationTransitionError";
  }
}

const ALLOWED: Record<RemediationState, readonly RemediationState[]> = {
  open: ["acknowledged", "fixed", "accepted-risk"],
  acknowledged: ["open", "fixed", "accepted-risk"],
  "accepted-risk": ["open", "acknowledged", "fixed"],
  // A fixed item is closed; the same file refused again for the same cause reopens it.
  fixed: [],
};

/**
 * The longest a risk may be accepted for: an acceptance is a decision to revisit, and an expiry
 * decades away (or past what a date can hold) would be one that never comes back.
 */
export const MAX_ACCEPTANCE_DAYS = 366;

/**
 * Checks a state change: accepted risk needs a reason and an expiry in the future (it is never
 * for ever: when it expires the item reopens); a fixed item is closed. Throws
 * {@link RemediationTransitionError} with a plain reason otherwise.
 */
export function checkTransition(from: RemediationState, change: StateChange, now: number): void {
  // Refused by the item's current state: a conflict (409), as for the loser of a race to change
  // it; two approvers acknowledging at once get the same answer however their calls interleave.
  if (!ALLOWED[from].includes(change.state)) {
    throw new RemediationTransitionError(
      from === "fixed"
        ? "the item is fixed (closed); it reopens by itself if the file is refused again"
        : from === change.state
          ? `the item is ${from} already`
          : `cannot go from ${from} to ${change.state}`,
      true,
    );
  }
  if (change.state === "accepted-risk") {
    if (!change.reason.trim()) throw new RemediationTransitionError("accepting the risk needs a reason");
    if (!Number.isFinite(change.until) || change.until <= now)
      throw new RemediationTransitionError("accepting the risk needs an expiry in the future");
    if (change.until > now + MAX_ACCEPTANCE_DAYS * DAY)
      throw new RemediationTransitionError(
        `a risk is accepted for at most ${MAX_ACCEPTANCE_DAYS} days (then it is reviewed again); accept it again when it reopens`,
      );
  }
}

/** Whether a notice is due: `due` within a day (or a quarter of the SLA, if shorter) of the due date. */
export function noticeFor(
  item: { openedAt: number; dueAt: number },
  now: number,
): "due" | "overdue" | undefined {
  if (now >= item.dueAt) return "overdue";
  const lead = Math.min(DAY, (item.dueAt - item.openedAt) / 4);
  return now >= item.dueAt - lead ? "due" : undefined;
}

export const AGE_BUCKETS = [
  { label: "0-7d", maxDays: 7 },
  { label: "8-30d", maxDays: 30 },
  { label: "31-90d", maxDays: 90 },
  { label: ">90d", maxDays: Infinity },
] as const;

export function ageBucket(openedAt: number, now: number): string {
  const days = (now - openedAt) / DAY;
  return AGE_BUCKETS.find((b) => days <= b.maxDays)!.label;
}

export interface RemediationReport {
  at: string;
  /** Items still to do (open or acknowledged), by age bucket and severity. */
  open: { bucket: string; severity: Severity; count: number }[];
  openTotal: number;
  overdue: number;
  acceptedRisk: number;
  fixed: number;
  /** Mean of (fixed at − opened at) over fixed items, in hours; null with none fixed. */
  meanTimeToRemediateHours: number | null;
}

/** The report over every item's (state, severity, opened, due, resolved) facts. */
export function buildReport(
  items: readonly {
    state: RemediationState;
    severity: Severity;
    openedAt: number;
    dueAt: number;
    resolvedAt: number | null;
  }[],
  now: number,
): RemediationReport {
  const counts = new Map<string, number>();
  let openTotal = 0;
  let overdue = 0;
  let acceptedRisk = 0;
  let fixed = 0;
  let fixTime = 0;
  for (const it of items) {
    if (it.state === "open" || it.state === "acknowledged") {
      openTotal++;
      if (now >= it.dueAt) overdue++;
      const key = `${ageBucket(it.openedAt, now)}|${it.severity}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    } else if (it.state === "accepted-risk") acceptedRisk++;
    else if (it.resolvedAt !== null) {
      fixed++;
      fixTime += it.resolvedAt - it.openedAt;
    }
  }
  const open: RemediationReport["open"] = [];
  for (const b of AGE_BUCKETS) {
    for (const s of [...SEVERITY_ORDER].reverse()) {
      const count = counts.get(`${b.label}|${s}`);
      if (count) open.push({ bucket: b.label, severity: s, count });
    }
  }
  return {
    at: new Date(now).toISOString(),
    open,
    openTotal,
    overdue,
    acceptedRisk,
    fixed,
    meanTimeToRemediateHours: fixed ? Math.round((fixTime / fixed / 3_600_000) * 10) / 10 : null,
  };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** An item as the API and the CLI's --json show it (times in ISO 8601). */
export function itemToJson(i: RemediationItem): Record<string, unknown> {
  return {
    id: i.id,
    sha256: i.sha256,
    cause: i.cause,
    project: i.project,
    version: i.version,
    filename: i.filename,
    severity: i.severity,
    owner: i.owner,
    state: i.state,
    summary: i.summary,
    advisoryIds: i.advisoryIds,
    consumers: i.consumers,
    fixedVersion: i.fixedVersion,
    openedAt: iso(i.openedAt),
    dueAt: iso(i.dueAt),
    stateChangedAt: iso(i.stateChangedAt),
    stateChangedBy: i.stateChangedBy,
    note: i.note,
    acceptedUntil: iso(i.acceptedUntil),
    resolvedAt: iso(i.resolvedAt),
    resolution: i.resolution,
    ...(i.history
      ? {
          history: i.history.map((e) => ({
            at: iso(e.at),
            from: e.from,
            state: e.state,
            by: e.by,
            note: e.note,
            acceptedUntil: iso(e.acceptedUntil),
            resolution: e.resolution,
            owner: e.owner,
          })),
        }
      : {}),
  };
}
