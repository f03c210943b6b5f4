/**
 * Failed-authentication counts per key (client address, token id), over fixed windows. Past its
 * limit a key's failures are answered 429 with the seconds left in its window (see
 * identity-http.ts: a valid token still passes, so nobody is locked out by someone else's
 * failures).
 */
export class AuthRateLimiter {
  private readonly windows = new Map<string, { start: number; failures: number }>();

  constructor(
    private readonly opts: { now: () => number; windowMs?: number; maxEntries?: number } = { now: Date.now },
  ) {}

  private get windowMs(): number {
    return this.opts.windowMs ?? 60_000;
  }

  /** Seconds to wait when `key` is over `limit` failures in its current window; 0 when allowed. */
  retryAfter(key: string, limit: number): number {
    const w = this.windows.get(key);
    if (!w) return 0;
    const now = this.opts.now();
    if (now - w.start >= this.windowMs) {
      this.windows.delete(key);
      return 0;
    }
    return w.failures >= limit ? Math.max(1, Math.ceil((w.start + this.windowMs - now) / 1000)) : 0;
  }

  fail(key: string): void {
    const now = this.opts.now();
    const w = this.windows.get(key);
    if (w && now - w.start < this.windowMs) {
      w.failures++;
      return;
    }
    if (this.windows.size >= (this.opts.maxEntries ?? 100_000)) this.sweep(now);
    this.windows.set(key, { start: now, failures: 1 });
  }

  private sweep(now: number): void {
    for (const [k, w] of this.windows) if (now - w.start >= this.windowMs) this.windows.delete(k);
    // Still full (a flood of distinct keys): forget the oldest half rather than grow without bound.
    if (this.windows.size >= (this.opts.maxEntries ?? 100_000)) {
      let drop = this.windows.size / 2;
      for (const k of this.windows.keys()) {
        if (drop-- <= 0) break;
        this.windows.delete(k);
      }
    }
  }
}
