import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Gives memory back after a burst. Learning thousands of project pages at once grows V8's heap
 * (garbage from parsing and judging, promoted during the burst), and V8 keeps that heap long after
 * the burst ends: measured with bench/serve/memory-probe.ts, 5,000 new pages leave heapTotal at
 * ~137 MiB and RSS at ~296 MiB, and one full collection brings them to ~98 and ~250 MiB. Browsers
 * collect in idle time for the same reason; Node has no idle-time GC, so the gateway runs one
 * full collection when it has been idle for a while after its heap grew by a lot. It never runs
 * while pages are being learned, and at most once per growth step, so serving never pays for it.
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
    this.gc();
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
