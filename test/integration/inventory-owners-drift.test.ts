/**
 * Project owners and posture drift over the API of a real gateway, on SQLite and PostgreSQL:
 * the inventory is seeded by real downloads through the gateway (a fake clock ten days apart),
 * then `GET /api/v1/inventory/drift` and `GET|PUT /api/v1/owners` are asked for, by the roles
 * that may and by those that may not, with good and bad input.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { DIALECTS, dialectSkip, gatewayDatabase } from "../helpers/databases.js";
import { bearer, createToken, downloadRelease, flushAudit } from "../helpers/identity.js";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { buildWheel } from "../helpers/wheel-builder.js";

const DAY = 86_400_000;
const RELEASES: Record<string, string[]> = {
  "acme-lib": ["1.5", "2.0"],
  "left-pad": ["1.0", "1.1"],
  "brand-new": ["0.1"],
};

interface ApiError {
  error: { code: string; message: string };
}

async function api(gw: TestGateway, path: string, token: string | null, init: RequestInit = {}) {
  const res = await fetch(`${gw.url}/api/v1${path}`, {
    ...init,
    headers: {
      ...(token ? bearer(token) : {}),
      ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
    },
  });
  return { status: res.status, body: (await res.json()) as unknown };
}

/** A refusal in the API's one error shape, with the expected code. */
function assertApiError(res: { status: number; body: unknown }, status: number, code: string): string {
  assert.equal(res.status, status, JSON.stringify(res.body));
  const { error } = res.body as ApiError;
  assert.equal(error.code, code);
  assert.equal(typeof error.message, "string");
  assert.ok(error.message.length > 0);
  return error.message;
}

for (const dialect of DIALECTS) {
  describe(`owners and drift over the API (${dialect})`, { skip: await dialectSkip(dialect) }, () => {
    let upstream: JsonIndexServer;
    let gw: TestGateway;
    let database: { url: string; drop(): Promise<void> };
    let clock = Date.parse("2026-11-01T00:00:00Z");
    const tokens: Record<"admin" | "approver" | "requester" | "reader" | "ci" | "web", string> = {
      admin: "",
      approver: "",
      requester: "",
      reader: "",
      ci: "",
      web: "",
    };

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
      database = await gatewayDatabase(dialect);
      gw = await startTestGateway(
        { upstream: upstream.simpleUrl, database: database.url },
        { now: () => clock },
      );
      for (const role of ["admin", "approver", "requester", "reader"] as const)
        tokens[role] = await createToken(gw, { user: `the-${role}`, role });
      tokens.ci = await createToken(gw, { user: "ci-bot", role: "reader", team: "build", label: "nightly" });
      tokens.web = await createToken(gw, { user: "web-dev", role: "reader", team: "web" });

      // Week one: the CI job pulls acme-lib 2.0 and left-pad 1.0.
      await downloadRelease(gw, bearer(tokens.ci), "acme-lib", "2.0");
      await downloadRelease(gw, bearer(tokens.ci), "left-pad", "1.0");
      await flushAudit(gw);
      // Ten days on: the same again, a downgrade, a new version, a new project; and a newcomer.
      clock += 10 * DAY;
      await downloadRelease(gw, bearer(tokens.ci), "acme-lib", "2.0");
      await downloadRelease(gw, bearer(tokens.ci), "acme-lib", "1.5");
      await downloadRelease(gw, bearer(tokens.ci), "left-pad", "1.1");
      await downloadRelease(gw, bearer(tokens.ci), "brand-new", "0.1");
      await downloadRelease(gw, bearer(tokens.web), "acme-lib", "2.0");
      await downloadRelease(gw, {}, "left-pad", "1.1");
      await flushAudit(gw);
    });
    after(async () => {
      await gw?.close();
      await upstream?.close();
      await database?.drop();
    });

    test("drift names each consumer's new projects, new versions and downgrades", async () => {
      const since = new Date(clock - 7 * DAY).toISOString();
      const res = await api(gw, `/inventory/drift?since=${encodeURIComponent(since)}`, tokens.approver);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const body = res.body as {
        since: string;
        items: {
          identity: string | null;
          ip: string;
          application: string | null;
          team: string | null;
          changes: { kind: string; project: string; version: string; previous: string | null }[];
        }[];
      };
      assert.equal(body.since, since);
      const summary = body.items.map((d) => ({
        who: [d.identity, d.application, d.team],
        changes: d.changes.map((c) => [c.kind, c.project, c.version, c.previous]),
      }));
      assert.deepEqual(summary, [
        { who: [null, null, null], changes: [["new-project", "left-pad", "1.1", null]] },
        {
          who: ["ci-bot", "nightly", "build"],
          changes: [
            ["downgrade", "acme-lib", "1.5", "2.0"],
            ["new-project", "brand-new", "0.1", null],
            ["new-version", "left-pad", "1.1", "1.0"],
          ],
        },
        { who: ["web-dev", null, "web"], changes: [["new-project", "acme-lib", "2.0", null]] },
      ]);
      assert.ok(body.items.every((d) => d.ip === "127.0.0.1"));

      // `days` counts back from the gateway's clock; without either, a week.
      const byDays = await api(gw, "/inventory/drift?days=7", tokens.admin);
      assert.equal(byDays.status, 200);
      assert.deepEqual(byDays.body, body);
      assert.deepEqual((await api(gw, "/inventory/drift", tokens.approver)).body, body);
      const quiet = await api(gw, "/inventory/drift?since=2026-11-11T00:00:01Z", tokens.approver);
      assert.deepEqual(quiet.body, { since: "2026-11-11T00:00:01.000Z", items: [] });
    });

    test("drift over a window holding a consumer's first pull: a later older version is a downgrade", async () => {
      const res = await api(gw, "/inventory/drift?days=30", tokens.approver);
      assert.equal(res.status, 200);
      const { items } = res.body as {
        items: { identity: string | null; changes: { kind: string; project: string; version: string }[] }[];
      };
      assert.deepEqual(
        items.find((d) => d.identity === "ci-bot")?.changes.map((c) => [c.kind, c.project, c.version]),
        [
          ["new-project", "acme-lib", "2.0"],
          ["new-project", "left-pad", "1.0"],
          ["downgrade", "acme-lib", "1.5"],
          ["new-project", "brand-new", "0.1"],
          ["new-version", "left-pad", "1.1"],
        ],
      );
    });

    test("drift is for approvers: readers and requesters get 403, anonymous callers 401", async () => {
      for (const who of ["reader", "requester"] as const) {
        const message = assertApiError(await api(gw, "/inventory/drift", tokens[who]), 403, "FORBIDDEN");
        assert.match(message, /approver/);
      }
      assertApiError(await api(gw, "/inventory/drift", null), 401, "UNAUTHENTICATED");
    });

    test("drift refuses a bad since or days with 400 VALIDATION", async () => {
      for (const query of [
        "since=last-week",
        "since=2026-13-45T00:00:00Z",
        "since=",
        // RFC 3339 (and so Ajv's date-time) takes these; Date.parse does not.
        "since=2026-12-31T23:59:60Z",
        `since=${encodeURIComponent("2026-11-01T00:00:00+01")}`,
        "days=0",
        "days=366",
        "days=seven",
        "days=1.5",
        "days=Infinity",
        "days=-Infinity",
        "days=1e400",
        "days=NaN",
      ]) {
        const res = await api(gw, `/inventory/drift?${query}`, tokens.approver);
        assert.match(assertApiError(res, 400, "VALIDATION"), new RegExp(query.split("=")[0]!), query);
      }
    });

    test("a project search is a substring match: % and _ are themselves, not wildcards", async () => {
      const names = async (q: string) =>
        (
          (await api(gw, `/projects?q=${encodeURIComponent(q)}`, tokens.reader)).body as {
            items: { name: string }[];
          }
        ).items.map((p) => p.name);
      assert.deepEqual(await names("left"), ["left-pad"]);
      assert.deepEqual(await names("an%w"), [], "not brand-new");
      assert.deepEqual(await names("%"), []);
      assert.deepEqual(await names("a_m"), [], "not acme-lib");
    });

    test("an id past 2^53 is a 400, never a 500 from the database or a rounded id", async () => {
      for (const id of ["9223372036854775808", "9007199254740993", "1e300"]) {
        for (const path of [`/requests/${id}`, `/webhooks/${id}/deliveries`, `/environments/${id}`]) {
          const res = await api(gw, path, tokens.admin);
          assertApiError(res, 400, "VALIDATION");
        }
      }
      assertApiError(await api(gw, "/requests/9007199254740991", tokens.admin), 404, "NOT_FOUND");
    });

    test("owners: an admin sets one (normalised name), anyone reads them, the change is audited", async () => {
      const set = await api(gw, "/owners/Acme_Lib", tokens.admin, {
        method: "PUT",
        body: JSON.stringify({ team: "platform" }),
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.deepEqual(set.body, { project: "acme-lib", team: "platform" });
      // Setting it again moves it, with no duplicate.
      const moved = await api(gw, "/owners/acme-lib", tokens.admin, {
        method: "PUT",
        body: JSON.stringify({ team: "security" }),
      });
      assert.equal(moved.status, 200);

      const list = await api(gw, "/owners", null);
      assert.equal(list.status, 200, "anonymous read covers the owners list");
      const { items, next } = list.body as {
        items: { project: string; team: string; setBy: string; setAt: string }[];
        next: string | null;
      };
      assert.equal(next, null);
      assert.deepEqual(
        items.map((o) => [o.project, o.team, o.setBy, o.setAt]),
        [["acme-lib", "security", "the-admin", new Date(clock).toISOString()]],
      );
      const teams = (await api(gw, "/teams", tokens.admin)).body as { items: { name: string }[] };
      assert.ok(
        ["platform", "security"].every((t) => teams.items.some((x) => x.name === t)),
        "an owning team is created if new",
      );
      // who-has shows the owner next to each consumer.
      const who = (await api(gw, "/who-has?q=acme-lib", tokens.approver)).body as {
        consumers: { owner: string | null }[];
      };
      assert.ok(who.consumers.length > 0);
      assert.ok(who.consumers.every((c) => c.owner === "security"));

      await flushAudit(gw);
      const audited = await gw.gateway.services.auditLog.query({
        action: "owner.set",
        limit: 10,
        order: "asc",
      });
      assert.deepEqual(
        audited.map((r) => [r.identity, r.project, JSON.parse(r.detail_json ?? "null")]),
        [
          ["the-admin", "acme-lib", { team: "platform" }],
          ["the-admin", "acme-lib", { team: "security" }],
        ],
      );
    });

    test("owners: only admins set them (403 for the other roles, 401 anonymous)", async () => {
      for (const who of ["reader", "requester", "approver"] as const) {
        const res = await api(gw, "/owners/left-pad", tokens[who], {
          method: "PUT",
          body: JSON.stringify({ team: "intruders" }),
        });
        assertApiError(res, 403, "FORBIDDEN");
      }
      const anonymous = await api(gw, "/owners/left-pad", null, {
        method: "PUT",
        body: JSON.stringify({ team: "intruders" }),
      });
      assertApiError(anonymous, 401, "UNAUTHENTICATED");
      const owners = (await api(gw, "/owners", tokens.reader)).body as { items: { project: string }[] };
      assert.ok(!owners.items.some((o) => o.project === "left-pad"), "no refused call set an owner");
    });

    test("owners: bad project names, team names and bodies get 400 VALIDATION", async () => {
      const put = (project: string, body: unknown) =>
        api(gw, `/owners/${encodeURIComponent(project)}`, tokens.admin, {
          method: "PUT",
          body: JSON.stringify(body),
        });
      assert.match(
        assertApiError(await put("not a name!", { team: "platform" }), 400, "VALIDATION"),
        /invalid project name/,
      );
      assert.match(
        assertApiError(await put("-leading-dash", { team: "platform" }), 400, "VALIDATION"),
        /invalid project name/,
      );
      assert.match(
        assertApiError(await put("left-pad", { team: "two words" }), 400, "VALIDATION"),
        /invalid team name/,
      );
      assertApiError(await put("left-pad", {}), 400, "VALIDATION");
      assertApiError(await put("left-pad", { team: "" }), 400, "VALIDATION");
      assertApiError(await put("x".repeat(201), { team: "platform" }), 400, "VALIDATION");
      const owners = (await api(gw, "/owners", tokens.reader)).body as { items: { project: string }[] };
      assert.ok(!owners.items.some((o) => o.project === "left-pad"), "no refused call set an owner");
    });

    test("a NUL in a path, query or JSON body is refused with 400, never a database error", async () => {
      for (const path of [
        "/audit?identity=%00",
        "/audit?project=a%00b",
        "/projects?q=%00",
        "/projects/a%00b",
        "/who-has?q=acme%00",
        "/owners/acme%00lib",
      ]) {
        const res = await api(gw, path, tokens.admin);
        assert.match(assertApiError(res, 400, "VALIDATION"), /NUL/, path);
      }
      for (const [method, path, body] of [
        ["POST", "/tokens", { user: "nul-user", role: "reader", label: "a\u0000b" }],
        ["PUT", "/owners/left-pad", { team: "plat\u0000form" }],
        ["POST", "/tokens", { user: "nul-user", role: "reader", ["la\u0000bel"]: "x" }],
      ] as const) {
        const res = await api(gw, path, tokens.admin, { method, body: JSON.stringify(body) });
        assert.match(assertApiError(res, 400, "VALIDATION"), /NUL/, `${method} ${path}`);
      }
      assert.equal((await fetch(`${gw.url}/simple/acme%00lib/`)).status, 400);
      // An unknown field in a body is refused, not silently dropped.
      const extra = await api(gw, "/tokens", tokens.admin, {
        method: "POST",
        body: JSON.stringify({ user: "extra-user", role: "reader", extra: 1 }),
      });
      assert.match(assertApiError(extra, 400, "VALIDATION"), /additional properties/);
    });

    test("owners page by project name with limit and cursor", async () => {
      for (const project of ["page-a", "page-b", "page-c"]) {
        const set = await api(gw, `/owners/${project}`, tokens.admin, {
          method: "PUT",
          body: JSON.stringify({ team: "paging" }),
        });
        assert.equal(set.status, 200, JSON.stringify(set.body));
      }
      const all = (await api(gw, "/owners", tokens.reader)).body as { items: { project: string }[] };
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await api(gw, `/owners?limit=2${cursor ? `&cursor=${cursor}` : ""}`, tokens.reader);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const page = res.body as { items: { project: string }[]; next: string | null };
        assert.ok(page.items.length <= 2, `a page holds at most the limit: ${page.items.length}`);
        seen.push(...page.items.map((o) => o.project));
        cursor = page.next;
        pages++;
      } while (cursor && pages < 10);
      assert.deepEqual(
        seen,
        all.items.map((o) => o.project),
      );
      assert.ok(pages >= 2, `more than one page: ${pages}`);
      assertApiError(await api(gw, "/owners?cursor=garbage", tokens.reader), 400, "VALIDATION");
      // A cursor comes back from outside: a NUL or a fraction in it is refused, not sent to the database.
      const forged = (key: unknown) => Buffer.from(JSON.stringify(key)).toString("base64url");
      for (const cursor of [forged({ project: "a\u0000b" }), forged({ project: 1.5 }), forged(1.5)])
        assertApiError(await api(gw, `/owners?cursor=${cursor}`, tokens.reader), 400, "VALIDATION");
      for (const path of [`/webhooks?cursor=${forged(1.5)}`, `/audit?cursor=${forged({ seq: 1e300 })}`])
        assertApiError(await api(gw, path, tokens.admin), 400, "VALIDATION");
      assertApiError(await api(gw, "/owners?limit=0", tokens.reader), 400, "VALIDATION");
    });

    test("a project's consumers (who pulled it) are for approvers and admins only", async () => {
      for (const role of ["approver", "admin"] as const) {
        const res = await api(gw, "/projects/acme-lib", tokens[role]);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const consumers = (res.body as { consumers?: { identity: string | null }[] }).consumers;
        assert.ok(Array.isArray(consumers), `${role} sees consumers: ${JSON.stringify(res.body)}`);
        assert.ok(
          consumers.some((c) => c.identity === "ci-bot"),
          `${role} sees who pulled: ${JSON.stringify(consumers)}`,
        );
      }
      for (const [who, token] of [
        ["reader", tokens.reader],
        ["requester", tokens.requester],
        ["anonymous", null],
      ] as const) {
        const res = await api(gw, "/projects/acme-lib", token);
        assert.equal(res.status, 200, `${who}: ${JSON.stringify(res.body)}`);
        const body = res.body as { versions: unknown[]; consumers?: unknown };
        assert.equal(body.versions.length, 2, `${who} still sees the project`);
        assert.equal(
          "consumers" in body,
          false,
          `${who} sees no consumers: ${JSON.stringify(body.consumers)}`,
        );
        assert.doesNotMatch(JSON.stringify(body), /ci-bot/, `${who} learns nothing of who pulled`);
      }
    });

    test("a range request is a pull when it carries the file's last byte, as a resumed download does", async () => {
      const prober = await createToken(gw, { user: "prober", role: "reader" });
      const pageUrl = `${gw.url}/simple/left-pad/`;
      const page = (await (
        await fetch(pageUrl, {
          headers: { ...bearer(prober), accept: "application/vnd.pypi.simple.v1+json" },
        })
      ).json()) as { files: { url: string }[] };
      const url = new URL(page.files[0]!.url, pageUrl);
      const consumers = async () => {
        await flushAudit(gw);
        const who = (await api(gw, "/who-has?q=left-pad", tokens.approver)).body as {
          consumers: { identity: string | null; pulls: number }[];
        };
        return who.consumers.filter((c) => c.identity === "prober").map((c) => c.pulls);
      };
      for (const range of ["bytes=0-0", "bytes=10-19"]) {
        const res = await fetch(url, { headers: { ...bearer(prober), range } });
        assert.equal(res.status, 206, range);
        await res.arrayBuffer();
        assert.deepEqual(await consumers(), [], `${range} stops short of the end: no pull`);
      }
      const rest = await fetch(url, { headers: { ...bearer(prober), range: "bytes=20-" } });
      assert.equal(rest.status, 206);
      await rest.arrayBuffer();
      assert.deepEqual(await consumers(), [1], "the range that ends the file is a pull");
    });
  });
}
