/**
 * Webhook sends in flight when a gateway shuts down, against a real receiver on loopback and a
 * real database (SQLite and PostgreSQL): the shutdown grace lets a slow answer arrive, and a send
 * the grace cuts off is recorded as such and sent again (at least once, same delivery id).
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
import { DIALECTS, dialectSkip, gatewayDatabase, openTestDatabase } from "../helpers/databases.js";
import { WebhookRepository } from "../../src/adapters/db/webhook-repository.js";
import type { GatewayEvent } from "../../src/services/event-bus.js";
import { WebhookDispatcher, WebhookService } from "../../src/services/governance/webhook-service.js";
import { MAX_ATTEMPTS } from "../../src/services/governance/webhook-message.js";
import { CLI_ACTOR } from "../../src/domain/identity.js";
import { signatureValid, startWebhookReceiver } from "./governance-webhook-receiver.js";

const SECRET = "a-long-shared-secret-1234";
const log = pino({ level: "silent" });
const audit = { record() {}, async flush() {} };

const blocked: GatewayEvent = {
  type: "file.blocked",
  sha256: "c".repeat(64),
  project: "acme-widgets",
  version: "1.0",
  filename: "acme_widgets-1.0-py3-none-any.whl",
  from: "admitted",
  reasons: [],
  at: "2026-11-27T12:00:00.000Z",
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const dialect of DIALECTS) {
  const skip = await dialectSkip(dialect);

  test(
    `a gateway closing waits its shutdown grace for a webhook send in flight: a slow answer is recorded, not cut off and sent again by another instance (${dialect})`,
    { skip },
    async () => {
      const database = await gatewayDatabase(dialect);
      const upstreamDir = mkdtempSync(join(tmpdir(), "portcullis-wh-upstream-"));
      const receiver = await startWebhookReceiver({ held: true });
      let dataDir: string | undefined;
      try {
        const gw = await startTestGateway(
          { upstream: upstreamDir, database: database.url, shutdownGrace: 20 },
          { keepData: true },
        );
        dataDir = gw.dataDir;
        await gw.gateway.services.webhooks.add({ url: receiver.url, secret: SECRET }, CLI_ACTOR);
        gw.gateway.services.events.publish(blocked);
        await receiver.waitFor(1);
        const closing = gw.close(); // as on SIGTERM
        // The receiver answers after longer than the 2 s the dispatcher used to give, well
        // within the gateway's 20 s grace.
        await sleep(2_500);
        receiver.release();
        await closing;

        // Another instance on the same database.
        const other = await buildServices(
          loadConfig({
            env: {},
            flags: { data: dataDir, upstream: upstreamDir, database: database.url, intelSync: "" },
          }),
          { logger: log, preVet: false },
        );
        try {
          const [hook] = await other.webhooks.list();
          const [d] = (await other.webhooks.deliveries(hook!.id))!;
          assert.equal(d!.state, "delivered", `delivered, not left to retry: ${d!.lastError}`);
          assert.deepEqual(
            d!.log.map((a) => [a.attempt, a.status, a.error]),
            [[1, 204, null]],
            "one attempt, answered",
          );
          const dispatcher = new WebhookDispatcher({
            repo: other.webhookQueue,
            log,
            now: () => Date.now() + 3_600_000, // past any back-off
          });
          try {
            assert.equal(await dispatcher.runOnce(), 0, "the other instance has nothing to send again");
          } finally {
            await dispatcher.stop(0);
          }
          assert.equal(receiver.received.length, 1, "the receiver got it once");
        } finally {
          await other.close();
        }
      } finally {
        receiver.release();
        await receiver.close();
        if (dataDir) rmSync(dataDir, { recursive: true, force: true });
        rmSync(upstreamDir, { recursive: true, force: true });
        await database.drop();
      }
    },
  );

  test(
    `a send cut off by shutdown is logged as such, due again at once with the same delivery id, and never counts toward giving up (${dialect})`,
    { skip },
    async () => {
      const db = await openTestDatabase(dialect);
      // Answers 500 once released: the attempt after the cut-off is an ordinary failure.
      const receiver = await startWebhookReceiver({ held: true, statuses: [500] });
      const clock = Date.parse("2026-11-27T12:00:00Z");
      const now = () => clock;
      const repo = new WebhookRepository(db.db);
      const first = new WebhookDispatcher({ repo, log, now, random: () => 0, instance: "first" });
      const second = new WebhookDispatcher({ repo, log, now, random: () => 0, instance: "second" });
      try {
        const service = new WebhookService({ repo, audit, log, now });
        const hook = await service.add({ url: receiver.url, secret: SECRET }, CLI_ACTOR);
        await service.enqueue(blocked);
        // It failed 19 times already: the claim below is its 20th and last ordinary attempt.
        await db.db
          .updateTable("webhook_deliveries")
          .set({ attempts: MAX_ATTEMPTS - 1 })
          .execute();

        const sending = first.runOnce();
        await receiver.waitFor(1);
        await first.stop(100); // the grace runs out while the receiver still holds the request
        assert.equal(await sending, 1);
        const [cut] = (await service.deliveries(hook.id))!;
        assert.equal(cut!.state, "pending", `not given up for a send cut off: ${cut!.lastError}`);
        assert.equal(cut!.attempts, MAX_ATTEMPTS, "the send is in the log, under its own number");
        assert.equal(cut!.lastStatus, null);
        assert.match(
          cut!.lastError ?? "",
          /^cut off by shutdown after \d+ ms: the receiver may have it; sent again with the same delivery id$/,
        );
        assert.equal(cut!.nextAttemptAt, clock, "due again at once: no back-off");

        receiver.release();
        assert.equal(await second.runOnce(), 1, "another instance sends it again at once");
        const [sent, again] = await receiver.waitFor(2);
        assert.equal(again!.body, sent!.body, "the same stored body");
        assert.equal(
          again!.headers["x-portcullis-delivery"],
          sent!.headers["x-portcullis-delivery"],
          "the same delivery id, by which the receiver drops the repeat",
        );
        assert.equal(signatureValid(again!, SECRET), true, "the repeat is signed");
        const [failed] = (await service.deliveries(hook.id))!;
        assert.equal(failed!.state, "failed", "20 ordinary failures give up, the cut-off not counted");
        assert.deepEqual(
          failed!.log.map((a) => [a.attempt, a.status]),
          [
            [MAX_ATTEMPTS, null],
            [MAX_ATTEMPTS + 1, 500],
          ],
        );
      } finally {
        receiver.release();
        await second.stop(0);
        await first.stop(0);
        await receiver.close();
        await db.cleanup();
      }
    },
  );
}
