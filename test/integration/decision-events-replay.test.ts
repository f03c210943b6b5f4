/**
 * A re-evaluation cut short (a stop or a crash between storing a file's new decision and telling
 * remediation about it) loses nothing: the change waits in `decision_events` and the next start
 * takes it in — a remediation item opens and `file.blocked` is queued for the webhooks.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { buildWheel } from "../helpers/wheel-builder.js";

let upstream: JsonIndexServer;
let data: string;
const gateways: TestGateway[] = [];

before(async () => {
  const wheel = await buildWheel({ name: "replayed-widgets", version: "1.0" });
  upstream = await startJsonIndexServer({
    projects: {
      "replayed-widgets": {
        files: [{ filename: wheel.filename, bytes: wheel.bytes, uploadTime: "2025-01-01T00:00:00Z" }],
      },
    },
  });
  data = mkdtempSync(join(tmpdir(), "portcullis-replay-"));
});
after(async () => {
  for (const gw of gateways) await gw.close().catch(() => undefined);
  await upstream?.close();
  rmSync(data, { recursive: true, force: true });
});

test("a decision change stored but never handed on is taken in at the next start", async () => {
  const first = await startTestGateway({ upstream: upstream.simpleUrl, data });
  gateways.push(first);
  const page = (await (
    await fetch(`${first.url}/simple/replayed-widgets/`, {
      headers: { accept: "application/vnd.pypi.simple.v1+json" },
    })
  ).json()) as { files: { url: string; hashes: { sha256: string } }[] };
  const file = page.files[0]!;
  const res = await fetch(new URL(file.url, `${first.url}/simple/replayed-widgets/`));
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  const admitted = (await first.gateway.decisions.get(file.hashes.sha256))!;
  assert.equal(admitted.outcome, "admitted");
  await first.gateway.services.webhooks.add(
    { url: "http://127.0.0.1:1/hook", secret: "s".repeat(24), format: "json" },
    {
      user: "root",
      role: "admin",
      team: null,
      tokenId: null,
      ip: "127.0.0.1",
      application: null,
      client: null,
    },
  );

  // What a pass that died mid-way leaves behind: the new decision and its event, stored in one
  // transaction, and nobody told (no remediation item, no notice).
  await first.gateway.decisions.put({
    ...admitted,
    outcome: "blocked",
    reasons: [
      {
        check: "malicious",
        outcome: "fail",
        action: "block",
        mode: "enforce",
        message: "reported malicious: MAL-2099-42",
        ids: ["MAL-2099-42"],
        evidence: [],
      },
    ],
    decidedAt: new Date().toISOString(),
  });
  const [unhandled] = await first.gateway.decisions.unhandledEvents(10);
  assert.equal(unhandled?.to, "blocked");
  assert.equal((await first.gateway.services.remediation.list({})).length, 0);
  await first.close();
  gateways.pop();

  const second = await startTestGateway({ upstream: upstream.simpleUrl, data });
  gateways.push(second);
  // The periodic check kicks the relay 2 s after the start.
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && (await second.gateway.decisions.unhandledEvents(10)).length > 0) {
    await new Promise((r) => setTimeout(r, 200));
  }
  await second.gateway.services.decisionEvents.flush();
  assert.deepEqual(await second.gateway.decisions.unhandledEvents(10), []);
  const items = await second.gateway.services.remediation.list({});
  assert.equal(items.length, 1);
  assert.equal(items[0]!.sha256, file.hashes.sha256);
  const queued = await second.gateway.services.webhookQueue.pendingCount();
  assert.ok(queued >= 1, `file.blocked (and remediation.opened) queued for the webhook: ${queued}`);
});
