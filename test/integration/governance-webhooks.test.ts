/**
 * Webhook deliveries against a real receiver on loopback and a real database (SQLite and
 * PostgreSQL): signed bodies, retries with exponential back-off on a fake clock, the delivery log.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { startTestGateway } from "../helpers/test-gateway.js";
import { loadConfig } from "../../src/config/options.js";
import { buildServices } from "../../src/main.js";
import { DIALECTS, dialectSkip, openTestDatabase } from "../helpers/databases.js";
import { WebhookRepository } from "../../src/adapters/db/webhook-repository.js";
import { DecisionRepository } from "../../src/adapters/db/decision-repository.js";
import type { Decision, Reason } from "../../src/policy/decision.js";
import { DecisionEventRelay } from "../../src/services/governance/decision-event-relay.js";
import { DecisionNotifier } from "../../src/services/governance/decision-notifier.js";
import { RemediationService } from "../../src/services/governance/remediation-service.js";
import { RemediationRepository } from "../../src/adapters/db/remediation-repository.js";
import { IdentityRepository } from "../../src/adapters/db/identity-repository.js";
import { parsePolicy } from "../../src/policy/policy-schema.js";
import { EventBus, type GatewayEvent } from "../../src/services/event-bus.js";
import {
  WebhookConflictError,
  WebhookDispatcher,
  WebhookService,
} from "../../src/services/governance/webhook-service.js";
import { CLI_ACTOR } from "../../src/domain/identity.js";
import { CliError } from "../../src/cli/cli-error.js";
import { bearer, createToken } from "../helpers/identity.js";
import { refusingUrl, signatureValid, startWebhookReceiver } from "./governance-webhook-receiver.js";
import { governanceCli as cli } from "../helpers/governance-cli.js";

const SECRET = "a-long-shared-secret-1234";
const log = pino({ level: "silent" });
const audit = { record() {}, async flush() {} };

const vulnerable: Reason = {
  check: "vulnerability",
  outcome: "fail",
  action: "block",
  mode: "enforce",
  message: "1 known vulnerability (PYSEC-2099-7)",
  ids: ["PYSEC-2099-7"],
  evidence: [],
};

const blocked: GatewayEvent = {
  type: "file.blocked",
  sha256: "c".repeat(64),
  project: "acme-widgets",
  version: "1.0",
  filename: "acme_widgets-1.0-py3-none-any.whl",
  from: "admitted",
  reasons: [vulnerable],
  at: "2026-11-27T12:00:00.000Z",
};

/** A check for `assert.rejects`: a CliError with this exit code whose message matches. */
function cliError(exitCode: number, message: RegExp) {
  return (err: unknown): boolean => {
    assert.equal(err instanceof CliError, true, `a CliError, got ${String(err)}`);
    assert.equal((err as CliError).exitCode, exitCode, `exit code of: ${(err as Error).message}`);
    assert.match((err as Error).message, message);
    return true;
  };
}

/**
 * A stored decision for `project` `version`, admitted or blocked (by PYSEC-2099-7, or by
 * `reasons`).
 */
function decision(
  project: string,
  version: string,
  outcome: "admitted" | "blocked",
  at: string,
  reasons: Reason[] = [vulnerable],
): Decision {
  return {
    sha256: `${project}-${version}-`.padEnd(64, "0"),
    filename: `${project}-${version}-py3-none-any.whl`,
    project,
    version,
    outcome,
    score: outcome === "blocked" ? 90 : 0,
    reasons: outcome === "blocked" ? reasons : [],
    policyVersion: "p1",
    intelSnapshot: outcome === "blocked" ? "intel-2" : "intel-1",
    decidedAt: at,
    stage: "full",
  };
}

for (const dialect of DIALECTS) {
  const skip = await dialectSkip(dialect);

  test(
    `a re-evaluation refusing many files sends one signed files.blocked digest per webhook; a small one, one delivery per file (${dialect})`,
    { skip },
    async () => {
      const db = await openTestDatabase(dialect);
      const all = await startWebhookReceiver();
      const chat = await startWebhookReceiver();
      const digestOnly = await startWebhookReceiver();
      try {
        const clock = Date.parse("2026-11-27T12:00:00Z");
        const now = () => clock;
        const repo = new WebhookRepository(db.db);
        const decisions = new DecisionRepository(db.db);
        const webhooks = new WebhookService({ repo, audit, log, now });
        const bus = new EventBus();
        bus.subscribe((e) => webhooks.enqueueLater(e));
        const notifier = new DecisionNotifier({
          events: bus,
          inventory: { consumersOfFiles: () => Promise.resolve([]) },
          log,
          advisoryIds: (r) => r.ids ?? [],
        });
        // As a running gateway wires it (governance-services.ts).
        const handle = async (changes: Parameters<DecisionNotifier["handle"]>[0]) => {
          await notifier.handle(changes);
          await webhooks.flush();
        };
        const relay = new DecisionEventRelay({ source: decisions, handle, log, now });
        const dispatcher = new WebhookDispatcher({ repo, log, now, random: () => 0 });
        const sendAll = async () => {
          while ((await dispatcher.runOnce()) > 0);
        };
        await webhooks.add({ url: all.url, secret: SECRET }, CLI_ACTOR);
        await webhooks.add(
          { url: chat.url, secret: SECRET, format: "slack", events: ["file.blocked"] },
          CLI_ACTOR,
        );
        await webhooks.add({ url: digestOnly.url, secret: SECRET, events: ["files.blocked"] }, CLI_ACTOR);

        const versions = (n: number) => Array.from({ length: n }, (_, i) => `1.${i}`);
        const catalog = [
          ...versions(40).map((v) => ["acme", v] as const),
          ...versions(23).map((v) => ["widgets", v] as const),
        ];
        for (const [p, v] of catalog)
          await decisions.put(decision(p, v, "admitted", "2026-11-01T00:00:00.000Z"));
        relay.kick();
        await relay.flush();
        await sendAll();
        assert.equal(all.received.length, 0, "admissions tell nothing");

        // An intel import: the re-evaluation blocks 60 of the admitted files at once.
        for (const [p, v] of catalog.slice(0, 60))
          await decisions.put(decision(p, v, "blocked", "2026-11-27T12:00:00.000Z"));
        relay.kick();
        await relay.flush();
        await sendAll();

        const types = (r: typeof all) => r.received.map((x) => x.headers["x-portcullis-event"]).sort();
        assert.deepEqual(
          types(all),
          ["advisory.affects", "advisory.affects", "files.blocked"],
          "one digest (and advisory.affects per project, as before) instead of 60 file.blocked",
        );
        assert.deepEqual(types(chat), ["files.blocked"], "a file.blocked subscriber gets the digest");
        assert.deepEqual(types(digestOnly), ["files.blocked"]);
        for (const r of [...all.received, ...chat.received, ...digestOnly.received])
          assert.equal(
            signatureValid(r, SECRET),
            true,
            `X-Portcullis-Signature verifies: ${r.body.slice(0, 80)}`,
          );
        const digest = all.received.find((r) => r.headers["x-portcullis-event"] === "files.blocked")!;
        const body = JSON.parse(digest.body) as {
          id: string;
          type: string;
          data: {
            count: number;
            admittedBefore: number;
            byProject: unknown;
            byReason: unknown;
            files: { project: string; version: string }[];
          };
        };
        assert.equal(body.type, "files.blocked");
        assert.equal(digest.headers["x-portcullis-delivery"], body.id);
        assert.equal(body.data.count, 60);
        assert.equal(body.data.admittedBefore, 60);
        assert.deepEqual(body.data.byProject, [
          { project: "acme", count: 40 },
          { project: "widgets", count: 20 },
        ]);
        assert.deepEqual(body.data.byReason, [{ reason: "PYSEC-2099-7", check: "vulnerability", count: 60 }]);
        assert.equal(body.data.files.length, 50, "the first 50 files");
        assert.deepEqual(body.data.files[0], {
          sha256: "acme-1.0-".padEnd(64, "0"),
          project: "acme",
          version: "1.0",
          filename: "acme-1.0-py3-none-any.whl",
        });
        const text = (JSON.parse(chat.received[0]!.body) as { text: string }).text;
        assert.match(
          text,
          /^:no_entry: 60 files are now refused \(60 of them admitted before\)\. By project: acme 40, widgets 20\. By reason: PYSEC-2099-7 60\. First: acme-1\.0-py3-none-any\.whl \(acme 1\.0\);.* and 55 more\.$/,
        );

        // Another instance takes in the same changes (or this one again, after a crash before
        // marking them): the same digest, not sent again.
        const taken = await db.db
          .selectFrom("decision_events")
          .select("id")
          .where("to_outcome", "=", "blocked")
          .execute();
        assert.equal(taken.length, 60);
        await db.db.updateTable("decision_events").set({ handled_at: null }).execute();
        relay.kick();
        await relay.flush();
        await sendAll();
        assert.equal(
          all.received.length + chat.received.length + digestOnly.received.length,
          5,
          "nothing sent twice",
        );

        // A small re-evaluation: told file by file, as before.
        for (const [p, v] of catalog.slice(60))
          await decisions.put(decision(p, v, "blocked", "2026-11-27T13:00:00.000Z"));
        relay.kick();
        await relay.flush();
        await sendAll();
        const perFile = (r: typeof all) =>
          r.received
            .filter((x) => x.headers["x-portcullis-event"] === "file.blocked")
            .map((x) => (JSON.parse(x.body) as { data?: { version: string } }).data?.version ?? "slack");
        assert.deepEqual(perFile(all).sort(), ["1.20", "1.21", "1.22"], "three file.blocked deliveries");
        assert.equal(perFile(chat).length, 3);
        assert.equal(digestOnly.received.length, 1, "a digest-only webhook hears nothing of a small one");
        for (const r of [...all.received, ...chat.received])
          assert.equal(signatureValid(r, SECRET), true, "every delivery is signed");
      } finally {
        await Promise.all([all.close(), chat.close(), digestOnly.close()]);
        await db.cleanup();
      }
    },
  );

  test(
    `a re-evaluation opening many remediation items sends one signed remediations.opened digest per webhook; 20, one delivery per item (${dialect})`,
    { skip },
    async () => {
      const db = await openTestDatabase(dialect);
      const all = await startWebhookReceiver();
      const chat = await startWebhookReceiver();
      const digestOnly = await startWebhookReceiver();
      try {
        const clock = Date.parse("2026-11-27T12:00:00Z");
        const now = () => clock;
        const repo = new WebhookRepository(db.db);
        const decisions = new DecisionRepository(db.db);
        const identities = new IdentityRepository(db.db);
        const webhooks = new WebhookService({ repo, audit, log, now });
        const bus = new EventBus();
        const published: GatewayEvent[] = [];
        bus.subscribe((e) => void published.push(e));
        bus.subscribe((e) => webhooks.enqueueLater(e));
        const remediation = new RemediationService({
          repo: new RemediationRepository(db.db),
          inventory: { consumersOfFiles: () => Promise.resolve([]) },
          owners: {
            ownerOf: (project) => identities.ownerOf(project),
            setOwner: (project, team, actor) => identities.setOwner(project, team, actor.user ?? "?", clock),
          },
          audit,
          events: bus,
          log,
          now,
          settings: () => parsePolicy("version: 1\n").doc.remediation,
          advisoryIds: (r) => r.ids ?? [],
        });
        // As a running gateway wires it (governance-services.ts).
        const handle = async (changes: Parameters<RemediationService["handle"]>[0]) => {
          await remediation.handle(changes);
          await webhooks.flush();
        };
        const relay = new DecisionEventRelay({ source: decisions, handle, log, now });
        const dispatcher = new WebhookDispatcher({ repo, log, now, random: () => 0 });
        const sendAll = async () => {
          while ((await dispatcher.runOnce()) > 0);
        };
        await webhooks.add({ url: all.url, secret: SECRET }, CLI_ACTOR);
        await webhooks.add(
          { url: chat.url, secret: SECRET, format: "slack", events: ["remediation.opened"] },
          CLI_ACTOR,
        );
        await webhooks.add(
          { url: digestOnly.url, secret: SECRET, events: ["remediations.opened"] },
          CLI_ACTOR,
        );
        await identities.setOwner("acme", "team-acme", "root", clock);

        const versions = (n: number) => Array.from({ length: n }, (_, i) => `1.${i}`);
        const catalog = [
          ...versions(40).map((v) => ["acme", v] as const),
          ...versions(40).map((v) => ["widgets", v] as const),
        ];
        for (const [p, v] of catalog)
          await decisions.put(decision(p, v, "admitted", "2026-11-01T00:00:00.000Z"));
        relay.kick();
        await relay.flush();
        await sendAll();
        assert.equal(all.received.length, 0, "admissions open nothing");

        // An intel import: the re-evaluation blocks 60 admitted files at once, 5 of them for a
        // malicious report (critical), the rest for an advisory of no severity (the default, medium).
        const malicious: Reason = {
          ...vulnerable,
          check: "malicious",
          message: "MAL-2026-1",
          ids: ["MAL-2026-1"],
        };
        for (const [i, [p, v]] of catalog.slice(0, 60).entries())
          await decisions.put(
            decision(
              p,
              v,
              "blocked",
              "2026-11-27T12:00:00.000Z",
              i >= 35 && i < 40 ? [malicious] : [vulnerable],
            ),
          );
        relay.kick();
        await relay.flush();
        await sendAll();

        assert.deepEqual(
          published.map((e) => e.type),
          ["remediations.opened"],
          "one digest on the bus instead of 60 remediation.opened",
        );
        const types = (r: typeof all) => r.received.map((x) => x.headers["x-portcullis-event"]);
        assert.deepEqual(types(all), ["remediations.opened"]);
        assert.deepEqual(
          types(chat),
          ["remediations.opened"],
          "a remediation.opened subscriber gets the digest",
        );
        assert.deepEqual(types(digestOnly), ["remediations.opened"]);
        for (const r of [...all.received, ...chat.received, ...digestOnly.received])
          assert.equal(
            signatureValid(r, SECRET),
            true,
            `X-Portcullis-Signature verifies: ${r.body.slice(0, 80)}`,
          );
        const delivered = all.received[0]!;
        const body = JSON.parse(delivered.body) as {
          id: string;
          type: string;
          data: Extract<GatewayEvent, { type: "remediations.opened" }>;
        };
        assert.equal(body.type, "remediations.opened");
        assert.equal(delivered.headers["x-portcullis-delivery"], body.id);
        const critical = new Date(clock + 2 * 86_400_000).toISOString();
        const medium = new Date(clock + 30 * 86_400_000).toISOString();
        assert.equal(body.data.count, 60);
        assert.deepEqual(body.data.bySeverity, [
          { severity: "critical", count: 5 },
          { severity: "medium", count: 55 },
        ]);
        assert.deepEqual(body.data.byOwner, [{ owner: "team-acme", count: 40 }]);
        assert.equal(body.data.unowned, 20, "the widgets items: no owner");
        assert.equal(body.data.earliestDue, critical);
        assert.equal(body.data.items.length, 50, "the first 50 items");
        const items = await remediation.list({ limit: 500 });
        assert.equal(items.length, 60, "every item opened");
        const idOf = (project: string, version: string) =>
          items.find((i) => i.project === project && i.version === version)!.id;
        assert.deepEqual(
          body.data.items[0],
          {
            itemId: idOf("acme", "1.35"),
            project: "acme",
            version: "1.35",
            severity: "critical",
            owner: "team-acme",
            due: critical,
          },
          "the most urgent first",
        );
        assert.deepEqual(
          body.data.items.slice(4, 7).map((i) => [i.project, i.version, i.severity, i.due]),
          [
            ["acme", "1.39", "critical", critical],
            ["acme", "1.0", "medium", medium],
            ["acme", "1.1", "medium", medium],
          ],
        );
        assert.deepEqual(body.data, published[0], "the event as published");
        const text = (JSON.parse(chat.received[0]!.body) as { text: string }).text;
        assert.match(
          text,
          /^:hammer_and_wrench: 60 remediation items opened\. By severity: critical 5, medium 55\. By owner: team-acme 40; 20 with no owner\. Earliest due 2026-11-29T12:00:00\.000Z\. First: #\d+ acme 1\.35 \(critical, owner team-acme, due 2026-11-29T12:00:00\.000Z\);.* and 55 more\.$/,
        );

        // The same digest told again (another instance, or this one after a crash before the
        // changes were marked): the same batch, not delivered again.
        await webhooks.enqueue({ ...published[0]! });
        await sendAll();
        assert.equal(
          all.received.length + chat.received.length + digestOnly.received.length,
          3,
          "nothing sent twice",
        );

        // A re-evaluation opening exactly 20 items: told item by item, as before.
        for (const [p, v] of catalog.slice(60))
          await decisions.put(decision(p, v, "blocked", "2026-11-27T13:00:00.000Z"));
        relay.kick();
        await relay.flush();
        await sendAll();
        assert.equal(
          published.slice(1).filter((e) => e.type === "remediation.opened").length,
          20,
          "20 remediation.opened events",
        );
        assert.equal(published.length, 21, "and no digest");
        const perItem = (r: typeof all) =>
          r.received.filter((x) => x.headers["x-portcullis-event"] === "remediation.opened");
        assert.deepEqual(
          perItem(all)
            .map((x) => (JSON.parse(x.body) as { data: { version: string } }).data.version)
            .sort(),
          versions(40).slice(20).sort(),
          "20 remediation.opened deliveries, one per item",
        );
        assert.equal(perItem(chat).length, 20);
        assert.equal(digestOnly.received.length, 1, "a digest-only webhook hears nothing of a small one");
        for (const r of [...all.received, ...chat.received])
          assert.equal(signatureValid(r, SECRET), true, "every delivery is signed");
      } finally {
        await Promise.all([all.close(), chat.close(), digestOnly.close()]);
        await db.cleanup();
      }
    },
  );

  test(
    `items opened before a change that fails are still told, in one digest when many (${dialect})`,
    { skip },
    async () => {
      const db = await openTestDatabase(dialect);
      try {
        const clock = Date.parse("2026-11-27T12:00:00Z");
        const bus = new EventBus();
        const published: GatewayEvent[] = [];
        bus.subscribe((e) => void published.push(e));
        const identities = new IdentityRepository(db.db);
        const remediation = new RemediationService({
          repo: new RemediationRepository(db.db),
          inventory: { consumersOfFiles: () => Promise.resolve([]) },
          owners: {
            // The owner directory fails for one project (its database call, say).
            ownerOf: (project) =>
              project === "broken"
                ? Promise.reject(new Error("owner lookup failed"))
                : identities.ownerOf(project),
            setOwner: () => Promise.reject(new Error("not used")),
          },
          audit,
          events: bus,
          log,
          now: () => clock,
          settings: () => parsePolicy("version: 1\n").doc.remediation,
          advisoryIds: (r) => r.ids ?? [],
        });
        const change = (project: string, version: string, id: number) => ({
          ...decision(project, version, "blocked", "2026-11-27T12:00:00.000Z"),
          id,
          from: "admitted" as const,
          to: "blocked" as const,
          at: "2026-11-27T12:00:00.000Z",
        });
        const changes = [
          ...Array.from({ length: 24 }, (_, i) => change("acme", `1.${i}`, i + 1)),
          change("broken", "1.0", 25),
          change("widgets", "1.0", 26),
        ];
        await assert.rejects(remediation.handle(changes), /owner lookup failed/);
        // Taken in again, the 24 would not open (nor be told) again: they are told now.
        assert.deepEqual(
          published.map((e) => (e.type === "remediations.opened" ? `${e.type} ${e.count}` : e.type)),
          ["remediations.opened 24"],
        );
      } finally {
        await db.cleanup();
      }
    },
  );

  test(
    `a delivery in flight keeps its lease: another instance never sends it again, however long the send lasts (${dialect})`,
    { skip },
    async () => {
      const db = await openTestDatabase(dialect);
      const receiver = await startWebhookReceiver({ held: true });
      try {
        let clock = Date.parse("2026-11-27T12:00:00Z");
        const now = () => clock;
        const repo = new WebhookRepository(db.db);
        const service = new WebhookService({ repo, audit, log, now });
        const first = new WebhookDispatcher({
          repo,
          log,
          now,
          timeoutMs: 5_000,
          renewEveryMs: 10,
          instance: "first",
        });
        const second = new WebhookDispatcher({ repo, log, now, timeoutMs: 5_000, instance: "second" });
        const hook = await service.add({ url: receiver.url, secret: SECRET }, CLI_ACTOR);
        await service.enqueue(blocked);

        const sending = first.runOnce();
        await receiver.waitFor(1);
        // The request is still open while, on the database's clock, ten minutes pass: far more
        // than the attempt's time-out and any lease taken at the claim.
        clock += 600_000;
        const leasedUntil = async () =>
          Number(
            (await db.db.selectFrom("webhook_deliveries").select("claimed_until").executeTakeFirstOrThrow())
              .claimed_until,
          );
        for (let i = 0; i < 300 && (await leasedUntil()) <= clock; i++)
          await new Promise((resolve) => setTimeout(resolve, 10));
        assert.equal(await second.runOnce(), 0, "the delivery being sent is not claimed by another instance");
        assert.equal(receiver.received.length, 1, "and not sent a second time");

        receiver.release();
        assert.equal(await sending, 1, "the first instance's attempt completes");
        const [d] = (await service.deliveries(hook.id))!;
        assert.equal(d!.state, "delivered");
        assert.equal(d!.attempts, 1, "one attempt in all");
        assert.deepEqual(
          d!.log.map((a) => a.status),
          [204],
        );
        assert.equal(await leasedUntil(), 0, "the lease is let go once the attempt is recorded");
        clock += 3_600_000;
        assert.equal(await second.runOnce(), 0, "delivered: never sent again");
        assert.equal(receiver.received.length, 1);
      } finally {
        receiver.release();
        await receiver.close();
        await db.cleanup();
      }
    },
  );

  test(
    `an overdue notice sent again after an item reopens is delivered again; the same notice once (${dialect})`,
    { skip },
    async () => {
      const db = await openTestDatabase(dialect);
      try {
        const service = new WebhookService({ repo: new WebhookRepository(db.db), audit, log, now: Date.now });
        const hook = await service.add({ url: "http://127.0.0.1:1/hook", secret: SECRET }, CLI_ACTOR);
        const overdue: GatewayEvent = {
          type: "remediation.overdue",
          itemId: 7,
          project: "acme",
          version: "1.0",
          severity: "high",
          owner: null,
          due: "2026-11-20T00:00:00.000Z",
          at: "2026-11-21T00:00:00.000Z",
        };
        await service.enqueue(overdue);
        await service.enqueue({ ...overdue }); // the same notice, seen twice
        // Accepted, expired, reopened: overdue again, told again.
        await service.enqueue({ ...overdue, at: "2026-12-01T00:00:00.000Z" });
        const deliveries = (await service.deliveries(hook.id))!;
        assert.equal(deliveries.filter((d) => d.eventType === "remediation.overdue").length, 2);
      } finally {
        await db.cleanup();
      }
    },
  );

  test(
    `the same URL with the same events is refused as a duplicate, also when added twice at once (${dialect})`,
    { skip },
    async () => {
      const db = await openTestDatabase(dialect);
      try {
        const service = new WebhookService({ repo: new WebhookRepository(db.db), audit, log, now: Date.now });
        const url = "http://127.0.0.1:1/hook";
        const all = await service.add({ url, secret: SECRET }, CLI_ACTOR);
        await assert.rejects(
          service.add({ url, secret: "another-secret-entirely", format: "slack" }, CLI_ACTOR),
          (err: unknown) => {
            assert.equal(err instanceof WebhookConflictError, true, `a conflict, got ${String(err)}`);
            assert.equal((err as WebhookConflictError).existingId, all.id);
            assert.match(
              (err as Error).message,
              new RegExp(`^webhook ${all.id} already sends every event to`),
            );
            return true;
          },
        );
        const some = await service.add(
          { url, secret: SECRET, events: ["file.blocked", "advisory.affects"] },
          CLI_ACTOR,
        );
        await assert.rejects(
          service.add({ url, secret: SECRET, events: ["advisory.affects", "file.blocked"] }, CLI_ACTOR),
          new RegExp(
            `webhook ${some.id} already sends the same events \\(advisory\\.affects, file\\.blocked\\)`,
          ),
          "the same set in another order is the same webhook",
        );
        await service.add({ url, secret: SECRET, events: ["file.blocked"] }, CLI_ACTOR);
        await service.add({ url: "http://127.0.0.1:1/other", secret: SECRET }, CLI_ACTOR);

        const raced = await Promise.allSettled(
          Array.from({ length: 8 }, () =>
            service.add(
              { url: "http://127.0.0.1:1/raced", secret: SECRET, events: ["request.pending"] },
              CLI_ACTOR,
            ),
          ),
        );
        assert.equal(raced.filter((r) => r.status === "fulfilled").length, 1, "added once");
        for (const r of raced.filter((r) => r.status === "rejected"))
          assert.equal(r.reason instanceof WebhookConflictError, true, `a conflict, got ${String(r.reason)}`);
        assert.equal((await service.list()).length, 5);

        await service.remove(all.id, CLI_ACTOR);
        const again = await service.add({ url, secret: "a-new-secret-for-it-0123" }, CLI_ACTOR);
        assert.notEqual(again.id, all.id, "once removed, it may be registered again");
      } finally {
        await db.cleanup();
      }
    },
  );

  test(
    `a receiver gets a signed message; 500s are retried with back-off and logged (${dialect})`,
    { skip },
    async () => {
      const db = await openTestDatabase(dialect);
      const receiver = await startWebhookReceiver({ statuses: [500, 500, 204] });
      try {
        let clock = Date.parse("2026-11-27T12:00:00Z");
        const now = () => clock;
        const repo = new WebhookRepository(db.db);
        const service = new WebhookService({ repo, audit, log, now });
        const bus = new EventBus();
        bus.subscribe((e) => service.enqueueLater(e));
        const dispatcher = new WebhookDispatcher({ repo, log, now, random: () => 0, timeoutMs: 5000 });
        const hook = await service.add({ url: receiver.url, secret: SECRET }, CLI_ACTOR);
        const slack = await service.add(
          {
            url: receiver.url.replace("/hook", "/slack"),
            secret: SECRET,
            format: "slack",
            events: ["advisory.affects"],
          },
          CLI_ACTOR,
        );

        bus.publish(blocked);
        bus.publish(blocked); // seen twice (two instances): delivered once
        await service.flush();
        assert.equal(await dispatcher.runOnce(), 1, "one delivery; the Slack hook did not subscribe");
        assert.equal(receiver.received.length, 1);
        const first = receiver.received[0]!;
        assert.ok(
          signatureValid(first, SECRET),
          "X-Portcullis-Signature is the HMAC-SHA256 of the exact body",
        );
        assert.equal(signatureValid(first, "another-secret-entirely"), false);
        assert.equal(first.headers["x-portcullis-event"], "file.blocked");
        assert.equal(first.headers["content-type"], "application/json");
        const body = JSON.parse(first.body) as { id: string; type: string; data: { sha256: string } };
        assert.equal(body.type, "file.blocked");
        assert.equal(body.data.sha256, blocked.sha256);
        assert.equal(first.headers["x-portcullis-delivery"], body.id);
        assert.equal(first.headers["x-portcullis-timestamp"], String(Math.floor(clock / 1000)));

        assert.equal(await dispatcher.runOnce(), 0, "the retry waits for its back-off");
        clock += 29_999;
        assert.equal(await dispatcher.runOnce(), 0);
        clock += 1;
        assert.equal(await dispatcher.runOnce(), 1, "retried after 30 s");
        clock += 59_999;
        assert.equal(await dispatcher.runOnce(), 0, "then the back-off doubles");
        clock += 1;
        assert.equal(await dispatcher.runOnce(), 1);
        assert.equal(receiver.received.length, 3);
        assert.ok(receiver.received.every((r) => r.body === first.body && signatureValid(r, SECRET)));
        clock += 3_600_000;
        assert.equal(await dispatcher.runOnce(), 0, "delivered: never sent again");

        const deliveries = (await service.deliveries(hook.id))!;
        assert.equal(deliveries.length, 1);
        assert.equal(deliveries[0]!.state, "delivered");
        assert.equal(deliveries[0]!.attempts, 3);
        assert.deepEqual(
          deliveries[0]!.log.map((a) => [a.attempt, a.status, a.error]),
          [
            [1, 500, "HTTP 500"],
            [2, 500, "HTTP 500"],
            [3, 204, null],
          ],
        );
        assert.deepEqual(await service.deliveries(slack.id), []);
      } finally {
        await receiver.close();
        await db.cleanup();
      }
    },
  );
}

test("Slack format, a refused connection and a receiver that never answers", async () => {
  const db = await openTestDatabase("sqlite");
  const hanging = await startWebhookReceiver({ hang: true });
  const slack = await startWebhookReceiver();
  try {
    const clock = Date.parse("2026-11-27T12:00:00Z");
    const repo = new WebhookRepository(db.db);
    const service = new WebhookService({ repo, audit, log, now: () => clock });
    const dispatcher = new WebhookDispatcher({
      repo,
      log,
      now: () => clock,
      timeoutMs: 300,
      random: () => 0,
      perWebhook: 1,
    });
    const refused = await service.add({ url: await refusingUrl(), secret: SECRET }, CLI_ACTOR);
    const dead = await service.add({ url: hanging.url, secret: SECRET }, CLI_ACTOR);
    const chat = await service.add({ url: slack.url, secret: SECRET, format: "slack" }, CLI_ACTOR);
    await service.enqueue(blocked);
    await service.enqueue({ ...blocked, sha256: "d".repeat(64) });
    assert.equal(await dispatcher.runOnce(), 3, "one at a time per webhook: a dead endpoint holds one slot");
    const text = JSON.parse(slack.received[0]!.body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(text), ["text"]);
    assert.match(text.text as string, /acme_widgets-1\.0-py3-none-any\.whl .*now refused/);
    assert.ok(signatureValid(slack.received[0]!, SECRET));
    const [, r] = (await service.deliveries(refused.id))!;
    assert.equal(r!.state, "pending");
    assert.equal(r!.lastStatus, null);
    assert.match(r!.lastError!, /ECONNREFUSED/);
    const [, d] = (await service.deliveries(dead.id))!;
    assert.equal(d!.state, "pending");
    assert.match(d!.lastError!, /no answer within 300 ms/);
    assert.equal(d!.nextAttemptAt, clock + 30_000);
    assert.deepEqual(
      (await service.deliveries(chat.id))!.map((x) => x.state),
      ["pending", "delivered"],
      "newest first: the second event waits for the next run",
    );
  } finally {
    await hanging.close();
    await slack.close();
    await db.cleanup();
  }
});

test("bad webhook input is refused with a reason", async () => {
  const db = await openTestDatabase("sqlite");
  try {
    const service = new WebhookService({ repo: new WebhookRepository(db.db), audit, log, now: Date.now });
    await assert.rejects(
      service.add({ url: "file:///etc/passwd", secret: SECRET }, CLI_ACTOR),
      /http or https/,
    );
    await assert.rejects(service.add({ url: "http://x/", secret: "short" }, CLI_ACTOR), /at least 16/);
    await assert.rejects(
      service.add({ url: "http://x/", secret: SECRET, format: "xml" }, CLI_ACTOR),
      /format/,
    );
    await assert.rejects(
      service.add({ url: "http://x/", secret: SECRET, events: ["nope"] }, CLI_ACTOR),
      /unknown event/,
    );
    await assert.rejects(service.add({ url: "http://u:p@x/", secret: SECRET }, CLI_ACTOR), /credentials/);
    for (const url of [
      "http://169.254.169.254/latest/meta-data/",
      "http://[fe80::1]/",
      "http://[::ffff:a9fe:a9fe]/",
    ])
      await assert.rejects(service.add({ url, secret: SECRET }, CLI_ACTOR), /link-local/, url);
    await assert.rejects(
      service.add({ url: "http://x/", secret: " ".repeat(20) }, CLI_ACTOR),
      /the secret is blank \(only whitespace\)/,
    );
    await assert.rejects(
      service.add({ url: "http://x/", secret: "\t \n".repeat(8) }, CLI_ACTOR),
      /the secret is blank/,
    );
    await assert.rejects(
      service.add({ url: "http://x/", secret: SECRET, events: [] }, CLI_ACTOR),
      /the event list is empty, which would send nothing: leave events out to receive every event/,
    );
    assert.deepEqual(await service.list(), [], "nothing was registered");
    const hook = await service.add({ url: "http://x/", secret: SECRET, events: null }, CLI_ACTOR);
    assert.equal(hook.events, null, "no event list: every event");
  } finally {
    await db.cleanup();
  }
});

test("a stored webhook pointing at instance metadata is never posted to", async () => {
  const db = await openTestDatabase("sqlite");
  const dispatcher = new WebhookDispatcher({
    repo: new WebhookRepository(db.db),
    log,
    now: Date.now,
    timeoutMs: 2_000,
  });
  try {
    const repo = new WebhookRepository(db.db);
    // Registered before the check existed (or written to the database by hand).
    const hook = await repo.add({
      url: "http://169.254.169.254/latest/meta-data/",
      secret: SECRET,
      format: "json",
      events: null,
      at: Date.now(),
      by: null,
    });
    const service = new WebhookService({ repo, audit, log, now: Date.now });
    await service.enqueue(blocked);
    assert.equal(await dispatcher.runOnce(), 1);
    const [d] = (await service.deliveries(hook.id))!;
    assert.equal(d!.lastStatus, null, "nothing was sent");
    assert.match(d!.lastError ?? "", /link-local/);
  } finally {
    await dispatcher.stop(0);
    await db.cleanup();
  }
});

test("the API pages webhooks with limit and cursor, and refuses a blank secret, no events and a duplicate", async () => {
  const upstreamDir = mkdtempSync(join(tmpdir(), "portcullis-wh-upstream-"));
  const gw = await startTestGateway({ upstream: upstreamDir });
  try {
    const admin = bearer(await createToken(gw, { user: "root", role: "admin" }));
    const api = async (path: string, body?: unknown) => {
      const res = await fetch(`${gw.url}${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { ...admin, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return {
        status: res.status,
        body: (await res.json()) as {
          id?: number;
          items?: { id: number; url: string }[];
          next?: string | null;
          error?: { code: string; message: string };
        },
      };
    };
    const ids: number[] = [];
    for (const n of [1, 2, 3]) {
      const created = await api("/api/v1/webhooks", { url: `http://127.0.0.1:1/hook${n}`, secret: SECRET });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      ids.push(created.body.id!);
    }

    const all = await api("/api/v1/webhooks");
    assert.equal(all.status, 200);
    assert.deepEqual(
      all.body.items!.map((h) => h.id),
      ids,
      "without paging parameters: every webhook, oldest first",
    );
    assert.equal(all.body.next, null);
    const first = await api("/api/v1/webhooks?limit=2");
    assert.deepEqual(
      first.body.items!.map((h) => h.id),
      ids.slice(0, 2),
    );
    assert.equal(typeof first.body.next, "string", "a cursor to the rest");
    const rest = await api(`/api/v1/webhooks?limit=2&cursor=${first.body.next!}`);
    assert.deepEqual(
      rest.body.items!.map((h) => h.id),
      ids.slice(2),
    );
    assert.equal(rest.body.next, null, "the last page");
    const bad = await api("/api/v1/webhooks?cursor=not-a-cursor");
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error!.message, "cursor is not one this API gave");
    assert.equal((await api("/api/v1/webhooks?limit=0")).status, 400);

    const blank = await api("/api/v1/webhooks", { url: "http://127.0.0.1:1/blank", secret: " ".repeat(16) });
    assert.equal(blank.status, 400);
    assert.equal(blank.body.error!.code, "VALIDATION");
    assert.match(blank.body.error!.message, /the secret is blank/);
    const none = await api("/api/v1/webhooks", {
      url: "http://127.0.0.1:1/none",
      secret: SECRET,
      events: [],
    });
    assert.equal(none.status, 400);
    assert.match(none.body.error!.message, /leave events out to receive every event/);
    const dup = await api("/api/v1/webhooks", { url: "http://127.0.0.1:1/hook2", secret: `${SECRET}-2` });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error!.code, "CONFLICT");
    assert.match(dup.body.error!.message, new RegExp(`^webhook ${ids[1]} already sends every event`));
    assert.equal((await api("/api/v1/webhooks")).body.items!.length, 3, "nothing more was registered");
  } finally {
    await gw.close();
    rmSync(upstreamDir, { recursive: true, force: true });
  }
});

test("the webhook CLI refuses a blank secret, --events naming nothing and a duplicate, and prints status and error apart", async () => {
  const data = mkdtempSync(join(tmpdir(), "portcullis-wh-cli-"));
  const receiver = await startWebhookReceiver({ statuses: [500] });
  try {
    const local = ["--data", data];
    await assert.rejects(
      cli("webhook", "add", receiver.url, "--secret", " ".repeat(20), ...local),
      cliError(2, /^the secret is blank \(only whitespace\)/),
    );
    await assert.rejects(
      cli("webhook", "add", receiver.url, "--secret", SECRET, "--events", "", ...local),
      cliError(
        2,
        /^--events names no event type, which would send nothing: omit --events to receive every event/,
      ),
    );
    await assert.rejects(
      cli("webhook", "add", receiver.url, "--secret", SECRET, "--events", " , ", ...local),
      cliError(2, /omit --events/),
    );
    assert.match(
      await cli("webhook", "add", receiver.url, "--secret", SECRET, ...local),
      /^webhook 1 added: .*\(json; events: all\)/,
    );
    await assert.rejects(
      cli("webhook", "add", receiver.url, "--secret", `${SECRET}-2`, "--format", "slack", ...local),
      cliError(1, /^webhook 1 already sends every event to http:\/\/127\.0\.0\.1:\d+\/hook/),
    );
    assert.match(await cli("webhook", "list", ...local), /^1\tjson\tall\t/);

    const clock = Date.parse("2026-11-27T12:00:00Z");
    const services = await buildServices(
      loadConfig({ env: {}, flags: { data, upstream: data, intelSync: "" } }),
      { logger: log, preVet: false, now: () => clock },
    );
    try {
      await services.webhooks.enqueue(blocked);
      const dispatcher = new WebhookDispatcher({
        repo: services.webhookQueue,
        log,
        now: () => clock,
        random: () => 0,
      });
      assert.equal(await dispatcher.runOnce(), 1);
    } finally {
      await services.close();
    }
    const lines = (await cli("webhook", "deliveries", "1", ...local)).trimEnd().split("\n");
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.deepEqual(lines[0]!.split("\t"), [
      "1",
      "2026-11-27T12:00:00.000Z",
      "file.blocked",
      "pending",
      "attempts 1",
      "HTTP 500",
      "not a 2xx answer",
      "next 2026-11-27T12:00:30.000Z",
    ]);
  } finally {
    await receiver.close();
    rmSync(data, { recursive: true, force: true });
  }
});

test("a restart resumes: a delivery that failed on one gateway is retried by the next on the same data", async () => {
  const data = mkdtempSync(join(tmpdir(), "portcullis-wh-restart-"));
  const upstreamDir = mkdtempSync(join(tmpdir(), "portcullis-wh-upstream-"));
  const receiver = await startWebhookReceiver({ statuses: [503, 204] });
  let clock = Date.parse("2026-11-27T12:00:00Z");
  try {
    const first = await startTestGateway({ upstream: upstreamDir, data }, { now: () => clock });
    await first.gateway.services.webhooks.add({ url: receiver.url, secret: SECRET }, CLI_ACTOR);
    first.gateway.services.events.publish(blocked);
    await receiver.waitFor(1);
    await first.close(); // waits for the attempt in flight to be recorded

    clock += 3_600_000; // past any back-off
    const second = await startTestGateway({ upstream: upstreamDir, data }, { now: () => clock });
    await receiver.waitFor(2);
    await second.close();
    assert.equal(receiver.received[1]!.body, receiver.received[0]!.body, "the same stored body, resent");
    assert.ok(signatureValid(receiver.received[1]!, SECRET));

    const services = await buildServices(
      loadConfig({ env: {}, flags: { data, upstream: upstreamDir, intelSync: "" } }),
      {
        logger: log,
        preVet: false,
      },
    );
    try {
      const [hook] = await services.webhooks.list();
      const [d] = (await services.webhooks.deliveries(hook!.id))!;
      assert.equal(d!.state, "delivered");
      assert.deepEqual(
        d!.log.map((a) => a.status),
        [503, 204],
      );
    } finally {
      await services.close();
    }
  } finally {
    await receiver.close();
    rmSync(data, { recursive: true, force: true });
    rmSync(upstreamDir, { recursive: true, force: true });
  }
});

test("a removed webhook's delivery log stays readable and says it was removed", async () => {
  const upstreamDir = mkdtempSync(join(tmpdir(), "portcullis-wh-upstream-"));
  const gw = await startTestGateway({ upstream: upstreamDir });
  try {
    const admin = bearer(await createToken(gw, { user: "root", role: "admin" }));
    const created = await fetch(`${gw.url}/api/v1/webhooks`, {
      method: "POST",
      headers: { ...admin, "content-type": "application/json" },
      body: JSON.stringify({ url: "http://127.0.0.1:1/gone", secret: SECRET }),
    });
    const hook = (await created.json()) as { id: number };
    assert.equal(created.status, 201, JSON.stringify(hook));
    assert.equal(await gw.gateway.services.webhooks.enqueue(blocked), 1, "one delivery queued");
    const log = async () => {
      const res = await fetch(`${gw.url}/api/v1/webhooks/${hook.id}/deliveries`, { headers: admin });
      return {
        status: res.status,
        body: (await res.json()) as {
          items: { eventType: string; state: string }[];
          webhookRemovedAt: string | null;
        },
      };
    };
    const active = await log();
    assert.equal(active.status, 200, JSON.stringify(active.body));
    assert.equal(active.body.webhookRemovedAt, null);
    const removed = await fetch(`${gw.url}/api/v1/webhooks/${hook.id}`, { method: "DELETE", headers: admin });
    assert.equal(removed.status, 200);
    const after = await log();
    assert.equal(after.status, 200, `the log outlives the webhook: ${JSON.stringify(after.body)}`);
    assert.deepEqual(
      after.body.items.map((d) => [d.eventType, d.state]),
      [["file.blocked", "failed"]],
      "the dropped delivery is still listed",
    );
    assert.equal(typeof after.body.webhookRemovedAt, "string", "and says the webhook is removed");
    const never = await fetch(`${gw.url}/api/v1/webhooks/999999/deliveries`, { headers: admin });
    assert.equal(never.status, 404, "a webhook that never was is still not found");
  } finally {
    await gw.close();
    rmSync(upstreamDir, { recursive: true, force: true });
  }
});

test("the API refuses control characters in a webhook URL or secret, with a reason", async () => {
  const upstreamDir = mkdtempSync(join(tmpdir(), "portcullis-wh-upstream-"));
  const gw = await startTestGateway({ upstream: upstreamDir });
  try {
    const admin = bearer(await createToken(gw, { user: "root", role: "admin" }));
    const post = async (body: { url: string; secret: string }) => {
      const res = await fetch(`${gw.url}/api/v1/webhooks`, {
        method: "POST",
        headers: { ...admin, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return {
        status: res.status,
        body: (await res.json()) as { error?: { code: string; message: string } },
      };
    };
    // ESC (an ANSI sequence), tab and line break (which the URL parser would silently drop), DEL, C1 CSI.
    for (const bad of ["\u001b[31m", "\t", "\n", "\r\n", "\u007f", "\u009b2J"]) {
      const url = await post({ url: `http://127.0.0.1:1/hook${bad}x`, secret: SECRET });
      assert.equal(url.status, 400, `URL with ${JSON.stringify(bad)}: ${JSON.stringify(url.body)}`);
      assert.equal(url.body.error?.code, "VALIDATION", JSON.stringify(url.body));
      assert.match(url.body.error!.message, /^the webhook URL must not contain control characters/);
      const secret = await post({ url: "http://127.0.0.1:1/hook", secret: `${SECRET}${bad}` });
      assert.equal(secret.status, 400, `secret with ${JSON.stringify(bad)}: ${JSON.stringify(secret.body)}`);
      assert.equal(secret.body.error?.code, "VALIDATION", JSON.stringify(secret.body));
      assert.match(secret.body.error!.message, /^the webhook secret must not contain control characters/);
      assert.ok(!secret.body.error!.message.includes(SECRET), "the refusal does not echo the secret");
    }
    const list = await fetch(`${gw.url}/api/v1/webhooks`, { headers: admin });
    assert.deepEqual(((await list.json()) as { items: unknown[] }).items, [], "nothing was registered");
    const good = await post({ url: "http://127.0.0.1:1/hook", secret: SECRET });
    assert.equal(good.status, 201, JSON.stringify(good.body));
  } finally {
    await gw.close();
    rmSync(upstreamDir, { recursive: true, force: true });
  }
});
