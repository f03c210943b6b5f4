/**
 * Every error the HTTP layer gives has the gateway's own shape: a wrong method is 405 with
 * `Allow`, and what Fastify or Node's parser refuse (a malformed or overlong URL, a bad body)
 * answers like any other gateway error, never with a framework's default body.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { bearer, createToken } from "../helpers/identity.js";
import { buildWheel } from "../helpers/wheel-builder.js";

interface Answer {
  status: number;
  reason: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A request with node:http: the path goes on the wire exactly as given (no URL normalisation). */
function raw(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode!,
          reason: res.statusMessage ?? "",
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** The API's error shape: `{"error": {"code", "message"}}` with the message as the reason phrase. */
function assertApiError(a: Answer, status: number, code: string, message: RegExp): void {
  assert.equal(a.status, status, a.body);
  assert.match(String(a.headers["content-type"]), /^application\/json/);
  const body = JSON.parse(a.body) as { error: { code: string; message: string } };
  assert.equal(body.error.code, code, a.body);
  assert.match(body.error.message, message);
  assert.equal(a.reason, body.error.message, "the reason phrase carries the message");
  assert.doesNotMatch(a.body, /FST_|statusCode/, "no framework default body");
}

/** The index's error shape: `STATUS Title: message` as text, the same in the status line. */
function assertIndexError(a: Answer, status: number, message: RegExp): void {
  assert.equal(a.status, status, a.body);
  assert.match(String(a.headers["content-type"]), /^text\/plain/);
  assert.match(a.body, new RegExp(`^${status} [A-Z][^:]+: `));
  assert.match(a.body.trimEnd(), message);
  assert.equal(`${status} ${a.reason}\n`, a.body, "the reason phrase carries the message");
}

describe("errors in the gateway's own shape", () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  let token: string;
  let wheel: Awaited<ReturnType<typeof buildWheel>>;

  before(async () => {
    wheel = await buildWheel({ name: "err-demo", version: "1.0" });
    upstream = await startJsonIndexServer({
      projects: { "err-demo": { files: [{ filename: wheel.filename, bytes: wheel.bytes }] } },
    });
    gw = await startTestGateway({ upstream: upstream.simpleUrl });
    token = await createToken(gw, { user: "err-admin", role: "admin" });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test("a wrong method on a path that exists is 405 with Allow, for the index, files and the API", async () => {
    const page = await raw(gw.url, "POST", "/simple/err-demo/");
    assertIndexError(page, 405, /POST is not allowed on \/simple\/err-demo\/; allowed: GET, HEAD$/);
    assert.equal(page.headers.allow, "GET, HEAD");

    const file = await raw(gw.url, "DELETE", `/files/${wheel.sha256}/${wheel.filename}`);
    assertIndexError(file, 405, /DELETE is not allowed/);
    assert.equal(file.headers.allow, "GET, HEAD");

    const json = await raw(gw.url, "PUT", "/simple/err-demo/", { accept: "application/json" });
    assert.equal(json.status, 405);
    assert.equal(JSON.parse(json.body).error.code, "METHOD_NOT_ALLOWED");

    const me = await raw(gw.url, "PUT", "/api/v1/me", bearer(token));
    assertApiError(
      me,
      405,
      "METHOD_NOT_ALLOWED",
      /^PUT is not allowed on \/api\/v1\/me; allowed: GET, HEAD$/,
    );
    assert.equal(me.headers.allow, "GET, HEAD");

    const approve = await raw(gw.url, "GET", "/api/v1/requests/1/approve", bearer(token));
    assert.equal(approve.status, 405, approve.body);
    assert.match(String(approve.headers.allow), /POST/);
  });

  test("a path no route has is 404 whatever the method", async () => {
    assertIndexError(await raw(gw.url, "POST", "/nothing/here"), 404, /nothing is served at \/nothing\/here/);
    assertIndexError(await raw(gw.url, "GET", "/nothing/here"), 404, /nothing is served at \/nothing\/here/);
    assertApiError(
      await raw(gw.url, "PUT", "/api/v1/nothing", bearer(token)),
      404,
      "NOT_FOUND",
      /no such API route/,
    );
  });

  test("a malformed percent-encoding is 400 with a reason", async () => {
    assertIndexError(
      await raw(gw.url, "GET", "/simple/%zz/"),
      400,
      /URL is malformed \(invalid percent-encoding\)/,
    );
    assertApiError(await raw(gw.url, "GET", "/api/v1/%zz", bearer(token)), 400, "VALIDATION", /malformed/);
  });

  test("a path segment over the router's limit is 414 with a reason", async () => {
    const long = "a".repeat(1200);
    assertIndexError(await raw(gw.url, "GET", `/simple/${long}/`), 414, /longer than 1000 characters/);
    assertApiError(
      await raw(gw.url, "GET", `/api/v1/requests/${long}`, bearer(token)),
      414,
      "URI_TOO_LONG",
      /longer/,
    );
  });

  test("a request line over Node's header limit is 431 with a JSON reason, not Fastify's body", async () => {
    const a = await raw(gw.url, "GET", `/simple/${"a".repeat(20_000)}/`);
    assert.equal(a.status, 431);
    const body = JSON.parse(a.body) as { error: { code: string; title: string; message: string } };
    assert.equal(body.error.title, "Request header fields too large");
    assert.match(body.error.message, /exceed 16 KiB/);
    assert.match(a.reason, /^Request header fields too large: /);
  });

  test("a bad body is refused in the API's shape: invalid JSON 400, wrong type 415, too large 413", async () => {
    const json = { ...bearer(token), "content-type": "application/json" };
    assertApiError(
      await raw(gw.url, "POST", "/api/v1/tokens", json, "{bad"),
      400,
      "VALIDATION",
      /not valid JSON/,
    );
    assertApiError(await raw(gw.url, "POST", "/api/v1/tokens", json, ""), 400, "VALIDATION", /body is empty/);
    assertApiError(
      await raw(
        gw.url,
        "POST",
        "/api/v1/tokens",
        { ...bearer(token), "content-type": "application/xml" },
        "<a/>",
      ),
      415,
      "UNSUPPORTED_MEDIA_TYPE",
      /^a body of type application\/xml is not accepted here; send application\/json$/,
    );
    assertApiError(
      await raw(gw.url, "POST", "/api/v1/tokens", json, Buffer.alloc(2 * 1024 * 1024, 0x61)),
      413,
      "CONTENT_TOO_LARGE",
      /^the request body is over the 1048576-byte limit$/,
    );
    assertApiError(
      await raw(gw.url, "POST", "/api/v1/tokens", json, "{}"),
      400,
      "VALIDATION",
      /required property/,
    );
  });

  test("a file's If-None-Match takes a list, a weak tag or `*`: 304 without body or content-length, GET and HEAD", async () => {
    const path = `/files/${wheel.sha256}/${wheel.filename}`;
    assert.equal(
      (await raw(gw.url, "GET", "/simple/err-demo/")).status,
      200,
      "the page makes the file known",
    );
    assert.equal((await raw(gw.url, "GET", path)).status, 200);
    for (const method of ["GET", "HEAD"]) {
      for (const tag of [`"${wheel.sha256}"`, `W/"${wheel.sha256}"`, `"x", W/"${wheel.sha256}"`, "*"]) {
        const a = await raw(gw.url, method, path, { "if-none-match": tag });
        assert.equal(a.status, 304, `${method} ${tag}`);
        assert.equal(a.body, "");
        assert.equal(a.headers["content-length"], undefined, `${method} ${tag}: no content-length`);
      }
      assert.equal((await raw(gw.url, method, path, { "if-none-match": '"x"' })).status, 200);
    }
  });
});
