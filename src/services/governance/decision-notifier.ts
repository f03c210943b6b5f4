import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { DecisionEvent } from "../../adapters/db/decision-repository.js";
import { REFUSING, type Reason } from "../../policy/decision.js";
import { compareVersions } from "../../domain/version.js";
import type { Consumer, InventoryReader } from "../audit-entry.js";
import type { EventBus, GatewayEvent } from "../event-bus.js";

/**
 * Newly refused files in one batch above which they are told as one `files.blocked` digest rather
 * than one `file.blocked` each. A re-evaluation after an intel import or a policy change can
 * refuse thousands of files at once: one message per file (per webhook, and again on each retry)
 * drowns a chat channel, while twenty still read as individual news. A constant (no setting yet):
 * `DecisionNotifier` takes another value for tests.
 */
export const FILES_BLOCKED_DIGEST_THRESHOLD = 20;
/** Files a `files.blocked` digest names; the counts cover them all. */
export const FILES_BLOCKED_DIGEST_LISTED = 50;

type FilesBlocked = Extract<GatewayEvent, { type: "files.blocked" }>;

/**
 * Turns decision changes into bus events: `file.blocked` for a file newly refused (or one
 * `files.blocked` digest for the batch when it refuses more than
 * {@link FILES_BLOCKED_DIGEST_THRESHOLD} files), and `advisory.affects` for an advisory (or
 * malicious report) that refuses files which were admitted, grouped by advisory and project, with
 * who pulled them.
 */
export class DecisionNotifier {
  private readonly inflight = new Set<Promise<void>>();
  private readonly threshold: number;
  private readonly listed: number;

  constructor(
    private readonly deps: {
      events: EventBus;
      inventory: InventoryReader;
      log: Logger;
      advisoryIds: (reason: Reason) => string[];
      /** Defaults: {@link FILES_BLOCKED_DIGEST_THRESHOLD}, {@link FILES_BLOCKED_DIGEST_LISTED}. */
      digest?: { threshold?: number; listed?: number };
    },
  ) {
    this.threshold = deps.digest?.threshold ?? FILES_BLOCKED_DIGEST_THRESHOLD;
    this.listed = deps.digest?.listed ?? FILES_BLOCKED_DIGEST_LISTED;
  }

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
    const refused = events.filter((e) => REFUSING.has(e.to) && (e.from === null || !REFUSING.has(e.from)));
    if (new Set(refused.map((e) => e.sha256)).size > this.threshold) out.push(this.digest(refused));
    else
      for (const e of refused)
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
    for (const e of refused) {
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

  /** One `files.blocked` for the newly refused files of a batch (a file changed twice: its last change). */
  private digest(refused: DecisionEvent[]): FilesBlocked {
    const files = [...new Map(refused.map((e) => [e.sha256, e])).values()];
    const byProject = new Map<string, number>();
    const byReason = new Map<string, { reason: string; check: string; count: number }>();
    for (const e of files) {
      byProject.set(e.project, (byProject.get(e.project) ?? 0) + 1);
      const keys = new Map<string, string>();
      for (const r of e.reasons) {
        if (r.action !== "block" && r.action !== "quarantine") continue;
        const ids = this.deps.advisoryIds(r);
        for (const id of ids.length ? ids : [r.check]) keys.set(id, r.check);
      }
      for (const [reason, check] of keys) {
        const k = `${check}\0${reason}`;
        const row = byReason.get(k);
        if (row) row.count++;
        else byReason.set(k, { reason, check, count: 1 });
      }
    }
    files.sort(
      (a, b) =>
        byText(a.project, b.project) ||
        compareVersions(a.version, b.version) ||
        byText(a.filename, b.filename),
    );
    // Every change told, not only the files listed: another batch is another message.
    const told = refused.map((e) => `${e.sha256}:${e.at}`).sort();
    return {
      type: "files.blocked",
      count: files.length,
      admittedBefore: files.filter((e) => e.from === "admitted").length,
      byProject: [...byProject]
        .map(([project, count]) => ({ project, count }))
        .sort((a, b) => b.count - a.count || byText(a.project, b.project)),
      byReason: [...byReason.values()].sort((a, b) => b.count - a.count || byText(a.reason, b.reason)),
      files: files.slice(0, this.listed).map((e) => ({
        sha256: e.sha256,
        project: e.project,
        version: e.version,
        filename: e.filename,
      })),
      at: refused.reduce((latest, e) => (e.at > latest ? e.at : latest), refused[0]!.at),
      batch: createHash("sha256").update(told.join("\n")).digest("hex"),
    };
  }
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
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
