/**
 * Who has it, and who is told: after real pip installs a package through the gateway with a
 * token, a new advisory against it opens a remediation item naming that consumer, and a webhook
 * receiver on loopback (registered with `portcullis webhook add`) gets signed messages. Dead
 * receivers (one that never answers, one that refuses) do not hold up pip.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { createToken, flushAudit, pipIndexUrl } from "../helpers/identity.js";
import { installed, makeVenv, pipInstall, run } from "../helpers/python.js";
import { buildWheel } from "../helpers/wheel-builder.js";
import { CLI_ACTOR } from "../../src/domain/identity.js";
import {
  refusingUrl,
  signatureValid,
  startWebhookReceiver,
  type WebhookReceiver,
} from "../integration/governance-webhook-receiver.js";

const BIN = fileURLToPath(new URL("../../bin/portcullis", import.meta.url));
const SECRET = "e2e-shared-secret-0123456789";

describe("remediation and webhooks with real pip", () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  let receiver: WebhookReceiver;
  let hanging: WebhookReceiver;
  let index: string;
  const dead: number[] = [];

  before(async () => {
    const old = "2025-01-01T00:00:00Z";
    const v1 = await buildWheel({ name: "acme-widgets", version: "1.0" });
    const v2 = await buildWheel({ name: "acme-widgets", version: "1.1" });
    const other = await buildWheel({ name: "other-thing", version: "1.0" });
    upstream = await startJsonIndexServer({
      projects: {
        "acme-widgets": {
          files: [
            { filename: v1.filename, bytes: v1.bytes, uploadTime: old },
            { filename: v2.filename, bytes: v2.bytes, uploadTime: old },
          ],
        },
        "other-thing": { files: [{ filename: other.filename, bytes: other.bytes, uploadTime: old }] },
      },
    });
    gw = await startTestGateway({ upstream: upstream.simpleUrl });
    receiver = await startWebhookReceiver();
    hanging = await startWebhookReceiver({ hang: true });
    index = pipIndexUrl(gw.url, await createToken(gw, { user: "ci-bot", role: "reader", team: "payments" }));
  });
  after(async () => {
    await gw?.close();
    await receiver?.close();
    await hanging?.close();
    await upstream?.close();
  });

  test("a new advisory against an installed package opens an item naming the consumer; the receiver gets signed messages", async () => {
    const added = await run(
      process.execPath,
      [BIN, "webhook", "add", receiver.url, "--secret", SECRET, "--data", gw.dataDir],
      { env: { ...process.env, PORTCULLIS_FROM_SOURCE: "1" } },
    );
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^webhook \d+ added: /);
    assert.equal(added.stdout.includes(SECRET), false, "the secret is never shown back");
    const s = gw.gateway.services;
    dead.push(
      (await s.webhooks.add({ url: hanging.url, secret: SECRET }, CLI_ACTOR)).id,
      (await s.webhooks.add({ url: await refusingUrl(), secret: SECRET }, CLI_ACTOR)).id,
    );

    const venv = await makeVenv();
    const res = await pipInstall(venv, index, ["acme-widgets==1.0"]);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.equal((await installed(venv)).get("acme-widgets"), "1.0");
    await flushAudit(gw);

    const dir = mkdtempSync(join(tmpdir(), "osv-"));
    writeFileSync(
      join(dir, "PYSEC-2099-7.json"),
      JSON.stringify({
        id: "PYSEC-2099-7",
        modified: "2026-01-01T00:00:00Z",
        summary: "remote code execution in widget parsing",
        severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }],
        affected: [
          {
            package: { ecosystem: "PyPI", name: "acme-widgets" },
            ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "1.1" }] }],
          },
        ],
      }),
    );
    await gw.gateway.intel.importSource(dir);
    await gw.gateway.policy.refresh();
    await s.decisionEvents.flush();
    await Promise.all([s.remediation.flush(), s.decisionNotifier.flush()]);
    await s.webhooks.flush();

    const [item] = await s.remediation.list({ project: "acme-widgets" });
    assert.ok(item, "an item opened");
    assert.equal(item.state, "open");
    assert.equal(item.version, "1.0");
    assert.equal(item.fixedVersion, "1.1");
    assert.equal(item.severity, "critical", "CVSS 9.8");
    assert.equal(item.dueAt - item.openedAt, 2 * 86_400_000, "critical: 2 days in the default policy");
    assert.deepEqual(
      item.consumers.map((c) => c.identity),
      ["ci-bot"],
    );

    const got = await receiver.waitFor(3);
    assert.ok(
      got.every((r) => signatureValid(r, SECRET)),
      "every delivery signed with the secret",
    );
    const bodies = got.map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> });
    const types = bodies.map((b) => b.type).sort();
    assert.deepEqual(types, ["advisory.affects", "file.blocked", "remediation.opened"]);
    const affects = bodies.find((b) => b.type === "advisory.affects")!.data as {
      advisoryId: string;
      consumers: { identity: string }[];
    };
    assert.equal(affects.advisoryId, "PYSEC-2099-7");
    assert.deepEqual(
      affects.consumers.map((c) => c.identity),
      ["ci-bot"],
    );
  });

  test("dead receivers do not hold up pip: the install completes while their deliveries still wait", async () => {
    const s = gw.gateway.services;
    const venv = await makeVenv();
    const res = await pipInstall(venv, index, ["other-thing"]);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    for (const id of dead) {
      const list = (await s.webhooks.deliveries(id))!;
      assert.equal(list.length, 3);
      assert.ok(
        list.every((d) => d.state === "pending"),
        "deliveries to the dead receivers are still pending or retrying",
      );
    }
    assert.ok(hanging.received.length >= 1, "the hanging receiver was reached and never answered");
  });
});
