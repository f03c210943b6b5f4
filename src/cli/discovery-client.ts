import { checkInventory, type InventoryVerdict } from "../services/discovery/inventory-check.js";
import type { InventoryChecker } from "../services/discovery/scan-service.js";
import { callGateway, withLocalServices, remoteGateway } from "./local-services.js";

/** Whether local state was named (`--data`, `--database`, `--config` or their variables). */
export function localDataNamed(flags: Record<string, unknown>): boolean {
  return Boolean(
    flags.data ??
    flags.database ??
    flags.config ??
    process.env.PORTCULLIS_DATA ??
    process.env.PORTCULLIS_CONFIG,
  );
}

/**
 * Runs `fn` with a way to ask the catalog about installed distributions: the gateway's
 * `POST /api/v1/inventory/check`, the local data directory, or nothing when neither is named
 * (then every status is `unknown`).
 */
export async function withInventoryChecker<T>(
  flags: Record<string, unknown>,
  fn: (check: InventoryChecker | undefined, policyVersion: () => string | undefined) => Promise<T>,
): Promise<T> {
  const gateway = remoteGateway(flags);
  let policyVersion: string | undefined;
  if (gateway) {
    const check: InventoryChecker = async (items, opts) => {
      const res = await callGateway<{ policyVersion: string; items: InventoryVerdict[] }>(
        gateway.url,
        gateway.token,
        "api/v1/inventory/check",
        { method: "POST", body: { distributions: items, records: opts.records } },
      );
      policyVersion = res.policyVersion;
      return res.items;
    };
    return fn(check, () => policyVersion);
  }
  if (localDataNamed(flags))
    return withLocalServices(flags, (s) =>
      fn(
        (items, opts) => checkInventory(s, items, opts),
        () => s.policy.status().policyVersion,
      ),
    );
  return fn(undefined, () => undefined);
}
