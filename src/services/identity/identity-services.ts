import { AuditRepository, type CheckpointSigner } from "../../adapters/db/audit-repository.js";
import { IdentityRepository } from "../../adapters/db/identity-repository.js";
import { InventoryRepository } from "../../adapters/db/inventory-repository.js";
import type { Actor } from "../../domain/identity.js";
import type { CoreServices } from "../../main.js";
import { join, resolve } from "node:path";
import { FileAuditSpool } from "../../adapters/audit-spool/file-audit-spool.js";
import { ThreadAuditWriter } from "../../adapters/db/audit-writer-thread.js";
import { AuditTrail } from "../audit/audit-trail.js";
import { inlineAuditWriter } from "../audit/audit-writer.js";
import { createAuditSinks } from "../audit/audit-sinks.js";

import { IdentityService } from "./identity-service.js";
import { InventoryService } from "./inventory-service.js";

/** The services of the identity, tokens, the audit trail and inventory feature, built after the ones it depends on. */
export interface IdentityServices {
  /** The audit trail's write side (AuditRecorder): batched, hash-chained, feeds the inventory. */
  audit: AuditTrail;
  /** Who pulled what (InventoryReader), who-has and drift. */
  inventory: InventoryService;
  /** Project owners (OwnerDirectory); the same object as `identity`. */
  owners: IdentityService;
  /** Users, teams, service accounts and API tokens. */
  identity: IdentityService;
  /** The audit log's read side: verify, export, queries. */
  auditLog: AuditRepository;
}

/** Records a block holds at most (`audit.storage batches`): what `audit verify` names at worst. */
const BLOCK_RECORDS = 2_000;

/** The actor of decisions the policy engine takes on its own (re-evaluation). */
const POLICY_ACTOR: Actor = {
  user: "policy",
  role: "admin",
  team: null,
  tokenId: null,
  ip: "gateway",
  application: null,
  client: null,
};

/**
 * Builds the identity, tokens, the audit trail and inventory services. Background work (the audit
 * flush timer) starts in the HTTP registration, which only a running gateway calls; CLI commands
 * build services without it and flush on close.
 */
export async function buildIdentityServices(
  deps: CoreServices,
  opts: { auditQueueRecords?: number } = {},
): Promise<IdentityServices> {
  const { db, now, log, keys, policy, config } = deps;
  const auditLog = new AuditRepository(db.db, db.dialect);
  let publicPem: { keyid: string; pem: string } | undefined;
  const signer: CheckpointSigner = {
    sign(message) {
      const { keyid, sig } = keys.sign(message);
      if (publicPem?.keyid !== keyid) {
        const pem = keys.publicKeys().find((k) => k.keyid === keyid)?.pem ?? "";
        publicPem = { keyid, pem };
      }
      return { keyid, publicKeyPem: publicPem.pem, signature: sig.toString("base64") };
    },
  };
  const sinks = config.auditSinks.length ? await createAuditSinks(config.auditSinks, log) : [];
  const audit = new AuditTrail({
    writer: inlineAuditWriter(auditLog, signer, config.auditStorage),
    // Once started (a serving gateway): records a keyless CLI command left unsigned are signed too.
    watchOthers: true,
    // A running gateway writes the trail on a thread of its own (an in-memory SQLite database
    // cannot be shared with one and stays inline).
    background: () => {
      const database = db.reopen;
      return database
        ? new ThreadAuditWriter({
            database,
            key: keys.activeSigningKey(),
            log,
            priority: config.auditWriterPriority,
            storage: config.auditStorage,
          })
        : undefined;
    },
    // Only a running gateway opens it (at `start`): the database refusing writes for minutes, or
    // down at a stop, costs no records.
    spool: () =>
      new FileAuditSpool(
        join(resolve(config.data), "audit-spool"),
        process.pid,
        config.auditSpoolMaxMb * 1024 * 1024,
      ),
    now,
    log,
    sinks,
    maxPending: opts.auditQueueRecords,
    // A block's fixed cost (its transaction, the head, its key rows: ~0.45 ms) over more records;
    // rows are written a row each, and stay in batches of 500.
    ...(config.auditStorage === "batches" ? { batchSize: BLOCK_RECORDS } : {}),
  });
  const identity = new IdentityService({ repo: new IdentityRepository(db.db), now, audit });
  const inventory = new InventoryService({
    repo: new InventoryRepository(db.db),
    advisories: (id) => policy.intelState.index.lookup(id),
    refusesEveryVersion: (id, project) => policy.refusesEveryVersion(id, project),
    owners: (projects) => identity.ownersOf(projects),
    now,
  });
  // Every decision change (re-evaluation after new intel, an exception, a policy change) is audited.
  const unsubscribe = policy.onDecisionChanged((events) => {
    for (const e of events) {
      audit.record({
        action: "decision.changed",
        actor: POLICY_ACTOR,
        outcome: e.to,
        project: e.project,
        version: e.version,
        filename: e.filename,
        sha256: e.sha256,
        detail: { from: e.from, reasons: e.reasons.map((r) => `${r.check}: ${r.message}`).slice(0, 10) },
      });
    }
  });
  deps.onClose(async () => {
    unsubscribe();
    await audit.close();
  });
  return { audit, inventory, owners: identity, identity, auditLog };
}
