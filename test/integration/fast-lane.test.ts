/**
 * The warm-page fast lane (src/http/fast-lane.ts) against a real gateway over a real loopback
 * upstream: it answers only what the full route would answer the same way (same body, same
 * headers), audits and counts what it answers, and leaves to the full route every request whose
 * answer needs I/O or a decision: a page past its TTL, a changed upstream page, a missing,
 * revoked or uncached token, a query, a non-normalised name.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { accessesOf } from "../helpers/audit-fields.js";
import { basic, createToken, flushAudit } from "../helpers/identity.js";
import { buildWheel } from "../helpers/wheel-builder.js";

const JSON_TYPE = "application/vnd.pypi.simple.v1+json";

async function fastAnswers(gw: TestGateway): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const m = /^portcullis_http_fast_lane_total (\d+)/m.exec(text);
  assert.ok(m, "the fast lane counter is exported");
  return Number(m[1]);
}

/** Response headers without the ones that differ per response (date) or per connection. */
function stable(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of res.headers) if (k !== "date" && k !== "keep-alive" && k !== "connection") out[k] = v;
  return out;
}

/** One request with node:http, so the exact headers on the wire (content-length) are seen. */
function raw(
  url: string,
  method: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("the warm-page fast lane", () => {
  let upstream: JsonIndexServer;
  let open: TestGateway;
  let closed: TestGateway;
  let clock = Date.parse("2026-11-01T00:00:00Z");
  const now = () => clock;
  let wheelA: Awaited<ReturnType<typeof buildWheel>>;

  before(async () => {
    wheelA = await buildWheel({ name: "lane-widgets", version: "1.0" });
    upstream = await startJsonIndexServer({
      projects: {
        "lane-widgets": {
          files: [{ filename: wheelA.filename, bytes: wheelA.bytes, uploadTime: "2025-01-01T00:00:00Z" }],
        },
      },
    });
    open = await startTestGateway({ upstream: upstream.simpleUrl, upstreamTtl: 60 }, { now });
    closed = await startTestGateway(
      { upstream: upstream.simpleUrl, upstreamTtl: 60, authAnonymous: "off" },
      { now },
    );
  });
  after(async () => {
    await open?.close();
    await closed?.close();
    await upstream?.close();
  });

  test("a warm page gets the full route's exact answer: HTML, JSON, HEAD and 304", async () => {
    const page = `${open.url}/simple/lane-widgets/`;
    for (const accept of [undefined, JSON_TYPE]) {
      const headers: Record<string, string> = accept ? { accept } : {};
      const full = await fetch(page, { headers }); // the first request renders the page: full route
      const fullBody = await full.text();
      const before = await fastAnswers(open);
      const fast = await fetch(page, { headers });
      assert.equal(fast.status, 200);
      assert.equal(await fast.text(), fullBody);
      assert.deepEqual(stable(fast), stable(full));
      assert.equal(await fastAnswers(open), before + 1, "answered by the fast lane");

      const head = await fetch(page, { method: "HEAD", headers });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), "");
      assert.deepEqual(stable(head), stable(full));

      const etag = full.headers.get("etag")!;
      const notModified = await fetch(page, { headers: { ...headers, "if-none-match": etag } });
      assert.equal(notModified.status, 304);
      assert.equal(notModified.headers.get("etag"), etag);
      assert.equal(notModified.headers.get("vary"), "Accept");
      assert.equal(await fastAnswers(open), before + 3);
      const head304 = await fetch(page, { method: "HEAD", headers: { ...headers, "if-none-match": etag } });
      assert.equal(head304.status, 304);
      assert.equal(await fastAnswers(open), before + 4);
    }
  });

  test("If-None-Match: a list, a weak tag or `*` is a 304 without body or content-length, fast lane or not", async () => {
    const page = `${open.url}/simple/lane-widgets/`;
    const etag = (await fetch(page)).headers.get("etag")!;
    await (await fetch(page)).text();
    // A query takes the full route; without one the warm page is the fast lane's.
    for (const url of [page, `${page}?via=route`]) {
      for (const method of ["GET", "HEAD"]) {
        for (const tag of [etag, `W/${etag}`, `"other", W/${etag}`, `"other",${etag}`, "*"]) {
          const before = await fastAnswers(open);
          const res = await raw(url, method, { "if-none-match": tag });
          const what = `${method} ${url} If-None-Match: ${tag}`;
          assert.equal(res.status, 304, what);
          assert.equal(res.body, "", what);
          assert.equal(res.headers["content-length"], undefined, `${what}: no content-length on a 304`);
          assert.equal(res.headers.etag, etag, what);
          const lane = url === page ? 1 : 0;
          assert.equal(await fastAnswers(open), before + lane, `${what}: answered by the fast lane: ${lane}`);
        }
        const other = await raw(url, method, { "if-none-match": `"other", W/"also-other"` });
        assert.equal(other.status, 200, `${method} ${url}: no tag matches`);
      }
    }
  });

  test("what the fast lane serves is audited and counted like any page", async () => {
    const token = await createToken(open, { user: "lane-reader", role: "reader", team: "data" });
    const page = `${open.url}/simple/lane-widgets/`;
    // The first request checks the token (full route); the next ones find it verified moments ago.
    for (let i = 0; i < 4; i++) {
      const res = await fetch(page, { headers: { ...basic(token), "x-portcullis-project": "nightly" } });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    await flushAudit(open);
    // The full route and the fast lane record the same access alike: one record, repeated.
    const rows = accessesOf(
      await open.gateway.services.auditLog.query({
        identity: "lane-reader",
        limit: 10,
        order: "asc",
      }),
    );
    assert.equal(rows.length, 4, "every request audited, fast lane or not");
    for (const r of rows) {
      assert.equal(r.action, "simple.page");
      assert.equal(r.project, "lane-widgets");
      assert.equal(r.team, "data");
      assert.equal(r.application, "nightly");
      assert.equal(r.outcome, "ok");
      assert.equal(r.status, 200);
    }
    const metrics = await (await fetch(`${open.url}/metrics`)).text();
    assert.match(metrics, /portcullis_http_requests_total\{route="\/simple\/:project\/",status="200"\} \d+/);
  });

  test("past the TTL the full route revalidates, and a changed upstream page is what is served", async () => {
    const page = `${open.url}/simple/lane-widgets/`;
    await (await fetch(page)).text();
    const wheelB = await buildWheel({ name: "lane-widgets", version: "2.0" });
    upstream.setProject("lane-widgets", {
      files: [
        { filename: wheelA.filename, bytes: wheelA.bytes, uploadTime: "2025-01-01T00:00:00Z" },
        { filename: wheelB.filename, bytes: wheelB.bytes, uploadTime: "2025-02-01T00:00:00Z" },
      ],
    });
    // Still fresh: the cached page (without 2.0) is served, by the fast lane.
    const before = await fastAnswers(open);
    assert.doesNotMatch(await (await fetch(page)).text(), /lane_widgets-2\.0/);
    assert.equal(await fastAnswers(open), before + 1);
    clock += 61_000;
    const after = await fetch(page);
    assert.match(await after.text(), /lane_widgets-2\.0/, "revalidated: the new release is listed");
    assert.equal(await fastAnswers(open), before + 1, "the stale page was not answered by the fast lane");
    // The new page is warm now.
    assert.match(await (await fetch(page)).text(), /lane_widgets-2\.0/);
    assert.equal(await fastAnswers(open), before + 2);
  });

  test("a query, a non-normalised name or an unacceptable Accept takes the full route", async () => {
    const page = `${open.url}/simple/lane-widgets/`;
    await (await fetch(page)).text();
    const before = await fastAnswers(open);
    const json = await fetch(`${page}?format=json`);
    assert.equal(json.status, 200);
    assert.equal(json.headers.get("content-type"), JSON_TYPE);
    await json.text();
    const moved = await fetch(`${open.url}/simple/Lane_Widgets/`, { redirect: "manual" });
    assert.equal(moved.status, 301);
    assert.equal(moved.headers.get("location"), "/simple/lane-widgets/");
    const refused = await fetch(page, { headers: { accept: "image/png" } });
    assert.equal(refused.status, 406);
    assert.equal(await fastAnswers(open), before);
  });

  test("without anonymous read: no token is 401, a revoked token is 401 once its cache lapses", async () => {
    const page = `${closed.url}/simple/lane-widgets/`;
    const token = await createToken(closed, { user: "lane-ci", role: "reader" });
    const first = await fetch(page, { headers: basic(token) });
    assert.equal(first.status, 200);
    await first.arrayBuffer();
    const before = await fastAnswers(closed);
    const fast = await fetch(page, { headers: basic(token) });
    assert.equal(fast.status, 200);
    assert.equal(await fastAnswers(closed), before + 1, "a token verified moments ago: fast lane");
    // A shared cache in front must not hand what a token fetched to callers without one.
    assert.equal(first.headers.get("cache-control"), "max-age=60, private");
    assert.equal(fast.headers.get("cache-control"), "max-age=60, private");
    const href = /href="([^"]+)"/.exec(await fast.text())![1]!;
    const file = await fetch(new URL(href, page), { headers: basic(token) });
    assert.equal(file.status, 200);
    await file.arrayBuffer();
    assert.equal(file.headers.get("cache-control"), "private, max-age=31536000, immutable");
    const openPage = await fetch(`${open.url}/simple/lane-widgets/`);
    assert.equal(openPage.headers.get("cache-control"), "max-age=60, public", "anyone may read it anyway");
    await openPage.arrayBuffer();
    const anonymous = await fetch(page);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Basic/);
    const wrong = await fetch(page, { headers: basic(`${token.slice(0, -4)}AAAA`) });
    assert.equal(wrong.status, 401);

    const id = (await closed.gateway.services.identity.listTokens("lane-ci"))[0]!.id;
    await closed.gateway.services.identity.revokeToken(id, {
      user: "admin",
      role: "admin",
      team: null,
      tokenId: null,
      ip: "127.0.0.1",
      application: null,
      client: null,
    });
    clock += 2_001;
    assert.equal((await fetch(page, { headers: basic(token) })).status, 401);
  });
});

test("a local directory upstream's warm page is answered by the fast lane too", async () => {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-lane-dir-"));
  const wheel = await buildWheel({ name: "dir-widgets", version: "1.0" });
  writeFileSync(join(dir, wheel.filename), wheel.bytes);
  const gw = await startTestGateway({ upstream: dir });
  try {
    const page = `${gw.url}/simple/dir-widgets/`;
    const full = await fetch(page);
    assert.equal(full.status, 200);
    const body = await full.text();
    const before = await fastAnswers(gw);
    const fast = await fetch(page);
    assert.equal(await fast.text(), body);
    assert.equal(await fastAnswers(gw), before + 1);
  } finally {
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
