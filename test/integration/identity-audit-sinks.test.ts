/**
 * Audit sinks for a SIEM, against real receivers on loopback: RFC 5424 datagrams over UDP, and
 * JSON lines POSTed over HTTP; a dead HTTP sink never holds up the trail.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { createAuditSinks } from "../../src/services/audit/audit-sinks.js";
import { chain, GENESIS_HASH } from "../../src/services/audit/audit-chain.js";
import { auditFields } from "../helpers/audit-fields.js";

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
