import type { Logger } from "pino";
import type { AttestationRepository } from "../../adapters/db/attestation-repository.js";
import type { AttestationsTable } from "../../adapters/db/schema-proof.js";
import type { DecisionEvent, DecisionRepository } from "../../adapters/db/decision-repository.js";
import type { KeyRing } from "../../crypto/key-ring.js";
import { IN_TOTO_PAYLOAD_TYPE, pae, type DsseEnvelope } from "../../domain/dsse.js";
import { decisionStatement } from "../../domain/in-toto.js";
import { REFUSING, summarizeDecision, type Decision } from "../../policy/decision.js";

/** What `GET /attestations/<sha256>` answers. */
export type AttestationLookup =
  | { kind: "attested"; envelope: DsseEnvelope; filename: string }
  /** The file was judged and is refused now: its attestation is withdrawn. */
  | { kind: "refused"; reason: string }
  /** No admitted decision (never judged on its bytes, or unknown). */
  | { kind: "none"; reason: string };

/**
 * Builds and signs the DSSE envelope of one admitted decision: an in-toto Statement v1 whose
 * subject is the file (name and sha256) and whose predicate is a SLSA Verification Summary.
 * DSSE signs the PAE of the payload (protocol.md), with the gateway's Ed25519 key.
 */
export function signDecision(decision: Decision, keys: Pick<KeyRing, "sign">, baseUrl: string): DsseEnvelope {
  const statement = decisionStatement({
    filename: decision.filename,
    sha256: decision.sha256,
    project: decision.project,
    version: decision.version,
    verifierId: `${baseUrl}/`,
    resourceUri: `${baseUrl}/files/${decision.sha256}/${encodeURIComponent(decision.filename)}`,
    // The policy is named by its digest; there is no other stable URI for a policy text.
    policyUri: `urn:portcullis:policy:sha256:${decision.policyVersion}`,
    policyDigest: decision.policyVersion,
    intelSnapshot: decision.intelSnapshot,
    timeVerified: decision.decidedAt,
    checks: decision.reasons.map((r) => ({
      check: r.check,
      result: r.outcome,
      action: r.action,
      message: r.message,
      ...(r.waivedBy
        ? {
            waivedBy: {
              approver: r.waivedBy.approver,
              reason: r.waivedBy.reason,
              ...(r.waivedBy.ticket ? { ticket: r.waivedBy.ticket } : {}),
              expiresAt: r.waivedBy.expiresAt,
            },
          }
        : {}),
    })),
  });
  const payload = Buffer.from(JSON.stringify(statement), "utf8");
  const { keyid, sig } = keys.sign(pae(IN_TOTO_PAYLOAD_TYPE, payload));
  return {
    payloadType: IN_TOTO_PAYLOAD_TYPE,
    payload: payload.toString("base64"),
    signatures: [{ keyid, sig: sig.toString("base64") }],
  };
}

/**
 * Signed decision attestations: one per admitted file, signed when a decision becomes admitted
 * (and lazily on first request for an admitted file without one), re-signed when the file is
 * re-admitted under another policy. Only files admitted now are attested.
 */
export class AttestationService {
  private baseUrl: () => string;

  constructor(
    private readonly deps: {
      repo: AttestationRepository;
      decisions: DecisionRepository;
      keys: KeyRing;
      now: () => number;
      log: Logger;
      /** The gateway's URL (verifier id, resource URIs), without a trailing slash. */
      baseUrl: () => string;
      /** The policy and intel judgement uses now: a decision made under others is being re-judged. */
      basis?: () => { policyVersion: string; intelSnapshot: string };
    },
  ) {
    this.baseUrl = deps.baseUrl;
  }

  /** A running gateway knows its real URL only once it listens. */
  setBaseUrl(fn: () => string): void {
    this.baseUrl = fn;
  }

  /**
   * Signs the files that just became admitted (a decision listener). Re-evaluation hands over
   * thousands at once: read, sign and store them in batches.
   */
  async onDecisionsChanged(events: readonly DecisionEvent[]): Promise<number> {
    const admitted = [...new Set(events.filter((e) => e.to === "admitted").map((e) => e.sha256))];
    let signed = 0;
    for (let i = 0; i < admitted.length; i += 500) {
      const decisions = await this.deps.decisions.getMany(admitted.slice(i, i + 500));
      const rows = [...decisions.values()].filter((d) => d.outcome === "admitted").map((d) => this.row(d));
      await this.deps.repo.putMany(rows);
      signed += rows.length;
    }
    return signed;
  }

  /** The attestation of a file admitted now, signing it first when it has none (or a stale one). */
  async forFile(sha256: string): Promise<AttestationLookup> {
    const decision = await this.deps.decisions.get(sha256);
    if (!decision)
      return { kind: "none", reason: `no decision for ${sha256}: the gateway has not served it` };
    if (REFUSING.has(decision.outcome))
      return {
        kind: "refused",
        reason: `${decision.filename} is ${summarizeDecision(decision)}; its attestation is withdrawn`,
      };
    if (decision.outcome !== "admitted")
      return { kind: "none", reason: `${decision.filename} has not been judged on its bytes yet` };
    // Never vouch for a decision that may no longer hold: one whose exception has expired (nothing
    // re-judges on the clock alone), or one made under a policy or intel that has since changed
    // (re-evaluation is on its way). The file route re-judges such files on their next download.
    const now = this.deps.now();
    const lapsed = decision.reasons.find((r) => r.waivedBy && Date.parse(r.waivedBy.expiresAt) <= now);
    if (lapsed)
      return {
        kind: "refused",
        reason: `${decision.filename} was admitted under an exception that expired on ${lapsed.waivedBy!.expiresAt}; its attestation is withdrawn`,
      };
    const basis = this.deps.basis?.();
    if (
      basis &&
      (basis.policyVersion !== decision.policyVersion || basis.intelSnapshot !== decision.intelSnapshot)
    )
      return {
        kind: "none",
        reason: `${decision.filename} is being re-judged under the current policy and intel; retry shortly`,
      };
    const stored = await this.deps.repo.get(sha256);
    if (stored && stored.policy_version === decision.policyVersion)
      return {
        kind: "attested",
        envelope: JSON.parse(stored.envelope_json) as DsseEnvelope,
        filename: decision.filename,
      };
    return { kind: "attested", envelope: await this.store(decision), filename: decision.filename };
  }

  private row(decision: Decision): AttestationsTable & { envelope: DsseEnvelope } {
    const envelope = signDecision(decision, this.deps.keys, this.baseUrl());
    return {
      sha256: decision.sha256,
      project: decision.project,
      version: decision.version,
      filename: decision.filename,
      keyid: envelope.signatures[0]!.keyid,
      policy_version: decision.policyVersion,
      envelope_json: JSON.stringify(envelope),
      signed_at: this.deps.now(),
      envelope,
    };
  }

  private async store(decision: Decision): Promise<DsseEnvelope> {
    const { envelope, ...row } = this.row(decision);
    await this.deps.repo.put(row);
    return envelope;
  }

  /** Which of these files have an attestation stored (for links on project pages). */
  attested(sha256s: readonly string[]): Promise<Set<string>> {
    return this.deps.repo.existing(sha256s);
  }
}
