import { test } from "node:test";
import assert from "node:assert/strict";
import { auditFields } from "../../../test/helpers/audit-fields.js";
import { inventoryDeltas } from "./inventory-deltas.js";

test("each access of a record with repeats is a pull, first and last at their own times", () => {
  const deltas = inventoryDeltas([
    auditFields({ at: 10_000, repeats_json: "[5,-3,40]" }),
    auditFields({ at: 10_100 }),
    // Not pulls, repeated or not: a HEAD and a cut-off download.
    auditFields({ at: 10_000, action: "file.head", repeats_json: "[1,2]" }),
    auditFields({ at: 10_000, outcome: "aborted", repeats_json: "[1,2]" }),
  ]);
  assert.deepEqual(
    deltas.map((d) => [d.sha256, d.pulls, d.first_pulled, d.last_pulled]),
    [["a".repeat(64), 5, 9_997, 10_100]],
  );
});
