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
import { EventBus, type GatewayEvent } from "../../src/services/event-bus.js";
import { WebhookDispatcher, WebhookService } from "../../src/services/governance/webhook-service.js";
import { CLI_ACTOR } from "../../src/domain/identity.js";
import { refusingUrl, signatureValid, startWebhookReceiver } from "./governance-webhook-receiver.js";

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
  reasons: [
    {
      check: "vulnerability",
      outcome: "fail",
      action: "block",
      mode: "enforce",
      message: "1 known vulnerability (PYSEC-2099-7)",
      ids: ["PYSEC-2099-7"],
      evidence: [],
    },
  ],
  at: "2026-11-27T12:00:00.000Z",
};

for (const dialect of DIALECTS) {
  const skip = await dialectSkip(dialect);

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
  } finally {
    await db.cleanup();
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
