import type { AuditRecorder, InventoryReader, OwnerDirectory } from "../audit-entry.js";
import type { CoreServices } from "../../main.js";

/** The services of the identity, tokens, the audit trail and inventory feature, built after the ones it depends on. */

export interface IdentityServices {
  audit: AuditRecorder;
  inventory: InventoryReader;
  owners: OwnerDirectory;
}

/**
 * Builds the identity, tokens, the audit trail and inventory services. Background work (timers) starts in the HTTP registration, which
 * only a running gateway calls; CLI commands build services without it. Register cleanup with
 * `deps.onClose`.
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars, @typescript-eslint/require-await
export async function buildIdentityServices(_deps: CoreServices): Promise<IdentityServices> {
  return {
    audit: { record() {}, async flush() {} },
    inventory: { consumersOfFiles: async () => [] },
    owners: { ownerOf: async () => null, setOwner: async () => {} },
  };
}
