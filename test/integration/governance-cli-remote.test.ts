/**
 * `portcullis owner`, `webhook` and `drift` over `--gateway`: a real gateway on loopback (SQLite),
 * the whole CLI in-process, and the same commands over `--data` on the gateway's own data directory
 * as the reference: remote output is line for line (and `--json` key for key) what local prints.
 * Admin routes refuse a reader token (HTTP 403, exit 1); bad input and options that only mean
 * something locally are exit 2 before anything is sent (the gateway given is a dead address).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { bearer, basic, createToken, downloadRelease, flushAudit } from "../helpers/identity.js";
import { cli, type CliRun } from "../helpers/run-cli.js";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { buildWheel } from "../helpers/wheel-builder.js";
import {
  refusingUrl,
  signatureValid,
  startWebhookReceiver,
  type WebhookReceiver,
} from "./governance-webhook-receiver.js";
import { CLI_ACTOR } from "../../src/domain/identity.js";
import type { GatewayEvent } from "../../src/services/event-bus.js";

const DAY = 86_400_000;
const SECRET = "remote-cli-secret-0123456789";
const RELEASES: Record<string, string[]> = { "acme-lib": ["1.0", "2.0"], "left-pad": ["1.0"] };

/** A file.blocked event as the decision notifier publishes it. */
function blocked(sha: string): GatewayEvent {
  return {
    type: "file.blocked",
    sha256: sha.repeat(64),
    project: "acme-lib",
    version: "2.0",
    filename: "acme_lib-2.0-py3-none-any.whl",
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
    at: new Date().toISOString(),
  };
}

/** A run that succeeded, and what it printed. */
function ok(run: CliRun): string {
  assert.deepEqual([run.code, run.stderr], [0, ""], run.stderr);
  return run.stdout;
}

describe("owner, webhook and drift over --gateway (sqlite)", () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  let receiver: WebhookReceiver;
  /** Where nothing listens: a command that reached for it would fail with exit 1, not 2. */
  let dead = "";
  // The gateway's clock: in the past, so that both the CLI's and the gateway's "7 days ago" hold
  // the pulls made at `clock` and not those made two weeks before.
  let clock = Date.now() - 20 * DAY;
  let adminToken = "";
  let readerToken = "";
  let local: string[] = [];
  const remote = (token = adminToken) => ["--gateway", gw.url, "--token", token];

  before(async () => {
    const projects: Parameters<typeof startJsonIndexServer>[0]["projects"] = {};
    for (const [name, versions] of Object.entries(RELEASES)) {
      const files = [];
      for (const version of versions) {
        const wheel = await buildWheel({ name, version });
        files.push({ filename: wheel.filename, bytes: wheel.bytes, uploadTime: "2025-01-01T00:00:00Z" });
      }
      projects[name] = { files };
    }
    upstream = await startJsonIndexServer({ projects });
    gw = await startTestGateway({ upstream: upstream.simpleUrl }, { now: () => clock });
    adminToken = await createToken(gw, { user: "root", role: "admin" });
    readerToken = await createToken(gw, { user: "dev", role: "reader" });
    receiver = await startWebhookReceiver();
    dead = await refusingUrl();
    local = ["--data", gw.dataDir];
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    await receiver?.close();
  });

  test("owner set over --gateway, then owner list: as local prints it, and the API agrees", async () => {
    assert.equal(
      ok(await cli("owner", "set", "Acme_Lib", "platform", ...remote())),
      "acme-lib is owned by platform\n",
    );
    const api = (await (await fetch(`${gw.url}/api/v1/owners`, { headers: bearer(readerToken) })).json()) as {
      items: { project: string; team: string }[];
    };
    assert.deepEqual(
      api.items.map((o) => [o.project, o.team]),
      [["acme-lib", "platform"]],
    );
    const text = ok(await cli("owner", "list", ...remote(readerToken)));
    assert.equal(text, `${"acme-lib".padEnd(32)} platform\n`);
    assert.equal(text, ok(await cli("owner", "list", ...local)), "the same lines as over --data");
    const json = JSON.parse(ok(await cli("owner", "list", "--json", ...remote(readerToken)))) as unknown;
    assert.deepEqual(json, JSON.parse(ok(await cli("owner", "list", "--json", ...local))));
    assert.deepEqual(Object.keys((json as Record<string, unknown>[])[0]!), [
      "project",
      "team",
      "setBy",
      "setAt",
    ]);

    // PORTCULLIS_GATEWAY and PORTCULLIS_TOKEN stand for the options.
    process.env.PORTCULLIS_GATEWAY = gw.url;
    process.env.PORTCULLIS_TOKEN = readerToken;
    try {
      assert.equal(ok(await cli("owner", "list")), text);
    } finally {
      delete process.env.PORTCULLIS_GATEWAY;
      delete process.env.PORTCULLIS_TOKEN;
    }

    // Bad names are refused before anything is sent, with the local message.
    const badProject = await cli("owner", "set", "..", "platform", "--gateway", dead);
    assert.deepEqual([badProject.code, badProject.stderr], [2, 'portcullis: invalid project name ".."\n']);
    const badTeam = await cli("owner", "set", "left-pad", "two words", "--gateway", dead);
    assert.deepEqual([badTeam.code, badTeam.stderr], [2, 'portcullis: invalid team name "two words"\n']);
  });

  test("owner list follows the API's pages to the last", async () => {
    for (let i = 0; i < 501; i++) await gw.gateway.services.identity.setOwner(`bulk-${i}`, "bulk", CLI_ACTOR);
    const text = ok(await cli("owner", "list", ...remote(readerToken)));
    assert.equal(text.split("\n").length - 1, 502, "every owner, past the first page of 500");
    assert.equal(text, ok(await cli("owner", "list", ...local)));
    assert.deepEqual(
      JSON.parse(ok(await cli("owner", "list", "--json", ...remote(readerToken)))),
      JSON.parse(ok(await cli("owner", "list", "--json", ...local))),
    );
  });

  test("webhook add, list, deliveries and remove over --gateway; the secret is never printed", async () => {
    const runs: CliRun[] = [];
    const run = async (...args: string[]) => {
      const r = await cli(...args);
      runs.push(r);
      return r;
    };
    const added = ok(
      await run("webhook", "add", receiver.url, "--secret", SECRET, "--events", "file.blocked", ...remote()),
    );
    const m = /^webhook (\d+) added: (\S+) \(json; events: file\.blocked\)\n$/.exec(added);
    assert.ok(m, added);
    const id = m[1]!;
    assert.equal(m[2], receiver.url);

    const list = ok(await run("webhook", "list", ...remote()));
    assert.equal(list, `${id}\tjson\tfile.blocked\t${receiver.url}\n`);
    assert.equal(list, ok(await run("webhook", "list", ...local)));
    const listJson = ok(await run("webhook", "list", "--json", ...remote()));
    assert.deepEqual(JSON.parse(listJson), JSON.parse(ok(await run("webhook", "list", "--json", ...local))));
    assert.equal(typeof (JSON.parse(listJson) as { createdAt: unknown }[])[0]!.createdAt, "number");

    // A delivery to the receiver, as the decision notifier would queue one.
    gw.gateway.services.events.publish(blocked("a"));
    const [got] = await receiver.waitFor(1);
    assert.ok(signatureValid(got!, SECRET));
    await delivered(Number(id), 1);
    const deliveries = ok(await run("webhook", "deliveries", id, ...remote()));
    assert.match(deliveries, /^\d+\t\S+\tfile\.blocked\tdelivered\tattempts 1\tHTTP 204\t-\n$/);
    assert.equal(deliveries, ok(await run("webhook", "deliveries", id, ...local)));
    const remoteJson = JSON.parse(
      ok(await run("webhook", "deliveries", id, "--json", ...remote())),
    ) as Record<string, unknown>[];
    const localJson = JSON.parse(ok(await run("webhook", "deliveries", id, "--json", ...local))) as Record<
      string,
      unknown
    >[];
    // A settled delivery's next attempt is not in the API's answer, and left out.
    assert.deepEqual(
      remoteJson,
      localJson.map(({ nextAttemptAt: _, ...d }) => d),
    );

    // --limit N: the N newest.
    gw.gateway.services.events.publish(blocked("b"));
    await receiver.waitFor(2);
    await delivered(Number(id), 2);
    const newest = ok(await run("webhook", "deliveries", id, "--limit", "1", ...remote()));
    assert.equal(newest.split("\n").length - 1, 1);
    assert.equal(newest, ok(await run("webhook", "deliveries", id, "--limit", "1", ...local)));
    assert.equal(
      ok(await run("webhook", "deliveries", id, ...remote())),
      ok(await run("webhook", "deliveries", id, ...local)),
    );

    assert.equal(ok(await run("webhook", "remove", id, ...remote())), `webhook ${id} removed\n`);
    assert.equal(ok(await run("webhook", "list", ...remote())), "no webhooks\n");
    const api = (await (
      await fetch(`${gw.url}/api/v1/webhooks`, { headers: bearer(adminToken) })
    ).json()) as {
      items: unknown[];
    };
    assert.deepEqual(api.items, []);
    const again = await run("webhook", "remove", id, ...remote());
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`HTTP 404: no webhook ${id}\\n$`));

    for (const r of runs) assert.ok(!(r.stdout + r.stderr).includes(SECRET), "the secret is never printed");
  });

  test("webhook list follows the API's pages to the last", async () => {
    for (let i = 0; i < 501; i++)
      await gw.gateway.services.webhooks.add(
        { url: `http://127.0.0.1:9/hook-${i}`, secret: SECRET, events: ["request.denied"] },
        CLI_ACTOR,
      );
    const text = ok(await cli("webhook", "list", ...remote()));
    assert.equal(text.split("\n").length - 1, 501);
    assert.equal(text, ok(await cli("webhook", "list", ...local)));
  });

  test("webhook add: bad input is exit 2 before anything is sent; the gateway's refusals keep their codes", async () => {
    for (const [args, message] of [
      [["--format", "xml"], "format must be one of json, slack, got xml"],
      [["--events", "file.blocked,nope"], 'unknown event "nope"'],
      [["--events", ","], "--events names no event type"],
    ] as const) {
      const r = await cli("webhook", "add", receiver.url, "--secret", SECRET, ...args, "--gateway", dead);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.startsWith(`portcullis: ${message}`), r.stderr);
    }
    const short = await cli("webhook", "add", receiver.url, "--secret", "short", "--gateway", dead);
    assert.deepEqual(
      [short.code, short.stderr],
      [2, "portcullis: the secret must be at least 16 characters (it keys the HMAC signature)\n"],
    );
    const limit = await cli("webhook", "deliveries", "1", "--limit", "501", "--gateway", dead);
    assert.deepEqual([limit.code, limit.stderr], [2, "portcullis: --limit must be 1 to 500\n"]);

    // The URL is the gateway's to judge: 400 is exit 2, a duplicate (409) exit 1.
    const linkLocal = await cli("webhook", "add", "http://169.254.169.254/", "--secret", SECRET, ...remote());
    assert.equal(linkLocal.code, 2);
    assert.match(linkLocal.stderr, /HTTP 400: 169\.254\.169\.254 is a link-local/);
    ok(await cli("webhook", "add", receiver.url, "--secret", SECRET, ...remote()));
    const twice = await cli("webhook", "add", receiver.url, "--secret", SECRET, ...remote());
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /HTTP 409: webhook \d+ already sends every event/);
    assert.ok(!(twice.stdout + twice.stderr + linkLocal.stderr).includes(SECRET));
  });

  test("drift over --gateway prints what drift over --data prints", async () => {
    const ci = await createToken(gw, { user: "ci-bot", role: "reader", team: "build" });
    clock = Date.now() - 14 * DAY;
    await downloadRelease(gw, basic(ci), "acme-lib", "2.0");
    await flushAudit(gw);
    clock = Date.now() - DAY;
    await downloadRelease(gw, basic(ci), "acme-lib", "1.0");
    await downloadRelease(gw, basic(ci), "left-pad", "1.0");
    await downloadRelease(gw, {}, "left-pad", "1.0");
    await flushAudit(gw);

    const text = ok(await cli("drift", ...remote()));
    const at = new Date(clock).toISOString();
    assert.equal(
      text,
      [
        "anonymous@127.0.0.1:",
        `  new-project left-pad==1.0  first pulled ${at}`,
        "ci-bot (team build):",
        `  downgrade   acme-lib==1.0 (had 2.0)  first pulled ${at}`,
        `  new-project left-pad==1.0  first pulled ${at}`,
        "",
      ].join("\n"),
    );
    assert.equal(text, ok(await cli("drift", ...local)));
    assert.deepEqual(
      JSON.parse(ok(await cli("drift", "--json", ...remote()))),
      JSON.parse(ok(await cli("drift", "--json", ...local))),
    );
    // A calendar date is a --since too (sent as the time it stands for).
    const day = new Date(clock - 20 * DAY).toISOString().slice(0, 10);
    const wide = ok(await cli("drift", "--since", day, ...remote()));
    assert.match(wide, /new-project acme-lib==2\.0/, "the earlier pull is in the wider window");
    assert.equal(wide, ok(await cli("drift", "--since", day, ...local)));
    assert.equal(
      JSON.stringify(JSON.parse(ok(await cli("drift", "--since", day, "--json", ...remote())))),
      JSON.stringify(JSON.parse(ok(await cli("drift", "--since", day, "--json", ...local)))),
      "the same keys in the same order",
    );

    const future = await cli("drift", "--since", new Date(Date.now() + DAY).toISOString(), "--gateway", dead);
    assert.equal(future.code, 2);
    assert.match(future.stderr, /is in the future: nothing could have been pulled since\n$/);
    const bad = await cli("drift", "--since", "last tuesday", "--gateway", dead);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^portcullis: --since must be /);
  });

  test("a reader token gets HTTP 403 (exit 1) from the routes it may not use", async () => {
    for (const args of [
      ["owner", "set", "left-pad", "platform"],
      ["webhook", "add", receiver.url, "--secret", SECRET],
      ["webhook", "list"],
      ["webhook", "remove", "1"],
      ["webhook", "deliveries", "1"],
      ["drift"],
    ]) {
      const r = await cli(...args, ...remote(readerToken));
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^portcullis: \/api\/v1\/\S+: HTTP 403: /, args.join(" "));
      assert.equal(r.stdout, "");
    }
  });

  test("--gateway with local state, or with options only local state takes, is exit 2", async () => {
    const commands = [
      ["owner", "set", "left-pad", "platform"],
      ["owner", "list"],
      ["webhook", "add", receiver.url, "--secret", SECRET],
      ["webhook", "list"],
      ["webhook", "remove", "1"],
      ["webhook", "deliveries", "1"],
      ["drift"],
    ];
    for (const args of commands) {
      const both = await cli(...args, "--gateway", dead, "--data", gw.dataDir);
      assert.equal(both.code, 2, args.join(" "));
      assert.match(
        both.stderr,
        /give one of --gateway \(a running gateway\) or --data \(local state\), not both/,
      );
      for (const option of [
        ["--upstream", upstream.simpleUrl],
        ["--policy", "policy.yaml"],
        ["--signing-key", "key.pem"],
      ]) {
        const r = await cli(...args, ...option, "--gateway", dead);
        assert.deepEqual(
          [r.code, r.stderr],
          [
            2,
            `portcullis: ${option[0]} applies to local state only: over --gateway, the running gateway uses its own (leave it out)\n`,
          ],
          args.join(" "),
        );
      }
      const help = await cli(...args.slice(0, 2).filter((a) => /^[a-z]+$/.test(a)), "--help");
      assert.match(help.stdout, /--gateway <url>/, `${args.join(" ")} --help`);
    }
  });

  /** Waits until the webhook's `n` deliveries are settled (the dispatcher records each answer). */
  async function delivered(webhookId: number, n: number): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      const list = (await gw.gateway.services.webhooks.deliveries(webhookId)) ?? [];
      if (list.length >= n && list.every((d) => d.state !== "pending")) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.fail(`webhook ${webhookId}: ${n} deliveries never settled`);
  }
});
