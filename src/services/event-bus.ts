import type { Outcome, Reason } from "../policy/decision.js";

/**
 * What features tell each other about, without importing each other: the policy service and the
 * request workflow publish, webhooks, remediation and the audit trail subscribe. A listener that
 * throws is logged by the bus and never breaks the publisher.
 */
export type GatewayEvent =
  | {
      type: "file.blocked";
      /** The file was admitted before (re-evaluation) or is refused at first sight. */
      sha256: string;
      project: string;
      version: string;
      filename: string;
      from: Outcome | null;
      reasons: Reason[];
      at: string;
      /**
       * For a download refused from the index alone (an advisory's range, a typo-squat: no
       * decision is stored): what it was judged under (`index:<policy>:<intel>`), so that the
       * same refusal seen again, or by another instance, is told once.
       */
      basis?: string;
    }
  | {
      /**
       * Stands for the `file.blocked` events of one batch of decision changes taken in together
       * when it refuses more files than a chat channel can read one message at a time (a
       * re-evaluation after an intel import or a policy change): one message instead of hundreds.
       */
      type: "files.blocked";
      /** Files newly refused in the batch (blocked or quarantined). */
      count: number;
      /** Of those, files that were admitted before (users may already have them). */
      admittedBefore: number;
      /** Files per project, most first. */
      byProject: { project: string; count: number }[];
      /**
       * Files per refusing reason, most first: an advisory or malicious-report id where the check
       * named one, else the check (`typosquat`, `licence`, ...). A file refused for two reasons
       * counts under both.
       */
      byReason: { reason: string; check: string; count: number }[];
      /** The first files of `count`, by project, version and filename. */
      files: { sha256: string; project: string; version: string; filename: string }[];
      /** The latest decision time in the batch. */
      at: string;
      /**
       * Names the set of changes told (a hash of every file's sha256 and decision time): the same
       * batch taken in by several instances, or twice, is told once.
       */
      batch: string;
    }
  | {
      type: "advisory.affects";
      advisoryId: string;
      project: string;
      versions: string[];
      /** Consumers (identity names and hosts) that pulled an affected file, and which versions. */
      consumers: { identity: string; client: string; versions: string[]; lastPulled: string }[];
      at: string;
    }
  | {
      type: "remediation.due" | "remediation.overdue" | "remediation.opened";
      itemId: number;
      project: string;
      version: string;
      severity: string;
      owner: string | null;
      due: string;
      at: string;
    }
  | {
      /**
       * Stands for the `remediation.opened` events of one batch of decision changes taken in
       * together when it opens more items than a chat channel can read one message at a time (a
       * re-evaluation after an intel import or a policy change): one message instead of hundreds.
       */
      type: "remediations.opened";
      /** Items opened (or reopened) by the batch. */
      count: number;
      /** Items per severity, most severe first; severities with no item left out. */
      bySeverity: { severity: string; count: number }[];
      /** Items per owning team, most first; items of a project with no owner count in `unowned`. */
      byOwner: { owner: string; count: number }[];
      /** Items of a project with no owning team. */
      unowned: number;
      /** The earliest due date of them all. */
      earliestDue: string;
      /**
       * The first items of `count`, most urgent first (by due date, then severity, project,
       * version), as `remediation.opened` tells one.
       */
      items: {
        itemId: number;
        project: string;
        version: string;
        severity: string;
        owner: string | null;
        due: string;
      }[];
      /** The latest opening time in the batch. */
      at: string;
      /**
       * Names the openings told (a hash of every item's id and due date): the same batch told
       * again, or by another instance, is delivered once.
       */
      batch: string;
    }
  | {
      type: "request.pending" | "request.approved" | "request.denied" | "request.exception";
      requestId: number;
      project: string;
      version: string | null;
      requester: string;
      reason: string;
      at: string;
    };

export type GatewayEventType = GatewayEvent["type"];

export class EventBus {
  private readonly listeners = new Set<(e: GatewayEvent) => void | Promise<void>>();

  constructor(private readonly onError: (err: Error, event: GatewayEvent) => void = () => {}) {}

  /** Subscribes; returns the unsubscribe function. */
  subscribe(listener: (e: GatewayEvent) => void | Promise<void>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(event: GatewayEvent): void {
    for (const l of this.listeners) {
      try {
        const r = l(event);
        if (r && typeof (r as Promise<void>).catch === "function")
          (r as Promise<void>).catch((err: Error) => this.onError(err, event));
      } catch (err) {
        this.onError(err as Error, event);
      }
    }
  }
}
