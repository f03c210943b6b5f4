import type { Actor } from "../domain/identity.js";

/**
 * One thing that happened, as a feature hands it to the audit trail. The identity feature's
 * recorder adds the time, the sequence number and the hash chain.
 */
export interface AuditEntryInput {
  /** Dotted verb, e.g. `simple.page`, `file.download`, `token.create`, `request.approve`. */
  action: string;
  actor: Actor;
  /**
   * `ok`, `denied`, `not-found`, `rate-limited`, `error`, `refused`, or a decision outcome; for
   * HTTP accesses also `partial` (a range short of the file's end: never an inventory pull) and
   * `aborted` (the connection closed before a successful answer was wholly sent: never a pull).
   */
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

/** Someone (or something) that pulled a file, from the audit trail. */
export interface Consumer {
  /** User or service account; null for anonymous pulls. */
  identity: string | null;
  team: string | null;
  ip: string;
  application: string | null;
  /** Installer and version, e.g. "pip 26.2.1". */
  client: string | null;
  sha256: string;
  project: string;
  version: string;
  filename: string;
  firstPulled: string;
  lastPulled: string;
  pulls: number;
}

/** The inventory as other features read it (remediation, webhooks, the console). */
export interface InventoryReader {
  /** Everyone who pulled any of these files, most recent first. */
  consumersOfFiles(sha256s: string[]): Promise<Consumer[]>;
}

/** Which team owns which catalog project. */
export interface OwnerDirectory {
  ownerOf(project: string): Promise<string | null>;
  setOwner(project: string, team: string, actor: Actor): Promise<void>;
}
