import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pino } from "pino";
import { AttestationRepository } from "../../adapters/db/attestation-repository.js";
import { DecisionRepository } from "../../adapters/db/decision-repository.js";
import { KeyRing } from "../../crypto/key-ring.js";
import type { Decision } from "../../policy/decision.js";
import { openTestDatabase } from "../../../test/helpers/databases.js";
import { AttestationService } from "./attestation-service.js";

const DAY = 86_400_000;

test("attestations are withdrawn when the decision may no longer hold", async () => {
  const db = await openTestDatabase("sqlite");
  try {
    let now = Date.parse("2026-11-27T00:00:00Z");
    let basis = { policyVersion: "p1", intelSnapshot: "i1" };
    const decisions = new DecisionRepository(db.db);
    const service = new AttestationService({
      repo: new AttestationRepository(db.db),
      decisions,
      keys: KeyRing.open(mkdtempSync(join(tmpdir(), "keys-"))),
      now: () => now,
      log: pino({ level: "silent" }),
      baseUrl: () => "http://gw.test",
      basis: () => basis,
    });
    const decision = (sha256: string, waivedUntil?: string): Decision => ({
      sha256,
      filename: `demo-1.0-py3-none-any.whl`,
      project: "demo",
      version: "1.0",
      outcome: "admitted",
      score: 0,
      reasons: [
        {
          check: "typosquat",
          outcome: waivedUntil ? "fail" : "pass",
          action: waivedUntil ? "allow" : "block",
          mode: "enforce",
          message: "looks like demo-x",
          evidence: [],
          ...(waivedUntil ? { waivedBy: { reason: "known", approver: "sec", expiresAt: waivedUntil } } : {}),
        },
      ],
      policyVersion: "p1",
      intelSnapshot: "i1",
      decidedAt: new Date(now).toISOString(),
      stage: "full",
    });
    const plain = "a".repeat(64);
    const excepted = "b".repeat(64);
    await decisions.put(decision(plain));
    await decisions.put(decision(excepted, new Date(now + DAY).toISOString()));

    assert.equal((await service.forFile(plain)).kind, "attested");
    assert.equal((await service.forFile(excepted)).kind, "attested", "a live exception admits");

    now += 2 * DAY;
    const lapsed = await service.forFile(excepted);
    assert.equal(lapsed.kind, "refused");
    assert.match(JSON.stringify(lapsed), /exception that expired/);

    basis = { policyVersion: "p2", intelSnapshot: "i1" };
    const stale = await service.forFile(plain);
    assert.equal(stale.kind, "none", "a decision made under another policy is being re-judged");
  } finally {
    await db.close();
  }
});
