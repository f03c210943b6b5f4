import { test } from "node:test";
import assert from "node:assert/strict";
import type { LookupAddress } from "node:dns";
import { forbiddenWebhookAddress, guardedLookup } from "./webhook-address.js";

test("link-local and unspecified addresses are forbidden; private and loopback ones are not", () => {
  for (const bad of [
    "169.254.169.254",
    "169.254.0.1",
    "[fe80::1]",
    "::ffff:169.254.169.254",
    "0.0.0.0",
    "::",
    "fd00:ec2::254",
    // IPv4 carried in IPv6: NAT64 (RFC 6052), IPv4-compatible, 6to4.
    "64:ff9b::169.254.169.254",
    "[64:ff9b::a9fe:a9fe]",
    "::169.254.169.254",
    "2002:a9fe:a9fe::1",
    "64:ff9b:1::a9fe:a9fe",
    "64:ff9b:1:a9fe:a9:fe00::",
  ])
    assert.match(forbiddenWebhookAddress(bad) ?? "", /link-local or unspecified/, bad);
  for (const ok of [
    "127.0.0.1",
    "10.1.2.3",
    "192.168.0.10",
    "::1",
    "[2001:db8::1]",
    "hooks.example.org",
    "64:ff9b::10.1.2.3",
    "2002:a00:1::1",
  ])
    assert.equal(forbiddenWebhookAddress(ok), undefined, ok);
});

test("the socket lookup refuses a name that resolves to a forbidden address", async () => {
  const resolve = (host: string, all: boolean) =>
    new Promise<{ err: Error | null; address: string | LookupAddress[] }>((done) =>
      guardedLookup(host, { all }, (err, address) => done({ err, address })),
    );
  const metadata = await resolve("169.254.169.254", false);
  assert.match(
    metadata.err?.message ?? "",
    /169\.254\.169\.254 resolves to 169\.254\.169\.254 is a link-local/,
  );
  const local = await resolve("localhost", false);
  assert.equal(local.err, null);
  assert.match(String(local.address), /^(127\.0\.0\.1|::1)$/);
  const all = await resolve("localhost", true);
  assert.equal(all.err, null);
  assert.ok(Array.isArray(all.address) && all.address.length > 0, JSON.stringify(all.address));
});
