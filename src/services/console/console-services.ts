import type { CoreServices } from "../../main.js";
import type { IdentityServices } from "../identity/identity-services.js";
import type { GovernanceServices } from "../governance/governance-services.js";
import type { ProofServices } from "../proof/proof-services.js";
import type { DiscoveryServices } from "../discovery/discovery-services.js";

/** The services of the requests and approvals feature, built after the ones it depends on. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ConsoleServices {}

/**
 * Builds the requests and approvals services. Background work (timers) starts in the HTTP registration, which
 * only a running gateway calls; CLI commands build services without it. Register cleanup with
 * `deps.onClose`.
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars, @typescript-eslint/require-await
export async function buildConsoleServices(
  _deps: CoreServices & IdentityServices & GovernanceServices & ProofServices & DiscoveryServices,
): Promise<ConsoleServices> {
  return {};
}
