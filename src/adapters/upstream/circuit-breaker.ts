/** `closed`: requests flow; `open`: they fail fast; `half-open`: one trial request may go. */
export type CircuitState = "closed" | "open" | "half-open";

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. Default 5. */
  failureThreshold?: number;
  /** How long the circuit stays open before one trial request may go. Default 30 000 ms. */
  coolDownMs?: number;
  /** Clock in ms since epoch; injected so tests control time. */
  now?: () => number;
}

/**
 * A consecutive-failure circuit breaker, as verdaccio's uplinks have: after `failureThreshold`
 * failures in a row it opens for `coolDownMs`, then lets exactly one trial through; the trial's
 * outcome closes it or opens it again.
 */
export class CircuitBreaker {
  private readonly failureThreshold: number;
  private readonly coolDownMs: number;
  private readonly now: () => number;
  private failures = 0;
  private openedAt: number | undefined;
  private trialInFlight = false;

  constructor(options: CircuitBreakerOptions = {}) {
    this.failureThreshold = Math.max(1, options.failureThreshold ?? 5);
    this.coolDownMs = Math.max(0, options.coolDownMs ?? 30_000);
    this.now = options.now ?? Date.now;
  }

  get state(): CircuitState {
    if (this.openedAt === undefined) return "closed";
    return this.now() - this.openedAt >= this.coolDownMs ? "half-open" : "open";
  }

  /** When the open circuit lets a trial through (ms since epoch), if it is open. */
  get retryAt(): number | undefined {
    return this.openedAt === undefined ? undefined : this.openedAt + this.coolDownMs;
  }

  /**
   * Asks to send one request. Returns a ticket to settle with `succeed`/`fail`/`abandon`, or
   * `undefined` when the request must fail fast.
   */
  acquire(): CircuitTicket | undefined {
    const state = this.state;
    if (state === "open") return undefined;
    if (state === "half-open") {
      if (this.trialInFlight) return undefined;
      this.trialInFlight = true;
      return this.ticket(true);
    }
    return this.ticket(false);
  }

  private ticket(trial: boolean): CircuitTicket {
    let settled = false;
    const settle = (fn: () => void) => () => {
      if (settled) return;
      settled = true;
      if (trial) this.trialInFlight = false;
      fn();
    };
    return {
      succeed: settle(() => {
        this.failures = 0;
        this.openedAt = undefined;
      }),
      fail: settle(() => {
        this.failures++;
        if (trial || this.failures >= this.failureThreshold) this.openedAt = this.now();
      }),
      // The request was cancelled by its caller: it says nothing about the upstream.
      abandon: settle(() => {}),
    };
  }
}

export interface CircuitTicket {
  succeed(): void;
  fail(): void;
  abandon(): void;
}
