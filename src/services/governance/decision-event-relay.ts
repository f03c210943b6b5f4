import type { Logger } from "pino";
import type { DecisionEvent } from "../../adapters/db/decision-repository.js";

/** Where unhandled decision changes come from and are marked taken in (the decision_events table). */
export interface DecisionEventSource {
  unhandledEvents(limit: number): Promise<DecisionEvent[]>;
  markHandled(ids: number[], at: number): Promise<void>;
}

export interface DecisionEventRelayDeps {
  source: DecisionEventSource;
  /**
   * What takes the events in, in order: remediation items, bus events, and the webhook deliveries
   * those queue (awaited, so that an event is marked handled only once all of that is stored).
   * Each step is idempotent: an event handled twice (two instances, or a crash before the mark)
   * opens no second item and queues no second delivery.
   */
  handle(events: DecisionEvent[]): Promise<void>;
  log: Logger;
  now: () => number;
}

/** Events taken per round. */
const BATCH = 500;
/** Rounds an event may fail on its own before it is given up (logged) rather than block the rest. */
const MAX_FAILURES = 5;

/**
 * Feeds decision changes to remediation and notifications from the database rather than from
 * memory: a re-evaluation stores each change as a `decision_events` row in the transaction that
 * changes the decision, and the relay takes in every row not yet handled, oldest first, then marks
 * it. A gateway stopped or killed in the middle of a pass therefore loses nothing: the rows it
 * stored are taken in by the next kick (the policy service's notice, the periodic check, the
 * next start), on this instance or another.
 */
export class DecisionEventRelay {
  private running: Promise<void> | undefined;
  private again = false;
  private readonly failures = new Map<number, number>();

  constructor(private readonly deps: DecisionEventRelayDeps) {}

  /** Takes in what is unhandled now, in the background; a kick while running runs once more after. */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((err: Error) =>
        this.deps.log.error({ err: err.message }, "could not take in decision changes; will retry"),
      )
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Waits until nothing is being taken in (and no kick is pending). */
  async flush(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const events = (await this.deps.source.unhandledEvents(BATCH + this.failures.size)).filter(
        (e) => (this.failures.get(e.id) ?? 0) < MAX_FAILURES,
      );
      if (events.length === 0) return;
      const batch = events.slice(0, BATCH);
      try {
        await this.take(batch);
        continue;
      } catch (err) {
        // Alone, an event's failure cannot be told from the database's: retried at the next kick.
        if (batch.length === 1) throw err;
      }
      // One at a time: a single event that cannot be handled must not hold up the others. Only
      // when others get through is its failure counted against it (a database that is down fails
      // them all, and gives none of them up).
      const failed: [DecisionEvent, Error][] = [];
      for (const e of batch) {
        try {
          await this.take([e]);
        } catch (err) {
          failed.push([e, err as Error]);
        }
      }
      if (failed.length === batch.length) throw failed[0]![1];
      for (const [e, err] of failed) this.failed(e, err);
    }
  }

  private async take(events: DecisionEvent[]): Promise<void> {
    await this.deps.handle(events);
    await this.deps.source.markHandled(
      events.map((e) => e.id),
      this.deps.now(),
    );
    for (const e of events) this.failures.delete(e.id);
  }

  private failed(e: DecisionEvent, err: Error): void {
    const n = (this.failures.get(e.id) ?? 0) + 1;
    this.failures.set(e.id, n);
    this.deps.log.error(
      { err: err.message, event: e.id, sha256: e.sha256, project: e.project, tries: n },
      n >= MAX_FAILURES
        ? `decision change ${e.id} could not be taken in after ${MAX_FAILURES} tries; skipped until restart`
        : `decision change ${e.id} could not be taken in; will retry`,
    );
  }
}
