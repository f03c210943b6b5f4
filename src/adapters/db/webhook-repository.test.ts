import { test } from "node:test";
import assert from "node:assert/strict";
import { DIALECTS, dialectSkip, openTestDatabase } from "../../../test/helpers/databases.js";
import { storedEventKey, WebhookRepository } from "./webhook-repository.js";

for (const dialect of DIALECTS) {
  const skip = await dialectSkip(dialect);

  test(`webhooks are listed without secrets and removed (${dialect})`, { skip }, async () => {
    const db = await openTestDatabase(dialect);
    try {
      const repo = new WebhookRepository(db.db);
      const hook = await repo.add({
        url: "http://127.0.0.1:1/h",
        secret: "s".repeat(20),
        format: "slack",
        events: ["file.blocked"],
        at: 1,
        by: "admin",
      });
      const listed = await repo.list();
      assert.equal(listed.length, 1);
      assert.equal("secret" in listed[0]!, false);
      assert.deepEqual(listed[0]!.events, ["file.blocked"]);
      assert.equal(
        await repo.enqueue({
          webhookId: hook.id,
          eventKey: "k",
          eventId: "e",
          eventType: "file.blocked",
          body: "{}",
          at: 1,
        }),
        true,
      );
      assert.equal(await repo.remove(hook.id, 2), true);
      assert.equal(await repo.remove(hook.id, 3), false);
      assert.equal((await repo.list()).length, 0);
      assert.equal(await repo.pendingCount(), 0, "its pending deliveries are dropped");
    } finally {
      await db.cleanup();
    }
  });

  test(
    `deliveries: queued once per key, claimed by one instance, leases expire, attempts logged (${dialect})`,
    { skip },
    async () => {
      const db = await openTestDatabase(dialect);
      try {
        const repo = new WebhookRepository(db.db);
        const hook = await repo.add({
          url: "http://127.0.0.1:1/h",
          secret: "s".repeat(20),
          format: "json",
          events: null,
          at: 1,
          by: null,
        });
        const enqueue = (key: string) =>
          repo.enqueue({
            webhookId: hook.id,
            eventKey: key,
            eventId: `id-${key}`,
            eventType: "file.blocked",
            body: `{"k":"${key}"}`,
            at: 100,
          });
        assert.deepEqual(await Promise.all([enqueue("a"), enqueue("a")]).then((r) => r.sort()), [
          false,
          true,
        ]);
        await enqueue("b");
        assert.equal((await repo.claimDue(99, 10, 1000, "x")).length, 0, "not due yet");
        const [one, two] = await Promise.all([
          repo.claimDue(100, 10, 1000, "one"),
          repo.claimDue(100, 10, 1000, "two"),
        ]);
        assert.equal(one!.length + two!.length, 2, "each delivery claimed exactly once");
        const mine = [...one!, ...two!];
        assert.equal(mine[0]!.secret, "s".repeat(20));
        assert.equal(mine[0]!.attempts, 1);
        assert.equal((await repo.claimDue(500, 10, 1000, "three")).length, 0, "leased");
        const reclaimed = await repo.claimDue(1101, 10, 1000, "three");
        assert.equal(reclaimed.length, 2, "a lease left by a crashed instance runs out");
        const d = reclaimed[0]!;
        await repo.complete(
          d.id,
          "one",
          { attempt: 1, at: 1101, status: 500, error: "HTTP 500", durationMs: 3 },
          { delivered: false, retryAt: 5000 },
        );
        assert.equal((await repo.attempts(d.id)).length, 0, "a stale claimer records nothing");
        await repo.complete(
          d.id,
          "three",
          { attempt: 2, at: 1101, status: 500, error: "HTTP 500", durationMs: 3 },
          { delivered: false, retryAt: 5000 },
        );
        await repo.complete(
          reclaimed[1]!.id,
          "three",
          { attempt: 2, at: 1102, status: 204, error: null, durationMs: 2 },
          { delivered: true },
        );
        const list = await repo.deliveries(hook.id);
        const retried = list.find((x) => x.id === d.id)!;
        assert.equal(retried.state, "pending");
        assert.equal(retried.nextAttemptAt, 5000);
        assert.equal(retried.lastStatus, 500);
        assert.equal(list.find((x) => x.id !== d.id)!.state, "delivered");
        assert.equal((await repo.claimDue(4999, 10, 1000, "four")).length, 0);
        assert.equal((await repo.claimDue(5000, 10, 1000, "four")).length, 1);
        assert.deepEqual(
          (await repo.attempts(d.id)).map((a) => a.status),
          [500],
        );
      } finally {
        await db.cleanup();
      }
    },
  );

  test(
    `a hanging endpoint's backlog does not starve the others; a webhook removed mid-attempt stays removed (${dialect})`,
    { skip },
    async () => {
      const db = await openTestDatabase(dialect);
      try {
        const repo = new WebhookRepository(db.db);
        const add = (url: string) =>
          repo.add({ url, secret: "s".repeat(20), format: "json", events: null, at: 1, by: null });
        const dead = await add("http://127.0.0.1:1/dead");
        const healthy = await add("http://127.0.0.1:1/ok");
        const enqueue = (webhookId: number, key: string, at: number) =>
          repo.enqueue({ webhookId, eventKey: key, eventId: key, eventType: "file.blocked", body: "{}", at });
        // The dead endpoint's 100 deliveries are all older than the healthy one's.
        for (let i = 0; i < 100; i++) await enqueue(dead.id, `d${i}`, 10 + i);
        await enqueue(healthy.id, "h0", 500);
        // The dead endpoint already has its 2 attempts in flight: it may take no more.
        const claimed = await repo.claimDue(1000, 4, 60_000, "x", {
          perWebhook: 2,
          taken: new Map([[dead.id, 2]]),
        });
        assert.deepEqual(
          claimed.map((c) => c.url),
          ["http://127.0.0.1:1/ok"],
        );
        // Without that, each gets its share, the longest waiting first.
        const more = await repo.claimDue(1000, 4, 60_000, "y", { perWebhook: 2 });
        assert.deepEqual(
          more.map((c) => c.url),
          ["http://127.0.0.1:1/dead", "http://127.0.0.1:1/dead"],
          "the healthy one's only delivery is already claimed",
        );

        // Removed while an attempt is in flight: the attempt's failure does not bring it back.
        assert.equal(await repo.remove(dead.id, 2000), true);
        await repo.complete(
          more[0]!.id,
          "y",
          { attempt: 1, at: 2001, status: null, error: "timeout", durationMs: 10_000 },
          { delivered: false, retryAt: 3000 },
        );
        const rows = await repo.deliveries(dead.id, { limit: 200 });
        assert.equal(rows.find((r) => r.id === more[0]!.id)!.state, "failed");
        assert.equal(
          (await repo.claimDue(1e9, 10, 60_000, "z")).filter((c) => c.url.endsWith("/dead")).length,
          0,
        );
      } finally {
        await db.cleanup();
      }
    },
  );
}

test("a long event key is stored whole-hashed, never cut into a collision", () => {
  const versions = Array.from({ length: 60 }, (_, i) => `1.${i}.0`).join(",");
  const a = `advisory.affects\u0000PYSEC-2099-1\u0000acme\u0000${versions}`;
  const b = `${a},1.60.0`;
  assert.equal(a.slice(0, 300), b.slice(0, 300), "cut to 300 characters they would collide");
  assert.notEqual(storedEventKey(a), storedEventKey(b));
  assert.ok(storedEventKey(b).length <= 300);
  assert.equal(storedEventKey("short"), "short");
});
