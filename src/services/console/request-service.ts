import type { ProvenanceFacts } from "../../policy/checks/provenance/provenance.js";
import { ISO_TIME_HINT, parseIsoTime } from "../../domain/iso-time.js";
import type { DecisionRepository } from "../../adapters/db/decision-repository.js";
import type {
  ExceptionToGrant,
  GrantedException,
  GrantOutcome,
  PackageRequest,
  RequestRepository,
  RequestState,
  RequestSummary,
} from "../../adapters/db/request-repository.js";
import type { Actor } from "../../domain/identity.js";
import { isValidProjectName, normalizeProjectName } from "../../domain/project-name.js";
import { compareVersions, isValidVersion } from "../../domain/version.js";
import { REFUSING, summarizeDecision, type Outcome, type Reason } from "../../policy/decision.js";
import { FILE_ONLY_CHECKS } from "../../policy/engine.js";
import { RULE_IDS } from "../../policy/policy-schema.js";
import type { ApiErrorCode } from "../../http/api-conventions.js";
import type { StoredArtifactReport } from "../artifact-analysis.js";
import type { AuditRecorder, OwnerDirectory } from "../audit-entry.js";
import { factsOf } from "../catalog-curator.js";
import type { EventBus } from "../event-bus.js";
import { GatewayError } from "../gateway-error.js";
import type { PolicyService } from "../policy-service.js";
import { DEFAULT_VET_TARGETS, vetForTargets, type PolicyCandidateSource } from "../vet.js";

const DAY_MS = 24 * 3600 * 1000;
/** How long an approval's exceptions last unless the approver says otherwise. */
export const DEFAULT_EXCEPTION_DAYS = 90;
/**
 * The longest an exception may last, as for an accepted risk: a waiver is a decision to
 * revisit, and one decades away would never come back for review.
 */
export const MAX_EXCEPTION_DAYS = 366;

/** One file of the requested tree, with everything an approver needs to judge it. */
export interface RequestFile {
  project: string;
  version: string;
  filename: string;
  sha256: string;
  depth: number;
  outcome: Outcome;
  score: number;
  summary: string;
  /** Every check's finding with its evidence (the decision's reasons). */
  reasons: Reason[];
  licence: string | null;
  /** Rank and downloads in the popular-projects intel, when listed. */
  popularity: { rank: number; downloads: number | null } | null;
  /** Upstream provenance (PEP 740) as verified by the gateway, when it was looked at. */
  provenance: ProvenanceFacts | null;
  /** A version the resolver passed over because the policy refuses it (not in the tree). */
  passedOver?: true;
}

/** The vetting report stored with a request: the whole tree for every default target. */
export interface RequestReport {
  ok: boolean;
  requirement: string;
  /** The riskiest tree over the targets (see `VetReport.treeScore`). */
  treeScore: number;
  targets: { target: string; ok: boolean; tree: string; error?: string }[];
  files: RequestFile[];
  /** Versions the resolver passed over because the policy refuses them. */
  rejected: { project: string; version: string; reason: string }[];
  vettedAt: string;
}

export class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "RequestError";
  }
}

export interface RequestServiceDeps {
  requests: RequestRepository;
  /** Verified upstream provenance by file digest (the proof feature). */
  provenance?: { lookup(sha256s: string[]): Promise<Map<string, ProvenanceFacts>> };
  vet: ConstructorParameters<typeof PolicyCandidateSource>[0];
  decisions: DecisionRepository;
  policy: PolicyService;
  audit: AuditRecorder;
  owners: OwnerDirectory;
  events: EventBus;
  now: () => number;
}

export interface ExceptionGrant {
  /** Defaults to the request's project. */
  project?: string;
  version?: string;
  sha256?: string;
  checks?: string[];
  reason: string;
  ticket?: string;
  expiresAt?: string;
}

export type RequestOutcome = PackageRequest<RequestReport> & {
  /** Refused files or versions still in the tree after an approval or exception. */
  remaining?: { project: string; version: string; filename?: string; reason: string }[];
  /** Set by `create` when it answers the caller's own request already pending for the same thing. */
  existing?: true;
};

/**
 * Requests and approvals: a request is vetted at once with its whole dependency tree and
 * approved when the policy admits everything, else waits for an approver with the report.
 * Approving grants exceptions (exact file or exact version, waiving only the checks that
 * refused) for what the approver saw refused; denying grants nothing. Every step is audited and
 * published on the event bus.
 */
export class RequestService {
  constructor(private readonly deps: RequestServiceDeps) {}

  async create(
    actor: Actor,
    input: { project: string; version?: string; reason: string },
  ): Promise<RequestOutcome> {
    if (!isValidProjectName(input.project))
      throw new RequestError(400, "VALIDATION", `not a valid project name: ${input.project}`);
    if (input.version !== undefined && !isValidVersion(input.version))
      throw new RequestError(400, "VALIDATION", `not a valid PEP 440 version: ${input.version}`);
    if (!input.reason.trim()) throw new RequestError(400, "VALIDATION", "a reason is required");
    const project = normalizeProjectName(input.project);
    const requester = actorName(actor);
    const view = await this.deps.vet.projects.getRawProject(project).catch(asRequestError);
    if (!view) throw new RequestError(404, "NOT_FOUND", `the upstream has no project named ${input.project}`);
    // The version as the upstream spells it (PEP 440 equality: 2.19.0.0 and v2.19 are 2.19.0),
    // so that one release is always one request and one key.
    const version =
      input.version === undefined
        ? null
        : (view.files.find((f) => compareVersions(f.version, input.version!) === 0)?.version ?? undefined);
    if (version === undefined)
      throw new RequestError(404, "NOT_FOUND", `${project} has no version ${input.version} upstream`);
    // Asking again while the same request waits for an approver answers the waiting one: a
    // second copy would split the approvers' review (and its exceptions) in two.
    const waiting = await this.deps.requests.findPending<RequestReport>({ project, version, requester });
    if (waiting) return { ...waiting, existing: true };
    const report = await this.vet(project, version);
    const state: RequestState = report.ok ? "approved" : "pending";
    const now = this.deps.now();
    const { id, created } = await this.deps.requests.createOrFindPending({
      project,
      version,
      reason: input.reason,
      state,
      requester,
      requesterTeam: actor.team,
      report,
      // An automatic approval is the policy's.
      decidedBy: state === "approved" ? "policy" : null,
      now,
    });
    // The same request posted at the same moment by the same requester: the one stored answers.
    if (!created) return { ...(await this.get(id))!, existing: true };
    this.deps.audit.record({
      action: "request.create",
      actor,
      outcome: state,
      project,
      version,
      detail: { requestId: id, reason: input.reason, treeScore: report.treeScore },
    });
    if (actor.team && (await this.deps.owners.ownerOf(project)) === null)
      await this.deps.owners.setOwner(project, actor.team, actor);
    this.publish(
      state === "approved" ? "request.approved" : "request.pending",
      id,
      project,
      version,
      requester,
      input.reason,
      now,
    );
    return (await this.get(id))!;
  }

  async get(id: number): Promise<PackageRequest<RequestReport> | undefined> {
    return this.deps.requests.get<RequestReport>(id);
  }

  async list(opts: {
    state?: RequestState;
    requester?: string;
    beforeId?: number;
    limit: number;
  }): Promise<RequestSummary[]> {
    return this.deps.requests.list(opts);
  }

  async approve(
    actor: Actor,
    id: number,
    input: { reason: string; ticket?: string; expiresAt?: string },
  ): Promise<RequestOutcome> {
    const request = await this.pending(id);
    this.refuseOwn(actor, request, "request.approve", "approve");
    const expiresAt = this.expiry(input.expiresAt);
    // Exceptions only for what the approver was shown refused, never for the unseen.
    const grants = (await this.grantsFor(request.report)).map((g) =>
      this.toGrant(actor, request, {
        ...g,
        reason: input.reason,
        ...(input.ticket ? { ticket: input.ticket } : {}),
        expiresAt,
      }),
    );
    // The approval takes the request out of pending before its exceptions exist, in the same
    // transaction: a denial (or another approval) racing it either wins and nothing is granted,
    // or finds the request decided. The re-vet below may put it back to pending.
    const granted = await this.decide(actor, request, "approved", input.reason, grants);
    return this.settle(actor, request, "approved", "request.approve", input.reason, granted);
  }

  async deny(actor: Actor, id: number, input: { reason: string }): Promise<RequestOutcome> {
    const request = await this.pending(id);
    const now = this.deps.now();
    // The denial revokes, in its transaction, what exceptions granted through the request while
    // it was pending: a denied request waives nothing.
    const revoked = await this.deps.requests.deny(id, {
      decidedBy: actorName(actor),
      decisionReason: input.reason,
      now,
    });
    if (!revoked) throw new RequestError(409, "CONFLICT", `request ${id} was decided meanwhile`);
    for (const e of revoked)
      this.deps.audit.record({
        action: "exception.revoke",
        actor,
        outcome: "ok",
        project: e.project,
        version: e.version ?? null,
        sha256: e.sha256 ?? null,
        detail: { requestId: id, exceptionId: e.id, reason: `request ${id} denied: ${input.reason}` },
      });
    this.deps.audit.record({
      action: "request.deny",
      actor,
      outcome: "denied",
      project: request.project,
      version: request.version,
      detail: { requestId: id, reason: input.reason, revokedExceptions: revoked.map((e) => e.id) },
    });
    // Out of force in this process at once (others notice the exceptions table changed).
    if (revoked.length) await this.deps.policy.refresh();
    this.publish(
      "request.denied",
      id,
      request.project,
      request.version,
      request.requester,
      input.reason,
      now,
    );
    return (await this.get(id))!;
  }

  /** Grants one exception in the policy engine's shape, then re-vets the request. */
  async exception(actor: Actor, id: number, input: ExceptionGrant): Promise<RequestOutcome> {
    const request = await this.pending(id);
    this.refuseOwn(actor, request, "request.exception", "grant an exception on");
    if ((input.version === undefined) === (input.sha256 === undefined))
      throw new RequestError(400, "VALIDATION", "an exception names exactly one of version or sha256");
    if (input.version !== undefined && !isValidVersion(input.version))
      throw new RequestError(
        400,
        "VALIDATION",
        `not a valid PEP 440 version: ${JSON.stringify(input.version)}`,
      );
    const checks = checkIds(input.checks);
    if (input.version !== undefined && checks?.some((c) => FILE_ONLY_CHECKS.has(c)))
      throw new RequestError(
        400,
        "VALIDATION",
        "the artifact check is waived for one exact file (sha256), never for a whole version",
      );
    const project = normalizeProjectName(input.project ?? request.project);
    const target = inTree(request, project, input);
    if (target === undefined)
      throw new RequestError(
        400,
        "VALIDATION",
        `${project} ${input.version ?? input.sha256} is not part of request ${id}'s tree`,
      );
    const grant = this.toGrant(actor, request, {
      project,
      ...target,
      ...(checks ? { checks } : {}),
      reason: input.reason,
      ...(input.ticket ? { ticket: input.ticket } : {}),
      expiresAt: this.expiry(input.expiresAt),
    });
    // The request stays pending until the re-vet admits its whole tree.
    const granted = await this.decide(actor, request, "pending", input.reason, [grant]);
    this.publish(
      "request.exception",
      id,
      request.project,
      request.version,
      request.requester,
      input.reason,
      this.deps.now(),
    );
    return this.settle(actor, request, "pending", "request.exception", input.reason, granted);
  }

  /**
   * Decides the pending request (compare-and-set) and puts the grants in force, atomically; a
   * decision that lost the race gets a conflict and has changed nothing. Audits each grant.
   */
  private async decide(
    actor: Actor,
    request: PackageRequest<RequestReport>,
    state: RequestState,
    reason: string,
    grants: ExceptionToGrant[],
  ): Promise<GrantOutcome[]> {
    const granted = await this.deps.requests.decide(
      request.id,
      "pending",
      { state, decidedBy: actorName(actor), decisionReason: reason, now: this.deps.now() },
      grants,
    );
    if (!granted) throw new RequestError(409, "CONFLICT", `request ${request.id} was decided meanwhile`);
    for (const { exception: g, created } of granted) {
      if (!created) continue;
      this.deps.audit.record({
        action: "exception.grant",
        actor,
        outcome: "ok",
        project: g.project,
        version: g.version ?? null,
        sha256: g.sha256 ?? null,
        detail: {
          requestId: request.id,
          exceptionId: g.id,
          checks: g.checks ?? "all",
          ticket: g.ticket,
          expiresAt: g.expiresAt,
        },
      });
    }
    return granted;
  }

  /**
   * After exceptions: refresh the policy (so the grants are in force everywhere), re-vet, and
   * approve when everything is admitted now; otherwise the request is pending with the new
   * report (fail closed: anything refused that the approver has not seen waits for review).
   * `from` is the state {@link decide} left the request in.
   */
  private async settle(
    actor: Actor,
    request: PackageRequest<RequestReport>,
    from: RequestState,
    action: string,
    reason: string,
    granted: GrantOutcome[],
  ): Promise<RequestOutcome> {
    let report: RequestReport;
    try {
      await this.deps.policy.refresh();
      report = await this.vet(request.project, request.version);
    } catch (err) {
      // Not re-vetted: whatever the grants leave refused has not been seen, so it waits.
      if (from !== "pending")
        await this.deps.requests.transition(request.id, from, {
          state: "pending",
          decidedBy: actorName(actor),
          decisionReason: reason,
          now: this.deps.now(),
        });
      throw err;
    }
    const now = this.deps.now();
    const state: RequestState = report.ok ? "approved" : "pending";
    const ok = await this.deps.requests.transition(request.id, from, {
      state,
      decidedBy: actorName(actor),
      decisionReason: reason,
      report,
      now,
    });
    // Not ok only after an exception, which leaves the request pending: another approver
    // decided it during the re-vet. The exception stays (it was granted before that decision),
    // and the answer is the request as that decision left it.
    this.deps.audit.record({
      action,
      actor,
      outcome: ok ? state : "decided meanwhile",
      project: request.project,
      version: request.version,
      detail: { requestId: request.id, reason, exceptions: granted.map((g) => g.exception.id) },
    });
    if (ok && state === "approved")
      this.publish(
        "request.approved",
        request.id,
        request.project,
        request.version,
        request.requester,
        reason,
        now,
      );
    const out: RequestOutcome = (await this.get(request.id))!;
    if (ok && !report.ok) out.remaining = refusedIn(report);
    return out;
  }

  /** An exception in the policy engine's shape, and as the request records it. */
  private toGrant(
    actor: Actor,
    request: PackageRequest<RequestReport>,
    g: Omit<GrantedException, "id">,
  ): ExceptionToGrant {
    return {
      exception: {
        project: g.project,
        ...(g.version !== undefined ? { version: g.version } : {}),
        ...(g.sha256 !== undefined ? { sha256: g.sha256 } : {}),
        ...(g.checks?.length ? { checks: g.checks } : {}),
        reason: `request ${request.id}: ${g.reason}`,
        approver: actorName(actor),
        ...(g.ticket ? { ticket: g.ticket } : {}),
        "expires-at": g.expiresAt,
      },
      granted: g,
    };
  }

  /** Exact-file exceptions for refused files, exact-version ones for versions passed over. */
  private async grantsFor(
    report: RequestReport,
  ): Promise<Omit<GrantedException, "id" | "reason" | "expiresAt" | "ticket">[]> {
    const out: Omit<GrantedException, "id" | "reason" | "expiresAt" | "ticket">[] = [];
    for (const f of report.files) {
      if (!f.passedOver && REFUSING.has(f.outcome))
        out.push({ project: f.project, sha256: f.sha256, checks: refusingChecks(f.reasons) });
    }
    if (report.ok || report.files.some((f) => !f.passedOver && REFUSING.has(f.outcome))) return out;
    // A tree that did not resolve names the versions the policy refused: the requested version
    // when one was named, else the newest refused version of each project.
    const newest = new Map<string, string>();
    for (const r of report.rejected) {
      const v = newest.get(r.project);
      if (!v || compareVersions(r.version, v) > 0) newest.set(r.project, r.version);
    }
    for (const [project, version] of newest) {
      const files = report.files.filter(
        (f) => f.passedOver && f.project === project && f.version === version,
      );
      if (files.length > 0) {
        for (const f of files.filter((x) => REFUSING.has(x.outcome)))
          out.push({ project, sha256: f.sha256, checks: refusingChecks(f.reasons) });
        continue;
      }
      const checks = await this.refusingChecksOfVersion(project, version);
      out.push({ project, version, ...(checks.length ? { checks } : {}) });
    }
    return out;
  }

  private async refusingChecksOfVersion(project: string, version: string): Promise<string[]> {
    const checks = new Set<string>();
    const stored = await this.deps.decisions.byProject(project, version);
    for (const d of stored) for (const c of refusingChecks(d.reasons)) checks.add(c);
    const view = await this.deps.vet.projects.getRawProject(project);
    for (const f of view?.files.filter((x) => x.version === version) ?? []) {
      const d = this.deps.policy.judgeIndex(factsOf(view!, f), { versions: view!.versions });
      for (const c of refusingChecks(d.reasons)) checks.add(c);
    }
    return [...checks];
  }

  private async vet(project: string, version: string | null): Promise<RequestReport> {
    const requirement = version ? `${project}==${version}` : project;
    let multi;
    try {
      multi = await vetForTargets(this.deps.vet, [requirement], DEFAULT_VET_TARGETS);
    } catch (err) {
      if (err instanceof GatewayError) asRequestError(err);
      // A tree that cannot be vetted (unreadable metadata, a broken dependency) is not admitted:
      // it waits for an approver with the reason, never passes (fail closed).
      const error = `could not vet ${requirement}: ${(err as Error).message}`;
      return {
        ok: false,
        requirement,
        treeScore: 100,
        targets: [{ target: "all", ok: false, tree: "", error }],
        files: [],
        rejected: [],
        vettedAt: new Date(this.deps.now()).toISOString(),
      };
    }
    const nodes = new Map(multi.reports.flatMap((r) => r.nodes).map((n) => [n.sha256, n]));
    const [decisions, popular, provenance] = [
      await this.deps.decisions.getMany([...nodes.keys()]),
      popularity(this.deps.policy),
      (await this.deps.provenance?.lookup([...nodes.keys()])) ?? new Map<string, ProvenanceFacts>(),
    ];
    const files: RequestFile[] = [];
    for (const n of nodes.values()) {
      const report = await this.deps.decisions.getArtifactReport<StoredArtifactReport>(n.sha256);
      files.push({
        ...n,
        reasons: decisions.get(n.sha256)?.reasons ?? [],
        licence: report?.licence.ids.length
          ? report.licence.ids.join(" AND ")
          : (report?.metadata?.license ?? null),
        popularity: popular.get(n.project) ?? null,
        provenance: provenance.get(n.sha256) ?? null,
      });
    }
    const rejected = new Map(
      multi.reports.flatMap((r) => r.rejected).map((r) => [`${r.project}==${r.version}`, r]),
    );
    // Versions the resolver passed over have no node: show their files' decisions too, so the
    // approver sees the findings behind every refusal.
    for (const r of rejected.values()) {
      const view = await this.deps.vet.projects.getRawProject(r.project);
      for (const f of view?.files.filter((x) => x.version === r.version && !nodes.has(x.sha256)) ?? []) {
        const stored = await this.deps.decisions.get(f.sha256);
        const d =
          stored?.stage === "full"
            ? stored
            : this.deps.policy.judgeIndex(factsOf(view!, f), { versions: view!.versions });
        files.push({
          project: r.project,
          version: r.version,
          filename: f.filename,
          sha256: f.sha256,
          depth: r.project === project ? 0 : 1,
          outcome: d.outcome,
          score: d.score,
          summary: summarizeDecision(d),
          reasons: d.reasons,
          licence: null,
          popularity: popular.get(r.project) ?? null,
          provenance: null,
          passedOver: true,
        });
      }
    }
    return {
      ok: multi.ok,
      requirement,
      treeScore: Math.max(0, ...multi.reports.map((r) => r.treeScore)),
      targets: multi.reports.map((r) => ({
        target: r.target,
        ok: r.ok,
        tree: r.tree,
        ...(r.error ? { error: r.error } : {}),
      })),
      files,
      rejected: [...rejected.values()],
      vettedAt: new Date(this.deps.now()).toISOString(),
    };
  }

  private async pending(id: number): Promise<PackageRequest<RequestReport>> {
    const request = await this.get(id);
    if (!request) throw new RequestError(404, "NOT_FOUND", `no request ${id}`);
    if (request.state !== "pending")
      throw new RequestError(409, "CONFLICT", `request ${id} is ${request.state}, not pending`);
    return request;
  }

  /**
   * Separation of duties: whoever asked for a package does not approve it or waive its checks,
   * whatever their role (admins included; another approver decides). Denying one's own request
   * stays open: it only withdraws it. The refusal is audited.
   */
  private refuseOwn(
    actor: Actor,
    request: PackageRequest<RequestReport>,
    action: string,
    what: string,
  ): void {
    if (actorName(actor) !== request.requester) return;
    this.deps.audit.record({
      action,
      actor,
      outcome: "denied",
      project: request.project,
      version: request.version,
      detail: { requestId: request.id, reason: "separation of duties: the requester decides" },
    });
    throw new RequestError(
      403,
      "FORBIDDEN",
      `separation of duties: ${request.requester} asked for request ${request.id} and cannot ${what} it; another approver must decide (denying it withdraws it)`,
    );
  }

  private expiry(expiresAt: string | undefined): string {
    if (expiresAt === undefined)
      return new Date(this.deps.now() + DEFAULT_EXCEPTION_DAYS * DAY_MS).toISOString();
    const t = parseIsoTime(expiresAt);
    if (t === undefined)
      throw new RequestError(
        400,
        "VALIDATION",
        `expiresAt must be ${ISO_TIME_HINT}, got ${JSON.stringify(expiresAt)}`,
      );
    if (t <= this.deps.now()) throw new RequestError(400, "VALIDATION", "expiresAt is in the past");
    if (t > this.deps.now() + MAX_EXCEPTION_DAYS * DAY_MS)
      throw new RequestError(
        400,
        "VALIDATION",
        `an exception lasts at most ${MAX_EXCEPTION_DAYS} days (then it is reviewed again), so expiresAt must be before ${new Date(this.deps.now() + MAX_EXCEPTION_DAYS * DAY_MS).toISOString()}, got ${JSON.stringify(expiresAt)}`,
      );
    return new Date(t).toISOString();
  }

  private publish(
    type: "request.pending" | "request.approved" | "request.denied" | "request.exception",
    requestId: number,
    project: string,
    version: string | null,
    requester: string,
    reason: string,
    now: number,
  ): void {
    this.deps.events.publish({
      type,
      requestId,
      project,
      version,
      requester,
      reason,
      at: new Date(now).toISOString(),
    });
  }
}

function actorName(actor: Actor): string {
  return actor.user ?? `anonymous@${actor.ip}`;
}

/**
 * The checks an exception waives: absent waives them all; an empty list or a name that is no
 * check is refused, since it would waive nothing while looking like a waiver.
 */
function checkIds(checks: string[] | undefined): string[] | undefined {
  if (checks === undefined) return undefined;
  const known = `the checks are ${RULE_IDS.join(", ")}; leave checks out to waive them all`;
  if (checks.length === 0) throw new RequestError(400, "VALIDATION", `checks is empty: ${known}`);
  const unknown = checks.filter((c) => !(RULE_IDS as readonly string[]).includes(c));
  if (unknown.length)
    throw new RequestError(
      400,
      "VALIDATION",
      `unknown check${unknown.length > 1 ? "s" : ""} ${unknown.map((c) => JSON.stringify(c)).join(", ")}: ${known}`,
    );
  return [...new Set(checks)];
}

/**
 * Where an exception for `project` lands in the request's tree: the exact file, or the version as
 * the tree spells it (the engine matches versions by their spelling). The requested version is
 * part of the request even when its tree could not be vetted.
 */
function inTree(
  request: PackageRequest<RequestReport>,
  project: string,
  input: { version?: string; sha256?: string },
): { version: string } | { sha256: string } | undefined {
  const { files, rejected } = request.report;
  if (input.sha256 !== undefined)
    return files.some((f) => f.project === project && f.sha256 === input.sha256)
      ? { sha256: input.sha256 }
      : undefined;
  const versions = [
    ...files.filter((f) => f.project === project).map((f) => f.version),
    ...rejected.filter((r) => r.project === project).map((r) => r.version),
    ...(project === request.project && request.version !== null ? [request.version] : []),
  ];
  const version =
    versions.find((v) => v === input.version) ??
    versions.find((v) => compareVersions(v, input.version!) === 0);
  return version !== undefined ? { version } : undefined;
}

function refusingChecks(reasons: Reason[]): string[] {
  return [
    ...new Set(reasons.filter((r) => r.action === "block" || r.action === "quarantine").map((r) => r.check)),
  ];
}

function refusedIn(report: RequestReport): NonNullable<RequestOutcome["remaining"]> {
  const files = report.files
    .filter((f) => REFUSING.has(f.outcome))
    .map((f) => ({ project: f.project, version: f.version, filename: f.filename, reason: f.summary }));
  return files.length ? files : report.rejected;
}

function popularity(policy: PolicyService): Map<string, { rank: number; downloads: number | null }> {
  return new Map(
    policy.intelState.popular.map((p, i) => [p.name, { rank: i + 1, downloads: p.downloads ?? null }]),
  );
}

/** Upstream trouble while vetting is the upstream's, never "not found" or a crash. */
function asRequestError(err: unknown): never {
  if (err instanceof GatewayError) {
    if (err.status === 404) throw new RequestError(404, "NOT_FOUND", err.message);
    if (err.status >= 500) throw new RequestError(503, "UNAVAILABLE", err.message);
    throw new RequestError(400, "VALIDATION", err.message);
  }
  throw err;
}
