import { PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import type { Worker } from "node:worker_threads";

/** Default cap: two semi-spaces of 4 MiB (V8's own limit on 64-bit is two of 16 MiB). */
export const DEFAULT_YOUNG_GENERATION_BYTES = 8 * 1024 * 1024;

/**
 * Keeps V8's young generation (the new space: two semi-spaces) at or below a cap: the run-time
 * stand-in for `--max-semi-space-size`, which V8 reads only when the process starts (`npm start`
 * and `bin/portcullis` cannot pass it). V8 doubles the semi-spaces whenever enough objects survive
 * a scavenge, up to 2 × 16 MiB: loading the bundle leaves them at 2 × 4 MiB, building the gateway
 * or a burst of cold pages takes them to 2 × 16, and V8 shrinks them only after a quiet spell, so
 * while serving they stay in RSS. The factor by which V8 grows them is read at each growth,
 * though: growth is allowed below the cap and frozen at it, re-checked after every collection
 * (the only moments the size changes), so a young generation that V8 shrank while idle grows
 * back, to the cap. Growth goes in doublings: a cap that is no power of two is met at the next
 * doubling above it. V8 puts a factor below 2 back to 2 whenever it creates an isolate, i.e. a
 * worker thread (the audit writer starts one when the gateway gets busy): the freeze is set again
 * at every check and as soon as a worker is online, so a worker costs at most one doubling past
 * the cap, until V8 shrinks it in a quiet spell.
 *
 * Measured on Node 20 with the built gateway (bench/serve): a warm page allocates ~20 KiB, so
 * 2 × 4 MiB means ~4–5 scavenges per 1,000 warm requests instead of ~1–3, and 1.4–3.4 µs of GC per
 * request against 1.3–2.9 (of ~80–100 µs of CPU; req/s alike within noise). Learning 5,000 cold
 * pages (16 in flight) takes ~550–1,050 scavenges instead of ~260, 0.4–1 s more GC in a ~17 s
 * burst; a cold page's latency is alike. It saves ~7 MiB of RSS at idle and 24 MiB after a burst.
 * Where a V8 version refuses a growth factor below 2, the cap does nothing and the young
 * generation grows as V8 decides.
 *
 * @example
 * new YoungGenerationCap().start(); // once, in the serving process, before the gateway is built
 */
export class YoungGenerationCap {
  private growing = true;
  private observer: PerformanceObserver | undefined;

  constructor(
    private readonly opts: {
      maxBytes?: number;
      /** Committed bytes of the young generation (tests). */
      youngBytes?: () => number;
      /** Sets V8 flags (tests). */
      setFlags?: (flags: string) => void;
    } = {},
  ) {}

  /** Allows growth below the cap and freezes it at the cap; returns whether growth is allowed. */
  check(): boolean {
    const grow = this.youngBytes() < (this.opts.maxBytes ?? DEFAULT_YOUNG_GENERATION_BYTES);
    // The freeze is set every time (a new isolate may have undone it); growth only on a change.
    if (!grow || !this.growing) this.setGrowth(grow);
    return grow;
  }

  /** Checks now, after every collection and whenever a worker thread comes online. */
  start(): void {
    if (this.observer) return;
    this.check();
    this.observer = new PerformanceObserver(() => this.check());
    this.observer.observe({ entryTypes: ["gc"] });
    process.on("worker", this.onWorker);
  }

  /** Stops checking and gives V8 back its default growth. */
  stop(): void {
    if (!this.observer) return;
    this.observer.disconnect();
    this.observer = undefined;
    process.off("worker", this.onWorker);
    if (!this.growing) this.setGrowth(true);
  }

  private readonly onWorker = (worker: Worker): void => {
    worker.once("online", () => this.check());
  };

  private setGrowth(grow: boolean): void {
    (this.opts.setFlags ?? setFlagsFromString)(`--semi-space-growth-factor=${grow ? 2 : 1}`);
    this.growing = grow;
  }

  private youngBytes(): number {
    if (this.opts.youngBytes) return this.opts.youngBytes();
    return getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.space_size ?? 0;
  }
}
