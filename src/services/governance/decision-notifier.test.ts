import { test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import type { DecisionEvent } from "../../adapters/db/decision-repository.js";
import type { Reason } from "../../policy/decision.js";
import type { Consumer } from "../audit-entry.js";
import { EventBus } from "../event-bus.js";
import { DecisionNotifier } from "./decision-notifier.js";

const reason: Reason = {
  check: "vulnerability",
  outcome: "fail",
  action: "block",
  mode: "enforce",
  message: "PYSEC-2099-1",
  ids: ["PYSEC-2099-1"],
  evidence: [],
};

function refused(sha256: string, version: string): DecisionEvent {
  return {
    id: 1,
    sha256,
    project: "acme",
    version,
    filename: `acme-${version}-py3-none-any.whl`,
    from: "admitted",
    to: "blocked",
    reasons: [reason],
    at: "2026-11-01T00:00:00.000Z",
  };
}

function pulled(identity: string | null, sha256: string, version: string, lastPulled: string): Consumer {
  return {
    identity,
    team: null,
    ip: "10.0.0.1",
    application: null,
    client: "pip 26.2",
    sha256,
    project: "acme",
    version,
    filename: `acme-${version}-py3-none-any.whl`,
    firstPulled: lastPulled,
    lastPulled,
    pulls: 1,
  };
}

test("advisory.affects lists each consumer once, with the affected versions it pulled", async () => {
  const rows = [
    pulled("ci", "a".repeat(64), "1.0", "2026-10-01T00:00:00.000Z"),
    pulled("ci", "b".repeat(64), "1.10", "2026-10-05T00:00:00.000Z"),
    pulled("ci", "c".repeat(64), "1.2", "2026-10-03T00:00:00.000Z"),
    pulled(null, "a".repeat(64), "1.0", "2026-10-02T00:00:00.000Z"),
  ];
  const notifier = new DecisionNotifier({
    events: new EventBus(),
    inventory: { consumersOfFiles: () => Promise.resolve(rows) },
    log: pino({ level: "silent" }),
    advisoryIds: (r) => r.ids ?? [],
  });
  const out = await notifier.handle([
    refused("a".repeat(64), "1.0"),
    refused("b".repeat(64), "1.10"),
    refused("c".repeat(64), "1.2"),
  ]);
  const affects = out.find((e) => e.type === "advisory.affects");
  assert.ok(affects && affects.type === "advisory.affects", "an advisory.affects event");
  assert.deepEqual(affects.consumers, [
    {
      identity: "ci",
      client: "pip 26.2, from 10.0.0.1",
      versions: ["1.0", "1.2", "1.10"],
      lastPulled: "2026-10-05T00:00:00.000Z",
    },
    {
      identity: "anonymous@10.0.0.1",
      client: "pip 26.2, from 10.0.0.1",
      versions: ["1.0"],
      lastPulled: "2026-10-02T00:00:00.000Z",
    },
  ]);
});

function notifier(): DecisionNotifier {
  return new DecisionNotifier({
    events: new EventBus(),
    inventory: { consumersOfFiles: () => Promise.resolve([]) },
    log: pino({ level: "silent" }),
    advisoryIds: (r) => r.ids ?? [],
  });
}

/** `n` newly refused files of `project`, versions 1.0 … 1.(n-1). */
function refusedMany(n: number, project: string, reasons: Reason[] = [reason]): DecisionEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    ...refused(`${project}-${i}-`.padEnd(64, "0"), `1.${i}`),
    id: i + 1,
    project,
    filename: `${project}-1.${i}-py3-none-any.whl`,
    reasons,
  }));
}

test("up to the threshold (20 files) a batch is told file by file, as before", async () => {
  const out = await notifier().handle(refusedMany(20, "acme"));
  assert.equal(out.filter((e) => e.type === "file.blocked").length, 20);
  assert.equal(out.filter((e) => e.type === "files.blocked").length, 0, "no digest");
});

test("a batch refusing more than 20 files is told as one files.blocked digest with its counts", async () => {
  const licence: Reason = { ...reason, check: "licence", message: "GPL-3.0", ids: undefined };
  const malicious: Reason = { ...reason, check: "malicious", message: "MAL-1", ids: ["MAL-1"] };
  const events = [
    ...refusedMany(60, "acme"),
    ...refusedMany(30, "widgets", [reason, { ...licence, action: "warn" }]),
    ...refusedMany(5, "gadgets", [licence, malicious]),
    // Not newly refused: already refused before, or admitted now.
    { ...refused("e".repeat(64), "9.0"), from: "blocked" as const },
    { ...refused("f".repeat(64), "9.1"), to: "admitted" as const },
    // Refused at first sight: counted, but not as admitted before.
    { ...refused("0".repeat(64), "0.1"), from: null },
  ];
  const out = await notifier().handle(events);
  assert.equal(out.filter((e) => e.type === "file.blocked").length, 0, "no per-file event");
  const digests = out.filter((e) => e.type === "files.blocked");
  assert.equal(digests.length, 1, "one digest");
  const d = digests[0]!;
  assert.ok(d.type === "files.blocked", "a files.blocked event");
  assert.equal(d.count, 96);
  assert.equal(d.admittedBefore, 95);
  assert.deepEqual(d.byProject, [
    { project: "acme", count: 61 },
    { project: "widgets", count: 30 },
    { project: "gadgets", count: 5 },
  ]);
  assert.deepEqual(d.byReason, [
    { reason: "PYSEC-2099-1", check: "vulnerability", count: 91 },
    { reason: "MAL-1", check: "malicious", count: 5 },
    { reason: "licence", check: "licence", count: 5 },
  ]);
  assert.equal(d.files.length, 50, "the first 50 files are listed");
  assert.deepEqual(d.files[0], {
    sha256: "0".repeat(64),
    project: "acme",
    version: "0.1",
    filename: "acme-0.1-py3-none-any.whl",
  });
  assert.deepEqual(
    d.files.slice(1, 4).map((f) => f.version),
    ["1.0", "1.1", "1.2"],
    "by project, then version order",
  );
  const affects = out.filter((e) => e.type === "advisory.affects");
  assert.deepEqual(
    affects.map((e) => (e.type === "advisory.affects" ? `${e.advisoryId} ${e.project}` : "")).sort(),
    ["MAL-1 gadgets", "PYSEC-2099-1 acme", "PYSEC-2099-1 widgets"],
    "advisory.affects stays grouped by advisory and project",
  );

  const again = (await notifier().handle([...events].reverse())).find((e) => e.type === "files.blocked");
  assert.ok(again?.type === "files.blocked", "a digest again");
  assert.equal(again.batch, d.batch, "the same changes taken in again (another instance): the same batch");
  const other = (await notifier().handle(events.slice(1))).find((e) => e.type === "files.blocked");
  assert.ok(other?.type === "files.blocked", "a digest of other changes");
  assert.notEqual(other.batch, d.batch);
});
