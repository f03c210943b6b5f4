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
