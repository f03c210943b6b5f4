/**
 * Answers cut off before they reached the client whole, on a real gateway over real sockets, on
 * SQLite and PostgreSQL: a client that reads part of a download and closes its socket, one that
 * gives up before any answer, the shutdown's grace period running out under a slow reader, and
 * the fast lane's pages. Each access is in the audit trail exactly once, a cut one as `aborted`,
 * and an aborted download is never an inventory pull. Whole answers stay `ok`, once.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { connect } from "node:net";
import { request as httpRequest } from "node:http";
import { connectDatabase } from "../../src/adapters/db/connect-database.js";
import type { ChainedRecord } from "../../src/services/audit/audit-chain.js";
import { DIALECTS, dialectSkip, gatewayDatabase } from "../helpers/databases.js";
import { createToken, flushAudit } from "../helpers/identity.js";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { buildWheel } from "../helpers/wheel-builder.js";

type Wheel = Awaited<ReturnType<typeof buildWheel>>;

const MiB = 1024 * 1024;

/**
 * A GET over a raw socket that reads `limit` bytes of the answer (head included) and then
 * destroys the socket, as a client killed mid-download does. Resolves with the bytes read.
 */
function readThenCut(gw: TestGateway, path: string, limit: number, headers = ""): Promise<number> {
  const u = new URL(gw.url);
  return new Promise((resolve, reject) => {
    let got = 0;
    const socket = connect(Number(u.port), u.hostname, () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\n${headers}\r\n`),
    );
    socket.on("data", (chunk: Buffer) => {
      got += chunk.length;
      if (got >= limit) socket.destroy();
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(got));
  });
}

/**
 * Requests sent together on one connection (HTTP/1.1 pipelining); reads everything when `read`,
 * else nothing, then closes. Resolves with the bytes read.
 */
function pipelined(gw: TestGateway, paths: string[], read: boolean): Promise<number> {
  const u = new URL(gw.url);
  return new Promise((resolve, reject) => {
    let got = 0;
    const socket = connect(Number(u.port), u.hostname, () => {
      const last = paths.length - 1;
      socket.write(
        paths
          .map(
            (p, i) =>
              `GET ${p} HTTP/1.1\r\nHost: ${u.host}\r\n${i === last ? "Connection: close\r\n" : ""}\r\n`,
          )
          .join(""),
      );
      if (!read) {
        socket.pause();
        setTimeout(() => socket.destroy(), 300);
      }
    });
    socket.on("data", (chunk: Buffer) => (got += chunk.length));
    socket.on("end", () => socket.end());
    socket.on("error", reject);
    socket.on("close", () => resolve(got));
  });
}

/** A whole download over a raw socket with `Connection: close`: the server closes after it. */
function readAll(gw: TestGateway, path: string): Promise<number> {
  const u = new URL(gw.url);
  return new Promise((resolve, reject) => {
    let got = 0;
    const socket = connect(Number(u.port), u.hostname, () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`),
    );
    socket.on("data", (chunk: Buffer) => (got += chunk.length));
    socket.on("end", () => socket.end());
    socket.on("error", reject);
    socket.on("close", () => resolve(got));
  });
}

const filePath = (w: Wheel) => `/files/${w.sha256}/${w.filename}`;

/** The access records of an action on a file or project, oldest first. */
async function accesses(
  gw: TestGateway,
  filter: { sha256?: string; project?: string; action: string },
): Promise<Pick<ChainedRecord, "identity" | "outcome" | "status" | "detail_json">[]> {
  await flushAudit(gw);
  const rows = await gw.gateway.services.auditLog.query({ ...filter, limit: 100, order: "asc" });
  return rows.map((r) => ({
    identity: r.identity,
    outcome: r.outcome,
    status: r.status,
    detail_json: r.detail_json,
  }));
}

/**
 * Waits until `count` access records are there (a cut is seen when the gateway's socket closes,
 * a moment after the client's), then a little longer, so a second record would show too.
 */
async function settledAccesses(
  gw: TestGateway,
  filter: { sha256?: string; project?: string; action: string },
  count: number,
): Promise<Awaited<ReturnType<typeof accesses>>> {
  const deadline = Date.now() + 10_000;
  while ((await accesses(gw, filter)).length < count && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 25));
  await new Promise((r) => setTimeout(r, 200));
  return accesses(gw, filter);
}

async function fastAnswers(gw: TestGateway): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const m = /^portcullis_http_fast_lane_total (\d+)/m.exec(text);
  assert.ok(m, "the fast lane counter is exported");
  return Number(m[1]);
}

for (const dialect of DIALECTS) {
  describe(
    `answers cut off are audited once, as aborted (${dialect})`,
    { skip: await dialectSkip(dialect) },
    () => {
      let upstream: JsonIndexServer;
      let gw: TestGateway;
      let database: { url: string; drop(): Promise<void> };
      // Streamed from disk (past the 8 MiB hot cache), as an 18 MB wheel is.
      let large: Wheel;
      // Sent from memory as one buffer (the hot cache).
      let hot: Wheel;
      // Not fetched before the test that gives up waiting for it.
      let cold: Wheel;
      let page: Wheel;

      before(async () => {
        large = await buildWheel({
          name: "cut-large",
          version: "1.0",
          files: { "cut_large/x.bin": randomBytes(18 * MiB) },
        });
        hot = await buildWheel({
          name: "cut-hot",
          version: "1.0",
          files: { "cut_hot/x.bin": randomBytes(7 * MiB) },
        });
        cold = await buildWheel({ name: "cut-cold", version: "1.0" });
        page = await buildWheel({ name: "cut-page", version: "1.0" });
        const projects: Parameters<typeof startJsonIndexServer>[0]["projects"] = {};
        for (const w of [large, hot, cold, page])
          projects[w.filename.split("-")[0]!.replace(/_/g, "-")] = {
            files: [{ filename: w.filename, bytes: w.bytes, uploadTime: "2025-01-01T00:00:00Z" }],
          };
        upstream = await startJsonIndexServer({ projects });
        database = await gatewayDatabase(dialect);
        gw = await startTestGateway({ upstream: upstream.simpleUrl, database: database.url });
        // Pages once, and the two files fetched into the store once (by nobody the tests look at).
        for (const name of ["cut-large", "cut-hot", "cut-cold", "cut-page"])
          await (await fetch(`${gw.url}/simple/${name}/`)).arrayBuffer();
        const warm = await createToken(gw, { user: "warmer", role: "reader" });
        for (const w of [large, hot])
          await (
            await fetch(`${gw.url}${filePath(w)}`, { headers: { authorization: `Bearer ${warm}` } })
          ).arrayBuffer();
      });
      after(async () => {
        await gw?.close();
        await upstream?.close();
        await database?.drop();
      });

      test("a client that reads 2 MB of an 18 MB download and closes is recorded once, aborted, and is no pull", async () => {
        const token = await createToken(gw, { user: "quitter", role: "reader" });
        const got = await readThenCut(gw, filePath(large), 2 * MiB, `Authorization: Bearer ${token}\r\n`);
        assert.ok(got < large.bytes.length / 2, `the client read only part: ${got} bytes`);
        const rows = (await settledAccesses(gw, { sha256: large.sha256, action: "file.download" }, 2)).filter(
          (r) => r.identity === "quitter",
        );
        assert.deepEqual(
          rows.map((r) => [r.outcome, r.status]),
          [["aborted", 200]],
          "one record, saying the answer (a 200) was cut off",
        );
        const consumers = await gw.gateway.services.inventory.consumersOfFiles([large.sha256]);
        assert.deepEqual(
          consumers.map((c) => c.identity),
          ["warmer"],
          "an aborted download is not a pull",
        );
      });

      test("a download sent from memory that the client stops reading is aborted too, not ok", async () => {
        // Node reports `finish` for a buffer the dead socket dropped: the audit must not trust it.
        const token = await createToken(gw, { user: "hot-quitter", role: "reader" });
        const got = await readThenCut(gw, filePath(hot), 64 * 1024, `Authorization: Bearer ${token}\r\n`);
        assert.ok(got < hot.bytes.length / 2, `the client read only part: ${got} bytes`);
        const rows = (await settledAccesses(gw, { sha256: hot.sha256, action: "file.download" }, 2)).filter(
          (r) => r.identity === "hot-quitter",
        );
        assert.deepEqual(
          rows.map((r) => [r.outcome, r.status]),
          [["aborted", 200]],
        );
        const consumers = await gw.gateway.services.inventory.consumersOfFiles([hot.sha256]);
        assert.ok(
          !consumers.some((c) => c.identity === "hot-quitter"),
          `not in the inventory: ${JSON.stringify(consumers)}`,
        );
      });

      test("a client that gives up before any answer is recorded once, aborted, with no status", async () => {
        const token = await createToken(gw, { user: "impatient", role: "reader" });
        upstream.setFault({ type: "delay", ms: 400 }, { path: `/files/${cold.filename}`, times: 1 });
        await new Promise<void>((resolve) => {
          const req = httpRequest(`${gw.url}${filePath(cold)}`, {
            headers: { authorization: `Bearer ${token}` },
          });
          req.on("error", () => resolve());
          req.on("response", () => assert.fail("no answer was expected before the client left"));
          req.end();
          setTimeout(() => {
            req.destroy();
            resolve();
          }, 100);
        });
        // The gateway finishes fetching the file after the client left, and sends it nowhere.
        await new Promise((r) => setTimeout(r, 600));
        const rows = await settledAccesses(gw, { sha256: cold.sha256, action: "file.download" }, 1);
        assert.deepEqual(
          rows.map((r) => [r.identity, r.outcome, r.status]),
          [["impatient", "aborted", null]],
        );
        assert.deepEqual(await gw.gateway.services.inventory.consumersOfFiles([cold.sha256]), []);
      });

      test("whole downloads are ok, once each: keep-alive, Connection: close, and HEAD", async () => {
        const token = await createToken(gw, { user: "finisher", role: "reader" });
        const headers = { authorization: `Bearer ${token}` };
        const res = await fetch(`${gw.url}${filePath(large)}`, { headers });
        assert.equal((await res.arrayBuffer()).byteLength, large.bytes.length);
        const head = await fetch(`${gw.url}${filePath(large)}`, { method: "HEAD", headers });
        assert.equal(head.status, 200);
        // Anonymous, and the gateway closes the connection after the answer.
        const got = await readAll(gw, filePath(hot));
        assert.ok(got > hot.bytes.length, `the whole file and its head: ${got}`);

        const large200 = (
          await settledAccesses(gw, { sha256: large.sha256, action: "file.download" }, 3)
        ).filter((r) => r.identity === "finisher");
        assert.deepEqual(
          large200.map((r) => [r.outcome, r.status]),
          [["ok", 200]],
        );
        const heads = (await accesses(gw, { sha256: large.sha256, action: "file.head" })).filter(
          (r) => r.identity === "finisher",
        );
        assert.deepEqual(
          heads.map((r) => [r.outcome, r.status]),
          [["ok", 200]],
        );
        const anonymous = (await accesses(gw, { sha256: hot.sha256, action: "file.download" })).filter(
          (r) => r.identity === null,
        );
        assert.deepEqual(
          anonymous.map((r) => [r.outcome, r.status]),
          [["ok", 200]],
        );
        const consumers = await gw.gateway.services.inventory.consumersOfFiles([large.sha256]);
        assert.deepEqual(
          consumers.filter((c) => c.identity === "finisher").map((c) => c.pulls),
          [1],
          "a whole download is one pull",
        );
      });

      test("fast lane: a page queued behind a download the client never reads is aborted; a read one is ok", async () => {
        await (await fetch(`${gw.url}/simple/cut-page/`)).arrayBuffer();
        const before = await fastAnswers(gw);
        const pagesBefore = (await accesses(gw, { project: "cut-page", action: "simple.page" })).length;
        // The page is answered by the fast lane at once, but waits behind the 18 MB answer.
        await pipelined(gw, [filePath(large), "/simple/cut-page/"], false);
        // Both read: the page goes out when the download is done, whole.
        await pipelined(gw, [filePath(hot), "/simple/cut-page/"], true);
        assert.equal(await fastAnswers(gw), before + 2, "the fast lane answered both pages");
        const pages = (
          await settledAccesses(gw, { project: "cut-page", action: "simple.page" }, pagesBefore + 2)
        ).slice(pagesBefore);
        assert.deepEqual(
          pages.map((r) => [r.outcome, r.status]),
          [
            ["aborted", 200],
            ["ok", 200],
          ],
        );
      });

      test("fast lane: a warm page sent whole is recorded at once, ok", async () => {
        const pagesBefore = (await accesses(gw, { project: "cut-page", action: "simple.page" })).length;
        const before = await fastAnswers(gw);
        const res = await fetch(`${gw.url}/simple/cut-page/`);
        assert.equal(res.status, 200);
        await res.arrayBuffer();
        assert.equal(await fastAnswers(gw), before + 1, "answered by the fast lane");
        const pages = (
          await settledAccesses(gw, { project: "cut-page", action: "simple.page" }, pagesBefore + 1)
        ).slice(pagesBefore);
        assert.deepEqual(
          pages.map((r) => [r.outcome, r.status]),
          [["ok", 200]],
        );
      });
    },
  );

  describe(
    `the shutdown's grace period cutting a download off (${dialect})`,
    { skip: await dialectSkip(dialect) },
    () => {
      test("the download still in flight when the grace period ends is recorded, aborted", async () => {
        const w = await buildWheel({
          name: "grace-cut",
          version: "1.0",
          files: { "grace_cut/x.bin": randomBytes(18 * MiB) },
        });
        const upstream = await startJsonIndexServer({
          projects: { "grace-cut": { files: [{ filename: w.filename, bytes: w.bytes }] } },
        });
        const database = await gatewayDatabase(dialect);
        const gw = await startTestGateway(
          { upstream: upstream.simpleUrl, database: database.url, shutdownGrace: 1 },
          { keepData: true },
        );
        try {
          await (await fetch(`${gw.url}/simple/grace-cut/`)).arrayBuffer();
          await (await fetch(`${gw.url}${filePath(w)}`)).arrayBuffer();
          // A client that never reads: its download cannot finish within the grace period.
          const u = new URL(gw.url);
          const socket = connect(Number(u.port), u.hostname, () => {
            socket.write(`GET ${filePath(w)} HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`);
            socket.pause();
          });
          socket.on("error", () => undefined);
          await new Promise((r) => setTimeout(r, 300));
          const started = Date.now();
          await gw.gateway.close();
          assert.ok(Date.now() - started >= 900, "the gateway waited out its grace period");
          socket.destroy();

          const handle = await connectDatabase({ url: database.url, dataDir: gw.dataDir });
          try {
            const rows = await handle.db
              .selectFrom("audit_log")
              .select(["outcome", "status"])
              .where("action", "=", "file.download")
              .orderBy("seq")
              .execute();
            assert.deepEqual(
              rows.map((r) => [r.outcome, r.status]),
              [
                ["ok", 200],
                ["aborted", 200],
              ],
              "the first download whole, the one cut by the stop aborted",
            );
            const pulls = await handle.db.selectFrom("inventory").select(["pulls"]).execute();
            assert.deepEqual(
              pulls.map((r) => Number(r.pulls)),
              [1],
              "only the whole download is a pull",
            );
          } finally {
            await handle.close();
          }
        } finally {
          await upstream.close();
          await database.drop();
          rmSync(gw.dataDir, { recursive: true, force: true });
        }
      });
    },
  );
}
