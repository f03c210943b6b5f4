import { test } from "node:test";
import assert from "node:assert/strict";
import type { Reason } from "../../policy/decision.js";
import { parsePolicy } from "../../policy/policy-schema.js";
import {
  RemediationTransitionError,
  buildReport,
  causeOf,
  checkTransition,
  closesItems,
  dueAt,
  fixedVersionOf,
  noticeFor,
  openedDigest,
  opensItem,
  severityOf,
  type RemediationOpened,
} from "./remediation-rules.js";

const DAY = 86_400_000;
const settings = parsePolicy("version: 1\n").doc.remediation;

function reason(over: Partial<Reason>): Reason {
  return {
    check: "vulnerability",
    outcome: "fail",
    action: "block",
    mode: "enforce",
    message: "m",
    evidence: [],
    ...over,
  };
}
const firstId = (r: Reason) => (r.ids ? [r.ids[0]!] : []);

test("the policy's remediation section has defaults and validates", () => {
  assert.deepEqual(settings["sla-days"], { critical: 2, high: 7, medium: 30, low: 90 });
  assert.equal(settings["default-severity"], "medium");
  const custom = parsePolicy("remediation:\n  sla-days:\n    critical: 1\n").doc.remediation;
  assert.equal(custom["sla-days"].critical, 1);
  assert.equal(custom["sla-days"].high, 7);
  assert.throws(
    () => parsePolicy("remediation:\n  sla-days:\n    urgent: 1\n", "p.yaml"),
    /p\.yaml:3:\d+: .*urgent/,
  );
  assert.throws(() => parsePolicy("remediation:\n  default-severity: huge\n", "p.yaml"), /p\.yaml:2/);
});

test("only an admitted file newly refused opens an item; admitted again closes", () => {
  assert.equal(opensItem("admitted", "blocked"), true);
  assert.equal(opensItem("admitted", "quarantined"), true);
  assert.equal(opensItem(null, "blocked"), false, "refused at first sight: nobody has it");
  assert.equal(opensItem("pending", "blocked"), false);
  assert.equal(opensItem("blocked", "quarantined"), false);
  assert.equal(closesItems("blocked", "admitted"), true);
  assert.equal(closesItems("quarantined", "admitted"), true);
  assert.equal(closesItems(null, "admitted"), false);
});

test("severity: malicious is critical, advisories carry theirs, others the default", () => {
  assert.equal(severityOf([reason({ check: "malicious" })], settings), "critical");
  assert.equal(severityOf([reason({ severity: "low" })], settings), "low");
  assert.equal(
    severityOf([reason({ severity: "low" }), reason({ check: "artifact", action: "quarantine" })], settings),
    "medium",
  );
  assert.equal(
    severityOf([reason({ severity: "high" }), reason({ check: "malicious" })], settings),
    "critical",
  );
  // Warnings and waived reasons do not count.
  assert.equal(
    severityOf([reason({ check: "malicious", action: "warn" }), reason({ severity: "low" })], settings),
    "low",
  );
});

test("due date follows the SLA of the severity", () => {
  assert.equal(dueAt(1000, "critical", settings), 1000 + 2 * DAY);
  assert.equal(dueAt(1000, "low", settings), 1000 + 90 * DAY);
});

test("the cause is stable: refusing checks and advisory ids, sorted", () => {
  const a = [
    reason({ ids: ["PYSEC-2"] }),
    reason({ check: "artifact", action: "quarantine" }),
    reason({ check: "yanked", action: "warn" }),
  ];
  assert.equal(causeOf(a, firstId), "artifact,vulnerability:PYSEC-2");
  assert.equal(causeOf([...a].reverse(), firstId), "artifact,vulnerability:PYSEC-2");
  assert.equal(causeOf([], firstId), "policy");
});

test("fixed version: the highest advisory fix, else the nearest admitted", () => {
  assert.equal(fixedVersionOf([reason({ fixedIn: ["1.10"] }), reason({ fixedIn: ["1.9"] })]), "1.10");
  assert.equal(fixedVersionOf([reason({ check: "artifact" })], "2.0"), "2.0");
  assert.equal(fixedVersionOf([reason({ check: "artifact" })]), null);
});

test("state machine: accepted risk needs a reason and a future expiry; fixed is closed", () => {
  const now = 10 * DAY;
  checkTransition("open", { state: "acknowledged" }, now);
  checkTransition("acknowledged", { state: "accepted-risk", reason: "not reachable", until: now + DAY }, now);
  checkTransition("accepted-risk", { state: "open" }, now);
  assert.throws(
    () => checkTransition("open", { state: "accepted-risk", reason: " ", until: now + DAY }, now),
    /reason/,
  );
  assert.throws(
    () => checkTransition("open", { state: "accepted-risk", reason: "x", until: now }, now),
    /expiry/,
  );
  checkTransition("open", { state: "accepted-risk", reason: "x", until: now + 366 * DAY }, now);
  for (const until of [now + 367 * DAY, now + 1e8 * DAY, Number.MAX_VALUE])
    assert.throws(
      () => checkTransition("open", { state: "accepted-risk", reason: "x", until }, now),
      /at most 366 days/,
    );
  assert.throws(() => checkTransition("fixed", { state: "open" }, now), RemediationTransitionError);
  assert.throws(
    () => checkTransition("open", { state: "open" }, now),
    (err: RemediationTransitionError) => /the item is open already/.test(err.message) && err.conflict,
  );
});

test("notices: due a day before (or a quarter of a short SLA), overdue after", () => {
  const item = { openedAt: 0, dueAt: 7 * DAY };
  assert.equal(noticeFor(item, 5 * DAY), undefined);
  assert.equal(noticeFor(item, 6 * DAY), "due");
  assert.equal(noticeFor(item, 7 * DAY), "overdue");
  const short = { openedAt: 0, dueAt: 2 * DAY };
  assert.equal(noticeFor(short, 1.4 * DAY), undefined);
  assert.equal(noticeFor(short, 1.6 * DAY), "due");
});

test("report: open items by age and severity, overdue, mean time to remediate", () => {
  const now = 100 * DAY;
  const r = buildReport(
    [
      { state: "open", severity: "high", openedAt: now - DAY, dueAt: now + DAY, resolvedAt: null },
      {
        state: "acknowledged",
        severity: "high",
        openedAt: now - 2 * DAY,
        dueAt: now - DAY,
        resolvedAt: null,
      },
      {
        state: "open",
        severity: "critical",
        openedAt: now - 40 * DAY,
        dueAt: now - 38 * DAY,
        resolvedAt: null,
      },
      { state: "accepted-risk", severity: "low", openedAt: 0, dueAt: 90 * DAY, resolvedAt: null },
      { state: "fixed", severity: "low", openedAt: 0, dueAt: 90 * DAY, resolvedAt: 10 * 3_600_000 },
      { state: "fixed", severity: "low", openedAt: 0, dueAt: 90 * DAY, resolvedAt: 20 * 3_600_000 },
    ],
    now,
  );
  assert.deepEqual(r.open, [
    { bucket: "0-7d", severity: "high", count: 2 },
    { bucket: "31-90d", severity: "critical", count: 1 },
  ]);
  assert.equal(r.openTotal, 3);
  assert.equal(r.overdue, 2);
  assert.equal(r.acceptedRisk, 1);
  assert.equal(r.fixed, 2);
  assert.equal(r.meanTimeToRemediateHours, 15);
  assert.equal(buildReport([], now).meanTimeToRemediateHours, null);
});

/** The `remediation.opened` event of item `itemId`, opened at `at` (ms) with its SLA. */
function openedEvent(
  itemId: number,
  over: {
    project?: string;
    version?: string;
    severity?: "low" | "medium" | "high" | "critical";
    owner?: string | null;
    at?: number;
  } = {},
): RemediationOpened {
  const severity = over.severity ?? "medium";
  const at = over.at ?? Date.parse("2026-11-27T12:00:00Z");
  return {
    type: "remediation.opened",
    itemId,
    project: over.project ?? "acme",
    version: over.version ?? `1.${itemId}`,
    severity,
    owner: over.owner === undefined ? "team-a" : over.owner,
    due: new Date(dueAt(at, severity, settings)).toISOString(),
    at: new Date(at).toISOString(),
  };
}

test("a digest of opened items: counts by severity and owner, the earliest due, the most urgent listed first", () => {
  const t0 = Date.parse("2026-11-27T12:00:00Z");
  const opened = [
    ...Array.from({ length: 20 }, (_, i) => openedEvent(i + 1, { owner: i < 12 ? "team-b" : "team-a" })),
    openedEvent(21, { project: "widgets", version: "2.0", severity: "high", owner: null }),
    openedEvent(22, { project: "widgets", version: "1.0", severity: "high", owner: null }),
    openedEvent(23, { project: "gadgets", severity: "critical", owner: null, at: t0 + 60_000 }),
    openedEvent(24, { severity: "low", owner: "team-c" }),
    // Item 1 reopened later in the same batch (refused, admitted, refused again): counted once.
    openedEvent(1, { owner: "team-b", at: t0 + 120_000 }),
  ];
  const d = openedDigest(opened, 3);
  assert.equal(d.type, "remediations.opened");
  assert.equal(d.count, 24, "24 items, one of them opened twice");
  assert.deepEqual(d.bySeverity, [
    { severity: "critical", count: 1 },
    { severity: "high", count: 2 },
    { severity: "medium", count: 20 },
    { severity: "low", count: 1 },
  ]);
  assert.deepEqual(d.byOwner, [
    { owner: "team-b", count: 12 },
    { owner: "team-a", count: 8 },
    { owner: "team-c", count: 1 },
  ]);
  assert.equal(d.unowned, 3);
  assert.equal(d.earliestDue, new Date(t0 + 60_000 + 2 * DAY).toISOString(), "the critical item's");
  assert.deepEqual(
    d.items.map((i) => i.itemId),
    [23, 22, 21],
    "three listed, most urgent first: by due date, then project and version",
  );
  assert.deepEqual(d.items[0], {
    itemId: 23,
    project: "gadgets",
    version: "1.23",
    severity: "critical",
    owner: null,
    due: new Date(t0 + 60_000 + 2 * DAY).toISOString(),
  });
  assert.equal(d.at, new Date(t0 + 120_000).toISOString(), "the latest opening");

  assert.equal(openedDigest([...opened].reverse(), 3).batch, d.batch, "the same openings: the same batch");
  assert.notEqual(openedDigest(opened.slice(1), 3).batch, d.batch, "other openings: another batch");
  assert.equal(openedDigest(opened, 50).items.length, 24, "all listed when they fit");
});
