import type { Logger } from "pino";
import type { DecisionEvent } from "../../adapters/db/decision-repository.js";
import { REFUSING, type Reason } from "../../policy/decision.js";
import { compareVersions } from "../../domain/version.js";
import type { Consumer, InventoryReader } from "../audit-entry.js";
import type { EventBus, GatewayEvent } from "../event-bus.js";

/**
 * Turns decision changes into bus events: `file.blocked` for a file newly refused, and
 * `advisory.affects` for an advisory (or malicious report) that refuses files which were admitted,
 * grouped by advisory and project, with who pulled them.
 */
export class DecisionNotifier {
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly deps: {
      events: EventBus;
      inventory: InventoryReader;
      log: Logger;
      advisoryIds: (reason: Reason) => string[];
    },
  ) {}

  handleLater(events: DecisionEvent[]): void {
    const p: Promise<void> = this.handle(events)
      .then(() => undefined)
      .catch((err: Error) => this.deps.log.error({ err: err.message }, "could not notify decision changes"))
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  async flush(): Promise<void> {
    while (this.inflight.size) await Promise.all([...this.inflight]);
  }

  async handle(events: DecisionEvent[]): Promise<GatewayEvent[]> {
    const out: GatewayEvent[] = [];
    const groups = new Map<
      string,
      { advisoryId: string; project: string; versions: Set<string>; files: Set<string>; at: string }
    >();
    for (const e of events) {
      if (!REFUSING.has(e.to) || (e.from !== null && REFUSING.has(e.from))) continue;
      out.push({
        type: "file.blocked",
        sha256: e.sha256,
        project: e.project,
        version: e.version,
        filename: e.filename,
        from: e.from,
        reasons: e.reasons,
        at: e.at,
      });
      // Who-has matters only for what users could already have: files admitted before.
      if (e.from !== "admitted") continue;
      for (const r of e.reasons) {
        if (r.action !== "block" && r.action !== "quarantine") continue;
        for (const id of this.deps.advisoryIds(r)) {
          const key = `${id}\0${e.project}`;
          let g = groups.get(key);
          if (!g)
            groups.set(
              key,
              (g = { advisoryId: id, project: e.project, versions: new Set(), files: new Set(), at: e.at }),
            );
          g.versions.add(e.version);
          g.files.add(e.sha256);
        }
      }
    }
    for (const g of groups.values()) {
      const consumers = await this.deps.inventory.consumersOfFiles([...g.files]);
      out.push({
        type: "advisory.affects",
        advisoryId: g.advisoryId,
        project: g.project,
        versions: [...g.versions].sort(),
        consumers: byConsumer(consumers).slice(0, 200),
        at: g.at,
      });
    }
    for (const ev of out) this.deps.events.publish(ev);
    return out;
  }
}

/**
 * One entry per consumer (identity, client, application, address) with the affected versions it
 * pulled, most recent pull first: the inventory holds one row per file, so a consumer of two
 * affected versions (or of two wheels of one) would otherwise be listed twice.
 */
function byConsumer(
  rows: Consumer[],
): { identity: string; client: string; versions: string[]; lastPulled: string }[] {
  const merged = new Map<
    string,
    { identity: string; client: string; versions: Set<string>; lastPulled: string }
  >();
  for (const c of rows) {
    const identity = c.identity ?? `anonymous@${c.ip}`;
    const client = [c.client, c.application && `app ${c.application}`, `from ${c.ip}`]
      .filter(Boolean)
      .join(", ");
    const key = `${identity}\u0000${client}`;
    const m = merged.get(key);
    if (!m) merged.set(key, { identity, client, versions: new Set([c.version]), lastPulled: c.lastPulled });
    else {
      m.versions.add(c.version);
      if (c.lastPulled > m.lastPulled) m.lastPulled = c.lastPulled;
    }
  }
  return [...merged.values()]
    .map((m) => ({ ...m, versions: [...m.versions].sort(compareVersions) }))
    .sort((a, b) => (a.lastPulled < b.lastPulled ? 1 : a.lastPulled > b.lastPulled ? -1 : 0));
}
