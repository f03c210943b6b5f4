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
