import { test } from "node:test";
import assert from "node:assert/strict";
import { unsignedTailProblem } from "./audit-verifier.js";

const interval = { everyRecords: 1_000, everyMs: 60_000 };
const checkpoint = { seq: 5_912, at: 1_000_000 };

test("an unsigned tail a gateway can leave (a crash: up to one interval) is no problem", () => {
  assert.equal(
    unsignedTailProblem({ records: 0, forClients: 0, newestAt: -Infinity }, checkpoint, interval),
    null,
  );
  assert.equal(
    unsignedTailProblem(
      { records: 999, forClients: 999, newestAt: checkpoint.at + 59_999 },
      checkpoint,
      interval,
    ),
    null,
    "999 records within 60 s",
  );
  // The margin: a stamp up to another interval late still passes.
  assert.equal(
    unsignedTailProblem(
      { records: 3, forClients: 3, newestAt: checkpoint.at + 119_999 },
      checkpoint,
      interval,
    ),
    null,
  );
  assert.equal(
    unsignedTailProblem({ records: 1_000, forClients: 1_000, newestAt: 5 }, undefined, interval),
    null,
  );
});

test("a longer unsigned tail says checkpoints may have been deleted, naming the records", () => {
  assert.equal(
    unsignedTailProblem(
      { records: 13_922, forClients: 13_922, newestAt: checkpoint.at + 30_000 },
      checkpoint,
      interval,
    ),
    "records 5913..19834: 13,922 records of clients' requests after the last signed checkpoint (record 5912), but a gateway signs at least every 1,000: the newest checkpoints may have been deleted, and the records after them rewritten",
  );
  assert.equal(
    unsignedTailProblem(
      { records: 12, forClients: 12, newestAt: checkpoint.at + 180_000 },
      checkpoint,
      interval,
    ),
    "records 5913..5924: stamped up to 3 min after the last signed checkpoint (record 5912), but a gateway signs at least every 60 s: the newest checkpoints may have been deleted, and the records after them rewritten",
  );
  assert.match(
    unsignedTailProblem({ records: 1_001, forClients: 1_001, newestAt: 5 }, undefined, interval) ?? "",
    /^records 1\.\.1001: 1,001 records of clients' requests and none signed/,
  );
});

test("records of keyless CLI commands do not count toward the bound (a gateway's next batch signs them)", () => {
  assert.equal(
    unsignedTailProblem(
      { records: 1_010, forClients: 4, newestAt: checkpoint.at + 1_000 },
      checkpoint,
      interval,
    ),
    null,
    "1,006 token creates from a workstation after 4 pages",
  );
  assert.match(
    unsignedTailProblem(
      { records: 2_010, forClients: 1_001, newestAt: checkpoint.at + 1_000 },
      checkpoint,
      interval,
    ) ?? "",
    /1,001 records of clients' requests/,
  );
});
