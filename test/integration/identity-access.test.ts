/**
 * Tokens, roles and anonymous access against a real gateway over a real loopback upstream:
 * 401 for missing/wrong/revoked/expired tokens (with a Basic challenge on the index), 403 for a
 * role too low, 429 after repeated failures, and nothing in a refusal that tells whether a
 * project exists.
 */
import { request as httpRequest } from "node:http";
import { after, before, describe, test } from "node:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { CLI_ACTOR } from "../../src/domain/identity.js";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { basic, bearer, createToken, flushAudit } from "../helpers/identity.js";
import { buildWheel } from "../helpers/wheel-builder.js";

describe("identity and access on a running gateway", () => {
  let upstream: JsonIndexServer;
  let open: TestGateway;
  let closed: TestGateway;
  let clock = Date.parse("2026-11-01T00:00:00Z");
  const now = () => clock;

  before(async () => {
    const wheel = await buildWheel({ name: "acme-widgets", version: "1.0" });
    upstream = await startJsonIndexServer({
      projects: {
        "acme-widgets": {
          files: [{ filename: wheel.filename, bytes: wheel.bytes, uploadTime: "2025-01-01T00:00:00Z" }],
        },
      },
    });
    open = await startTestGateway({ upstream: upstream.simpleUrl }, { now });
    closed = await startTestGateway({ upstream: upstream.simpleUrl, authAnonymous: "off" }, { now });
  });
  after(async () => {
    await open?.close();
    await closed?.close();
    await upstream?.close();
  });

  test("anonymous read: installs work without a token and /api/v1/me says so", async () => {
    const page = await fetch(`${open.url}/simple/acme-widgets/`);
    assert.equal(page.status, 200);
    const me = (await (await fetch(`${open.url}/api/v1/me`)).json()) as Record<string, unknown>;
    assert.equal(me.anonymous, true);
    assert.equal(me.anonymousAccess, "read");
    assert.equal(me.role, "reader");
    const ready = (await (await fetch(`${open.url}/readyz`)).json()) as {
      auth: { anonymous: string };
      upstream: Record<string, unknown>;
    };
    assert.equal(ready.auth.anonymous, "read");
    // Where the upstream lives is for approvers and admins, not for anyone who can reach a probe.
    assert.deepEqual(ready.upstream, { ok: true });
    const reader = await createToken(open, { user: "probe-reader", role: "reader" });
    const asReader = (await (await fetch(`${open.url}/readyz`, { headers: bearer(reader) })).json()) as {
      upstream: Record<string, unknown>;
    };
    assert.deepEqual(asReader.upstream, { ok: true });
    const approver = await createToken(open, { user: "probe-approver", role: "approver" });
    const asApprover = (await (await fetch(`${open.url}/readyz`, { headers: bearer(approver) })).json()) as {
      upstream: { ok: boolean; description?: string };
    };
    assert.equal(asApprover.upstream.description, upstream.simpleUrl);
  });

  test("a token in basic auth (pip's __token__:TOKEN) identifies the caller", async () => {
    const token = await createToken(open, { user: "alice", role: "reader", team: "web" });
    const me = (await (await fetch(`${open.url}/api/v1/me`, { headers: basic(token) })).json()) as Record<
      string,
      unknown
    >;
    assert.equal(me.user, "alice");
    assert.equal(me.team, "web");
    assert.equal(me.anonymous, false);
    const page = await fetch(`${open.url}/simple/acme-widgets/`, { headers: basic(token) });
    assert.equal(page.status, 200);
    // Some tools send the token as the user with an empty password.
    const asUser = await fetch(`${open.url}/simple/acme-widgets/`, { headers: basic("", token) });
    assert.equal(asUser.status, 200);
  });

  test("a wrong token gets 401 with a Basic challenge and nothing about the project", async () => {
    const wrong = "pcl_0123456789ab_" + "A".repeat(43);
    const existing = await fetch(`${open.url}/simple/acme-widgets/`, { headers: basic(wrong, "__token__") });
    const missing = await fetch(`${open.url}/simple/no-such-project/`, {
      headers: basic(wrong, "__token__"),
    });
    for (const res of [existing, missing]) {
      assert.equal(res.status, 401);
      assert.equal(res.headers.get("www-authenticate"), 'Basic realm="portcullis"');
    }
    assert.equal(await existing.text(), await missing.text());
    // A public route stays reachable with a bad credential, but the route that says who the
    // caller is refuses it rather than answer "anonymous".
    const health = await fetch(`${open.url}/healthz`, { headers: bearer("garbage") });
    assert.equal(health.status, 200, "a public route stays reachable");
    const api = await fetch(`${open.url}/api/v1/me`, { headers: bearer(wrong) });
    assert.equal(api.status, 401);
    assert.equal(((await api.json()) as { error: { code: string } }).error.code, "UNAUTHENTICATED");
    const apiPrivate = await fetch(`${open.url}/api/v1/tokens`, { headers: bearer("garbage") });
    assert.equal(apiPrivate.status, 401);
    assert.deepEqual(
      ((await apiPrivate.json()) as { error: { code: string } }).error.code,
      "UNAUTHENTICATED",
    );
  });

  test("a reader calling an admin route gets 403; an admin gets through", async () => {
    const reader = await createToken(open, { user: "bob", role: "reader" });
    const res = await fetch(`${open.url}/api/v1/tokens`, {
      method: "POST",
      headers: { ...bearer(reader), "content-type": "application/json" },
      body: JSON.stringify({ user: "eve", role: "admin" }),
    });
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, "FORBIDDEN");
    const anonymous = await fetch(`${open.url}/api/v1/audit`);
    assert.equal(anonymous.status, 401, "anonymous callers are readers only");
    assert.equal((await fetch(`${open.url}/api/v1/audit`, { headers: bearer(reader) })).status, 403);

    const admin = await createToken(open, { user: "root", role: "admin" });
    const created = await fetch(`${open.url}/api/v1/tokens`, {
      method: "POST",
      headers: { ...bearer(admin), "content-type": "application/json" },
      body: JSON.stringify({ user: "ci-nightly", role: "reader", kind: "service", label: "nightly" }),
    });
    assert.equal(created.status, 201);
    const body = (await created.json()) as { token: string; info: { id: string; label: string } };
    assert.match(body.token, /^pcl_[0-9a-f]{12}_/);
    assert.equal(body.info.label, "nightly");
    const list = (await (await fetch(`${open.url}/api/v1/tokens`, { headers: bearer(admin) })).json()) as {
      items: { id: string }[];
    };
    assert.ok(list.items.some((t) => t.id === body.info.id));
    assert.ok(!JSON.stringify(list).includes(body.token.slice(18)), "listings never hold a secret");
  });

  test("token labels, users and teams with control characters are refused with a reason", async () => {
    const admin = await createToken(open, { user: "root", role: "admin" });
    const post = async (body: Record<string, string>) => {
      const res = await fetch(`${open.url}/api/v1/tokens`, {
        method: "POST",
        headers: { ...bearer(admin), "content-type": "application/json" },
        body: JSON.stringify({ role: "reader", ...body }),
      });
      return {
        status: res.status,
        body: (await res.json()) as { error?: { code: string; message: string } },
      };
    };
    // An ANSI sequence, tab, line breaks, DEL and a C1 CSI: `token list` would print them raw.
    for (const bad of ["\u001b[2J", "\t", "\n", "\r", "\u007f", "\u009b31m"]) {
      for (const [field, body, message] of [
        [
          "label",
          { user: "ci-ctl", label: `nightly${bad}build` },
          /^a token label must not contain control characters/,
        ],
        ["user", { user: `ci${bad}ctl` }, /^invalid user name/],
        ["team", { user: "ci-ctl", team: `ops${bad}` }, /^invalid team name/],
      ] as const) {
        const res = await post(body);
        assert.equal(res.status, 400, `${field} with ${JSON.stringify(bad)}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error?.code, "VALIDATION", `${field}: ${JSON.stringify(res.body)}`);
        assert.match(res.body.error!.message, message, field);
      }
    }
    const list = (await (
      await fetch(`${open.url}/api/v1/tokens?user=ci-ctl`, { headers: bearer(admin) })
    ).json()) as {
      items: unknown[];
    };
    assert.deepEqual(list.items, [], "no token was issued");
    const plain = await post({ user: "ci-ctl", team: "ops", label: "nightly build (ü ✓)" });
    assert.equal(plain.status, 201, JSON.stringify(plain.body));
  });

  test("a revoked token gets 401 at once on this instance", async () => {
    const admin = await createToken(open, { user: "root2", role: "admin" });
    const token = await createToken(open, { user: "carol", role: "reader" });
    assert.equal((await fetch(`${open.url}/simple/acme-widgets/`, { headers: basic(token) })).status, 200);
    const id = /^pcl_([0-9a-f]{12})_/.exec(token)![1]!;
    const del = await fetch(`${open.url}/api/v1/tokens/${id}`, { method: "DELETE", headers: bearer(admin) });
    assert.equal(del.status, 200);
    const after = await fetch(`${open.url}/simple/acme-widgets/`, { headers: basic(token) });
    assert.equal(after.status, 401);
    assert.match(await after.text(), /token revoked/);
    const again = await fetch(`${open.url}/api/v1/tokens/${id}`, {
      method: "DELETE",
      headers: bearer(admin),
    });
    assert.equal(again.status, 409);
  });

  test("a token revoked by another process stops working within seconds", async () => {
    const token = await createToken(open, { user: "dave", role: "reader" });
    assert.equal((await fetch(`${open.url}/simple/acme-widgets/`, { headers: basic(token) })).status, 200);
    const id = /^pcl_([0-9a-f]{12})_/.exec(token)![1]!;
    // Straight in the database, as `portcullis token revoke` in another process or instance does.
    await open.gateway.db.db
      .updateTable("api_tokens")
      .set({ revoked_at: clock })
      .where("id", "=", id)
      .execute();
    assert.equal(
      (await fetch(`${open.url}/simple/acme-widgets/`, { headers: basic(token) })).status,
      200,
      "cached",
    );
    clock += 2_001;
    assert.equal((await fetch(`${open.url}/simple/acme-widgets/`, { headers: basic(token) })).status, 401);
  });

  test("an expired token gets 401", async () => {
    const token = await createToken(open, { user: "erin", role: "reader", expiresAt: clock + 60_000 });
    assert.equal((await fetch(`${open.url}/simple/acme-widgets/`, { headers: basic(token) })).status, 200);
    clock += 61_000;
    const res = await fetch(`${open.url}/simple/acme-widgets/`, { headers: basic(token) });
    assert.equal(res.status, 401);
    assert.match(await res.text(), /token expired/);
  });

  test("a token that expires while its check is cached is refused at its expiry, not up to 2 s later", async () => {
    const token = await createToken(open, { user: "frank", role: "reader", expiresAt: clock + 1_000 });
    // The first request renders the page, the second takes the fast lane from the cached check.
    for (let i = 0; i < 2; i++)
      assert.equal((await fetch(`${open.url}/simple/acme-widgets/`, { headers: basic(token) })).status, 200);
    clock += 1_000; // inside the cache's 2 s, at the token's expiry
    const res = await fetch(`${open.url}/simple/acme-widgets/`, { headers: basic(token) });
    assert.equal(res.status, 401);
    assert.match(await res.text(), /token expired/);
  });

  test("anonymous off: no token, no answer (but health checks)", async () => {
    const page = await fetch(`${closed.url}/simple/acme-widgets/`);
    const missing = await fetch(`${closed.url}/simple/no-such-project/`);
    const file = await fetch(`${closed.url}/files/${"a".repeat(64)}/x-1.0-py3-none-any.whl`);
    for (const res of [page, missing, file]) {
      assert.equal(res.status, 401);
      assert.equal(res.headers.get("www-authenticate"), 'Basic realm="portcullis"');
    }
    assert.equal((await fetch(`${closed.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${closed.url}/readyz`)).status, 200);
    // Not "reader": a caller without a token may do nothing here.
    const me = await fetch(`${closed.url}/api/v1/me`);
    assert.equal(me.status, 401);
    assert.match(((await me.json()) as { error: { message: string } }).error.message, /no anonymous access/);
    const token = await createToken(closed, { user: "frank", role: "reader" });
    assert.equal((await fetch(`${closed.url}/simple/acme-widgets/`, { headers: basic(token) })).status, 200);
    assert.equal((await fetch(`${closed.url}/api/v1/me`, { headers: bearer(token) })).status, 200);
  });

  test("repeated failures from one address are rate limited with Retry-After", async () => {
    // 30 failures a minute from one address are answered 401; the 31st is the first 429.
    let last: Response | undefined;
    for (let i = 0; i < 31; i++) {
      last = await fetch(`${closed.url}/simple/acme-widgets/`, {
        headers: basic(`pcl_${i.toString(16).padStart(12, "0")}_${"B".repeat(43)}`),
      });
      if (i < 30) {
        assert.equal(last.status, 401, `failure ${i + 1} of the 30 allowed`);
        await last.arrayBuffer();
      }
    }
    assert.equal(last?.status, 429);
    assert.ok(Number(last?.headers.get("retry-after")) > 0);
    assert.match(await last!.text(), /invalid token; too many failed authentications, retry in \d+ s/);
    // A valid token from the same (say, a proxy's) address still gets in: the limit never locks
    // real users out, and a token whose id is known cannot be blocked by wrong secrets either.
    const ivan = await createToken(closed, { user: "ivan", role: "reader" });
    const ivanId = ivan.split("_")[1]!;
    for (let i = 0; i < 12; i++)
      await fetch(`${closed.url}/simple/acme-widgets/`, {
        headers: basic(`pcl_${ivanId}_${"C".repeat(43)}`),
      });
    assert.equal((await fetch(`${closed.url}/simple/acme-widgets/`, { headers: basic(ivan) })).status, 200);
    // Bad credentials on a public route count too (it stays reachable): /api/v1/me is no free
    // way to try tokens.
    clock += 61_000;
    for (let i = 0; i < 30; i++) {
      const me = await fetch(`${closed.url}/api/v1/me`, {
        headers: basic(`pcl_${(1000 + i).toString(16).padStart(12, "0")}_${"D".repeat(43)}`),
      });
      assert.equal(me.status, 401);
      await me.arrayBuffer();
    }
    const limited = await fetch(`${closed.url}/simple/acme-widgets/`, {
      headers: basic(`pcl_${"f".repeat(12)}_${"E".repeat(43)}`),
    });
    assert.equal(limited.status, 429);
    await limited.arrayBuffer();
    clock += 61_000;
    const token = await createToken(closed, { user: "grace", role: "reader" });
    assert.equal((await fetch(`${closed.url}/simple/acme-widgets/`, { headers: basic(token) })).status, 200);
    // Per token id: 10 failures a minute are answered 401; the 11th is the first 429.
    clock += 61_000;
    for (let i = 0; i < 11; i++) {
      const res = await fetch(`${closed.url}/simple/acme-widgets/`, {
        headers: basic(`pcl_${"e".repeat(12)}_${String.fromCharCode(65 + i).repeat(43)}`),
      });
      assert.equal(res.status, i < 10 ? 401 : 429, `attempt ${i + 1}`);
      await res.arrayBuffer();
    }
  });

  test("a token check the database cannot answer gets 503 with Retry-After, not a 500", async () => {
    const token = await createToken(open, { user: "judy", role: "reader" });
    const identity = open.gateway.services.identity;
    const real = identity.authenticate.bind(identity);
    identity.authenticate = () => Promise.reject(new Error("connection terminated unexpectedly"));
    try {
      const page = await fetch(`${open.url}/simple/acme-widgets/`, { headers: basic(token) });
      assert.equal(page.status, 503);
      assert.equal(page.headers.get("retry-after"), "5");
      assert.match(await page.text(), /cannot check the token right now/);
      const api = await fetch(`${open.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(api.status, 503);
      assert.deepEqual(((await api.json()) as { error: { code: string } }).error.code, "UNAVAILABLE");
    } finally {
      identity.authenticate = real;
    }
    const again = await fetch(`${open.url}/simple/acme-widgets/`, { headers: basic(token) });
    assert.equal(again.status, 200, "back once the database answers");
  });

  test("accesses are audited with identity, client and outcome", async () => {
    const token = await createToken(open, { user: "heidi", role: "approver" });
    const ua = 'pip/24.0 {"installer":{"name":"pip","version":"24.0"},"python":"3.12.1","ci":true}';
    await fetch(`${open.url}/simple/acme-widgets/`, { headers: { ...basic(token), "user-agent": ua } });
    await flushAudit(open);
    const res = await fetch(`${open.url}/api/v1/audit?identity=heidi&action=simple.page`, {
      headers: bearer(token),
    });
    assert.equal(res.status, 200);
    const { items } = (await res.json()) as {
      items: {
        identity: string;
        project: string;
        outcome: string;
        client: { installer: string; ci: boolean };
      }[];
    };
    assert.equal(items.length, 1);
    assert.equal(items[0]!.project, "acme-widgets");
    assert.equal(items[0]!.outcome, "ok");
    assert.equal(items[0]!.client.installer, "pip");
    assert.equal(items[0]!.client.ci, true);
    const jsonl = await fetch(`${open.url}/api/v1/audit?format=jsonl&limit=5`, { headers: bearer(token) });
    assert.equal(jsonl.headers.get("content-type"), "application/x-ndjson");
    const lines = (await jsonl.text()).trim().split("\n");
    assert.equal(lines.length, 5);
    assert.ok(JSON.parse(lines[0]!).hash);
    // A UTF-8 application name (Node reads header bytes as latin-1) is stored as sent.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${open.url}/simple/acme-widgets/`, {
        headers: {
          ...basic(token),
          "x-portcullis-project": Buffer.from("données-équipe ✓", "utf8").toString("latin1"),
        },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(status, 200);
    await flushAudit(open);
    const named = await fetch(`${open.url}/api/v1/audit?identity=heidi&action=simple.page&limit=1`, {
      headers: bearer(token),
    });
    const [latest] = ((await named.json()) as { items: { application: string | null }[] }).items;
    assert.equal(latest?.application, "données-équipe ✓");
    // A window bound no JavaScript time can hold is refused, not read as "nothing matched".
    for (const q of [
      "since=2026-12-31T23:59:60Z",
      "until=2026-11-01T00:00:00%2B0100",
      "since=2027-02-30T00:00:00Z",
    ]) {
      const bad = await fetch(`${open.url}/api/v1/audit?${q}`, { headers: bearer(token) });
      assert.equal(bad.status, 400, q);
      assert.equal(((await bad.json()) as { error: { code: string } }).error.code, "VALIDATION");
    }
    // A filter the route does not know is refused, not dropped (the whole trail read as a match).
    const unknown = await fetch(`${open.url}/api/v1/audit?tokenid=x`, { headers: bearer(token) });
    assert.equal(unknown.status, 400, "an unknown filter");
    assert.match(((await unknown.json()) as { error: { message: string } }).error.message, /tokenid/);
    // Several: every one named, so the caller fixes them in one go.
    const several = await fetch(`${open.url}/api/v1/audit?tokenid=x&identity=a&sinse=y`, {
      headers: bearer(token),
    });
    assert.equal(several.status, 400);
    const body = (await several.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, "VALIDATION");
    assert.match(body.error.message, /additional properties: "tokenid", "sinse"$/);
    // So on every API route, those whose schema named no parameters or left them open included.
    for (const path of ["/api/v1/inventory/drift?sinse=2020-01-01T00:00:00Z", "/api/v1/me?bogus=1"]) {
      const res = await fetch(`${open.url}${path}`, { headers: bearer(token) });
      assert.equal(res.status, 400, path);
      await res.arrayBuffer();
    }
    // Address, file and anonymous filters; a project in any PEP 503 spelling.
    await (await fetch(`${open.url}/simple/acme-widgets/`)).arrayBuffer();
    await flushAudit(open);
    const audited = async (q: string) => {
      const res = await fetch(`${open.url}/api/v1/audit?${q}`, { headers: bearer(token) });
      assert.equal(res.status, 200, q);
      return ((await res.json()) as { items: { identity: string | null; ip: string }[] }).items;
    };
    const anonymous = await audited("anonymous=true&action=simple.page");
    assert.ok(anonymous.length >= 1, "the anonymous page read is selected");
    assert.ok(
      anonymous.every((r) => r.identity === null),
      "anonymous=true selects anonymous records only",
    );
    const byIp = await audited(`ip=${encodeURIComponent(anonymous[0]!.ip)}&limit=5`);
    assert.ok(byIp.length >= 1 && byIp.every((r) => r.ip === anonymous[0]!.ip), "by address");
    assert.equal((await audited("ip=192.0.2.77")).length, 0, "an address never seen selects nothing");
    assert.ok((await audited("project=Acme_Widgets&limit=5")).length >= 1, "a project in another spelling");
    const both = await fetch(`${open.url}/api/v1/audit?anonymous=true&identity=heidi`, {
      headers: bearer(token),
    });
    assert.equal(both.status, 400);
  });

  test("a labelled token's pulls carry its label, whatever X-Portcullis-Project says", async () => {
    const labelled = await createToken(open, { user: "nightly", role: "reader", label: "nightly-build" });
    const plain = await createToken(open, { user: "plain-ci", role: "reader" });
    const approver = await createToken(open, { user: "ivan", role: "approver" });
    for (const token of [labelled, plain]) {
      const res = await fetch(`${open.url}/simple/acme-widgets/`, {
        headers: { ...basic(token), "x-portcullis-project": "payments-prod" },
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    await flushAudit(open);
    const application = async (user: string) => {
      const res = await fetch(`${open.url}/api/v1/audit?identity=${user}&action=simple.page&limit=1`, {
        headers: bearer(approver),
      });
      return ((await res.json()) as { items: { application: string | null }[] }).items[0]?.application;
    };
    assert.equal(await application("nightly"), "nightly-build", "the admin-set label wins");
    assert.equal(
      await application("plain-ci"),
      "payments-prod",
      "the header names it for an unlabelled token",
    );
  });

  test("a refused token's attempt names its holder and why when the secret matched, never for a wrong one", async () => {
    const token = await createToken(open, { user: "leaver", role: "requester" });
    const approver = await createToken(open, { user: "judge", role: "approver" });
    const id = token.split("_")[1]!;
    await open.gateway.services.identity.revokeToken(id, CLI_ACTOR);
    const revoked = await fetch(`${open.url}/simple/acme-widgets/`, { headers: basic(token) });
    assert.equal(revoked.status, 401);
    await revoked.arrayBuffer();
    const guessed = await fetch(`${open.url}/simple/acme-widgets/`, {
      headers: basic(`pcl_${id}_${"A".repeat(43)}`),
    });
    assert.equal(guessed.status, 401);
    await guessed.arrayBuffer();
    await flushAudit(open);
    const res = await fetch(`${open.url}/api/v1/audit?action=simple.page&outcome=denied&limit=10`, {
      headers: bearer(approver),
    });
    const items = (
      (await res.json()) as {
        items: {
          identity: string | null;
          role: string;
          tokenId: string | null;
          detail: { auth?: string } | null;
        }[];
      }
    ).items.filter((r) => r.tokenId === id);
    assert.deepEqual(
      items.map((r) => [r.identity, r.detail?.auth]),
      [
        [null, "invalid token"],
        ["leaver", "token revoked"],
      ],
      "newest first: the guess stays anonymous, the revoked token's attempt names its holder",
    );
  });

  test("a decision changed by new intel is audited", async () => {
    const page = (await (
      await fetch(`${open.url}/simple/acme-widgets/`, {
        headers: { accept: "application/vnd.pypi.simple.v1+json" },
      })
    ).json()) as { files: { url: string; hashes: { sha256: string } }[] };
    const file = page.files[0]!;
    const res = await fetch(new URL(file.url, open.url));
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const osv = mkdtempSync(join(tmpdir(), "osv-"));
    writeFileSync(
      join(osv, "PYSEC-2099-77.json"),
      JSON.stringify({
        id: "PYSEC-2099-77",
        modified: "2026-11-01T00:00:00Z",
        affected: [{ package: { ecosystem: "PyPI", name: "acme-widgets" }, versions: ["1.0"] }],
      }),
    );
    await open.gateway.services.intel.importSource(osv);
    await open.gateway.policy.refresh();
    await flushAudit(open);
    const rows = await open.gateway.db.db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", "decision.changed")
      .where("sha256", "=", file.hashes.sha256)
      .execute();
    // The first judgement on the bytes is a change too (pending → admitted); then the block.
    const blocked = rows.find((r) => r.outcome === "blocked");
    assert.ok(blocked, JSON.stringify(rows.map((r) => r.outcome)));
    assert.equal(blocked.identity, "policy");
    assert.match(blocked.detail_json!, /PYSEC-2099-77/);
  });
});
