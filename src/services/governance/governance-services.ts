import { RemediationRepository } from "../../adapters/db/remediation-repository.js";
import { WebhookRepository } from "../../adapters/db/webhook-repository.js";
import type { CoreServices } from "../../main.js";
import type { Reason } from "../../policy/decision.js";
import { nearestAdmittedVersion } from "../explain.js";
import type { IdentityServices } from "../identity/identity-services.js";
import { DecisionEventRelay } from "./decision-event-relay.js";
import { DecisionNotifier } from "./decision-notifier.js";
import { RemediationService } from "./remediation-service.js";
import { WebhookService } from "./webhook-service.js";

/** The services of the remediation items and webhooks feature, built after the ones it depends on. */
export interface GovernanceServices {
  remediation: RemediationService;
  webhooks: WebhookService;
  /** The webhook delivery queue (a running gateway's dispatcher sends from it). */
  webhookQueue: WebhookRepository;
  /** Publishes `file.blocked` (or a `files.blocked` digest) and `advisory.affects` for decision changes. */
  decisionNotifier: DecisionNotifier;
  /** Feeds stored decision changes to remediation and notifications (see DecisionEventRelay). */
  decisionEvents: DecisionEventRelay;
}

/**
 * Builds the remediation items and webhooks services and subscribes them: decision changes open
 * and close items and become bus events; bus events become queued webhook deliveries. Sending and
 * the due-date checker start in `registerGovernanceHttp` (a running gateway) only; what a CLI
 * command queues waits in the database for the next gateway.
 */
export async function buildGovernanceServices(
  deps: CoreServices & IdentityServices,
): Promise<GovernanceServices> {
  const { db, policy, events, log, now, audit, inventory, owners } = deps;
  // A reason's ids are the advisory's id and its aliases; keep the ids the intel holds.
  const advisoryIds = (r: Reason): string[] => {
    if ((r.check !== "vulnerability" && r.check !== "malicious") || !r.ids?.length) return [];
    const index = policy.intelState.index;
    const known = r.ids.filter((id) => index.get(id) !== undefined);
    return known.length ? known : [r.ids[0]!];
  };
  const remediation = new RemediationService({
    repo: new RemediationRepository(db.db),
    inventory,
    owners,
    audit,
    events,
    log,
    now,
    settings: () => policy.policyDocument.doc.remediation,
    advisoryIds,
    nearestAdmitted: async (project, version) => {
      const view = await deps.projects.getRawProject(project, AbortSignal.timeout(5000));
      if (!view) return undefined;
      const stored = new Map((await deps.decisions.byProject(project)).map((d) => [d.sha256, d]));
      return nearestAdmittedVersion(view, version, policy, stored);
    },
  });
  const webhookQueue = new WebhookRepository(db.db);
  const webhooks = new WebhookService({ repo: webhookQueue, audit, log, now });
  const decisionNotifier = new DecisionNotifier({ events, inventory, log, advisoryIds });

  const decisionEvents = new DecisionEventRelay({
    source: deps.decisions,
    handle: async (changes) => {
      await remediation.handle(changes);
      await decisionNotifier.handle(changes);
      // The bus events just published become queued deliveries before the changes count as handled.
      await webhooks.flush();
    },
    log,
    now,
  });
  // The policy service's notice only says "there are new changes": they are read back from the
  // database, where a pass cut short (a stop, a crash) also left its changes for the next kick.
  const offDecisions = policy.onDecisionChanged(() => decisionEvents.kick());
  const offBus = events.subscribe((event) => webhooks.enqueueLater(event));
  deps.onClose(async () => {
    offDecisions();
    // Items and notices first: they publish events that queue deliveries.
    await decisionEvents.flush();
    await Promise.all([remediation.flush(), decisionNotifier.flush()]);
    await webhooks.flush();
    offBus();
  });
  return { remediation, webhooks, webhookQueue, decisionNotifier, decisionEvents };
}
