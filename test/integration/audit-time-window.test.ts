/**
 * Time-window reads of the audit log over the dialect matrix. `at` is stamped when a request
 * ends, before the record queues for the chain, so two instances (or one slow flush) append
 * records whose `at` is not monotonic in `seq`: a window must still return exactly the records
 * stamped inside it, newest `seq` first, page after page.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "kysely";
import { AuditRepository } from "../../src/adapters/db/audit-repository.js";
import type { AuditFields, ChainedRecord } from "../../src/services/audit/audit-chain.js";
import { DIALECTS, dialectSkip, openTestDatabase } from "../helpers/databases.js";
import { auditFields } from "../helpers/audit-fields.js";

function record(at: number, i: number): AuditFields {
  return auditFields({
    at,
    action: i % 3 === 0 ? "simple.page" : "file.download",
    identity: `u${i % 4}`,
    ip: "10.0.0.1",
    project: `p${i % 5}`,
    version: null,
    filename: null,
    sha256: null,
  });
}

for (const dialect of DIALECTS) {
  test(
    `a since/until window returns exactly the records stamped in it, newest first (${dialect})`,
    { skip: await dialectSkip(dialect) },
    async () => {
      const db = await openTestDatabase(dialect);
      try {
        const repo = new AuditRepository(db.db, db.dialect);
        // Instance A's clock runs 50 ms ahead of B's; their batches interleave in the chain.
        let i = 0;
        for (let batch = 0; batch < 20; batch++) {
          const skew = batch % 2 === 0 ? 50 : 0;
          const rows = Array.from({ length: 10 }, (_, k) => record(1_000 + batch * 10 + k + skew, i++));
          await repo.append(rows, [], null);
        }
        const all: ChainedRecord[] = [];
        for await (const r of repo.scan()) all.push(r);
        assert.ok(
          all.some((r, k) => k > 0 && r.at < all[k - 1]!.at),
          "the fixture really is non-monotonic",
        );

        const since = 1_080;
        const until = 1_160;
        const expected = all
          .filter((r) => r.at >= since && r.at < until)
          .map((r) => r.seq)
          .reverse();
        const got: number[] = [];
        let beforeSeq: number | undefined;
        for (;;) {
          const page = await repo.query({
            since,
            until,
            limit: 7,
            order: "desc",
            ...(beforeSeq === undefined ? {} : { beforeSeq }),
          });
          got.push(...page.map((r) => r.seq));
          if (page.length < 7) break;
          beforeSeq = page[page.length - 1]!.seq;
        }
        assert.deepEqual(got, expected);

        // Combined with another filter, and open-ended.
        const u1 = await repo.query({ identity: "u1", since, limit: 1_000, order: "desc" });
        assert.deepEqual(
          u1.map((r) => r.seq),
          all
            .filter((r) => r.identity === "u1" && r.at >= since)
            .map((r) => r.seq)
            .reverse(),
        );

        if (dialect === "sqlite") {
          // Planned with statistics, as a long-running database has them.
          await sql`analyze`.execute(db.db);
          // The page's seqs come from the (at) index alone (the query AuditRepository.query
          // issues), not from sorting whole rows or walking the whole log backwards.
          const plan = await sql<{ detail: string }>`explain query plan select * from audit_log
            where seq in (select seq from audit_log where at >= ${since} and at < ${until}
            order by +seq desc limit 100) order by seq desc`.execute(db.db);
          assert.match(plan.rows.map((r) => r.detail).join("\n"), /COVERING INDEX audit_log_at/);
        }
      } finally {
        await db.cleanup();
      }
    },
  );
}
