/**
 * The audit writer thread over the dialect matrix: a running gateway's audit trail chains and
 * stores its batches on a thread with its own connection. The chain it writes verifies (also
 * when inline and thread writes alternate), the inventory and signed checkpoints are written with
 * it, the thread stops when idle and comes back, and when it cannot run the trail writes inline
 * and loses nothing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import { AuditRepository, type CheckpointSigner } from "../../src/adapters/db/audit-repository.js";
import { ThreadAuditWriter } from "../../src/adapters/db/audit-writer-thread.js";
import { InventoryRepository } from "../../src/adapters/db/inventory-repository.js";
import { threadPolicy } from "../../src/adapters/runtime/thread-priority.js";
import { keyIdOf } from "../../src/crypto/key-ring.js";
import type { Actor } from "../../src/domain/identity.js";
import { AuditTrail } from "../../src/services/audit/audit-trail.js";
import { inlineAuditWriter } from "../../src/services/audit/audit-writer.js";
import { verifyAuditLog } from "../../src/services/audit/audit-verifier.js";
import { DIALECTS, dialectSkip, withTestDatabase } from "../helpers/databases.js";
import { eventually } from "../helpers/eventually.js";

const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const keyid = keyIdOf(publicKey);
const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
const key = { keyid, privateKey, publicKeyPem };
const signer: CheckpointSigner = {
  sign: (m) => ({ keyid, publicKeyPem, signature: sign(null, m, privateKey).toString("base64") }),
};
const STORAGES = ["rows", "batches"] as const;
const who: Actor = {
  user: "ci",
  role: "reader",
  team: "build",
  tokenId: null,
  ip: "10.0.0.7",
  application: null,
  client: null,
};

/**
 * `n` downloads of three versions, each its own record (`detail.n` sets them apart), unless
 * `repeated`: then the same three accesses over and over, which a batch keeps as three records
 * with repeats.
 */
function pulls(trail: AuditTrail, n: number, project = "requests", repeated = false): void {
  for (let i = 0; i < n; i++) {
    const version = `2.${i % 3}.0`;
    trail.record({
      action: "file.download",
      actor: who,
      outcome: "ok",
      project,
      version,
      filename: `${project}-${version}-py3-none-any.whl`,
      sha256: `${project}${version}`.padEnd(64, "0"),
      detail: repeated ? { status: 200 } : { status: 200, n: i },
    });
  }
}

interface Logged {
  level: number;
  msg: string;
}

function capture(): { log: Logger; lines: Logged[] } {
  const lines: Logged[] = [];
  const log = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s) as Logged) });
  return { log, lines };
}

for (const [dialect, storage] of DIALECTS.flatMap((d) => STORAGES.map((s) => [d, s] as const))) {
  test(
    `batches written on the writer thread chain, checkpoint and feed the inventory (${dialect}, ${storage})`,
    { skip: await dialectSkip(dialect) },
    () =>
      withTestDatabase(dialect, async (db) => {
        assert.ok(db.reopen, "a file or server database can be opened again by the thread");
        const repo = new AuditRepository(db.db, db.dialect);
        const { log } = capture();
        let threads = 0;
        const trail = new AuditTrail({
          writer: inlineAuditWriter(repo, signer, storage),
          background: () => {
            threads++;
            return new ThreadAuditWriter({ database: db.reopen!, key, log, idleMs: 100, storage });
          },
          now: () => 7_000_000,
          log,
          checkpointEveryRecords: 200,
        });
        trail.start(60_000);
        // A trickle is written inline; a busy gateway's batch goes to the thread.
        pulls(trail, 3);
        await trail.flush();
        assert.equal(trail.lastWriter, "inline");
        assert.equal(threads, 0, "no thread for a trickle");
        pulls(trail, 1_200);
        await trail.flush();
        assert.equal(trail.lastWriter, "writer thread");
        // While the thread runs it takes every batch, however small; once idle, a trickle is inline again.
        pulls(trail, 1);
        await trail.flush();
        assert.equal(trail.lastWriter, "writer thread");
        await new Promise((r) => setTimeout(r, 400));
        pulls(trail, 1);
        await trail.flush();
        assert.equal(trail.lastWriter, "inline");
        pulls(trail, 300, "flask");
        await trail.flush();
        assert.equal(trail.lastWriter, "writer thread");
        assert.equal(threads, 1, "one writer, its thread restarted when needed");
        await trail.close();
        assert.equal(trail.written, 1_505);

        const verdict = await verifyAuditLog(repo, new Set([keyid]));
        assert.equal(verdict.ok, true, verdict.problem ?? "");
        assert.equal(verdict.records, 1_505);
        const checkpoints = await repo.checkpoints();
        assert.ok(checkpoints.length >= 5, `checkpoints every 200 records: ${checkpoints.length}`);
        assert.equal(checkpoints.at(-1)!.seq, 1_505, "the last batch before close is signed");
        const inventory = await new InventoryRepository(db.db).byProject("requests");
        assert.deepEqual(inventory.map((r) => [r.version, Number(r.pulls)]).sort(), [
          ["2.0.0", 403],
          ["2.1.0", 401],
          ["2.2.0", 401],
        ]);
      }),
  );

  test(
    `the records a thread wrote come back chained, in order, for the sinks (${dialect}, ${storage})`,
    { skip: await dialectSkip(dialect) },
    () =>
      withTestDatabase(dialect, async (db) => {
        const { log } = capture();
        const writer = new ThreadAuditWriter({ database: db.reopen!, key, log, idleMs: 50, storage });
        const trail = new AuditTrail({
          writer: inlineAuditWriter(new AuditRepository(db.db, db.dialect), signer, storage),
          now: () => 1,
          log,
        });
        pulls(trail, 5);
        await trail.flush();
        const seen: { seq: number; prev_hash: string; hash: string }[] = [];
        const sinkTrail = new AuditTrail({
          writer,
          now: () => 2,
          log,
          sinks: [{ description: "test", send: (rs) => seen.push(...rs), close: async () => undefined }],
        });
        pulls(sinkTrail, 100);
        await sinkTrail.flush();
        assert.deepEqual(
          seen.map((r) => r.seq),
          Array.from({ length: 100 }, (_, i) => 6 + i),
        );
        // Rows: each record chained to the one before; batches: the block's records share its hashes.
        for (let i = 1; i < seen.length; i++)
          assert.equal(seen[i]![storage === "rows" ? "prev_hash" : "hash"], seen[i - 1]!.hash);
        if (storage === "batches") assert.notEqual(seen[0]!.prev_hash, seen[0]!.hash);
        const stored = [];
        for await (const r of new AuditRepository(db.db, db.dialect).scan(5)) stored.push(r.hash);
        assert.deepEqual(
          stored,
          seen.map((r) => r.hash),
        );
        // Idle, the thread exits; the next batch starts another.
        await new Promise((r) => setTimeout(r, 300));
        pulls(sinkTrail, 10);
        await sinkTrail.close();
        assert.equal(seen.length, 110);
        assert.equal((await new AuditRepository(db.db, db.dialect).head())?.seq, 115);
      }),
  );
}

for (const dialect of DIALECTS) {
  test(
    `the same access repeated crosses to the thread as one record with its repeats: chained, verified, each a pull (${dialect})`,
    { skip: await dialectSkip(dialect) },
    () =>
      withTestDatabase(dialect, async (db) => {
        const repo = new AuditRepository(db.db, db.dialect);
        const { log } = capture();
        let at = 8_000_000;
        const trail = new AuditTrail({
          writer: inlineAuditWriter(repo, signer),
          background: () => new ThreadAuditWriter({ database: db.reopen!, key, log, idleMs: 100 }),
          now: () => at++,
          log,
        });
        trail.start(60_000);
        pulls(trail, 900, "requests", true);
        await trail.close();
        assert.equal(trail.lastWriter, "writer thread");
        assert.equal(trail.written, 900, "every access counted");
        const stored = [];
        for await (const r of repo.scan()) stored.push(r);
        assert.deepEqual(
          stored.map((r) => [r.version, r.at - 8_000_000, JSON.parse(r.repeats_json ?? "[]").length]),
          [
            ["2.0.0", 0, 299],
            ["2.1.0", 1, 299],
            ["2.2.0", 2, 299],
          ],
          "three records, each with the times of its 299 repeats",
        );
        assert.deepEqual(JSON.parse(stored[1]!.repeats_json!).slice(0, 3), [3, 6, 9]);
        const verdict = await verifyAuditLog(repo, new Set([keyid]));
        assert.deepEqual(
          [verdict.ok, verdict.records, verdict.accesses],
          [true, 3, 900],
          verdict.problem ?? "",
        );
        const inventory = await new InventoryRepository(db.db).byProject("requests");
        assert.deepEqual(
          inventory
            .map((r) => [
              r.version,
              Number(r.pulls),
              Number(r.first_pulled) - 8_000_000,
              Number(r.last_pulled) - 8_000_000,
            ])
            .sort(),
          [
            ["2.0.0", 300, 0, 897],
            ["2.1.0", 300, 1, 898],
            ["2.2.0", 300, 2, 899],
          ],
        );
      }),
  );
}

test("a writer thread that cannot open the database hands its batches back: written inline, none lost", async () => {
  await withTestDatabase("sqlite", async (db) => {
    const repo = new AuditRepository(db.db, db.dialect);
    const { log, lines } = capture();
    const trail = new AuditTrail({
      writer: inlineAuditWriter(repo, signer),
      background: () =>
        new ThreadAuditWriter({
          // Not a directory: the thread's connection fails as it starts.
          database: { url: "", dataDir: "/dev/null/portcullis" },
          key,
          log,
        }),
      now: () => 9,
      log,
    });
    trail.start(60_000);
    pulls(trail, 500);
    await trail.close();
    assert.equal(trail.written, 500);
    assert.equal(trail.lastWriter, "inline");
    assert.ok(
      lines.some((l) => l.msg.includes("writing the audit trail on the main thread")),
      JSON.stringify(lines.map((l) => l.msg)),
    );
    const verdict = await verifyAuditLog(repo, new Set([keyid]));
    assert.equal(verdict.ok, true, verdict.problem ?? "");
    assert.equal(verdict.records, 500);
  });
});

test("a transaction on the gateway's connection that reads, waits and writes is never failed by the writer thread (SQLite)", async () => {
  await withTestDatabase("sqlite", async (db) => {
    const { log } = capture();
    const trail = new AuditTrail({
      writer: new ThreadAuditWriter({ database: db.reopen!, key, log }),
      now: () => 3,
      log,
    });
    let stop = false;
    const busy = (async () => {
      while (!stop) {
        pulls(trail, 100);
        await trail.flush();
      }
    })();
    // Without the shared lock the thread commits while this transaction waits between its read
    // and its write, and the write fails at once with SQLITE_BUSY (a stale snapshot).
    for (let i = 0; i < 40; i++) {
      await db.db.transaction().execute(async (trx) => {
        await trx.selectFrom("meta").select("value").where("key", "=", "test.counter").executeTakeFirst();
        await new Promise((r) => setTimeout(r, 10));
        await trx
          .insertInto("meta")
          .values({ key: "test.counter", value: String(i) })
          .onConflict((oc) => oc.column("key").doUpdateSet({ value: String(i) }))
          .execute();
      });
    }
    stop = true;
    await busy;
    await trail.close();
    assert.ok(trail.written >= 100);
    const verdict = await verifyAuditLog(new AuditRepository(db.db, db.dialect), new Set([keyid]));
    assert.equal(verdict.ok, true, verdict.problem ?? "");
  });
});

const linuxRoot =
  process.platform !== "linux"
    ? "thread policies are Linux's"
    : process.getuid?.() !== 0
      ? "raising a thread out of SCHED_IDLE needs root"
      : false;

test(
  "the writer thread runs at idle CPU priority, and back at normal once the trail finds it behind",
  { skip: linuxRoot },
  () =>
    withTestDatabase("sqlite", async (db) => {
      const repo = new AuditRepository(db.db, db.dialect);
      const { log, lines } = capture();
      const writer = new ThreadAuditWriter({ database: db.reopen!, key, log, idleMs: 60_000 });
      let at = 1_000;
      const trail = new AuditTrail({
        writer: inlineAuditWriter(repo, signer),
        background: () => writer,
        now: () => at++,
        log,
      });
      trail.start(60_000);
      pulls(trail, 500);
      await trail.flush();
      assert.equal(trail.lastWriter, "writer thread");
      const tid = writer.thread?.tid;
      assert.ok(tid && tid !== process.pid, "the thread said its kernel id");
      // Read from the kernel, not from the writer's own idea of it.
      assert.ok(await eventually(() => threadPolicy(tid) === "idle"), `policy ${threadPolicy(tid)}`);
      assert.equal(threadPolicy(process.pid), "normal", "the serving thread keeps its priority");
      writer.boost();
      assert.ok(await eventually(() => threadPolicy(tid) === "normal"), `policy ${threadPolicy(tid)}`);
      // The kernel may say so before chrt's exit reaches the writer, which then logs it.
      assert.ok(await eventually(() => lines.some((l) => l.msg.includes("back to normal priority"))));
      pulls(trail, 500);
      await trail.close();
      assert.equal(trail.written, 1_000);
      const verdict = await verifyAuditLog(repo, new Set([keyid]));
      assert.deepEqual([verdict.ok, verdict.records], [true, 1_000], verdict.problem ?? "");
    }),
);

test(
  "where raising it is refused, the behind thread hands over to a new one at normal priority; nothing is lost",
  { skip: process.platform === "linux" ? false : "thread policies are Linux's" },
  () =>
    withTestDatabase("sqlite", async (db) => {
      // chrt as an unprivileged process meets it: lowering works, raising is not permitted.
      const dir = mkdtempSync(join(tmpdir(), "chrt-"));
      const chrt = join(dir, "chrt");
      writeFileSync(
        chrt,
        '#!/bin/sh\nif [ "$1" = "--other" ]; then echo "chrt: failed to set pid $4\'s policy: Operation not permitted" >&2; exit 1; fi\nexec chrt "$@"\n',
        { mode: 0o755 },
      );
      const repo = new AuditRepository(db.db, db.dialect);
      const { log, lines } = capture();
      const writer = new ThreadAuditWriter({ database: db.reopen!, key, log, idleMs: 60_000, chrt });
      let at = 1_000;
      const trail = new AuditTrail({
        writer: inlineAuditWriter(repo, signer),
        background: () => writer,
        now: () => at++,
        log,
      });
      try {
        trail.start(60_000);
        pulls(trail, 500);
        await trail.flush();
        const first = writer.thread?.tid;
        assert.ok(first);
        assert.ok(await eventually(() => threadPolicy(first) === "idle"), `policy ${threadPolicy(first)}`);
        writer.boost();
        // It is retired: its thread exits once it has answered what it was given.
        assert.ok(await eventually(() => threadPolicy(first) === undefined), "the thread exited");
        assert.ok(
          lines.some((l) => l.msg.includes("a thread at normal priority takes the next batch")),
          "said so",
        );
        pulls(trail, 500);
        await trail.flush();
        assert.equal(trail.lastWriter, "writer thread");
        const second = writer.thread?.tid;
        assert.ok(second && second !== first, "a new thread");
        await new Promise((resolve) => setTimeout(resolve, 300));
        assert.equal(threadPolicy(second), "normal", "and it is not lowered again while behind");
        await trail.close();
        assert.equal(trail.written, 1_000);
        const verdict = await verifyAuditLog(repo, new Set([keyid]));
        assert.deepEqual([verdict.ok, verdict.records], [true, 1_000], verdict.problem ?? "");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }),
);

test(
  "with audit.writer-priority normal the thread is left at normal priority",
  { skip: process.platform === "linux" ? false : "thread policies are Linux's" },
  () =>
    withTestDatabase("sqlite", async (db) => {
      const repo = new AuditRepository(db.db, db.dialect);
      const { log } = capture();
      const writer = new ThreadAuditWriter({
        database: db.reopen!,
        key,
        log,
        idleMs: 60_000,
        priority: "normal",
      });
      const trail = new AuditTrail({
        writer: inlineAuditWriter(repo, signer),
        background: () => writer,
        now: () => 5,
        log,
      });
      trail.start(60_000);
      pulls(trail, 500);
      await trail.flush();
      const tid = writer.thread?.tid;
      assert.ok(tid);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(threadPolicy(tid), "normal");
      await trail.close();
    }),
);
