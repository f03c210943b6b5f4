import { test } from "node:test";
import assert from "node:assert/strict";
import { AuthRateLimiter } from "./auth-rate-limiter.js";

test("refuses a key over its limit until the window ends", () => {
  let now = 1_000_000;
  const limiter = new AuthRateLimiter({ now: () => now, windowMs: 60_000 });
  for (let i = 0; i < 3; i++) {
    assert.equal(limiter.retryAfter("ip:1", 3), 0);
    limiter.fail("ip:1");
  }
  assert.equal(limiter.retryAfter("ip:1", 3), 60);
  assert.equal(limiter.retryAfter("ip:2", 3), 0);
  now += 30_000;
  assert.equal(limiter.retryAfter("ip:1", 3), 30);
  now += 30_000;
  assert.equal(limiter.retryAfter("ip:1", 3), 0);
});

test("stays bounded under a flood of keys", () => {
  const now = 0;
  const limiter = new AuthRateLimiter({ now: () => now, maxEntries: 100 });
  for (let i = 0; i < 1_000; i++) limiter.fail(`ip:${i}`);
  assert.ok((limiter as unknown as { windows: Map<string, unknown> }).windows.size <= 100);
});
