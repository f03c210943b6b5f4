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

  async put(name: string, entry: CachedPage): Promise<void> {
    const prior = this.memory.get(name);
    // A revalidation (304) refreshes only the time: keep the page object so memoised views stay valid.
    const keep =
      prior && JSON.stringify(prior.page) === JSON.stringify(entry.page)
        ? { ...entry, page: prior.page }
        : entry;
    this.memory.set(name, keep);
    // Written behind: the reply need not wait for the durable copy, which only matters when the
    // upstream is down after a restart. A failed write is retried by the next fetch of the page.
    this.shared.put(name, keep).catch((err: Error) => this.onError?.(err));
  }

  /** Told when a write-behind to the shared cache fails. */
  onError?: (err: Error) => void;
}
