import { existsSync, readFileSync, statSync } from "node:fs";
import type { Logger } from "pino";
import type { DecisionEvent, DecisionRepository } from "../adapters/db/decision-repository.js";
import type { IntelRepository } from "../adapters/db/intel-repository.js";
import type { CheckResult, FileFacts } from "../policy/check.js";
import { runLicence } from "../policy/checks/licence/licence.js";
import { runProvenance, type ProvenanceFacts } from "../policy/checks/provenance/provenance.js";
import { runReleaseDrift } from "../policy/checks/release-drift/release-drift.js";
import type { Decision } from "../policy/decision.js";
import { decide } from "../policy/engine.js";
import { parsePolicy, rulesFor, type Policy, type PolicyException } from "../policy/policy-schema.js";
import {
  ANALYSER_VERSION,
  previousRelease,
  runArtifactChecks,
  type ProjectReports,
  type StoredArtifactReport,
} from "./artifact-analysis.js";
import type { IntelService, IntelState } from "./intel-service.js";
import { indexCheckContext, indexCheckResults, type IndexCheckContext } from "./index-checks.js";

/** The shipped default policy (repository root), for both `src/` and the built `dist/`. */
export const DEFAULT_POLICY_PATH = new URL("../../policy.default.yaml", import.meta.url).pathname;

export interface PolicyServiceDeps {
  intel: IntelService;
  intelRepo: IntelRepository;
  decisions: DecisionRepository;
  now: () => number;
  log: Logger;
  /** A policy file; the shipped default when absent. */
  policyPath?: string;
  /** Analyses a stored file's bytes (static analysis, licence, shape). */
  analyze(path: string, facts: FileFacts): Promise<StoredArtifactReport>;
}

export type { ProvenanceFacts };

/**
 * Where upstream provenance (PEP 740) comes from: the proof feature fetches and verifies it before
 * a file's bytes are judged, and records it, so re-judging reads it without the network.
 */
export interface ProvenanceSource {
  /** Fetches and verifies a file's provenance unless recorded; never throws (records why instead). */
  prepare(facts: FileFacts): Promise<void>;
  /** What is recorded for these files. */
  lookup(sha256s: string[]): Promise<Map<string, ProvenanceFacts>>;
}

export interface ProjectFacts {
  /** Every version the project's page lists (for "use X instead" and security-fix detection). */
  versions: readonly string[];
}

/**
 * Holds what judgement needs (the policy, the intel, exceptions) and judges files: from the
 * index alone (`judgeIndex`, cheap, for listings) and with their bytes (`judgeFile`, stored and
 * stuck to the sha256). When intel, policy or exceptions change, `refresh` reloads and
 * re-judges every stored decision from stored reports, with no re-download.
 */
export class PolicyService {
  private policy!: Policy;
  private intel!: IntelState;
  private checks!: IndexCheckContext;
  private dbExceptions: PolicyException[] = [];
  private exceptionsStamp = "";
  private readonly listeners = new Set<(events: DecisionEvent[]) => void>();
  /** Bumped whenever anything judgement depends on changes; views memoise on it. */
  generation = 0;

  constructor(private readonly deps: PolicyServiceDeps) {}

  private provenance: ProvenanceSource | undefined;

  /**
   * Plugs in upstream provenance: from then on full decisions carry the `provenance` check and
   * release-drift compares publishers. Features are built after the policy service, hence a setter.
   */
  setProvenanceSource(source: ProvenanceSource): void {
    this.provenance = source;
  }

  private policyMtime = 0;

  async init(): Promise<void> {
    const path = this.deps.policyPath ?? DEFAULT_POLICY_PATH;
    this.policyMtime = statSync(path).mtimeMs;
    this.policy = parsePolicy(readFileSync(path, "utf8"), path);
    await this.deps.decisions.recordPolicyVersion(this.policy.digest, this.policy.source, this.iso());
    this.intel = await this.deps.intel.load();
    this.dbExceptions = await this.deps.decisions.exceptions();
    this.exceptionsStamp = await this.deps.decisions.exceptionsStamp();
    this.analysesStale = (await this.deps.decisions.analyserLevel()) < ANALYSER_VERSION;
    this.rebuildDerived();
    this.generation++;
  }

  /** Called when decisions change: audit, inventory, remediation and webhooks subscribe. */
  onDecisionChanged(listener: (events: DecisionEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): {
    policyVersion: string;
    intelSnapshot: string;
    intelMissing: boolean;
    intelRequired: boolean;
    intel: IntelState["stats"];
  } {
    return {
      policyVersion: this.policy.digest,
      intelSnapshot: this.intel.snapshot,
      intelMissing: this.intel.missing,
      intelRequired: this.policy.doc.intel.required,
      intel: this.intel.stats,
    };
  }

  get policyDocument(): Policy {
    return this.policy;
  }

  get intelState(): IntelState {
    return this.intel;
  }

  /**
   * Whether the malicious-package report `id` refuses every version of `project`, as the
   * malicious check does for a name-only report (not for a popular project, whose compromised
   * releases are reported one by one): `who-has` then answers for every version pulled, not only
   * the ones the report's ranges name.
   */
  refusesEveryVersion(id: string, project: string): boolean {
    return !this.checks.popularNames.has(project) && this.intel.index.maliciousByName(project).includes(id);
  }

  /**
   * Looks for intel imported or exceptions granted by another process (the CLI, another
   * instance); reloads and re-judges when something changed. Returns whether it did.
   */
  async refresh(): Promise<boolean> {
    if (await this.reloadPolicyFile()) return true;
    const [generation, stamp] = await Promise.all([
      this.deps.intelRepo.generation(),
      this.deps.decisions.exceptionsStamp(),
    ]);
    if (generation === this.intel.generation && stamp === this.exceptionsStamp) return false;
    if (generation !== this.intel.generation) this.intel = await this.deps.intel.load();
    if (stamp !== this.exceptionsStamp) {
      this.dbExceptions = await this.deps.decisions.exceptions();
      this.exceptionsStamp = stamp;
    }
    this.rebuildDerived();
    this.generation++;
    const result = await this.reevaluate();
    this.deps.log.info(
      { intel: this.intel.snapshot, ...result },
      "intel or exceptions changed: catalog re-judged",
    );
    return true;
  }

  /**
   * Picks up an edited policy file. A policy that no longer validates is refused with its
   * line and column in the log, and the one in force stays (the gate never opens on a typo).
   */
  private async reloadPolicyFile(): Promise<boolean> {
    const path = this.deps.policyPath;
    if (!path) return false;
    let mtime: number;
    try {
      mtime = statSync(path).mtimeMs;
    } catch (err) {
      this.deps.log.error(
        { path, err: (err as Error).message },
        "policy file unreadable; the policy in force stays",
      );
      return false;
    }
    if (mtime === this.policyMtime) return false;
    this.policyMtime = mtime;
    try {
      const result = await this.setPolicy(readFileSync(path, "utf8"), path);
      this.deps.log.info(
        { path, policyVersion: this.policy.digest, ...result },
        "policy file changed: catalog re-judged",
      );
      return true;
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, "new policy rejected; the policy in force stays");
      return false;
    }
  }

  /** Replaces the policy (e.g. a reloaded file) and re-judges. */
  async setPolicy(text: string, name: string): Promise<{ checked: number; changed: number }> {
    this.policy = parsePolicy(text, name);
    await this.deps.decisions.recordPolicyVersion(this.policy.digest, this.policy.source, this.iso());
    this.rebuildDerived();
    this.generation++;
    return this.reevaluate();
  }

  private rebuildDerived(): void {
    this.checks = indexCheckContext(this.policy, this.intel);
  }

  /** Index-stage checks: what the name, version, upload time and intel alone decide. */
  indexResults(facts: FileFacts, project: ProjectFacts): CheckResult[] {
    return indexCheckResults(this.checks, facts, project.versions, this.deps.now());
  }

  /** A decision from the index alone: `pending` when nothing refuses (the bytes are not judged yet). */
  judgeIndex(facts: FileFacts, project: ProjectFacts): Decision {
    return decide({
      facts,
      results: this.indexResults(facts, project),
      policy: this.policy,
      exceptions: this.dbExceptions,
      now: this.deps.now(),
      intelSnapshot: this.intel.snapshot,
      stage: "index",
    });
  }

  /**
   * The full decision for a stored file: reused when still current, else judged (analysing the
   * bytes once; later judgements reuse the stored report) and stored.
   */
  async judgeFile(facts: FileFacts, project: ProjectFacts, blobPath: string): Promise<Decision> {
    const stored = await this.deps.decisions.get(facts.sha256);
    // A stored decision counts only if the report it was made from is the current analyser's: a
    // detection fix applies before serving (also for reports another instance, or an older
    // version of the gateway, made since; one indexed read beside the decision's).
    let report = await this.currentReport(facts.sha256);
    if (report && stored && stored.stage === "full" && this.isCurrent(stored)) return stored;
    if (!report) {
      report = await this.deps.analyze(blobPath, facts);
      await this.deps.decisions.putArtifactReport(
        facts.sha256,
        facts.project,
        facts.version,
        report,
        this.iso(),
      );
    }
    if (this.provenance) {
      try {
        await this.provenance.prepare(facts);
      } catch (err) {
        // Recorded as nothing: the provenance check fails closed where provenance is required.
        this.deps.log.error({ err: (err as Error).message, sha256: facts.sha256 }, "provenance check broke");
      }
    }
    const decision = await this.decideFull(facts, project, report);
    const event = await this.deps.decisions.put(decision);
    if (event) this.emit([event]);
    return decision;
  }

  /** A file's stored report, unless an older analyser made it (then it is to be made again). */
  private async currentReport(sha256: string): Promise<StoredArtifactReport | undefined> {
    const report = await this.deps.decisions.getArtifactReport<StoredArtifactReport>(sha256);
    return report && (report.analyser ?? 1) >= ANALYSER_VERSION ? report : undefined;
  }

  /** Whether reports of an older analyser may remain (read at init, cleared by upgradeAnalyses). */
  private analysesStale = false;

  /**
   * Makes again, from the stored bytes, every artifact report an older analyser made, then
   * re-judges: a detection fix reaches files admitted before it. A report whose bytes this
   * gateway does not hold (another instance's store) is left as it is: that instance upgrades
   * it, and judgeFile never serves a file on an old report (it re-analyses first). Run in the
   * background after start. The database records the analyser level once a run left nothing
   * behind, so later starts skip the scan; idempotent across instances.
   */
  async upgradeAnalyses(
    blobPath: (sha256: string) => string | undefined,
    signal?: AbortSignal,
  ): Promise<{ reanalysed: number; left: number }> {
    let reanalysed = 0;
    let left = 0;
    if (!this.analysesStale) return { reanalysed, left };
    for (let after = ""; ;) {
      const page = await this.deps.decisions.artifactReportsAfter<StoredArtifactReport>(after, 100);
      if (page.length === 0) break;
      for (const { sha256, report } of page) {
        // Stopped (the gateway is closing): the next start goes on from the reports left old.
        if (signal?.aborted) return { reanalysed, left };
        after = sha256;
        if ((report.analyser ?? 1) >= ANALYSER_VERSION) continue;
        const path = blobPath(sha256);
        let made: StoredArtifactReport | undefined;
        if (path && existsSync(path)) {
          try {
            made = await this.deps.analyze(path, report.facts);
          } catch (err) {
            this.deps.log.error(
              { err: (err as Error).message, sha256 },
              "re-analysis failed; judged again at its next download",
            );
          }
        }
        if (made) {
          await this.deps.decisions.putArtifactReport(
            sha256,
            report.facts.project,
            report.facts.version,
            made,
            this.iso(),
          );
          reanalysed++;
        } else {
          // Bytes this instance does not hold or cannot read: left for the instance that holds
          // them, and for judgeFile at the next download.
          left++;
        }
        // Analysis is CPU work: let requests in between files.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    if (left === 0) {
      await this.deps.decisions.setAnalyserLevel(ANALYSER_VERSION);
      this.analysesStale = false;
    }
    if (reanalysed > 0) {
      this.generation++;
      await this.reevaluate();
    }
    this.deps.log.info(
      { event: "analyses_upgraded", analyser: ANALYSER_VERSION, reanalysed, left },
      "artifact reports brought up to the current analyser",
    );
    return { reanalysed, left };
  }

  private async decideFull(
    facts: FileFacts,
    project: ProjectFacts,
    report: StoredArtifactReport,
    projectReports?: ProjectReports,
  ): Promise<Decision> {
    const rules = rulesFor(this.policy.doc, facts.project);
    const previous = previousRelease(
      facts,
      projectReports ?? (await this.deps.decisions.artifactReportsOf<StoredArtifactReport>(facts.project)),
    );
    let byteResults = runArtifactChecks(report, previous, {
      licence: { allow: rules.licence.allow, deny: rules.licence.deny, unknown: rules.licence.unknown },
      drift: { "size-factor": rules["release-drift"]["size-factor"] },
      runLicence,
    });
    if (this.provenance) {
      const shas = [facts.sha256, ...(previous ? [previous.report.facts.sha256] : [])];
      const recorded = await this.provenance.lookup(shas);
      const current = recorded.get(facts.sha256);
      // Unknown (never checked, or the upstream could not answer) makes no claim either way:
      // a passing glitch must not read as a vanished publisher. It is retried at the next judgement.
      const known = current !== undefined && current.status !== "unavailable";
      const before = known && previous ? recorded.get(previous.report.facts.sha256) : undefined;
      // release-drift again, now with publishers: a publisher that vanished or changed since the
      // previous release is the signal LiteLLM's hijacked 2026 releases gave.
      const drift = runReleaseDrift(
        {
          version: report.facts.version,
          shape: report.artifact.shape,
          ...(known ? { provenance: publisherOf(current) } : {}),
        },
        previous && {
          version: previous.version,
          shape: previous.report.artifact.shape,
          ...(before ? { provenance: publisherOf(before) } : {}),
        },
        { "size-factor": rules["release-drift"]["size-factor"] },
      );
      byteResults = [
        ...byteResults.map((r) => (r.check === "release-drift" ? drift : r)),
        runProvenance(current, { required: rules.provenance.required }),
      ];
    }
    return decide({
      facts,
      results: [...this.indexResults(facts, project), ...byteResults],
      policy: this.policy,
      exceptions: this.dbExceptions,
      now: this.deps.now(),
      intelSnapshot: this.intel.snapshot,
      stage: "full",
    });
  }

  /**
   * A stored decision stays valid while the policy, intel and exceptions are those it was made
   * under, and no clock-driven reason (cooldown, an exception's expiry) may have changed.
   */
  isCurrent(d: Decision): boolean {
    if (d.policyVersion !== this.policy.digest || d.intelSnapshot !== this.intel.snapshot) return false;
    if (Date.parse(d.decidedAt) < this.exceptionsChangedAt) return false;
    return !d.reasons.some((r) => (r.check === "cooldown" && r.outcome !== "pass") || r.waivedBy);
  }
  private exceptionsChangedAt = 0;

  /** Re-judges every stored full decision from its stored artifact report. */
  async reevaluate(): Promise<{ checked: number; changed: number }> {
    this.exceptionsChangedAt = this.deps.now();
    let checked = 0;
    const events: DecisionEvent[] = [];
    // Per project, read once: its versions and its analysis reports (each file's own, and the
    // earlier releases release-drift compares with).
    const byProject = new Map<string, { versions: string[]; reports: ProjectReports }>();
    for await (const d of this.deps.decisions.all()) {
      if (d.stage !== "full") continue;
      let project = byProject.get(d.project);
      if (!project) {
        project = {
          versions: [...new Set((await this.deps.decisions.byProject(d.project)).map((x) => x.version))],
          reports: await this.deps.decisions.artifactReportsOf<StoredArtifactReport>(d.project),
        };
        byProject.set(d.project, project);
      }
      const report = project.reports.find((r) => r.sha256 === d.sha256)?.report;
      if (!report) continue;
      checked++;
      const next = await this.decideFull(
        report.facts,
        { versions: project.versions },
        report,
        project.reports,
      );
      const event = await this.deps.decisions.put(next);
      if (event) events.push(event);
    }
    if (events.length) this.emit(events);
    return { checked, changed: events.length };
  }

  private emit(events: DecisionEvent[]): void {
    for (const l of this.listeners) {
      try {
        l(events);
      } catch (err) {
        this.deps.log.error({ err }, "decision listener failed");
      }
    }
  }

  private iso(): string {
    return new Date(this.deps.now()).toISOString();
  }
}

/** The publisher release-drift compares: only verified provenance names one; absent or failing is none. */
function publisherOf(p: ProvenanceFacts): { publisher?: string } {
  if (p.status === "verified" && p.publisher) return { publisher: p.publisher };
  return {};
}
