import type { Actor } from "../domain/identity.js";

/**
 * One thing that happened, as a feature hands it to the audit trail. The identity feature's
 * recorder adds the time, the sequence number and the hash chain.
 */
export interface AuditEntryInput {
  /** Dotted verb, e.g. `simple.page`, `file.download`, `token.create`, `request.approve`. */
  action: string;
  actor: Actor;
  /** `ok`, `denied`, `not-found`, `error`, or a decision outcome. */
  outcome: string;
  project?: string | null;
  version?: string | null;
  filename?: string | null;
  sha256?: string | null;
  /** Extra facts (a reason, a ticket, an HTTP status); kept small. */
  detail?: Record<string, unknown>;
}

/** Writes are batched and never slow the caller; `flush` for a clean shutdown. */
export interface AuditRecorder {
  record(entry: AuditEntryInput): void;
  flush(): Promise<void>;
}
