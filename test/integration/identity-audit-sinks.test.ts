/**
 * Audit sinks for a SIEM, against real receivers on loopback: RFC 5424 datagrams over UDP, and
 * JSON lines POSTed over HTTP; a dead HTTP sink never holds up the trail, a receiver that was down
 * for a while misses nothing (its queue is bounded), and credentials in the URL are sent as Basic
 * auth, never logged.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { pino } from "pino";
import { createAuditSinks, sinkRetryDelayMs } from "../../src/services/audit/audit-sinks.js";
import { chain, GENESIS_HASH, type ChainedRecord } from "../../src/services/audit/audit-chain.js";
import { auditFields } from "../helpers/audit-fields.js";
import { eventually } from "../helpers/eventually.js";

const log = pino({ level: "silent" });
const records = chain(
  { seq: 0, hash: GENESIS_HASH },
  [1, 2, 3].map((i) =>
    auditFields({
      at: Date.parse("2026-11-01T00:00:00Z") + i,
      identity: "ci",
      token_id: "0123456789ab",
      ip: "10.0.0.1",
      client_json: '{"installer":"pip","userAgent":"pip/24.0"}',
    }),
  ),
);

/** A UDP syslog collector on loopback; `all` resolves once `n` datagrams arrived. */
async function collector(n: number) {
  const socket = createSocket("udp4");
  socket.bind(0, "127.0.0.1");
  await once(socket, "listening");
  const got: string[] = [];
  const all = new Promise<void>((resolve) =>
    socket.on("message", (m) => {
      got.push(m.toString());
      if (got.length === n) resolve();
    }),
  );
  return { socket, got, all, port: (socket.address() as AddressInfo).port };
}

test("syslog:// sends one RFC 5424 datagram per record", async () => {
  const { socket, got, all, port } = await collector(3);
  const [sink] = await createAuditSinks([`syslog://127.0.0.1:${port}`], log);
  sink!.send(records);
  await all;
  await sink!.close();
  socket.close();
  assert.match(got[0]!, /^<110>1 2026-11-01T00:00:00\.001Z \S+ portcullis - file\.download - \{/);
  const body = JSON.parse(got[0]!.slice(got[0]!.indexOf("{"))) as {
    seq: number;
    identity: string;
    hash: string;
  };
  assert.deepEqual([body.seq, body.identity, body.hash], [1, "ci", records[0]!.hash]);
});

test("syslog:// to a host name: looked up once, the lines sent while it resolves are not lost", async () => {
  const { socket, got, all, port } = await collector(6);
  const [sink] = await createAuditSinks([`syslog://localhost:${port}`], log);
  sink!.send(records); // before the lookup answers: kept
  await new Promise((r) => setTimeout(r, 100));
  sink!.send(records); // after: sent at once
  await all;
  await sink!.close();
  socket.close();
  assert.equal(got.length, 6);
});

test("http(s):// POSTs JSON lines in batches; a dead sink does not block", async () => {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let b = "";
    req.on("data", (d: Buffer) => (b += d.toString()));
    req.on("end", () => {
      bodies.push(b);
      res.end("ok");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const [sink] = await createAuditSinks(
    [`http://127.0.0.1:${(server.address() as AddressInfo).port}/audit`],
    log,
  );
  sink!.send(records);
  await sink!.close();
  server.close();
  assert.equal(bodies.length, 1);
  const lines = bodies[0]!
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { seq: number });
  assert.deepEqual(
    lines.map((l) => l.seq),
    [1, 2, 3],
  );

  const [dead] = await createAuditSinks(["http://127.0.0.1:9/nowhere"], log);
  // `send` only queues (it returns nothing to wait for); the failed POST is logged and dropped.
  assert.equal(dead!.send(records), undefined);
  await dead!.close();
  await assert.rejects(createAuditSinks(["ftp://example.org/"], log), /not supported/);
});

/** A logger whose lines (parsed) end up in `lines`. */
function capturingLog() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const text: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n")) {
        if (!line.trim()) continue;
        text.push(line);
        lines.push(JSON.parse(line) as (typeof lines)[number]);
      }
      done();
    },
  });
  return { log: pino({ level: "info" }, stream), lines, text };
}

/** `n` chained records, seq 1..n. */
const many = (n: number): ChainedRecord[] =>
  chain(
    { seq: 0, hash: GENESIS_HASH },
    Array.from({ length: n }, (_, i) => auditFields({ at: Date.parse("2026-11-01T00:00:00Z") + i })),
  );

/** An HTTP receiver on `port` (0: any) keeping the seqs of every line POSTed and each request's headers. */
async function receiver(port = 0, status = () => 200) {
  const seqs: number[] = [];
  const auth: (string | undefined)[] = [];
  const server: Server = createServer((req, res) => {
    let b = "";
    req.on("data", (d: Buffer) => (b += d.toString()));
    req.on("end", () => {
      auth.push(req.headers.authorization);
      const code = status();
      if (code === 200)
        for (const l of b.trim().split("\n")) seqs.push((JSON.parse(l) as { seq: number }).seq);
      res.statusCode = code;
      res.end();
    });
  });
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { seqs, auth, port: (server.address() as AddressInfo).port, close };
}

test("http(s):// keeps what a receiver that is down could not take, and delivers it once it is back", async () => {
  const first = await receiver();
  const port = first.port;
  await first.close();
  const { log, lines } = capturingLog();
  const [sink] = await createAuditSinks([`http://127.0.0.1:${port}/ingest`], log, { retryBaseMs: 50 });
  // 50 requests' records, each batch as the trail sends them, while the receiver is down.
  const records = many(50);
  for (const r of records) sink!.send([r]);
  assert.equal(
    await eventually(() => lines.some((l) => l.msg.startsWith("audit sink refused a batch")), 5_000),
    true,
    "the failure is logged",
  );
  await new Promise((r) => setTimeout(r, 300));
  const back = await receiver(port);
  assert.equal(await eventually(() => back.seqs.length >= 50, 10_000), true, `received ${back.seqs.length}`);
  await sink!.close();
  await back.close();
  assert.deepEqual(
    back.seqs,
    records.map((r) => r.seq),
    "every record, once, in order",
  );
  assert.equal((sink as { dropped?: number }).dropped, 0);
  assert.ok(
    lines.every((l) => l.dropped === undefined),
    `nothing dropped: ${JSON.stringify(lines)}`,
  );
  assert.ok(
    lines.some((l) => l.msg === "audit sink accepting again"),
    "the recovery is logged",
  );
});

test("http(s):// drops only what overflows its bounded queue (10,000 records), counted and logged", async () => {
  const first = await receiver();
  const port = first.port;
  await first.close();
  const { log, lines } = capturingLog();
  const [sink] = await createAuditSinks([`http://127.0.0.1:${port}/ingest`], log, { retryBaseMs: 50 });
  const records = many(10_600);
  sink!.send(records);
  assert.equal((sink as { dropped?: number }).dropped, 600, "the oldest queued beyond the bound");
  assert.equal(
    await eventually(() => lines.some((l) => l.msg.startsWith("audit sink refused a batch")), 5_000),
    true,
  );
  const back = await receiver(port);
  assert.equal(
    await eventually(() => back.seqs.length >= 10_000, 20_000),
    true,
    `received ${back.seqs.length}`,
  );
  await sink!.close();
  await back.close();
  assert.deepEqual(
    back.seqs,
    records.slice(600).map((r) => r.seq),
    "the newest 10,000, once, in order",
  );
  assert.ok(
    lines.some((l) => l.dropped === 600),
    `the drop is logged with its count: ${JSON.stringify(lines.map((l) => l.msg))}`,
  );
});

test("http(s):// bounds its queue and each POST by accesses too: a record of one client's repeats is many", async () => {
  const posts: number[] = [];
  const seqs: number[] = [];
  const server: Server = createServer((req, res) => {
    let b = "";
    req.on("data", (d: Buffer) => (b += d.toString()));
    req.on("end", () => {
      const got = b.trim().split("\n");
      posts.push(got.length);
      for (const l of got) seqs.push((JSON.parse(l) as { seq: number }).seq);
      res.end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  const { log } = capturingLog();
  const [sink] = await createAuditSinks([`http://127.0.0.1:${port}/ingest`], log, { retryBaseMs: 50 });
  // 30 records of 10,001 accesses each, while the receiver is down: 300,030 accesses.
  const repeats = JSON.stringify(Array.from({ length: 10_000 }, (_, i) => i % 900));
  const heavy = chain(
    { seq: 0, hash: GENESIS_HASH },
    Array.from({ length: 30 }, (_, i) => auditFields({ at: 1_000 + i, repeats_json: repeats })),
  );
  sink!.send(heavy);
  assert.equal((sink as { dropped?: number }).dropped, 11, "the oldest beyond 200,000 accesses");
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  try {
    assert.equal(await eventually(() => seqs.length >= 19, 10_000), true, `received ${seqs.length}`);
    await sink!.close();
    assert.deepEqual(
      seqs,
      heavy.slice(11).map((r) => r.seq),
      "the newest, once, in order",
    );
    assert.ok(
      posts.every((n) => n === 1),
      `no POST over 20,000 accesses: ${JSON.stringify(posts)}`,
    );
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test("http(s):// credentials in the URL go as Basic auth and never into a log; syslog refuses them", async () => {
  let calls = 0;
  // The first POST is refused (a receiver restarting), so the sink logs a failure and retries.
  const rx = await receiver(0, () => (++calls === 1 ? 503 : 200));
  const { log, text } = capturingLog();
  const [sink] = await createAuditSinks([`http://siem:p%40ss-w0rd@127.0.0.1:${rx.port}/ingest`], log, {
    retryBaseMs: 50,
  });
  assert.equal(sink!.description, `http://127.0.0.1:${rx.port}/ingest`);
  sink!.send(records);
  assert.equal(await eventually(() => rx.seqs.length >= 3, 5_000), true, `received ${rx.seqs.length}`);
  await sink!.close();
  await rx.close();
  const basicAuth = `Basic ${Buffer.from("siem:p@ss-w0rd").toString("base64")}`;
  assert.deepEqual(rx.auth, [basicAuth, basicAuth]);
  assert.ok(
    text.some((l) => l.includes("audit sink refused a batch")),
    "the refused POST is logged",
  );
  for (const secret of ["p%40ss-w0rd", "p@ss-w0rd", Buffer.from("siem:p@ss-w0rd").toString("base64")])
    assert.ok(!text.join("\n").includes(secret), `no ${secret} in the log`);

  // A sink URL that does not parse is quoted without its user information; syslog has no auth.
  await assert.rejects(
    createAuditSinks(["http://siem:s3cret@bad host/"], log),
    (err: Error) => /is not a URL/.test(err.message) && !err.message.includes("s3cret"),
  );
  await assert.rejects(
    createAuditSinks(["syslog://siem:s3cret@127.0.0.1:514"], log),
    (err: Error) => /syslog takes no credentials/.test(err.message) && !err.message.includes("s3cret"),
  );
});

test("the sink's retry back-off doubles from its base up to a minute", () => {
  const none = () => 0;
  assert.deepEqual(
    [1, 2, 3, 4, 7, 8, 20].map((n) => sinkRetryDelayMs(n, 1_000, none)),
    [1_000, 2_000, 4_000, 8_000, 60_000, 60_000, 60_000],
  );
});
