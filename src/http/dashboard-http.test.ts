import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import type { GatewayHttpContext } from "../main.js";
import { registerDashboardHttp } from "./dashboard-http.js";

function context(): GatewayHttpContext {
  return {
    publicUrl: () => "http://gw.example",
    upstreamStatus: () => ({
      ok: false,
      detail: "connect ECONNREFUSED",
      description: "https://up.example/simple/",
    }),
  } as unknown as GatewayHttpContext;
}

async function app(dir: string): Promise<FastifyInstance> {
  const a = Fastify();
  a.get("/simple/", async () => "index");
  await registerDashboardHttp(a, context(), { dir });
  await a.ready();
  return a;
}

describe("dashboard routes", () => {
  let dist: string;
  let server: FastifyInstance;
  before(async () => {
    dist = mkdtempSync(join(tmpdir(), "web-dist-"));
    mkdirSync(join(dist, "assets"));
    writeFileSync(join(dist, "index.html"), '<!doctype html><div id="root"></div>');
    writeFileSync(join(dist, "assets", "index-abc123.js"), "console.log(1)");
    writeFileSync(join(dist, "favicon.svg"), "<svg/>");
    server = await app(dist);
  });
  after(async () => {
    await server.close();
    rmSync(dist, { recursive: true, force: true });
  });

  test("the shell answers `/` and every client route, uncached and under a strict CSP", async () => {
    for (const url of [
      "/",
      "/catalog",
      "/projects/requests",
      "/requests/42",
      "/audit",
      "/advisories",
      "/environments",
      "/users",
      "/tokens",
      "/remediation",
      "/drift",
      "/webhooks",
      "/policy",
      "/login",
    ]) {
      const res = await server.inject({ url });
      assert.equal(res.statusCode, 200, url);
      assert.match(res.body, /id="root"/);
      assert.equal(res.headers["cache-control"], "no-cache");
      assert.match(
        String(res.headers["content-security-policy"]),
        /script-src 'self';.*frame-ancestors 'none'/,
      );
    }
  });

  test("hashed assets are immutable; anything not in the build is a 404, traversal included", async () => {
    const js = await server.inject({ url: "/assets/index-abc123.js" });
    assert.equal(js.statusCode, 200);
    assert.equal(js.body, "console.log(1)");
    assert.match(String(js.headers["content-type"]), /^text\/javascript/);
    assert.match(String(js.headers["cache-control"]), /immutable/);
    assert.equal((await server.inject({ url: "/favicon.svg" })).headers["cache-control"], "no-cache");
    for (const url of [
      "/assets/nope.js",
      "/assets/../index.html",
      "/assets/%2e%2e/%2e%2e/etc/passwd",
      "/assets/",
    ]) {
      assert.equal((await server.inject({ url })).statusCode, 404, url);
    }
  });

  test("other routes are not shadowed: unknown paths stay 404", async () => {
    assert.equal((await server.inject({ url: "/simple/" })).body, "index");
    for (const url of ["/nope", "/api/v1/nope", "/files/x", "/.well-known/x"]) {
      assert.equal((await server.inject({ url })).statusCode, 404, url);
    }
  });

  test("the setup page tells how to install through the gateway and that the upstream is down", async () => {
    const res = await server.inject({ url: "/setup" });
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /pip install --index-url http:\/\/gw\.example\/simple\/ flask/);
    assert.match(res.body, /cannot be reached/);
  });

  test("without a build, `/` says how to build the dashboard", async () => {
    const empty = mkdtempSync(join(tmpdir(), "web-none-"));
    const bare = await app(join(empty, "dist"));
    try {
      const res = await bare.inject({ url: "/" });
      assert.equal(res.statusCode, 503);
      assert.match(res.body, /dashboard is not built/);
      assert.match(res.body, /npm run build/);
      // The build appearing later is picked up without a restart.
      mkdirSync(join(empty, "dist"));
      writeFileSync(join(empty, "dist", "index.html"), "<p>built</p>");
      assert.equal((await bare.inject({ url: "/catalog" })).body, "<p>built</p>");
    } finally {
      await bare.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
