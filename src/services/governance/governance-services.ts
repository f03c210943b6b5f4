import type { CoreServices } from "../../main.js";
import type { IdentityServices } from "../identity/identity-services.js";

/** The services of the owners, remediation items and webhooks feature, built after the ones it depends on. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface GovernanceServices {}

/**
 * Builds the owners, remediation items and webhooks services. Background work (timers) starts in the HTTP registration, which
 * only a running gateway calls; CLI commands build services without it. Register cleanup with
 * `deps.onClose`.
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars, @typescript-eslint/require-await
export async function buildGovernanceServices(
  _deps: CoreServices & IdentityServices,
): Promise<GovernanceServices> {
  return {};
}
