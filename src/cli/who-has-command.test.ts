import { test } from "node:test";
import assert from "node:assert/strict";
import type { WhoHasResult } from "../services/identity/inventory-service.js";
import { formatWhoHas } from "./who-has-command.js";

test("who-has names every advisory an alias answered for, also from an older gateway without ids", () => {
  const advisory = {
    id: "CVE-2026-1",
    summary: "a flaw",
    affected: [{ project: "acme", versions: ["1.0"] }],
  };
  const several: WhoHasResult = {
    query: "CVE-2026-1",
    advisory: { ...advisory, ids: ["PYSEC-2026-1", "GHSA-aaaa-bbbb-cccc"] },
    consumers: [],
  };
  assert.match(
    formatWhoHas(several),
    /^CVE-2026-1 \(PYSEC-2026-1, GHSA-aaaa-bbbb-cccc\): a flaw\n {2}affects acme 1\.0\n/,
  );
  // A gateway from before `ids` answers without it.
  const older = { query: "CVE-2026-1", advisory, consumers: [] } as unknown as WhoHasResult;
  assert.match(formatWhoHas(older), /^CVE-2026-1: a flaw\n/);
});

test("who-has prints every value inert, whatever the gateway answered or older rows hold", () => {
  // What a remote gateway (--gateway) or a row stored before the gateway escaped headers can hold.
  const hostile: WhoHasResult = {
    query: "acme==1.0",
    advisory: {
      id: "CVE-2026-1",
      ids: ["CVE-2026-1"],
      summary: "flaw\u001b[2J",
      affected: [{ project: "acme", versions: ["1.0\r"] }],
    },
    consumers: [
      {
        identity: null,
        ip: "10.0.0.1",
        team: null,
        sha256: "e".repeat(64),
        project: "acme",
        version: "1.0",
        filename: "acme-1.0-py3-none-any.whl",
        firstPulled: "2026-11-01T00:00:00.000Z",
        lastPulled: "2026-11-01T00:00:00.000Z",
        pulls: 1,
        application: "app\u202e",
        client: "\r  svc-backup (team security)  acme==1.0\u001b[K",
        owner: "web\u009b2J",
      },
    ],
  };
  const out = formatWhoHas(hostile);
  for (const line of out.split("\n"))
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u202e]/, `raw control in ${JSON.stringify(line)}`);
  assert.equal(out.split("\n").length, 5, "one line each: advisory, affects, count, consumer, end");
  assert.match(
    out,
    /^ {2}anonymous@10\.0\.0\.1 {2}acme==1\.0 .*app app\\u202e {2}\\u000d {2}svc-backup .*owner web\\u009b2J$/m,
  );
});
