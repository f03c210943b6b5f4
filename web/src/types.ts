/**
 * The API shapes the dashboard reads (see src/http/routes/console-schemas.ts and docs/api.md).
 * Fields the dashboard only displays are typed loosely, so a newer gateway never breaks it.
 */
export type Outcome = "admitted" | "quarantined" | "blocked" | "pending";
export type OutcomeCounts = Record<Outcome, number>;

export interface Evidence {
  file?: string;
  line?: number;
  excerpt?: string;
  detail?: string;
  url?: string;
}

export interface Reason {
  check: string;
  outcome: string;
  action: string;
  mode: string;
  wouldHave?: string;
  message: string;
  severity?: string;
  ids?: string[];
  fixedIn?: string[];
  evidence: Evidence[];
  waivedBy?: { reason: string; approver: string; ticket?: string; expiresAt: string };
}

export interface Decision {
  sha256: string;
  filename: string;
  project: string;
  version: string;
  outcome: Outcome;
  score: number;
  reasons: Reason[];
  policyVersion: string;
  intelSnapshot: string;
  decidedAt: string;
  stage: "index" | "full";
}

export interface Overview {
  counts: OutcomeCounts;
  requests: { pending: number };
  history: { day: string; admitted: number; quarantined: number; blocked: number }[];
  topReasons: { code: string; count: number }[];
  recentBlocks: {
    project: string;
    version: string;
    filename: string;
    sha256: string;
    outcome: Outcome;
    reasons: string[];
    at: string;
    /** The file's decision now (null: none). */
    now: Outcome | null;
  }[];
}

export interface ProjectSummary {
  name: string;
  displayName: string;
  versions: number;
  files: number;
  outcomes: OutcomeCounts;
  owner: string | null;
  updatedAt: string;
}

export interface ProjectFile {
  filename: string;
  sha256: string;
  size: number | null;
  uploadTime: string | null;
  stored: boolean;
  decision: Decision | null;
  links: { download: string; decision: string; attestation: string };
}

export interface ProjectDetail {
  name: string;
  displayName: string;
  owner: string | null;
  summary: string | null;
  updatedAt: string;
  versions: {
    version: string;
    requiresPython: string | null;
    licence: string | null;
    dependencies: string[];
    requires: string[];
    extras: { name: string; dependencies: string[] }[];
    files: ProjectFile[];
  }[];
  /** Approvers and admins only: absent for other roles. */
  consumers?: {
    identity: string | null;
    team: string | null;
    version: string;
    lastPulled: string;
    pulls: number;
  }[];
}

export interface Advisory {
  id: string;
  kind: string;
  summary: string | null;
  severity: "low" | "medium" | "high" | "critical" | null;
  aliases: string[];
  url: string;
  published: string | null;
  projects: {
    project: string;
    owner: string | null;
    fixedIn: string[];
    consumers: number;
    files: { sha256: string; filename: string; version: string; outcome: Outcome | null }[];
  }[];
}

export interface ActivePolicy {
  digest: string;
  source: string;
  activatedAt: string | null;
  intel: { snapshot: string; missing: boolean };
}

export interface PolicyVersion {
  digest: string;
  source: string;
  activatedAt: string;
  active: boolean;
}

export interface DryRun {
  digest: string;
  checked: number;
  changed: number;
  counts: { current: OutcomeCounts; draft: OutcomeCounts };
  changes: {
    sha256: string;
    project: string;
    version: string;
    filename: string;
    from: Outcome;
    to: Outcome;
    reasons: string[];
  }[];
}

/** One file of a request's vetted tree. */
export interface RequestFile {
  project: string;
  version: string;
  filename: string;
  sha256: string;
  depth: number;
  outcome: Outcome;
  score: number;
  summary: string;
  reasons: Reason[];
  licence: string | null;
  popularity: { rank: number; downloads: number | null } | null;
  provenance: { status: string; publisher?: string; detail: string } | null;
  passedOver?: boolean;
}

/** The vetting report of a request: the whole tree, judged. */
export interface RequestReport {
  ok: boolean;
  requirement: string;
  treeScore: number;
  targets: { target: string; ok: boolean; tree: string; error?: string }[];
  files: RequestFile[];
  rejected: { project: string; version: string; reason: string }[];
  vettedAt: string;
}

/** A request for a package (`/api/v1/requests`); lists leave out `report`. */
export interface PackageRequest {
  id: number;
  project: string;
  version: string | null;
  reason: string;
  state: "approved" | "pending" | "denied" | string;
  requester: string;
  requesterTeam: string | null;
  decidedBy: string | null;
  decisionReason: string | null;
  exceptions: {
    id: number;
    project: string;
    version?: string;
    sha256?: string;
    reason: string;
    ticket?: string;
    expiresAt: string;
  }[];
  createdAt: string;
  updatedAt: string;
  ok?: boolean;
  treeScore?: number;
  report?: RequestReport;
  remaining?: { project: string; version: string; filename?: string; reason: string }[];
}

/** One audit record (`/api/v1/audit`). */
export interface AuditRecord {
  seq: number;
  time: string;
  action: string;
  identity: string | null;
  role?: string;
  team?: string | null;
  ip: string;
  application?: string | null;
  project?: string | null;
  version?: string | null;
  filename?: string | null;
  sha256?: string | null;
  outcome: string;
  status?: number | null;
  detail?: Record<string, unknown> | null;
  /** The same access repeated within a second: how many accesses (absent: one). */
  count?: number;
  /** The times of the accesses after the first, in the order they came. */
  repeatedAt?: string[];
  hash: string;
}

/** `POST /api/v1/policy/dry-run` starts one; `GET /api/v1/policy/dry-run/{id}` follows it. */
export interface DryRunJob {
  id: number;
  state: "running" | "done" | "failed";
  digest: string;
  requestedBy: string;
  requestedAt: string;
  finishedAt: string | null;
  result: DryRun | null;
  error: string | null;
}

/** A user or service account (`GET /api/v1/users`; the server's UserView). */
export interface User {
  name: string;
  kind: "user" | "service";
  role: string;
  team: string | null;
  createdAt: string;
  disabled: boolean;
  disabledAt: string | null;
  disabledReason: string | null;
  disabledBy: string | null;
}

/** A remediation item's state (`POST /api/v1/remediation/{id}/state` moves it). */
export type RemediationState = "open" | "acknowledged" | "fixed" | "accepted-risk";

/** Who pulled the refused file, as the item recorded it when it opened. */
export interface RemediationConsumer {
  identity: string | null;
  ip: string;
  team: string | null;
  application: string | null;
  client: string | null;
  lastPulled: string;
}

/**
 * A remediation item (`GET /api/v1/remediation`, `/remediation/{id}`): an admitted file that
 * re-evaluation refused, as work for the project's owning team.
 */
export interface RemediationItem {
  id: number;
  sha256: string;
  cause?: string;
  project: string;
  version: string;
  filename?: string;
  severity: "low" | "medium" | "high" | "critical" | string;
  owner: string | null;
  state: RemediationState | string;
  /** What refused the file and why (`check: message; …`), from the policy's findings. */
  summary?: string;
  advisoryIds?: string[];
  consumers?: RemediationConsumer[];
  fixedVersion?: string | null;
  openedAt: string;
  dueAt: string;
  stateChangedAt?: string;
  stateChangedBy?: string | null;
  /** The note of the last change (an accepted risk's reason). */
  note?: string | null;
  acceptedUntil?: string | null;
  resolvedAt?: string | null;
  resolution?: string | null;
  /** Every state it has been in, oldest first (one item's answer only, not in lists). */
  history?: RemediationEvent[];
}

/** One state a remediation item moved to, by whom and why. */
export interface RemediationEvent {
  at: string;
  /** The state it left; null for its opening. */
  from: RemediationState | string | null;
  state: RemediationState | string;
  by: string | null;
  note: string | null;
  acceptedUntil: string | null;
  resolution: string | null;
  /** An owner change (the state unchanged): the team it moved to; the note names the one before. */
  owner?: string | null;
}

/** What a consumer newly pulled in the drift window (`GET /api/v1/inventory/drift`). */
export interface DriftChange {
  kind: "new-project" | "new-version" | "downgrade" | string;
  project: string;
  version: string;
  /** The highest version the consumer had before: for new versions and downgrades. */
  previous: string | null;
  filename: string;
  firstPulled: string;
}

/**
 * One consumer's drift: an identity with its application, an anonymous caller by its application,
 * or (naming neither) by its address; `ip` is its latest address.
 */
export interface ConsumerDrift {
  identity: string | null;
  ip: string;
  application: string | null;
  team: string | null;
  changes: DriftChange[];
}

/** `GET /api/v1/inventory/drift?days=`: the window's start, and each consumer that drifted. */
export interface DriftAnswer {
  since: string;
  items: ConsumerDrift[];
}

/** A webhook as the API shows it (`GET /api/v1/webhooks`): never its secret. */
export interface Webhook {
  id: number;
  url: string;
  format: "json" | "slack" | string;
  /** The event types it receives; null: every event, kinds added later included. */
  events: string[] | null;
  createdAt: string;
  createdBy?: string | null;
}

/** One delivery of an event to a webhook (`GET /api/v1/webhooks/{id}/deliveries`), newest first. */
export interface WebhookDelivery {
  id: number;
  eventId: string;
  eventType: string;
  state: "pending" | "delivered" | "failed" | string;
  attempts: number;
  nextAttemptAt?: string | null;
  lastStatus?: number | null;
  lastError?: string | null;
  createdAt?: string;
  deliveredAt?: string | null;
  log?: { attempt: number; at: string; status: number | null; error: string | null; durationMs: number }[];
}

/** An API token as the API lists it (`GET /api/v1/tokens`; the server's TokenInfo): never its secret. */
export interface ApiToken {
  /** The public part of the token (`pcl_<id>_…`): listings, audit records, rate limits. */
  id: string;
  user: string;
  role: string;
  team: string | null;
  /** The application it pulls for, set by an admin. */
  label: string | null;
  createdAt: string;
  createdBy: string;
  expiresAt: string | null;
  revokedAt: string | null;
  /** Whether it still authenticates (`disabled`: its identity is disabled, refused until enabled). */
  state: "active" | "expired" | "revoked" | "disabled";
}

/** `POST /api/v1/tokens`: the secret, shown this once, and the token as the list will show it. */
export interface CreatedApiToken {
  token: string;
  info: ApiToken;
}
