import type { CachedPage, PageCache } from "./upstream.js";

/**
 * A {@link PageCache} in process memory, least recently used first out. Entries are copied on
 * the way in and out so that, like a database-backed cache, no caller can change what is
 * stored by changing what it was given.
 *
 * @example
 * const cache = new MemoryPageCache({ maxEntries: 1000 });
 */
export class MemoryPageCache implements PageCache {
  private readonly entries = new Map<string, CachedPage>();
  private readonly maxEntries: number;

  constructor(options: { maxEntries?: number } = {}) {
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  get size(): number {
    return this.entries.size;
  }

  async get(name: string): Promise<CachedPage | undefined> {
    const entry = this.entries.get(name);
    if (entry === undefined) return undefined;
    this.entries.delete(name);
    this.entries.set(name, entry);
    return structuredClone(entry);
  }

  async put(name: string, entry: CachedPage): Promise<void> {
    this.entries.delete(name);
    this.entries.set(name, structuredClone(entry));
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }
}
