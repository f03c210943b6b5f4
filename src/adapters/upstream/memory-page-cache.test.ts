import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryPageCache } from "./memory-page-cache.js";
import type { CachedPage } from "./upstream.js";

const entry = (name: string): CachedPage => ({ page: { name, files: [] }, fetchedAt: 1, etag: `"${name}"` });

describe("MemoryPageCache", () => {
  it("returns what was put, as a copy the caller cannot corrupt", async () => {
    const cache = new MemoryPageCache();
    const original = entry("demo");
    await cache.put("demo", original);

    original.page.files.push({ filename: "x", url: "u", hashes: {}, yanked: false, coreMetadata: false });
    const first = await cache.get("demo");
    first?.page.files.push({ filename: "y", url: "u", hashes: {}, yanked: false, coreMetadata: false });

    assert.deepEqual(await cache.get("demo"), entry("demo"));
    assert.equal(await cache.get("other"), undefined);
  });

  it("forgets the least recently used entry beyond its capacity", async () => {
    const cache = new MemoryPageCache({ maxEntries: 2 });
    await cache.put("a", entry("a"));
    await cache.put("b", entry("b"));
    await cache.get("a");
    await cache.put("c", entry("c"));

    assert.equal(cache.size, 2);
    assert.ok(await cache.get("a"));
    assert.equal(await cache.get("b"), undefined);
  });
});
