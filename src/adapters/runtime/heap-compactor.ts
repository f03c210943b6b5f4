import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Gives memory back after a burst. Learning thousands of project pages at once grows V8's heap
 * (garbage from parsing and judging, promoted during the burst), and V8 keeps that heap long after
 * the burst ends. Browsers collect in idle time for the same reason; Node has no idle-time GC, so
 * the gateway runs one full collection when it has been idle for a while after its heap grew by a
 * lot. It never runs while pages are being learned, and at most once per growth step.
 *
 * The collection compacts. A plain full collection frees the garbage but leaves the survivors
 * spread over the pages the burst filled, and V8 returns only empty pages: measured with
 * bench/serve (Node 20, 5,000 new pages), old space stayed at ~180 MiB committed for ~52 MiB
 * live, RSS at ~370 MiB. Compacting moves the survivors together and frees the rest: ~54 MiB
 * committed, RSS ~245 MiB. The price is a longer pause, once per burst (0.1–0.4 s for ~50 MiB
 * live on 2 busy vCPUs, against ~0.1 s), which warm requests arriving meanwhile wait out. V8's
 * memory reducer compacts by itself only after a long quiet spell (not within 13 s of that burst).
 * Compaction on every full collection is a V8 flag read at each collection, so it is set for this
 * one collection alone.
 *
 * The collector is reached through `--expose-gc` set at run time (the one way without a command
 * line flag, which `npm start` and `bin/portcullis` cannot pass); where that fails the compactor
 * does nothing.
 */
export class HeapCompactor {
  private readonly gc: (() => void) | undefined;
  private baseline: number;
  private lastActivity = 0;
  private timer: NodeJS.Timeout | undefined;
  /** How many collections ran (metrics, tests). */
  compactions = 0;

  constructor(
    private readonly opts: {
      now: () => number;
      /** Idle time after the last activity before a collection may run. */
      idleMs?: number;
      /** Heap growth since the last collection that makes one worth it. */
      growthBytes?: number;
      heapTotal?: () => number;
    },
  ) {
    this.gc = exposeGc();
    this.baseline = this.heapTotal();
  }

  get available(): boolean {
    return this.gc !== undefined;
  }

  /** Something allocating happened (a page was learned): postpone any collection. */
  noteActivity(): void {
    this.lastActivity = this.opts.now();
  }

  /** Runs a collection when idle long enough after enough growth; returns whether it did. */
  check(): boolean {
    if (!this.gc) return false;
    if (this.opts.now() - this.lastActivity < (this.opts.idleMs ?? 1000)) return false;
    if (this.heapTotal() - this.baseline < (this.opts.growthBytes ?? 48 * 1024 * 1024)) return false;
    setFlagsFromString("--compact-on-every-full-gc");
    try {
      this.gc();
    } finally {
      setFlagsFromString("--no-compact-on-every-full-gc");
    }
    this.compactions++;
    this.baseline = this.heapTotal();
    return true;
  }

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private heapTotal(): number {
    return this.opts.heapTotal ? this.opts.heapTotal() : process.memoryUsage().heapTotal;
  }
}

function exposeGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === "function") return existing;
  try {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as unknown;
    return typeof gc === "function" ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}
