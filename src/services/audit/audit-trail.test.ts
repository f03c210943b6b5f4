import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { FileAuditSpool } from "../../adapters/audit-spool/file-audit-spool.js";
import { accessesOf, auditFields } from "../../../test/helpers/audit-fields.js";
import { auditBatchLength, decodeAuditBatch, type EncodedAuditBatch } from "./audit-batch-codec.js";
import type { AuditFields } from "./audit-chain.js";
import { AuditTrail } from "./audit-trail.js";
import type { AuditWriter } from "./audit-writer.js";

// Each from its own address: the same access repeated is one record (see the repeats tests).
const record = (i: number): AuditFields =>
  auditFields({
    at: 1_795_823_661_529 + i,
    action: "simple.page",
    identity: "anonymous",
    // Fixed width, so that every batch of 100 takes the same bytes in the spool.
    ip: `10.0.${String(i >> 8).padStart(3, "0")}.${String(i & 255).padStart(3, "0")}`,
    project: "flask",
    version: null,
    filename: null,
    sha256: null,
  });

/** A writer that takes its time (like a database), records what it was given, and can be gated. */
function slowWriter(): AuditWriter & { batches: number[]; ats: number[] } {
  const batches: number[] = [];
  const ats: number[] = [];
  return {
    description: "test",
    batches,
    ats,
    async write(batch) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      batches.push(auditBatchLength(batch));
      for (const r of decodeAuditBatch(batch)) ats.push(r.at);
      return { written: auditBatchLength(batch) };
    },
    close: async () => undefined,
  };
}

test("a busy trail writes full batches: records arriving during a write wait for the next", async () => {
  const writer = slowWriter();
  const trail = new AuditTrail({ writer, now: () => 0, log: pino({ level: "silent" }), batchSize: 100 });
  // A full batch starts a write; records keep arriving while it runs, one every event-loop turn.
  let i = 0;
  for (; i < 100; i++) trail.push(record(i));
  const end = Date.now() + 60;
  while (Date.now() < end) {
    trail.push(record(i++));
    await new Promise((resolve) => setImmediate(resolve));
  }
  await trail.flush();
  assert.equal(writer.ats.length, i, "every record written");
  assert.deepEqual(
    writer.ats,
    Array.from({ length: i }, (_, k) => record(k).at),
    "in order",
  );
  // Only the final drain may leave a partial batch behind a full one; no trickle of tiny writes.
  const partial = writer.batches.slice(0, -1).filter((n) => n < 100);
  assert.ok(partial.length <= 1, `batches ${writer.batches.join(",")}`);
  assert.equal(trail.pendingCount, 0);
  assert.equal(trail.written, i);
});

test("while the database refuses writes, a full queue does not retry on every record: the timer does", async () => {
  let attempts = 0;
  let down = true;
  const ats: number[] = [];
  const writer: AuditWriter = {
    description: "test",
    async write(batch) {
      attempts++;
      if (down) throw new Error("database is locked");
      for (const r of decodeAuditBatch(batch)) ats.push(r.at);
      return { written: auditBatchLength(batch) };
    },
    close: async () => undefined,
  };
  const trail = new AuditTrail({ writer, now: () => 0, log: pino({ level: "silent" }), batchSize: 100 });
  trail.start(50);
  for (let i = 0; i < 1_000; i++) {
    trail.push(record(i));
    if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(attempts <= 2, `${attempts} write attempts for 1,000 records while down`);
  down = false;
  await new Promise((resolve) => setTimeout(resolve, 120));
  await trail.close();
  assert.deepEqual(
    ats,
    Array.from({ length: 1_000 }, (_, k) => record(k).at),
    "none lost, in order",
  );
});

/** A writer whose database can be taken down and brought back; it keeps the `at` of each record. */
function switchableWriter(): AuditWriter & { down: boolean; ats: number[] } {
  const w = {
    description: "test",
    down: true,
    ats: [] as number[],
    async write(batch: EncodedAuditBatch) {
      if (w.down) throw new Error("connection refused");
      for (const r of accessesOf(decodeAuditBatch(batch))) w.ats.push(r.at);
      return { written: auditBatchLength(batch) };
    },
    close: async () => undefined,
  };
  return w;
}

test("a long outage spills the oldest batches to the spool, and they are written first when it ends", async () => {
  const dir = mkdtempSync(join(tmpdir(), "audit-spool-"));
  try {
    const writer = switchableWriter();
    const trail = new AuditTrail({
      writer,
      spool: () => new FileAuditSpool(dir),
      now: () => 0,
      log: pino({ level: "silent" }),
      batchSize: 100,
      maxPending: 300,
    });
    trail.start(20);
    for (let i = 0; i < 1_000; i++) trail.push(record(i));
    assert.ok(trail.pendingCount <= 400, `${trail.pendingCount} records in memory`);
    assert.ok(trail.spooledBatches >= 6, `${trail.spooledBatches} batches spooled`);
    assert.ok(readdirSync(dir).filter((n) => n.endsWith(".json")).length >= 6, "on disk");
    writer.down = false;
    await trail.close();
    assert.deepEqual(
      writer.ats,
      Array.from({ length: 1_000 }, (_, k) => record(k).at),
      "none lost, in order",
    );
    assert.equal(trail.spooledBatches, 0);
    assert.deepEqual(readdirSync(dir), [], "the spool is empty again");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a stop while the database is down keeps the queue in the spool; the next start writes it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "audit-spool-"));
  try {
    const log = pino({ level: "silent" });
    const first = switchableWriter();
    const before = new AuditTrail({ writer: first, spool: () => new FileAuditSpool(dir), now: () => 0, log });
    before.start(1_000);
    for (let i = 0; i < 250; i++) before.push(record(i));
    await before.close(); // the database is down: nothing written, nothing lost
    assert.deepEqual(first.ats, []);
    assert.ok(readdirSync(dir).some((n) => n.endsWith(".json")));

    const second = switchableWriter();
    second.down = false;
    const after = new AuditTrail({ writer: second, spool: () => new FileAuditSpool(dir), now: () => 0, log });
    after.start(1_000);
    after.push(record(1_000));
    await after.close();
    assert.deepEqual(second.ats, [...Array.from({ length: 250 }, (_, k) => record(k).at), record(1_000).at]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("without a spool (CLI commands) a stop with the database down fails loudly", async () => {
  const writer = switchableWriter();
  const trail = new AuditTrail({ writer, now: () => 0, log: pino({ level: "silent" }) });
  trail.push(record(0));
  await assert.rejects(trail.close(), /connection refused/);
});

test("with the database refusing writes and the spool full, the trail stops accepting, loses nothing, and accepts again once the database is back", async () => {
  const dir = mkdtempSync(join(tmpdir(), "audit-spool-"));
  try {
    const writer = switchableWriter();
    const batchBytes = Buffer.byteLength(JSON.stringify(Array.from({ length: 100 }, (_, k) => record(k))));
    const trail = new AuditTrail({
      writer,
      // Room for two batches of 100.
      spool: () => new FileAuditSpool(dir, process.pid, 2 * batchBytes + 50),
      now: () => 0,
      log: pino({ level: "silent" }),
      batchSize: 100,
      maxPending: 300,
    });
    trail.start(20);
    let i = 0;
    for (; trail.accepting && i < 10_000; i++) trail.push(record(i));
    assert.equal(trail.accepting, false, "stops accepting");
    assert.equal(trail.spooledBatches, 2, "once the spool holds what it may");
    assert.ok(i <= 300 + 2 * 100 + 100 + 1, `${i} records taken before refusing`);
    // Answers already on their way when refusing began are still recorded.
    for (let k = 0; k < 50; k++) trail.push(record(i++));

    writer.down = false;
    for (let t = 0; t < 200 && !trail.accepting; t++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(trail.accepting, true, "accepting again once the database takes a batch");
    await trail.close();
    assert.deepEqual(
      writer.ats,
      Array.from({ length: i }, (_, k) => record(k).at),
      "none lost, in order",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("refusing, memory stays bounded: past the headroom the oldest records are dropped", () => {
  const writer = switchableWriter();
  const trail = new AuditTrail({
    writer,
    now: () => 0,
    log: pino({ level: "silent" }),
    batchSize: 100,
    maxPending: 300,
  });
  for (let i = 0; i < 5_000; i++) trail.push(record(i));
  assert.equal(trail.accepting, false);
  assert.ok(trail.pendingCount <= 300 * 1.1 + 2 * 100, `${trail.pendingCount} records held`);
});

test("the same access repeated is queued as one record; refusing, it is bounded like any other", async () => {
  const writer = switchableWriter();
  const trail = new AuditTrail({
    writer,
    now: () => 0,
    log: pino({ level: "silent" }),
    batchSize: 100,
    maxPending: 300,
  });
  const same = auditFields({ at: 5_000, action: "simple.page", project: "flask" });
  for (let i = 0; i < 5_000; i++) trail.push({ ...same, at: 5_000 + (i % 900) });
  assert.equal(trail.accepting, false, "with no spool, refusing once the queue is full");
  assert.ok(trail.pendingCount <= 300 * 1.1 + 2 * 100, `${trail.pendingCount} accesses held`);
  writer.down = false;
  const held = trail.pendingCount;
  await trail.flush();
  assert.equal(writer.ats.length, held, "what was held is written");
  assert.equal(trail.written, held, "counted as accesses");
});

test("batches of the same access repeated go through the spool and back whole", async () => {
  const dir = mkdtempSync(join(tmpdir(), "audit-spool-"));
  try {
    const writer = switchableWriter();
    const trail = new AuditTrail({
      writer,
      spool: () => new FileAuditSpool(dir),
      now: () => 0,
      log: pino({ level: "silent" }),
      batchSize: 50,
      maxPending: 300,
    });
    trail.start(20);
    // One access asked for again and again, with another now and then: each batch full of repeats.
    const same = auditFields({ action: "simple.page", project: "flask" });
    const n = 2_000;
    for (let i = 0; i < n; i++)
      trail.push({ ...same, at: 5_000 + (i % 500), project: i % 97 ? "flask" : "jinja2" });
    assert.ok(trail.spooledBatches > 0, "spilled while the database is down");
    writer.down = false;
    await trail.close();
    assert.equal(writer.ats.length, n, "every access written, those from the spool too");
    assert.equal(trail.spooledBatches, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("closing signs the head only when this process wrote records", async () => {
  const sealed: number[] = [];
  const sealing = (): AuditWriter => ({
    ...slowWriter(),
    seal: async (now) => {
      sealed.push(now);
      return { state: "signed" };
    },
  });
  const reader = new AuditTrail({ writer: sealing(), now: () => 1, log: pino({ level: "silent" }) });
  await reader.close();
  assert.deepEqual(sealed, [], "a process that recorded nothing vouches for nothing");
  const writer = new AuditTrail({ writer: sealing(), now: () => 2, log: pino({ level: "silent" }) });
  writer.push(record(1));
  await writer.close();
  assert.deepEqual(sealed, [2], "what it wrote is signed at a clean stop");
});

test("a background writer that falls behind is boosted; one that keeps up is not", async () => {
  // A writer thread at idle CPU priority gets time only when nothing else wants it: here the
  // first writer is starved (its first write waits until released), the second keeps up.
  const log = pino({ level: "silent" });
  const run = async (starved: boolean) => {
    let release: () => void = () => undefined;
    let boosts = 0;
    let writes = 0;
    const background: AuditWriter = {
      description: "background",
      active: true,
      async write(batch) {
        writes++;
        if (starved && writes === 1) await new Promise<void>((resolve) => (release = resolve));
        return { written: auditBatchLength(batch) };
      },
      boost: () => {
        boosts++;
        return boosts === 1;
      },
      close: async () => undefined,
    };
    const trail = new AuditTrail({
      writer: slowWriter(),
      background: () => background,
      now: () => 0,
      log,
      batchSize: 100,
      writerBehindMs: 60,
    });
    trail.start(10);
    for (let t = 0; t < 20; t++) {
      for (let i = 0; i < 100; i++) trail.push(record(t * 100 + i));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const boostedWhileBehind = boosts;
    release();
    await trail.close();
    return { boosts: boostedWhileBehind, counted: trail.writerBoosts, written: trail.written };
  };
  const behind = await run(true);
  assert.ok(behind.boosts >= 1, "boosted while its batches waited");
  assert.equal(behind.counted, 1, "counted once: later calls changed nothing");
  assert.equal(behind.written, 2_000, "nothing lost");
  const keepingUp = await run(false);
  assert.equal(keepingUp.boosts, 0, "never boosted while it kept up");
  assert.equal(keepingUp.counted, 0);
  assert.equal(keepingUp.written, 2_000);
});

test("a background writer whose writes fail is not boosted: its queue ages for another reason", async () => {
  let boosts = 0;
  const background: AuditWriter = {
    description: "background",
    active: true,
    write: async () => {
      throw new Error("database is locked");
    },
    boost: () => {
      boosts++;
      return true;
    },
    close: async () => undefined,
  };
  const trail = new AuditTrail({
    writer: slowWriter(),
    background: () => background,
    now: () => 0,
    log: pino({ level: "silent" }),
    batchSize: 100,
    writerBehindMs: 30,
  });
  trail.start(10);
  for (let i = 0; i < 250; i++) trail.push(record(i));
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.ok(trail.pendingCount > 0, "the records wait");
  assert.equal(boosts, 0);
  assert.equal(trail.writerBoosts, 0);
  // No spool: a stop with the database refusing fails loudly (see above).
  await assert.rejects(trail.close());
});
