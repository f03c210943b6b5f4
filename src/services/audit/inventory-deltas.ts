import type { InventoryDelta } from "../../adapters/db/audit-repository.js";
import { clientLabel } from "../../domain/user-agent.js";
import { repeatOffsets, type EncodedAuditBatch } from "./audit-batch-codec.js";
import type { AuditFields } from "./audit-chain.js";

/** Whether a batch may hold a download (its strings name the action): only then has it inventory deltas. */
export function holdsDownloads(batch: EncodedAuditBatch): boolean {
  return batch.strings.includes(DOWNLOAD);
}

const DOWNLOAD = "file.download";

/**
 * Successful file downloads (not HEAD, not metadata) aggregated per consumer and file; a record
 * with repeats counts each of them, at its own time.
 */
export function inventoryDeltas(batch: AuditFields[]): InventoryDelta[] {
  const byKey = new Map<string, InventoryDelta>();
  for (const r of batch) {
    if (r.action !== DOWNLOAD || r.outcome !== "ok" || !r.sha256 || !r.project) continue;
    const identity = r.identity ?? "";
    const application = r.application ?? "";
    const key = `${identity}\u0000${r.ip}\u0000${application}\u0000${r.sha256}`;
    let pulls = 1;
    let first = r.at;
    let last = r.at;
    if (r.repeats_json) {
      for (const offset of repeatOffsets(r.repeats_json)) {
        pulls += 1;
        first = Math.min(first, r.at + offset);
        last = Math.max(last, r.at + offset);
      }
    }
    const hit = byKey.get(key);
    if (hit) {
      hit.pulls += pulls;
      hit.last_pulled = Math.max(hit.last_pulled, last);
      hit.first_pulled = Math.min(hit.first_pulled, first);
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
      first_pulled: first,
      last_pulled: last,
      pulls,
    });
  }
  return [...byKey.values()];
}
