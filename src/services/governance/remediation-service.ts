import type { Logger } from "pino";
import type { DecisionEvent } from "../../adapters/db/decision-repository.js";
import type {
  ItemConsumer,
  RemediationFilter,
  RemediationItem,
  RemediationRepository,
} from "../../adapters/db/remediation-repository.js";
import type { Actor } from "../../domain/identity.js";
import type { Reason } from "../../policy/decision.js";
import type { RemediationSettings } from "../../policy/policy-schema.js";
import type { AuditRecorder, InventoryReader, OwnerDirectory } from "../audit-entry.js";
import type { EventBus } from "../event-bus.js";
import { FILES_BLOCKED_DIGEST_THRESHOLD } from "./decision-notifier.js";
import {
  buildReport,
  causeOf,
  checkTransition,
  closesItems,
  dueAt,
  fixedVersionOf,
  noticeFor,
  openedDigest,
  opensItem,
  refusingReasons,
  SYSTEM_ACTOR_NAME,
  RemediationTransitionError,
  severityOf,
  type RemediationOpened,
  type RemediationReport,
  type StateChange,
} from "./remediation-rules.js";

/**
 * Items opened by one batch of decision changes above which they are told as one
 * `remediations.opened` digest rather than one `remediation.opened` each: the files.blocked
 * threshold, for the same reason (a re-evaluation after an intel import or a policy change can
 * open thousands of items at once, and one message per item per webhook drowns a chat channel),
 * and so that one re-evaluation is told the same way in both. `RemediationService` takes another
 * value for tests.
 */
export const REMEDIATIONS_OPENED_DIGEST_THRESHOLD = FILES_BLOCKED_DIGEST_THRESHOLD;
/** Items a `remediations.opened` digest lists; the counts cover them all. */
export const REMEDIATIONS_OPENED_DIGEST_LISTED = 50;

/** The actor of what the gateway does by itself (opening, closing, reopening items). */
export const SYSTEM_ACTOR: Actor = {
  user: SYSTEM_ACTOR_NAME,
  role: "admin",
  team: null,
  tokenId: null,
  ip: "system",
  application: null,
  client: null,
};

export interface RemediationServiceDeps {
  repo: RemediationRepository;
  inventory: InventoryReader;
  owners: OwnerDirectory;
  audit: AuditRecorder;
  events: EventBus;
  log: Logger;
  now: () => number;
  /** The policy's remediation section in force. */
  settings: () => RemediationSettings;
  /** The advisory ids among a reason's ids (its aliases left out). */
  advisoryIds: (reason: Reason) => string[];
  /** The nearest admitted version of a project, when the catalog can tell (best effort). */
  nearestAdmitted?: (project: string, version: string) => Promise<string | undefined>;
  /**
   * Defaults: {@link REMEDIATIONS_OPENED_DIGEST_THRESHOLD},
   * {@link REMEDIATIONS_OPENED_DIGEST_LISTED}.
   */
  digest?: { threshold?: number; listed?: number };
}

/**
 * Remediation items: opened when re-evaluation refuses a file that was admitted, closed as fixed
 * when the file is admitted again (the closing rule implemented; consumers moving off the file is
 * not tracked), moved through open / acknowledged / accepted-risk / fixed by approvers, and
 * watched for due dates and expired risk acceptances. The items a batch of decision changes opens
 * are told as one `remediation.opened` each, or as one `remediations.opened` digest when they are
 * more than {@link REMEDIATIONS_OPENED_DIGEST_THRESHOLD}.
 */
export class RemediationService {
  private readonly inflight = new Set<Promise<void>>();
  private readonly threshold: number;
  private readonly listed: number;

  constructor(private readonly deps: RemediationServiceDeps) {
    this.threshold = deps.digest?.threshold ?? REMEDIATIONS_OPENED_DIGEST_THRESHOLD;
    this.listed = deps.digest?.listed ?? REMEDIATIONS_OPENED_DIGEST_LISTED;
  }

  /** Handles decision changes in the background (the policy service never waits). */
  handleLater(events: DecisionEvent[]): void {
    const p: Promise<void> = this.handle(events)
      .then(() => undefined)
      .catch((err: Error) =>
        this.deps.log.error({ err: err.message }, "could not update remediation items for decision changes"),
      )
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  async flush(): Promise<void> {
    while (this.inflight.size) await Promise.all([...this.inflight]);
  }

  /** Opens items for newly refused admitted files; closes items of files admitted again. */
  async handle(events: DecisionEvent[]): Promise<RemediationItem[]> {
    const opened: RemediationItem[] = [];
    const told: RemediationOpened[] = [];
    try {
      for (const e of events) {
        if (opensItem(e.from, e.to)) {
          const o = await this.openFor(e);
          if (o) {
            opened.push(o.item);
            told.push(o.event);
          }
        } else if (closesItems(e.from, e.to)) {
          await this.closeFor(e);
        }
      }
    } finally {
      // Told once the batch is through, to know how many it opened; told even when a later change
      // failed, since the items it opened are not opened (nor told) again when it is retried.
      this.tellOpened(told);
    }
    return opened;
  }

  /** One `remediation.opened` per opening, or one digest for them all above the threshold. */
  private tellOpened(told: RemediationOpened[]): void {
    if (new Set(told.map((e) => e.itemId)).size > this.threshold)
      this.deps.events.publish(openedDigest(told, this.listed));
    else for (const e of told) this.deps.events.publish(e);
  }

  private async openFor(
    e: DecisionEvent,
  ): Promise<{ item: RemediationItem; event: RemediationOpened } | undefined> {
    const settings = this.deps.settings();
    const reasons = refusingReasons(e.reasons);
    const severity = severityOf(reasons, settings);
    const openedAt = this.deps.now();
    const [owner, consumers, nearest] = await Promise.all([
      this.deps.owners.ownerOf(e.project),
      this.deps.inventory.consumersOfFiles([e.sha256]),
      reasons.some((r) => r.fixedIn?.length)
        ? Promise.resolve(undefined)
        : (this.deps.nearestAdmitted?.(e.project, e.version).catch(() => undefined) ??
          Promise.resolve(undefined)),
    ]);
    const { item, opened } = await this.deps.repo.open({
      sha256: e.sha256,
      cause: causeOf(reasons, this.deps.advisoryIds),
      project: e.project,
      version: e.version,
      filename: e.filename,
      severity,
      owner,
      summary:
        reasons
          .map((r) => `${r.check}: ${r.message}`)
          .join("; ")
          .slice(0, 2000) || "refused by policy",
      advisoryIds: [...new Set(reasons.flatMap((r) => this.deps.advisoryIds(r)))],
      consumers: consumers.slice(0, 500).map((c): ItemConsumer => ({
        identity: c.identity,
        ip: c.ip,
        team: c.team,
        application: c.application,
        client: c.client,
        lastPulled: c.lastPulled,
      })),
      fixedVersion: fixedVersionOf(reasons, nearest),
      openedAt,
      dueAt: dueAt(openedAt, severity, settings),
    });
    if (!opened) return undefined;
    this.deps.audit.record({
      action: "remediation.open",
      actor: SYSTEM_ACTOR,
      outcome: "ok",
      project: item.project,
      version: item.version,
      filename: item.filename,
      sha256: item.sha256,
      detail: { id: item.id, severity, cause: item.cause, owner },
    });
    return {
      item,
      event: {
        type: "remediation.opened",
        itemId: item.id,
        project: item.project,
        version: item.version,
        severity: item.severity,
        owner: item.owner,
        due: new Date(item.dueAt).toISOString(),
        at: new Date(openedAt).toISOString(),
      },
    };
  }

  private async closeFor(e: DecisionEvent): Promise<void> {
    const at = this.deps.now();
    for (const item of await this.deps.repo.unresolvedOf(e.sha256)) {
      const moved = await this.deps.repo.transition(item.id, item.state, {
        state: "fixed",
        at,
        by: SYSTEM_ACTOR.user,
        resolution: "admitted-again",
      });
      if (moved)
        this.deps.audit.record({
          action: "remediation.fixed",
          actor: SYSTEM_ACTOR,
          outcome: "ok",
          project: item.project,
          version: item.version,
          sha256: item.sha256,
          detail: { id: item.id, resolution: "admitted-again" },
        });
    }
  }

  /** One item with its history (every state it has been in, oldest first). */
  async get(id: number): Promise<RemediationItem | undefined> {
    const item = await this.deps.repo.get(id);
    return item && { ...item, history: await this.deps.repo.history(id) };
  }

  list(filter: RemediationFilter): Promise<RemediationItem[]> {
    return this.deps.repo.list(filter);
  }

  async report(): Promise<RemediationReport> {
    return buildReport(await this.deps.repo.facts(), this.deps.now());
  }

  /**
   * An approver's state change, audited. Throws RemediationTransitionError for a change the
   * state machine refuses (or that lost a race), and returns undefined for an unknown item.
   * `onBehalfOf` is a name the actor gives for the person it acts for (the CLI's `--by`): a claim,
   * so the audit record keeps the actor as its identity and the name in `detail.by`.
   */
  async changeState(
    id: number,
    change: StateChange,
    actor: Actor,
    onBehalfOf?: string,
  ): Promise<RemediationItem | undefined> {
    const item = await this.deps.repo.get(id);
    if (!item) return undefined;
    const now = this.deps.now();
    checkTransition(item.state, change, now);
    const note = change.state === "accepted-risk" ? change.reason : (change.note ?? null);
    const moved = await this.deps.repo.transition(item.id, item.state, {
      state: change.state,
      at: now,
      by: onBehalfOf ? `${onBehalfOf} via ${actor.user ?? actor.ip}`.slice(0, 200) : (actor.user ?? actor.ip),
      note,
      ...(change.state === "accepted-risk" ? { acceptedUntil: change.until } : {}),
      ...(change.state === "fixed" ? { resolution: "manual" } : {}),
    });
    this.deps.audit.record({
      action: `remediation.${change.state === "accepted-risk" ? "accept" : change.state === "acknowledged" ? "ack" : change.state}`,
      actor,
      outcome: moved ? "ok" : "conflict",
      project: item.project,
      version: item.version,
      sha256: item.sha256,
      detail: {
        id,
        from: item.state,
        to: change.state,
        ...(onBehalfOf ? { by: onBehalfOf } : {}),
        ...(note ? { note } : {}),
        ...(change.state === "accepted-risk" ? { until: new Date(change.until).toISOString() } : {}),
      },
    });
    if (!moved)
      throw new RemediationTransitionError("the item changed meanwhile; look again and retry", true);
    return this.get(id);
  }

  /**
   * The periodic check: reopens accepted risks whose expiry passed and publishes
   * `remediation.due` / `remediation.overdue` once per item (a marker column makes it once across
   * instances). Returns what it did.
   */
  async check(): Promise<{ reopened: number; due: number; overdue: number }> {
    const now = this.deps.now();
    let reopened = 0;
    for (const item of await this.deps.repo.expiredAcceptances(now)) {
      if (
        await this.deps.repo.transition(item.id, "accepted-risk", {
          state: "open",
          at: now,
          by: SYSTEM_ACTOR.user,
          note: "accepted risk expired",
        })
      ) {
        reopened++;
        this.deps.audit.record({
          action: "remediation.reopen",
          actor: SYSTEM_ACTOR,
          outcome: "ok",
          project: item.project,
          version: item.version,
          sha256: item.sha256,
          detail: { id: item.id, reason: "accepted risk expired" },
        });
      }
    }
    const counts = { due: 0, overdue: 0 };
    for (const item of await this.deps.repo.needingNotice("overdue", now)) {
      if (await this.deps.repo.markNotified(item.id, "overdue", now)) {
        counts.overdue++;
        this.publishNotice("remediation.overdue", item, now);
      }
      // Past due, a "due soon" notice would only be noise.
      await this.deps.repo.markNotified(item.id, "due", now);
    }
    // Candidates due within the largest lead time (a day); noticeFor decides per item.
    for (const item of await this.deps.repo.needingNotice("due", now + 86_400_000)) {
      if (noticeFor(item, now) !== "due") continue;
      if (!(await this.deps.repo.markNotified(item.id, "due", now))) continue;
      counts.due++;
      this.publishNotice("remediation.due", item, now);
    }
    return { reopened, ...counts };
  }

  private publishNotice(
    type: "remediation.due" | "remediation.overdue",
    item: RemediationItem,
    now: number,
  ): void {
    this.deps.events.publish({
      type,
      itemId: item.id,
      project: item.project,
      version: item.version,
      severity: item.severity,
      owner: item.owner,
      due: new Date(item.dueAt).toISOString(),
      at: new Date(now).toISOString(),
    });
  }
}
