import type { InventoryDelta } from "../../adapters/db/audit-repository.js";
import { clientLabel } from "../../domain/user-agent.js";
import type { AuditFields } from "./audit-chain.js";

/** Successful file downloads (not HEAD, not metadata) aggregated per consumer and file. */
export function inventoryDeltas(batch: AuditFields[]): InventoryDelta[] {
  const byKey = new Map<string, InventoryDelta>();
  for (const r of batch) {
    if (r.action !== "file.download" || r.outcome !== "ok" || !r.sha256 || !r.project) continue;
    const identity = r.identity ?? "";
    const application = r.application ?? "";
    const key = `${identity}\u0000${r.ip}\u0000${application}\u0000${r.sha256}`;
    const hit = byKey.get(key);
    if (hit) {
      hit.pulls += 1;
      hit.last_pulled = Math.max(hit.last_pulled, r.at);
      hit.first_pulled = Math.min(hit.first_pulled, r.at);
      continue;
    }
    let client: string | null = null;
    if (r.client_json) {
      try {
        // inventory.client is 200 characters; a label is two fields of up to 100 and a space.
        client =
          clientLabel(JSON.parse(r.client_json) as Parameters<typeof clientLabel>[0])?.slice(0, 200) ?? null;
      } catch {
        client = null;
      }
    }
    byKey.set(key, {
      identity,
      team: r.team,
      ip: r.ip,
      application,
      client,
      sha256: r.sha256,
      project: r.project,
      version: r.version ?? "",
      filename: r.filename ?? "",
      first_pulled: r.at,
      last_pulled: r.at,
      pulls: 1,
    });
  }
  return [...byKey.values()];
}
