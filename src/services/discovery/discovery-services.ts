import type { CoreServices } from "../../main.js";
import { EnvironmentRepository } from "../../adapters/db/environment-repository.js";
import type { IdentityServices } from "../identity/identity-services.js";
import type { GovernanceServices } from "../governance/governance-services.js";
import type { ProofServices } from "../proof/proof-services.js";

/** The services of the SBOMs, locks and environments reported by scan feature, built after the ones it depends on. */
export interface DiscoveryServices {
  /** Environments reported by `portcullis scan --report`. */
  environments: EnvironmentRepository;
}

/**
 * Builds the SBOMs, locks and environments reported by scan services. Background work (timers) starts in the HTTP registration, which
 * only a running gateway calls; CLI commands build services without it. Register cleanup with
 * `deps.onClose`.
 */
export async function buildDiscoveryServices(
  deps: CoreServices & IdentityServices & GovernanceServices & ProofServices,
): Promise<DiscoveryServices> {
  return { environments: new EnvironmentRepository(deps.db.db) };
}
