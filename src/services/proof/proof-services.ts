import { join, resolve } from "node:path";
import { AttestationRepository } from "../../adapters/db/attestation-repository.js";
import { ProvenanceRepository } from "../../adapters/db/provenance-repository.js";
import type { CoreServices } from "../../main.js";
import type { IdentityServices } from "../identity/identity-services.js";
import type { GovernanceServices } from "../governance/governance-services.js";
import { AttestationService } from "./attestation-service.js";
import { ProvenanceService } from "./provenance-service.js";
import { trustedRootPath } from "./trusted-root.js";

/** The services of the decision attestations and upstream provenance feature, built after the ones it depends on. */
export interface ProofServices {
  /** Signed decision attestations of admitted files. */
  attestations: AttestationService;
  /** Upstream PEP 740 provenance, fetched and verified offline. */
  provenance: ProvenanceService;
}

/**
 * Builds the decision attestations and upstream provenance services. Background work (timers) starts in the HTTP registration, which
 * only a running gateway calls; CLI commands build services without it. Register cleanup with
 * `deps.onClose`.
 */
export async function buildProofServices(
  deps: CoreServices & IdentityServices & GovernanceServices,
): Promise<ProofServices> {
  const { config, db, keys, decisions, now, log, upstream, policy, shutdown } = deps;
  const dataDir = resolve(config.data);
  const attestations = new AttestationService({
    repo: new AttestationRepository(db.db),
    decisions,
    keys,
    now,
    log,
    baseUrl: () => (config.publicUrl || `http://${config.host}:${config.port}`).replace(/\/+$/, ""),
    basis: () => {
      const status = deps.policy.status();
      return { policyVersion: status.policyVersion, intelSnapshot: status.intelSnapshot };
    },
  });
  const provenance = new ProvenanceService({
    upstream,
    repo: new ProvenanceRepository(db.db),
    log,
    now,
    trustedRoot: () => trustedRootPath(config.sigstoreTrustedRoot, dataDir),
    signal: shutdown.signal,
  });
  policy.setProvenanceSource(provenance);
  return { attestations, provenance };
}

/** Where `portcullis provenance refresh-root` keeps a refreshed trusted root. */
export function refreshedRootPath(dataDir: string): string {
  return join(resolve(dataDir), "sigstore", "trusted_root.json");
}
