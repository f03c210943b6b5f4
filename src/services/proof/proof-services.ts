import type { CoreServices } from "../../main.js";
import type { IdentityServices } from "../identity/identity-services.js";
import type { GovernanceServices } from "../governance/governance-services.js";

/** The services of the decision attestations and upstream provenance feature, built after the ones it depends on. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ProofServices {}

/**
 * Builds the decision attestations and upstream provenance services. Background work (timers) starts in the HTTP registration, which
 * only a running gateway calls; CLI commands build services without it. Register cleanup with
 * `deps.onClose`.
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars, @typescript-eslint/require-await
export async function buildProofServices(
  _deps: CoreServices & IdentityServices & GovernanceServices,
): Promise<ProofServices> {
  return {};
}
