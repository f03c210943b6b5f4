/**
 * Range requests and the inventory, on a real gateway with real HTTP clients, on SQLite and
 * PostgreSQL: a consumer who receives every byte of a file through ranges (fetched in pieces, or
 * resumed after a cut as pip 25+ does) is in who-has, once; a range that stops short of the
 * file's end (a probe, a piece before the last) is `partial` and no pull.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { connect } from "node:net";
import type { ChainedRecord } from "../../src/services/audit/audit-chain.js";
import { DIALECTS, dialectSkip, gatewayDatabase } from "../helpers/databases.js";
import { bearer, createToken, flushAudit } from "../helpers/identity.js";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { buildWheel } from "../helpers/wheel-builder.js";

type Wheel = Awaited<ReturnType<typeof buildWheel>>;

const MiB = 1024 * 1024;
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** `Range: bytes=RANGE` with fetch: the status, `Content-Range` and the bytes. */
async function fetchRange(
  gw: TestGateway,
  w: Wheel,
  range: string,
  headers: Record<string, string>,
): Promise<{ status: number; contentRange: string | null; body: Buffer }> {
  const res = await fetch(`${gw.url}/files/${w.sha256}/${w.filename}`, {
    headers: { ...headers, range: `bytes=${range}` },
  });
  return {
    status: res.status,
    contentRange: res.headers.get("content-range"),
    body: Buffer.from(await res.arrayBuffer()),
  };
}

/**
 * A GET over a raw socket cut off after at least `limit` bytes of the body: resolves with the
 * body bytes received, as a client whose download was interrupted keeps them.
 */
function downloadThenCut(gw: TestGateway, w: Wheel, limit: number, token: string): Promise<Buffer> {
  const u = new URL(gw.url);
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const socket = connect(Number(u.port), u.hostname, () =>
      socket.write(
        `GET /files/${w.sha256}/${w.filename} HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: Bearer ${token}\r\n\r\n`,
      ),
    );
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const head = received.indexOf("\r\n\r\n");
      if (head >= 0 && received.length - head - 4 >= limit) socket.destroy();
    });
    socket.on("error", reject);
    socket.on("close", () => {
      const head = received.indexOf("\r\n\r\n");
      assert.match(received.subarray(0, head).toString("latin1"), /^HTTP\/1\.1 200 /);
      resolve(received.subarray(head + 4));
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`range requests and who-has (${dialect})`, { skip: await dialectSkip(dialect) }, () => {
    let upstream: JsonIndexServer;
    let gw: TestGateway;
    let database: { url: string; drop(): Promise<void> };
    let approver: string;
    let small: Wheel;
    let large: Wheel;

    before(async () => {
      small = await buildWheel({
        name: "ranged",
        version: "1.0",
        files: { "ranged/x.bin": randomBytes(300_000) },
      });
      large = await buildWheel({
        name: "resumed",
        version: "2.0",
        files: { "resumed/x.bin": randomBytes(18 * MiB) },
      });
      upstream = await startJsonIndexServer({
        projects: {
          ranged: { files: [{ filename: small.filename, bytes: small.bytes }] },
          resumed: { files: [{ filename: large.filename, bytes: large.bytes }] },
        },
      });
      database = await gatewayDatabase(dialect);
      gw = await startTestGateway({ upstream: upstream.simpleUrl, database: database.url });
      approver = await createToken(gw, { user: "security", role: "approver" });
      for (const name of ["ranged", "resumed"])
        await (await fetch(`${gw.url}/simple/${name}/`)).arrayBuffer();
      // Into the store with a HEAD (no pull), so every range below is served from it.
      for (const w of [small, large]) {
        const head = await fetch(`${gw.url}/files/${w.sha256}/${w.filename}`, { method: "HEAD" });
        assert.equal(head.status, 200);
      }
    });
    after(async () => {
      await gw?.close();
      await upstream?.close();
      await database?.drop();
    });

    async function whoHas(q: string): Promise<{ identity: string | null; pulls: number }[]> {
      await flushAudit(gw);
      const res = await fetch(`${gw.url}/api/v1/who-has?q=${encodeURIComponent(q)}`, {
        headers: bearer(approver),
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { consumers: { identity: string | null; pulls: number }[] };
      return body.consumers
        .map((c) => ({ identity: c.identity, pulls: c.pulls }))
        .sort((a, b) => String(a.identity).localeCompare(String(b.identity)));
    }

    async function downloads(w: Wheel, identity: string): Promise<[string, number | null, unknown][]> {
      await flushAudit(gw);
      const rows: ChainedRecord[] = await gw.gateway.services.auditLog.query({
        sha256: w.sha256,
        action: "file.download",
        identity,
        limit: 100,
        order: "asc",
      });
      return rows.map((r) => [r.outcome, r.status, JSON.parse(r.detail_json ?? "null")]);
    }

    test("a file fetched in two ranges that cover it is one pull; each range is in the trail", async () => {
      const token = await createToken(gw, { user: "piecewise", role: "reader" });
      const size = small.bytes.length;
      const head = await fetchRange(gw, small, "0-99999", bearer(token));
      const tail = await fetchRange(gw, small, "100000-", bearer(token));
      assert.deepEqual(
        [head.status, head.contentRange, tail.status, tail.contentRange],
        [206, `bytes 0-99999/${size}`, 206, `bytes 100000-${size - 1}/${size}`],
      );
      assert.equal(sha256(Buffer.concat([head.body, tail.body])), small.sha256, "every byte arrived");
      assert.deepEqual(await whoHas("ranged==1.0"), [{ identity: "piecewise", pulls: 1 }]);
      assert.deepEqual(await downloads(small, "piecewise"), [
        ["partial", 206, { decision: "admitted", range: `bytes 0-99999/${size}` }],
        ["ok", 206, { decision: "admitted", range: `bytes 100000-${size - 1}/${size}` }],
      ]);
    });

    test("ranges short of the end (a probe, a middle piece) are partial and no pull", async () => {
      const token = await createToken(gw, { user: "prober", role: "reader" });
      const probe = await fetchRange(gw, small, "0-0", bearer(token));
      const middle = await fetchRange(gw, small, "1000-1999", bearer(token));
      assert.deepEqual(
        [probe.status, probe.body.length, middle.status, middle.body.length],
        [206, 1, 206, 1000],
      );
      assert.deepEqual(
        (await downloads(small, "prober")).map(([outcome, status]) => [outcome, status]),
        [
          ["partial", 206],
          ["partial", 206],
        ],
      );
      assert.ok(!(await whoHas("ranged==1.0")).some((c) => c.identity === "prober"), "a probe is not a pull");
    });

    test("a download cut off and resumed with a range (as pip 25+ does) is one pull", async () => {
      const token = await createToken(gw, { user: "resumer", role: "reader" });
      const first = await downloadThenCut(gw, large, 2 * MiB, token);
      assert.ok(first.length < large.bytes.length, `cut off after ${first.length} bytes`);
      const rest = await fetchRange(gw, large, `${first.length}-`, {
        ...bearer(token),
        "if-range": `"${large.sha256}"`,
      });
      assert.equal(rest.status, 206);
      assert.equal(sha256(Buffer.concat([first, rest.body])), large.sha256, "every byte arrived");
      assert.deepEqual(await whoHas("resumed==2.0"), [{ identity: "resumer", pulls: 1 }]);
      const size = large.bytes.length;
      // The cut may be seen a moment after the client closed; the resumed range is in by now.
      assert.deepEqual(
        (await downloads(large, "resumer")).map(([outcome, status, detail]) => [outcome, status, detail]),
        [
          ["aborted", 200, { decision: "admitted" }],
          ["ok", 206, { decision: "admitted", range: `bytes ${first.length}-${size - 1}/${size}` }],
        ],
      );
    });
  });
}
