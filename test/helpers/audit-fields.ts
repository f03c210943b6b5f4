import { repeatOffsets } from "../../src/services/audit/audit-batch-codec.js";
import type { AuditFields } from "../../src/services/audit/audit-chain.js";

/**
 * An audit record's fields for tests: a successful download of acme 1.0 by an anonymous reader
 * from 127.0.0.1, with `overrides` on top.
 * @example auditFields({ at: 1_000 + i, identity: `u${i}` })
 */
export function auditFields(overrides: Partial<AuditFields> = {}): AuditFields {
  return {
    at: 1_000,
    action: "file.download",
    identity: null,
    role: "reader",
    team: null,
    token_id: null,
    ip: "127.0.0.1",
    application: null,
    client_json: null,
    project: "acme",
    version: "1.0",
    filename: "acme-1.0-py3-none-any.whl",
    sha256: "a".repeat(64),
    outcome: "ok",
    status: 200,
    detail_json: null,
    ...overrides,
  };
}

/**
 * Records as the accesses they stand for: a record with repeats (`repeats_json`) becomes one
 * record per access, each at its own time and without `repeats_json`, in the order they came
 * within each record. For tests that count or list accesses.
 */
export function accessesOf<R extends AuditFields>(records: readonly R[]): R[] {
  const out: R[] = [];
  for (const r of records) {
    const { repeats_json, ...one } = r;
    out.push(one as R);
    if (repeats_json)
      for (const offset of repeatOffsets(repeats_json)) out.push({ ...one, at: r.at + offset } as R);
  }
  return out;
}
