/**
 * Remediation items on a real gateway: an admitted file refused by a new advisory opens one item
 * (severity, due date from the SLA, the version to move to), approvers move it through its states
 * over the API, an expired risk acceptance reopens it, due/overdue notices go out once, and the
 * file admitted again closes it as fixed. Webhook administration over the API.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { bearer, createToken } from "../helpers/identity.js";
import { buildWheel } from "../helpers/wheel-builder.js";
import type { GatewayEvent } from "../../src/services/event-bus.js";
import { governanceCli as cli } from "../helpers/governance-cli.js";

const DAY = 86_400_000;

describe("remediation items and webhooks on a gateway", () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  let clock = Date.parse("2026-11-27T12:00:00Z");
  const seen: GatewayEvent[] = [];
  let approver: Record<string, string>;
  let admin: Record<string, string>;
  let reader: Record<string, string>;
  let approverToken = "";
  let readerToken = "";
  let sha10 = "";

  const api = async (
    path: string,
    init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const res = await fetch(`${gw.url}${path}`, {
      method: init.method ?? "GET",
      headers: {
        ...(init.headers ?? approver),
        ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown> & { items?: Record<string, unknown>[] },
    };
  };

  before(async () => {
    const old = "2025-01-01T00:00:00Z";
    const v1 = await buildWheel({ name: "acme-widgets", version: "1.0" });
    const v2 = await buildWheel({ name: "acme-widgets", version: "1.1" });
    const gadget = await buildWheel({ name: "acme-gadgets", version: "3.0" });
    upstream = await startJsonIndexServer({
      projects: {
        "acme-widgets": {
          files: [
            { filename: v1.filename, bytes: v1.bytes, uploadTime: old },
            { filename: v2.filename, bytes: v2.bytes, uploadTime: old },
          ],
        },
        "acme-gadgets": { files: [{ filename: gadget.filename, bytes: gadget.bytes, uploadTime: old }] },
      },
    });
    gw = await startTestGateway({ upstream: upstream.simpleUrl }, { now: () => clock });
    gw.gateway.services.events.subscribe((e) => void seen.push(e));
    approverToken = await createToken(gw, { user: "sec", role: "approver" });
    approver = bearer(approverToken);
    admin = bearer(await createToken(gw, { user: "root", role: "admin" }));
    readerToken = await createToken(gw, { user: "dev", role: "reader" });
    reader = bearer(readerToken);
    // Pull 1.0 so that its bytes are judged and it is admitted.
    const page = (await (
      await fetch(`${gw.url}/simple/acme-widgets/`, {
        headers: { accept: "application/vnd.pypi.simple.v1+json", ...reader },
      })
    ).json()) as { files: { filename: string; url: string; hashes: { sha256: string } }[] };
    const f = page.files.find((x) => x.filename === v1.filename)!;
    sha10 = f.hashes.sha256;
    const res = await fetch(new URL(f.url, `${gw.url}/simple/acme-widgets/`), { headers: reader });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.equal((await gw.gateway.decisions.get(sha10))?.outcome, "admitted");
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test("a new advisory against an admitted file opens one item, once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "osv-"));
    writeFileSync(
      join(dir, "PYSEC-2099-7.json"),
      JSON.stringify({
        id: "PYSEC-2099-7",
        aliases: ["CVE-2099-0007"],
        modified: "2026-01-01T00:00:00Z",
        summary: "remote code execution in widget parsing",
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
    const s = gw.gateway.services;
    await s.decisionEvents.flush();
    await Promise.all([s.remediation.flush(), s.decisionNotifier.flush()]);
    // Another instance re-judging the same change adds nothing.
    const [event] = await gw.gateway.decisions
      .events({ project: "acme-widgets" })
      .then((e) => e.filter((x) => x.to === "blocked"));
    assert.deepEqual(await s.remediation.handle([event!]), []);

    const { status, body } = await api("/api/v1/remediation");
    assert.equal(status, 200);
    assert.equal(body.items!.length, 1);
    const item = body.items![0]!;
    assert.equal(item.sha256, sha10);
    assert.equal(item.state, "open");
    assert.equal(item.severity, "high", "no severity in the advisory: the policy's unknown-severity");
    assert.equal(item.fixedVersion, "1.1");
    assert.deepEqual(item.advisoryIds, ["PYSEC-2099-7"]);
    assert.equal(item.dueAt, new Date(clock + 7 * DAY).toISOString(), "high: 7 days in the default policy");

    const blocked = seen.filter((e) => e.type === "file.blocked");
    assert.equal(blocked.length, 1);
    const affects = seen.filter((e) => e.type === "advisory.affects");
    assert.deepEqual(
      affects.map((e) => e.type === "advisory.affects" && [e.advisoryId, e.project, e.versions]),
      [["PYSEC-2099-7", "acme-widgets", ["1.0"]]],
    );
    assert.equal(seen.filter((e) => e.type === "remediation.opened").length, 1);
  });

  test("a download refused from the index at first sight is told as file.blocked, once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "osv-"));
    writeFileSync(
      join(dir, "PYSEC-2099-8.json"),
      JSON.stringify({
        id: "PYSEC-2099-8",
        modified: "2026-01-01T00:00:00Z",
        summary: "every gadget leaks",
        affected: [
          {
            package: { ecosystem: "PyPI", name: "acme-gadgets" },
            ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }] }],
          },
        ],
      }),
    );
    await gw.gateway.intel.importSource(dir);
    await gw.gateway.policy.refresh();
    const blocked = () => seen.filter((e) => e.type === "file.blocked");
    const before = blocked().length;
    const fileOf = async (project: string, version: string) =>
      (await gw.gateway.projects.getRawProject(project))!.files.find((f) => f.version === version)!;
    const download = async (file: { sha256: string; filename: string }) => {
      const res = await fetch(`${gw.url}/files/${file.sha256}/${file.filename}`, { headers: reader });
      await res.arrayBuffer();
      return res.status;
    };
    const gadgetFile = await fileOf("acme-gadgets", "3.0");
    const direct = () => download(gadgetFile);
    // Vetting (the resolver looking ahead) refuses it too, but nobody downloaded anything.
    const vet = await api("/api/v1/vet", { method: "POST", body: { requirements: ["acme-gadgets"] } });
    assert.ok(vet.status < 500, `vet answered ${vet.status}`);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(blocked().length, before, "no file.blocked for a look ahead");
    assert.equal(await direct(), 403);
    const deadline = Date.now() + 5_000;
    while (blocked().length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const [event] = blocked().slice(before);
    assert.ok(event && event.type === "file.blocked", "a file.blocked for the refused download");
    assert.equal(event.sha256, gadgetFile.sha256);
    assert.equal(event.from, null);
    assert.ok(
      event.reasons.some((r) => /PYSEC-2099-8/.test(r.message)),
      JSON.stringify(event.reasons),
    );
    // Asked again: told once. A file whose stored decision changed was told then, not again now.
    assert.equal(await direct(), 403);
    assert.equal(await download(await fileOf("acme-widgets", "1.0")), 403);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(blocked().length, before + 1);
  });

  test("an owner set after an item opened takes it over", async () => {
    assert.equal((await api("/api/v1/remediation")).body.items![0]!.owner, null);
    const set = await api("/api/v1/owners/acme-widgets", {
      method: "PUT",
      body: { team: "widgets" },
      headers: admin,
    });
    assert.equal(set.status, 200);
    const mine = await api("/api/v1/remediation?owner=widgets");
    assert.equal(mine.body.items!.length, 1);
    assert.equal(mine.body.items![0]!.owner, "widgets");
    // The item's history says who gave it to whom.
    const history = (await api(`/api/v1/remediation/${mine.body.items![0]!.id as number}`)).body
      .history as Record<string, unknown>[];
    assert.deepEqual(
      history.map((e) => [e.from, e.state, e.by, e.note, e.owner]),
      [
        [null, "open", "portcullis", null, null],
        ["open", "open", "root", "previously nobody", "widgets"],
      ],
    );
  });

  test("approvers change states; accepted risk needs an expiry and reopens when it passes", async () => {
    const id = (await api("/api/v1/remediation")).body.items![0]!.id as number;
    assert.equal(
      (
        await api(`/api/v1/remediation/${id}/state`, {
          method: "POST",
          body: { state: "acknowledged" },
          headers: reader,
        })
      ).status,
      403,
    );
    const noExpiry = await api(`/api/v1/remediation/${id}/state`, {
      method: "POST",
      body: { state: "accepted-risk", reason: "not reachable" },
    });
    assert.equal(noExpiry.status, 400);
    assert.match((noExpiry.body.error as { message: string }).message, /until/);
    const past = await api(`/api/v1/remediation/${id}/state`, {
      method: "POST",
      body: { state: "accepted-risk", reason: "not reachable", until: new Date(clock - 1).toISOString() },
    });
    assert.equal(past.status, 400);
    const accepted = await api(`/api/v1/remediation/${id}/state`, {
      method: "POST",
      body: {
        state: "accepted-risk",
        reason: "not reachable",
        until: new Date(clock + 2 * DAY).toISOString(),
      },
    });
    assert.equal(accepted.status, 200);
    assert.equal(accepted.body.state, "accepted-risk");
    assert.equal(accepted.body.stateChangedBy, "sec");
    assert.equal((await api("/api/v1/remediation?state=accepted-risk")).body.items!.length, 1);
    assert.equal(
      (await api(`/api/v1/remediation/${id}/state`, { method: "POST", body: { state: "nonsense" } })).status,
      400,
    );
    assert.equal(
      (await api(`/api/v1/remediation/999999/state`, { method: "POST", body: { state: "fixed" } })).status,
      404,
    );

    clock += 2 * DAY;
    const s = gw.gateway.services;
    assert.deepEqual(await s.remediation.check(), { reopened: 1, due: 0, overdue: 0 });
    assert.equal((await api(`/api/v1/remediation/${id}`)).body.state, "open");
    assert.equal(
      (
        await api(`/api/v1/remediation/${id}/state`, {
          method: "POST",
          body: { state: "acknowledged", note: "upgrading" },
        })
      ).status,
      200,
    );
  });

  test("due and overdue notices go out once per item; the report counts open items by age", async () => {
    const s = gw.gateway.services;
    clock += 4.5 * DAY; // 6.5 days after opening: due within a day
    assert.deepEqual(await s.remediation.check(), { reopened: 0, due: 1, overdue: 0 });
    assert.deepEqual(await s.remediation.check(), { reopened: 0, due: 0, overdue: 0 });
    clock += DAY;
    assert.deepEqual(await s.remediation.check(), { reopened: 0, due: 0, overdue: 1 });
    assert.deepEqual(await s.remediation.check(), { reopened: 0, due: 0, overdue: 0 });
    assert.deepEqual(
      seen.filter((e) => e.type === "remediation.due" || e.type === "remediation.overdue").map((e) => e.type),
      ["remediation.due", "remediation.overdue"],
    );
    const report = await api("/api/v1/remediation/report");
    assert.equal(report.status, 200);
    assert.deepEqual(report.body.open, [{ bucket: "8-30d", severity: "high", count: 1 }]);
    assert.equal(report.body.overdue, 1);
    assert.equal(report.body.meanTimeToRemediateHours, null);
    assert.equal((await api("/api/v1/remediation/report", { headers: reader })).status, 403);
  });

  test("the file admitted again closes its item as fixed", async () => {
    const s = gw.gateway.services;
    await gw.gateway.decisions.addException(
      {
        project: "acme-widgets",
        version: "1.0",
        reason: "patched in our build",
        approver: "sec",
        "expires-at": new Date(clock + 30 * DAY).toISOString(),
      },
      new Date(clock).toISOString(),
    );
    await gw.gateway.policy.refresh();
    await s.decisionEvents.flush();
    await s.remediation.flush();
    const item = (await api("/api/v1/remediation")).body.items![0]!;
    assert.equal(item.state, "fixed");
    assert.equal(item.resolution, "admitted-again");
    assert.equal(item.history, undefined, "a list carries no histories");
    // One item carries its whole story: each state, who moved it, and why.
    const one = await api(`/api/v1/remediation/${item.id as number}`);
    const history = one.body.history as Record<string, unknown>[];
    assert.deepEqual(
      history.map((e) => [e.from, e.state, e.by, e.note, e.resolution]),
      [
        [null, "open", "portcullis", null, null],
        ["open", "open", "root", "previously nobody", null],
        ["open", "accepted-risk", "sec", "not reachable", null],
        ["accepted-risk", "open", "portcullis", "accepted risk expired", null],
        ["open", "acknowledged", "sec", "upgrading", null],
        ["acknowledged", "fixed", "portcullis", null, "admitted-again"],
      ],
    );
    const at = history.map((e) => Date.parse(e.at as string));
    assert.equal(at[0], Date.parse(item.openedAt as string));
    assert.equal(Date.parse(history[2]!.acceptedUntil as string), at[2]! + 2 * DAY);
    assert.equal(at[3], at[2]! + 2 * DAY, "reopened when the acceptance expired");
    assert.equal(at[5], Date.parse(item.resolvedAt as string));
    const report = await api("/api/v1/remediation/report");
    assert.equal(report.body.fixed, 1);
    assert.equal(report.body.openTotal, 0);
    assert.equal(report.body.meanTimeToRemediateHours, 7.5 * 24);
  });

  test("the remediation CLI talks to a running gateway with --gateway and a token", async () => {
    const remote = ["--gateway", gw.url, "--token", approverToken];
    assert.match(await cli("remediation", "list", ...remote), /^#\d+\tfixed\thigh\tacme-widgets==1\.0\t/);
    const shown = await cli("remediation", "show", "1", ...remote);
    assert.match(shown, /FIXED .*\n {2}why: +vulnerability: /);
    assert.match(shown, /\n {2}history:\n {4}\S+ {2}open {2}by portcullis\n/);
    assert.match(shown, / {2}accepted-risk -> open {2}by portcullis: accepted risk expired\n/);
    assert.match(shown, / {2}owner -> widgets {2}by root: previously nobody\n/);
    const report = JSON.parse(await cli("remediation", "report", "--json", ...remote)) as { fixed: number };
    assert.equal(report.fixed, 1);
    await assert.rejects(cli("remediation", "ack", "1", ...remote), /HTTP 409: .*fixed/);
    await assert.rejects(cli("remediation", "list", "--gateway", gw.url, "--token", readerToken), /HTTP 403/);
  });

  test("webhooks over the API: admin only, secrets never shown, delivery log", async () => {
    assert.equal((await api("/api/v1/webhooks", { headers: approver })).status, 403);
    const bad = await api("/api/v1/webhooks", {
      method: "POST",
      headers: admin,
      body: { url: "gopher://x", secret: "0123456789abcdef" },
    });
    assert.equal(bad.status, 400);
    const short = await api("/api/v1/webhooks", {
      method: "POST",
      headers: admin,
      body: { url: "http://127.0.0.1:1/", secret: "short" },
    });
    assert.equal(short.status, 400);
    const created = await api("/api/v1/webhooks", {
      method: "POST",
      headers: admin,
      body: {
        url: "http://127.0.0.1:1/hook",
        secret: "0123456789abcdef-secret",
        format: "slack",
        events: ["file.blocked"],
      },
    });
    assert.equal(created.status, 201);
    assert.equal("secret" in created.body, false);
    const list = await api("/api/v1/webhooks", { headers: admin });
    assert.equal(list.body.items!.length, 1);
    assert.equal(JSON.stringify(list.body).includes("0123456789abcdef-secret"), false);
    const deliveries = await api(`/api/v1/webhooks/${created.body.id as number}/deliveries`, {
      headers: admin,
    });
    assert.equal(deliveries.status, 200);
    assert.deepEqual(deliveries.body.items, []);
    assert.equal((await api("/api/v1/webhooks/999/deliveries", { headers: admin })).status, 404);
    assert.equal((await api("/api/v1/webhooks/999", { method: "DELETE", headers: admin })).status, 404);
    assert.equal(
      (await api(`/api/v1/webhooks/${created.body.id as number}`, { method: "DELETE", headers: admin }))
        .status,
      200,
    );
    assert.equal((await api("/api/v1/webhooks", { headers: admin })).body.items!.length, 0);
  });
});
