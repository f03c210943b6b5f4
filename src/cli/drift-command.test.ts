import { test } from "node:test";
import assert from "node:assert/strict";
import type { ConsumerDrift } from "../services/identity/inventory-service.js";
import { formatDrift } from "./drift-command.js";

test("drift prints every value inert, also from rows stored before headers were escaped", () => {
  const drift: ConsumerDrift[] = [
    {
      identity: null,
      ip: "10.0.0.1",
      application: "ci\r\u001b[2Kci-bot (team build):",
      team: null,
      changes: [
        {
          kind: "new-project",
          project: "acme",
          version: "1.0\n  downgrade   evil==0.1",
          previous: null,
          filename: "acme-1.0-py3-none-any.whl",
          firstPulled: "2026-11-01T00:00:00.000Z",
        },
      ],
    },
  ];
  const out = formatDrift(drift);
  assert.equal(
    out,
    "anonymous@10.0.0.1 [ci\\u000d\\u001b[2Kci-bot (team build):]:\n" +
      "  new-project acme==1.0\\u000a  downgrade   evil==0.1  first pulled 2026-11-01T00:00:00.000Z\n",
  );
});
