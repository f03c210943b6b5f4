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
