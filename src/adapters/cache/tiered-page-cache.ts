import { LRUCache } from "lru-cache";
import type { CachedPage, PageCache } from "../upstream/upstream.js";

/**
 * A bounded in-memory layer over the shared (database) page cache: a warm page is answered from
 * memory, and the same page object is handed out again, so rendered views can be memoised by
 * identity. The database keeps the last good copy across restarts and between instances.
 */
export class TieredPageCache implements PageCache {
  private readonly memory: LRUCache<string, CachedPage>;

  constructor(
    private readonly shared: PageCache,
    maxEntries = 5_000,
  ) {
    this.memory = new LRUCache({ max: maxEntries });
  }

  async get(name: string): Promise<CachedPage | undefined> {
    const hit = this.memory.get(name);
    if (hit) return hit;
    const entry = await this.shared.get(name);
    if (entry) this.memory.set(name, entry);
    return entry;
  }

  peek(name: string): CachedPage | undefined {
    return this.memory.get(name);
  }

  async put(name: string, entry: CachedPage): Promise<void> {
    // A revalidation (304) hands back the page object it got from `get`, so memoised views stay
    // valid by identity; a re-sent identical page is recognised by the view memo's digest.
    this.memory.set(name, entry);
    // Written behind: the reply need not wait for the durable copy, which only matters when the
    // upstream is down after a restart. A failed write is retried by the next fetch of the page.
    this.shared.put(name, entry).catch((err: Error) => this.onError?.(err));
  }

  /** Told when a write-behind to the shared cache fails. */
  onError?: (err: Error) => void;
}
