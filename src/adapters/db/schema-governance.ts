import type { Generated } from "kysely";

/**
 * Tables for remediation and webhooks (migrations 0005-governance, 0014-remediation-history).
 * Merged into `Database` in `schema.ts`.
 */
export interface GovernanceTables {
  remediation_items: RemediationItemsTable;
  remediation_events: RemediationEventsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
}

/** One remediation item: a formerly admitted file refused for a cause, and what is done about it. */
export interface RemediationItemsTable {
  id: Generated<number>;
  sha256: string;
  /** What refused it, e.g. `vulnerability:PYSEC-2099-7`; unique with the sha256. */
  cause: string;
  project: string;
  version: string;
  filename: string;
  severity: string;
  owner: string | null;
  /** open | acknowledged | fixed | accepted-risk */
  state: string;
  summary: string;
  advisory_ids_json: string;
  consumers_json: string;
  fixed_version: string | null;
  opened_at: number;
  due_at: number;
  state_changed_at: number;
  state_changed_by: string | null;
  note: string | null;
  accepted_until: number | null;
  resolved_at: number | null;
  resolution: string | null;
  due_notified_at: number | null;
  overdue_notified_at: number | null;
}

/** One state an item moved to (its opening from null, each change, a reopening), or a new owner. */
export interface RemediationEventsTable {
  id: Generated<number>;
  item_id: number;
  at: number;
  /** The state it left; null for an opening, and for the one change kept of items opened before 0014. */
  from_state: string | null;
  state: string;
  changed_by: string | null;
  /** The note, or the reason of an accepted risk. */
  note: string | null;
  accepted_until: number | null;
  resolution: string | null;
  /** An owner change (the state unchanged): the team the item moved to. */
  owner: string | null;
}

export interface WebhooksTable {
  id: Generated<number>;
  url: string;
  /** Kept to sign each body (HMAC needs the key itself); never shown back. */
  secret: string;
  format: string;
  /** JSON array of event types; null: every event. */
  events_json: string | null;
  created_at: number;
  created_by: string | null;
  removed_at: number | null;
}

/** One event queued for one webhook, with its exact body and its retry state. */
export interface WebhookDeliveriesTable {
  id: Generated<number>;
  webhook_id: number;
  event_key: string;
  event_id: string;
  event_type: string;
  body: string;
  /** pending | delivered | failed */
  state: string;
  attempts: number;
  next_attempt_at: number;
  claimed_until: number | null;
  claimed_by: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

export interface WebhookAttemptsTable {
  id: Generated<number>;
  delivery_id: number;
  attempt: number;
  at: number;
  status: number | null;
  error: string | null;
  duration_ms: number;
}
