/**
 * Who a request came from behind a reverse proxy (`trust-proxy`, src/http/client-address.ts):
 * with the proxy trusted, the audit trail, the inventory and the brute-force limiter see the
 * client named by X-Forwarded-For, on the fast lane as on the full routes; without it (the
 * default) the header is ignored and a client cannot pick its own address.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { loadConfig, ConfigError } from "../../src/config/options.js";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { accessesOf } from "../helpers/audit-fields.js";
import { basic, downloadRelease, flushAudit } from "../helpers/identity.js";
import { buildWheel } from "../helpers/wheel-builder.js";

const PROJECT = "proxied-widgets";

/** The audited accesses to the project (not the gateway's own decisions about it). */
async function auditedIps(gw: TestGateway): Promise<{ action: string; ip: string }[]> {
  await flushAudit(gw);
  const rows = accessesOf(
    await gw.gateway.services.auditLog.query({ project: PROJECT, limit: 100, order: "asc" }),
  );
  return rows.filter((r) => !r.action.startsWith("decision.")).map((r) => ({ action: r.action, ip: r.ip }));
}

async function page(gw: TestGateway, headers: Record<string, string>): Promise<number> {
  const res = await fetch(`${gw.url}/simple/${PROJECT}/`, { headers });
  await res.arrayBuffer();
  return res.status;
}

describe("the client address behind a reverse proxy", () => {
  let upstream: JsonIndexServer;
  let proxied: TestGateway;
  let direct: TestGateway;

  before(async () => {
    const wheel = await buildWheel({ name: PROJECT, version: "1.0" });
    upstream = await startJsonIndexServer({
      projects: {
        [PROJECT]: {
          files: [{ filename: wheel.filename, bytes: wheel.bytes, uploadTime: "2025-01-01T00:00:00Z" }],
        },
      },
    });
    // The tests connect from 127.0.0.1: "loopback" makes that the trusted proxy.
    proxied = await startTestGateway({ upstream: upstream.simpleUrl, trustProxy: "loopback, 10.0.0.0/8" });
    direct = await startTestGateway({ upstream: upstream.simpleUrl });
  });
  after(async () => {
    await proxied?.close();
    await direct?.close();
    await upstream?.close();
  });

  test("a trusted proxy's X-Forwarded-For is the client: pages (fast lane too), files and the inventory", async () => {
    const xff = { "x-forwarded-for": "203.0.113.7" };
    // The first page request renders the page (full route); the next ones take the fast lane.
    for (let i = 0; i < 3; i++) assert.equal(await page(proxied, xff), 200);
    await downloadRelease(proxied, xff, PROJECT, "1.0");
    const rows = await auditedIps(proxied);
    assert.ok(
      rows.some((r) => r.action === "file.download"),
      "the download is audited",
    );
    assert.ok(rows.length >= 5);
    assert.deepEqual(new Set(rows.map((r) => r.ip)), new Set(["203.0.113.7"]));
    const consumers = await proxied.gateway.services.inventory.whoHas(`${PROJECT}==1.0`);
    assert.deepEqual(
      consumers.consumers.map((c) => c.ip),
      ["203.0.113.7"],
    );
  });

  test("trusted hops are looked through; the first untrusted address from the right is the client", async () => {
    await page(proxied, { "x-forwarded-for": "198.51.100.9, 10.1.2.3" });
    // 192.0.2.1 is not trusted: what it claims to forward for (a spoofed 1.2.3.4) is not believed.
    await page(proxied, { "x-forwarded-for": "1.2.3.4, 192.0.2.1, 10.1.2.3" });
    const ips = (await auditedIps(proxied)).slice(-2).map((r) => r.ip);
    assert.deepEqual(ips, ["198.51.100.9", "192.0.2.1"]);
  });

  test("without trust-proxy the header is ignored: the connecting address is the client", async () => {
    for (let i = 0; i < 3; i++) assert.equal(await page(direct, { "x-forwarded-for": "203.0.113.7" }), 200);
    await downloadRelease(direct, { "x-forwarded-for": "203.0.113.7" }, PROJECT, "1.0");
    const rows = await auditedIps(direct);
    assert.ok(rows.length >= 5);
    assert.deepEqual(new Set(rows.map((r) => r.ip)), new Set(["127.0.0.1"]));
  });

  test("failed authentications are limited per forwarded client, not for everyone behind the proxy", async () => {
    const attacker = { "x-forwarded-for": "203.0.113.66" };
    const statuses: number[] = [];
    for (let i = 0; i < 35; i++) {
      statuses.push(await page(proxied, { ...attacker, ...basic(`pc_${randomBytes(24).toString("hex")}`) }));
    }
    assert.equal(statuses[0], 401);
    assert.equal(statuses.at(-1), 429, "the attacker's address is limited");
    // Another user behind the same proxy is not locked out by the attacker's failures.
    const other = await page(proxied, {
      "x-forwarded-for": "203.0.113.67",
      ...basic(`pc_${randomBytes(24).toString("hex")}`),
    });
    assert.equal(other, 401);
  });

  test("a forwarded value that is not an address is not believed: the request is the sending peer's", async () => {
    // A client inside a trusted range (here loopback) writes what it likes into the header.
    const junk = `evil.example ${"x".repeat(4_000)}`;
    for (let i = 0; i < 3; i++) assert.equal(await page(proxied, { "x-forwarded-for": junk }), 200);
    await downloadRelease(proxied, { "x-forwarded-for": junk }, PROJECT, "1.0");
    const statuses: number[] = [];
    for (let i = 0; i < 35; i++) {
      statuses.push(
        await page(proxied, {
          "x-forwarded-for": `${junk}${i}`,
          ...basic(`pc_${randomBytes(24).toString("hex")}`),
        }),
      );
    }
    assert.equal(statuses.at(-1), 429, "varying the junk does not give each attempt an address of its own");
    const rows = (await auditedIps(proxied)).slice(-40);
    assert.deepEqual(new Set(rows.map((r) => r.ip)), new Set(["127.0.0.1"]));
  });

  test("an entry that is neither an address nor a range is refused at start-up", () => {
    assert.throws(
      () => loadConfig({ env: { PORTCULLIS_TRUST_PROXY: "loopback,not-an-address" }, flags: {} }),
      (err: unknown) => err instanceof ConfigError && /not-an-address/.test((err as Error).message),
    );
    const ok = loadConfig({ env: { PORTCULLIS_TRUST_PROXY: "10.0.0.1, 192.168.0.0/16, ::1" }, flags: {} });
    assert.deepEqual(ok.trustProxy, ["10.0.0.1", "192.168.0.0/16", "::1"]);
  });
});
