/**
 * Batch storage of the audit trail (`audit.storage batches`) over the dialect matrix: the same
 * batches written as rows to one database and as blocks to another answer every query alike
 * (filters, time windows, cursors, both orders); a chain that starts as rows and goes on as
 * blocks verifies, with its checkpoints; blocks feed the inventory; and `audit verify` finds an
 * edited, removed or reordered block and names its records.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Kysely } from "kysely";
import {
  AuditRepository,
  type AuditQuery,
  type CheckpointSigner,
} from "../../src/adapters/db/audit-repository.js";
import { connectDatabase } from "../../src/adapters/db/connect-database.js";
import { InventoryRepository } from "../../src/adapters/db/inventory-repository.js";
import type { Database } from "../../src/adapters/db/schema.js";
import { keyIdOf } from "../../src/crypto/key-ring.js";
import { CLI_ACTOR } from "../../src/domain/identity.js";
import { encodeAuditBatch } from "../../src/services/audit/audit-batch-codec.js";
import type { AuditFields, ChainedRecord } from "../../src/services/audit/audit-chain.js";
import { inlineAuditWriter, type AuditStorage } from "../../src/services/audit/audit-writer.js";
import { verifyAuditLog } from "../../src/services/audit/audit-verifier.js";
import { auditFields } from "../helpers/audit-fields.js";
import {
  DIALECTS,
  dialectSkip,
  gatewayDatabase,
  openTestDatabase,
  type TestDatabase,
} from "../helpers/databases.js";
import { eventually } from "../helpers/eventually.js";
import { bearer, createToken } from "../helpers/identity.js";
import { cli } from "../helpers/run-cli.js";
import { startTestGateway } from "../helpers/test-gateway.js";
import { startJsonIndexServer } from "../helpers/upstream-server.js";
import { buildWheel } from "../helpers/wheel-builder.js";

const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const keyid = keyIdOf(publicKey);
const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
const signer: CheckpointSigner = {
  sign: (m) => ({ keyid, publicKeyPem, signature: sign(null, m, privateKey).toString("base64") }),
};
const keys = new Set([keyid]);

/**
 * Batches of varied records: anonymous and named, pages and downloads, several projects and
 * outcomes, the same access repeated (kept as repeats), and times that are not monotonic in
 * seq (two instances' clocks).
 */
function batches(): AuditFields[][] {
  const out: AuditFields[][] = [];
  let i = 0;
  for (let b = 0; b < 14; b++) {
    const batch: AuditFields[] = [];
    const size = b % 4 === 0 ? 1 : 3 + ((b * 7) % 30);
    for (let k = 0; k < size; k++, i++) {
      const skew = b % 2 === 0 ? 40 : 0;
      batch.push(
        auditFields({
          at: 10_000 + i * 5 + skew,
          action: i % 3 === 0 ? "simple.page" : "file.download",
          identity: i % 5 === 0 ? null : `u${i % 4}`,
          ip: `10.0.0.${i % 3}`,
          project: `p${i % 6}`,
          sha256: i % 3 === 0 ? null : `${i % 7}`.repeat(64),
          outcome: i % 11 === 0 ? "refused" : "ok",
          status: i % 11 === 0 ? 403 : 200,
          detail_json: i % 2 === 0 ? `{"n":${i}}` : null,
        }),
      );
      // The same access again a moment later: a repeat of the record, not a record.
      if (i % 9 === 0) batch.push({ ...batch[batch.length - 1]!, at: 10_000 + i * 5 + skew + 2 });
    }
    out.push(batch);
  }
  return out;
}

/** Writes the batches through the trail's writer: the first `asRows` as rows, the rest with `storage`. */
async function write(repo: AuditRepository, storage: AuditStorage, asRows = 3): Promise<void> {
  const rows = inlineAuditWriter(repo, signer, "rows");
  const chosen = inlineAuditWriter(repo, signer, storage);
  const all = batches();
  for (let b = 0; b < all.length; b++) {
    const writer = b < asRows ? rows : chosen;
    await writer.write(encodeAuditBatch(all[b]!), { everyRecords: 40, everyMs: 3_600_000, now: 1 }, false);
  }
}

/** A record without its chain hashes (rows and blocks chain differently). */
const content = ({ prev_hash: _p, hash: _h, ...r }: ChainedRecord) => r;

async function pages(repo: AuditRepository, q: Omit<AuditQuery, "limit">, limit: number) {
  const out: ChainedRecord[] = [];
  let cursor: number | undefined;
  for (;;) {
    const cursorFilter =
      cursor === undefined ? {} : q.order === "desc" ? { beforeSeq: cursor } : { afterSeq: cursor };
    const page = await repo.query({ ...q, ...cursorFilter, limit });
    out.push(...page);
    if (page.length < limit) return out;
    cursor = page[page.length - 1]!.seq;
  }
}

for (const dialect of DIALECTS) {
  test(
    `blocks answer every query as rows do, and the chain from rows into blocks verifies (${dialect})`,
    { skip: await dialectSkip(dialect) },
    async () => {
      const dbs: TestDatabase[] = [];
      try {
        dbs.push(await openTestDatabase(dialect), await openTestDatabase(dialect));
        const rows = new AuditRepository(dbs[0]!.db, dbs[0]!.dialect);
        const blocks = new AuditRepository(dbs[1]!.db, dbs[1]!.dialect);
        await write(rows, "rows");
        await write(blocks, "batches");
        const stored = await dbs[1]!.db.selectFrom("audit_blocks").select("first_seq").execute();
        assert.equal(stored.length, 11, "the batches after the first three are blocks");

        const queries: Omit<AuditQuery, "limit" | "order">[] = [
          {},
          { identity: "u1" },
          { identity: null },
          { project: "p3" },
          { sha256: "3".repeat(64) },
          { ip: "10.0.0.2" },
          { action: "simple.page" },
          { outcome: "refused" },
          { identity: "u2", action: "file.download", outcome: "ok" },
          { since: 10_200, until: 10_600 },
          { since: 10_200, until: 10_600, project: "p1" },
          { afterSeq: 20, beforeSeq: 90 },
          { identity: "nobody" },
        ];
        let compared = 0;
        for (const q of queries) {
          for (const order of ["asc", "desc"] as const) {
            for (const limit of [1, 7, 1_000]) {
              const a = await pages(rows, { ...q, order }, limit);
              const b = await pages(blocks, { ...q, order }, limit);
              assert.deepEqual(b.map(content), a.map(content), `${JSON.stringify(q)} ${order} ${limit}`);
              compared += a.length;
            }
          }
        }
        assert.ok(compared > 2_000, `the queries returned records: ${compared}`);

        // The same records in the same order: the whole chain as a scan.
        const scanned = async (repo: AuditRepository) => {
          const out: ChainedRecord[] = [];
          for await (const r of repo.scan()) out.push(r);
          return out;
        };
        const all = await scanned(blocks);
        assert.deepEqual(all.map(content), (await scanned(rows)).map(content));
        assert.ok(
          all.some((r) => r.repeats_json),
          "repeats are kept in blocks",
        );

        for (const repo of [rows, blocks]) {
          const verdict = await verifyAuditLog(repo, keys, { everyRecords: 40, everyMs: 3_600_000 });
          assert.equal(verdict.ok, true, verdict.problem ?? "");
          assert.equal(verdict.records, all.length);
          assert.ok(verdict.checkpoints >= 3, `checkpoints: ${verdict.checkpoints}`);
        }
        // Blocks feed the inventory as rows do.
        const inventory = async (db: Kysely<Database>) =>
          (await new InventoryRepository(db).byProject("p1"))
            .map((r) => [r.identity, r.sha256, Number(r.pulls)])
            .sort();
        assert.deepEqual(await inventory(dbs[1]!.db), await inventory(dbs[0]!.db));
        assert.ok((await inventory(dbs[1]!.db)).length > 0);
      } finally {
        for (const db of dbs) await db.close();
      }
    },
  );

  test(
    `audit verify finds an edited, removed or reordered block and names its records (${dialect})`,
    { skip: await dialectSkip(dialect) },
    async () => {
      const db = await openTestDatabase(dialect);
      try {
        const repo = new AuditRepository(db.db, db.dialect);
        await write(repo, "batches");
        const verify = async () =>
          (await verifyAuditLog(repo, keys, { everyRecords: 40, everyMs: 3_600_000 })).problem;
        assert.equal(await verify(), null);
        const blocks = await db.db.selectFrom("audit_blocks").selectAll().orderBy("first_seq").execute();
        const target = blocks[4]!;
        const range = `records ${Number(target.first_seq)}..${Number(target.last_seq)} (one block)`;
        const where = (b: typeof target) => Number(b.first_seq);

        // One byte of one record's detail changed.
        const edited = Buffer.from(target.body);
        // The strings are a JSON list: the detail's quotes are escaped in it.
        const at = edited.indexOf('{\\"n\\":');
        assert.ok(at > 0);
        edited[at + 7] = edited[at + 7] === 0x31 ? 0x32 : 0x31;
        await db.db
          .updateTable("audit_blocks")
          .set({ body: edited })
          .where("first_seq", "=", where(target))
          .execute();
        assert.equal(
          await verify(),
          `${range}: contents do not match the block's hash (a record in it was edited, removed or reordered)`,
        );

        // The edit hidden by hashing the block again: the next block no longer follows it.
        const { blockHash } = await import("../../src/services/audit/audit-batch-block.js");
        const rehashed = blockHash(
          Number(target.first_seq),
          Number(target.last_seq),
          target.prev_hash,
          edited,
        );
        await db.db
          .updateTable("audit_blocks")
          .set({ hash: rehashed })
          .where("first_seq", "=", where(target))
          .execute();
        const next = blocks[5]!;
        assert.match(
          (await verify())!,
          new RegExp(
            `^records ${Number(next.first_seq)}\\.\\.${Number(next.last_seq)} \\(one block\\): do not follow record ${Number(target.last_seq)}`,
          ),
        );
        await db.db
          .updateTable("audit_blocks")
          .set({ body: target.body, hash: target.hash })
          .where("first_seq", "=", where(target))
          .execute();
        assert.equal(await verify(), null, "restored");

        // A block removed is a gap.
        await db.db.deleteFrom("audit_blocks").where("first_seq", "=", where(target)).execute();
        assert.equal(
          await verify(),
          `record ${Number(target.first_seq)}..${Number(target.last_seq)} missing (removed); the chain breaks before record ${Number(target.last_seq) + 1}`,
        );
        await db.db.insertInto("audit_blocks").values(target).execute();
        assert.equal(await verify(), null, "restored");

        // Another block's records put in its place (records moved).
        const other = blocks[6]!;
        await db.db
          .updateTable("audit_blocks")
          .set({ body: other.body })
          .where("first_seq", "=", where(target))
          .execute();
        assert.match(
          (await verify())!,
          new RegExp(`^${range.replace(/[().]/g, "\\$&")}: contents do not match`),
        );
        await db.db
          .updateTable("audit_blocks")
          .set({ body: target.body })
          .where("first_seq", "=", where(target))
          .execute();

        // A body that matches its hash but is not a block (a writer's bug, or a forged hash over junk).
        const junk = Buffer.from("not a block");
        const junkHash = blockHash(Number(target.first_seq), Number(target.last_seq), target.prev_hash, junk);
        await db.db
          .updateTable("audit_blocks")
          .set({ body: junk, hash: junkHash })
          .where("first_seq", "=", where(target))
          .execute();
        assert.match(
          (await verify())!,
          /\(one block\): the block matches its hash but cannot be read \(audit block body/,
        );
        // The queries refuse it too rather than return made-up records.
        await assert.rejects(
          repo.query({ limit: 1_000, order: "asc" }),
          new RegExp(`${range.replace(/[().]/g, "\\$&")} cannot be read: audit block body`),
        );
        // Or, asked to, leave it out and say so (audit export).
        const skipped: string[] = [];
        const rest = await repo.query({
          limit: 1_000,
          order: "asc",
          onUnreadableBlock: (err) => skipped.push(`${err.firstSeq}..${err.lastSeq}`),
        });
        assert.deepEqual(skipped, [`${Number(target.first_seq)}..${Number(target.last_seq)}`]);
        const head = Number(
          (await db.db.selectFrom("audit_head").select("seq").executeTakeFirstOrThrow()).seq,
        );
        assert.equal(rest.length, head - (Number(target.last_seq) - Number(target.first_seq) + 1));
      } finally {
        await db.close();
      }
    },
  );
}

for (const dialect of DIALECTS) {
  test(
    `a gateway with audit.storage batches: blocks verify, a row past the head stops the trail, an edited block fails verify (${dialect})`,
    { skip: await dialectSkip(dialect) },
    async () => {
      const wheel = await buildWheel({ name: "acme", version: "1.0" });
      const up = await startJsonIndexServer({
        projects: { acme: { files: [{ filename: wheel.filename, bytes: wheel.bytes }] } },
      });
      const database = await gatewayDatabase(dialect);
      const dir = mkdtempSync(join(tmpdir(), "audit-blocks-"));
      const local = ["--data", dir, ...(database.url ? ["--database", database.url] : [])];
      try {
        const gw = await startTestGateway({
          upstream: up.simpleUrl,
          data: dir,
          database: database.url,
          auditStorage: "batches",
        });
        const { gateway, url } = gw;
        const db = gateway.services.db.db;
        try {
          for (let i = 0; i < 12; i++) await (await fetch(`${url}/simple/acme/`)).arrayBuffer();
          for (let i = 0; i < 2_500; i++)
            gateway.services.audit.record({
              action: "test.filler",
              actor: { ...CLI_ACTOR, user: "filler", ip: "127.0.0.1" },
              outcome: "ok",
              detail: { i },
            });
          await gateway.services.audit.flush();
          const rows = await db.selectFrom("audit_log").select("seq").execute();
          const blocks = await db.selectFrom("audit_blocks").select(["first_seq", "last_seq"]).execute();
          assert.equal(rows.length, 0, "no record stored as a row");
          assert.ok(blocks.length >= 2, `blocks: ${blocks.length}`);
          // Blocks of up to 2,000 records (rows are written in batches of 500).
          const sizes = blocks.map((b) => Number(b.last_seq) - Number(b.first_seq) + 1);
          assert.equal(Math.max(...sizes), 2_000, `block sizes: ${sizes.join(", ")}`);

          // A row in the place of the next record: the trail stops (503) instead of writing
          // around it, and goes on once it is gone.
          const head = Number(
            (await db.selectFrom("audit_head").select("seq").executeTakeFirstOrThrow()).seq,
          );
          const [sample] = await new AuditRepository(db, gateway.services.db.dialect).query({
            limit: 1,
            order: "desc",
          });
          const { seq: _seq, repeats_json: _r, ...fields } = sample!;
          await db
            .insertInto("audit_log")
            .values({ ...fields, seq: head + 3, client_id: null, repeats_json: null })
            .execute();
          const ready = async () => {
            const res = await fetch(`${url}/readyz`);
            await res.arrayBuffer();
            return res.status;
          };
          await (await fetch(`${url}/simple/acme/`)).arrayBuffer();
          assert.equal(await eventually(async () => (await ready()) === 503, 5_000), true, "/readyz unready");
          assert.match(
            gateway.services.audit.refusal ?? "",
            new RegExp(`record ${head + 3} is already stored past the chain head`),
          );
          await db
            .deleteFrom("audit_log")
            .where("seq", "=", head + 3)
            .execute();
          assert.equal(await eventually(async () => (await ready()) !== 503, 10_000), true, "ready again");
          await gateway.services.audit.flush();

          // The API reads the blocks: newest first, filtered, paged.
          const admin = bearer(await createToken(gateway.services, { user: "sec", role: "admin" }));
          await gateway.services.audit.flush();
          const page = (await (
            await fetch(`${url}/api/v1/audit?action=test.filler&limit=3`, { headers: admin })
          ).json()) as { items: { seq: number; action: string; hash: string }[]; next: string };
          assert.equal(page.items.length, 3);
          assert.ok(page.items.every((r) => r.action === "test.filler"));
          assert.ok(page.items[0]!.seq > page.items[1]!.seq, "newest first");
          const second = (await (
            await fetch(`${url}/api/v1/audit?action=test.filler&limit=3&cursor=${page.next}`, {
              headers: admin,
            })
          ).json()) as { items: { seq: number }[] };
          assert.equal(second.items[0]!.seq, page.items[2]!.seq - 1);
          // A block that cannot be read: a 500 that says which records and what to run, not a guess.
          const newest = await db
            .selectFrom("audit_blocks")
            .select(["first_seq", "last_seq", "body"])
            .orderBy("first_seq", "desc")
            .executeTakeFirstOrThrow();
          await db
            .updateTable("audit_blocks")
            .set({ body: Buffer.from("junk") })
            .where("first_seq", "=", newest.first_seq)
            .execute();
          const broken = await fetch(`${url}/api/v1/audit?limit=3`, { headers: admin });
          assert.equal(broken.status, 500);
          assert.match(
            ((await broken.json()) as { error: { message: string } }).error.message,
            new RegExp(
              `records ${Number(newest.first_seq)}\\.\\.${Number(newest.last_seq)} \\(one block\\) cannot be read: .*run \`portcullis audit verify\``,
            ),
          );
          await db
            .updateTable("audit_blocks")
            .set({ body: newest.body })
            .where("first_seq", "=", newest.first_seq)
            .execute();
        } finally {
          await gw.close();
        }

        const intact = await cli("audit", "verify", ...local);
        assert.equal(intact.code, 0, intact.stderr);
        assert.match(intact.stdout, /intact/);

        // One record's detail edited inside its block.
        const h = await connectDatabase({ url: database.url, dataDir: dir, migrate: false });
        try {
          const target = await h.db
            .selectFrom("audit_blocks")
            .selectAll()
            .orderBy("first_seq")
            .offset(1)
            .limit(1)
            .executeTakeFirstOrThrow();
          const body = Buffer.from(target.body);
          const at = body.indexOf('{\\"i\\":');
          assert.ok(at > 0);
          body[at + 7] = body[at + 7] === 0x31 ? 0x32 : 0x31;
          await h.db
            .updateTable("audit_blocks")
            .set({ body })
            .where("first_seq", "=", target.first_seq)
            .execute();
          const run = await cli("audit", "verify", ...local);
          assert.equal(run.code, 1, run.stdout);
          assert.match(
            run.stderr,
            new RegExp(
              `records ${Number(target.first_seq)}\\.\\.${Number(target.last_seq)} \\(one block\\): contents do not match the block's hash`,
            ),
          );

          // A block that cannot be read at all: export writes every other record, names it, exits 1.
          await h.db
            .updateTable("audit_blocks")
            .set({ body: Buffer.from("junk") })
            .where("first_seq", "=", target.first_seq)
            .execute();
          const exported = await cli("audit", "export", ...local);
          assert.equal(exported.code, 1, exported.stderr);
          const range = `${Number(target.first_seq)}..${Number(target.last_seq)}`;
          assert.match(
            exported.stderr,
            new RegExp(`records ${range.replaceAll(".", "\\.")} \\(one block\\) cannot be read`),
          );
          assert.match(exported.stderr, /not exported: their blocks cannot be read/);
          assert.doesNotMatch(exported.stderr, /unexpected error|\n\s+at /, "no stack trace");
          const head = Number(
            (await h.db.selectFrom("audit_head").select("seq").executeTakeFirstOrThrow()).seq,
          );
          const lines = exported.stdout.trim().split("\n");
          assert.equal(lines.length, head - (Number(target.last_seq) - Number(target.first_seq) + 1));
        } finally {
          await h.close();
        }
      } finally {
        await up.close();
        await database.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
}
