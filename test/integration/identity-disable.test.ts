/**
 * Disabling and enabling identities through the API (`POST /api/v1/users/{name}/disable|enable`)
 * on two real gateways sharing one database, on SQLite and PostgreSQL: the instance that disabled
 * an identity refuses its tokens at once (also a check it had cached, also on the fast lane), the
 * other instance within its 2 s token cache, enabling restores them the same way, an admin cannot
 * disable itself, and every attempt is in the audit trail.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { DIALECTS, dialectSkip, gatewayDatabase } from "../helpers/databases.js";
import { basic, bearer, createToken, flushAudit } from "../helpers/identity.js";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { buildWheel } from "../helpers/wheel-builder.js";

interface UserBody {
  name: string;
  disabled: boolean;
  disabledAt: string | null;
  disabledReason: string | null;
  disabledBy: string | null;
  error?: { code: string; message: string };
}

interface AuditItem {
  action: string;
  identity: string | null;
  outcome: string;
  detail: Record<string, unknown> | null;
}

for (const dialect of DIALECTS) {
  describe(`disabling and enabling identities (${dialect})`, { skip: await dialectSkip(dialect) }, () => {
    let upstream: JsonIndexServer;
    let database: { url: string; drop(): Promise<void> };
    let data: string;
    /** The instance the admin calls, and another instance on the same database. */
    let gw: TestGateway;
    let other: TestGateway;
    let clock = Date.parse("2026-11-01T00:00:00Z");
    let admin: string;

    before(async () => {
      const wheel = await buildWheel({ name: "acme-widgets", version: "1.0" });
      upstream = await startJsonIndexServer({
        projects: {
          "acme-widgets": {
            files: [{ filename: wheel.filename, bytes: wheel.bytes, uploadTime: "2025-01-01T00:00:00Z" }],
          },
        },
      });
      database = await gatewayDatabase(dialect);
      // On SQLite both instances share the data directory (its database file); on PostgreSQL each
      // has its own directory and they share the database.
      data = mkdtempSync(join(tmpdir(), "portcullis-disable-"));
      const at = (dir: string) => ({ upstream: upstream.simpleUrl, database: database.url, data: dir });
      gw = await startTestGateway(at(data), { now: () => clock });
      other = await startTestGateway(at(dialect === "sqlite" ? data : join(data, "other")), {
        now: () => clock,
      });
      admin = await createToken(gw, { user: "root", role: "admin" });
    });
    after(async () => {
      await gw?.close();
      await other?.close();
      await upstream?.close();
      await database?.drop();
      rmSync(data, { recursive: true, force: true });
    });

    const page = (on: TestGateway, token: string) =>
      fetch(`${on.url}/simple/acme-widgets/`, { headers: basic(token) });
    const me = (on: TestGateway, token: string) => fetch(`${on.url}/api/v1/me`, { headers: bearer(token) });
    const post = (path: string, token: string, body?: unknown) =>
      fetch(`${gw.url}/api/v1/users/${path}`, {
        method: "POST",
        headers: {
          ...bearer(token),
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    const audited = async (action: string, user: string): Promise<AuditItem[]> => {
      await flushAudit(gw);
      const res = await fetch(`${gw.url}/api/v1/audit?action=${action}&limit=50`, { headers: bearer(admin) });
      assert.equal(res.status, 200, `audit of ${action}`);
      return ((await res.json()) as { items: AuditItem[] }).items.filter((r) => r.detail?.user === user);
    };

    test("disabled through the API, a token (cached, and on the fast lane) gets 401 at once; enabled, it works at once", async () => {
      const token = await createToken(gw, { user: "leaver", role: "reader", team: "web" });
      // The first request renders the page, the second takes the fast lane from the cached check.
      for (let i = 0; i < 2; i++) assert.equal((await page(gw, token)).status, 200, `page ${i}`);
      assert.equal((await me(gw, token)).status, 200);

      const disabled = await post("leaver/disable", admin, { reason: "left the company (HR-4711)" });
      assert.equal(disabled.status, 200);
      const view = (await disabled.json()) as UserBody;
      assert.deepEqual(
        [view.name, view.disabled, view.disabledAt, view.disabledReason, view.disabledBy],
        ["leaver", true, new Date(clock).toISOString(), "left the company (HR-4711)", "root"],
      );
      const refused = await page(gw, token);
      assert.equal(refused.status, 401, "the cached check is forgotten at once");
      assert.match(await refused.text(), /identity is disabled/);
      assert.equal((await me(gw, token)).status, 401);

      const users = (await (await fetch(`${gw.url}/api/v1/users`, { headers: bearer(admin) })).json()) as {
        items: UserBody[];
      };
      const listed = users.items.find((u) => u.name === "leaver")!;
      assert.deepEqual(
        [listed.disabled, listed.disabledAt, listed.disabledReason, listed.disabledBy],
        [true, view.disabledAt, "left the company (HR-4711)", "root"],
      );
      // Its tokens are listed as what they are now: refused.
      const tokens = (await (
        await fetch(`${gw.url}/api/v1/tokens?user=leaver`, { headers: bearer(admin) })
      ).json()) as {
        items: { state: string }[];
      };
      assert.deepEqual(
        tokens.items.map((t) => t.state),
        ["disabled"],
      );
      // A new token for a disabled identity is refused too (nothing to route around it with).
      const fresh = await fetch(`${gw.url}/api/v1/tokens`, {
        method: "POST",
        headers: { ...bearer(admin), "content-type": "application/json" },
        body: JSON.stringify({ user: "leaver", role: "reader" }),
      });
      assert.equal(fresh.status, 409);

      // The refusal is cached now too; enabling forgets it at once.
      assert.equal((await page(gw, token)).status, 401);
      const enabled = await post("leaver/enable", admin);
      assert.equal(enabled.status, 200);
      const back = (await enabled.json()) as UserBody;
      assert.deepEqual(
        [back.disabled, back.disabledAt, back.disabledReason, back.disabledBy],
        [false, null, null, null],
      );
      assert.equal((await page(gw, token)).status, 200, "the token works again at once");
      const who = (await (await me(gw, token)).json()) as { user: string; team: string };
      assert.deepEqual([who.user, who.team], ["leaver", "web"], "with its team as before");

      const [disable] = await audited("user.disable", "leaver");
      assert.deepEqual(
        [disable?.identity, disable?.outcome, disable?.detail?.reason],
        ["root", "ok", "left the company (HR-4711)"],
      );
      const [enable] = await audited("user.enable", "leaver");
      assert.deepEqual(
        [enable?.identity, enable?.outcome, enable?.detail?.reason, enable?.detail?.disabledBy],
        ["root", "ok", "left the company (HR-4711)", "root"],
        "the enable record says what it lifted",
      );
    });

    test("another instance on the same database refuses the token within 2 s, and takes it back within 2 s", async () => {
      const token = await createToken(gw, { user: "contractor", role: "reader" });
      assert.equal((await page(other, token)).status, 200);
      assert.equal((await post("contractor/disable", admin)).status, 200);
      // The other instance answers from its token cache until that lapses (TOKEN_CACHE_MS).
      assert.equal((await page(other, token)).status, 200, "cached on the other instance");
      clock += 2_001;
      const refused = await page(other, token);
      assert.equal(refused.status, 401);
      assert.match(await refused.text(), /identity is disabled/);

      assert.equal((await post("contractor/enable", admin)).status, 200);
      assert.equal((await page(other, token)).status, 401, "the refusal is cached there as well");
      clock += 2_001;
      assert.equal((await page(other, token)).status, 200);
    });

    test("an admin cannot disable itself (403); unknown, repeated and malformed requests are refused and audited", async () => {
      const self = await post("root/disable", admin, { reason: "oops" });
      assert.equal(self.status, 403);
      const body = (await self.json()) as UserBody;
      assert.equal(body.error?.code, "FORBIDDEN");
      assert.match(body.error!.message, /cannot disable your own identity root/);
      assert.equal((await me(gw, admin)).status, 200, "the admin still works");
      const [denied] = await audited("user.disable", "root");
      assert.deepEqual(
        [denied?.identity, denied?.outcome, denied?.detail?.disableReason],
        ["root", "denied", "oops"],
      );

      const unknown = await post("nobody/disable", admin);
      assert.deepEqual(
        [unknown.status, ((await unknown.json()) as UserBody).error?.code],
        [404, "NOT_FOUND"],
      );
      assert.equal((await audited("user.disable", "nobody"))[0]?.outcome, "not-found");

      await createToken(gw, { user: "twice", role: "reader" });
      assert.equal((await post("twice/disable", admin, {})).status, 200);
      const again = await post("twice/disable", admin, { reason: "again" });
      assert.equal(again.status, 409, "disabled already: refused like a second revocation");
      assert.match(
        ((await again.json()) as UserBody).error!.message,
        /disabled already \(since .*, by root\)/,
      );
      assert.equal((await post("twice/enable", admin)).status, 200);
      const enableAgain = await post("twice/enable", admin);
      assert.equal(enableAgain.status, 409);
      assert.deepEqual(
        (await audited("user.disable", "twice")).map((r) => r.outcome),
        ["refused", "ok"],
      );
      assert.deepEqual(
        (await audited("user.enable", "twice")).map((r) => r.outcome),
        ["refused", "ok"],
      );

      for (const [path, sent, why] of [
        ["twice/disable", { reason: "gone\u001b[2J" }, /control characters/],
        ["twice/disable", { reason: "line\nbreak" }, /control characters/],
        ["twice/disable", { reason: "x".repeat(501) }, /500/],
        ["twice/disable", { reason: "" }, /fewer than 1/],
        ["twice/disable", { because: "x" }, /additional properties/],
        ["twice/enable", { reason: "x" }, /additional properties/],
        ["two%20words/disable", undefined, /params\/name/],
      ] as const) {
        const res = await post(path, admin, sent);
        assert.equal(res.status, 400, `${path} ${JSON.stringify(sent)}`);
        const err = ((await res.json()) as UserBody).error!;
        assert.equal(err.code, "VALIDATION");
        assert.match(err.message, why);
      }
      const users = (await (await fetch(`${gw.url}/api/v1/users`, { headers: bearer(admin) })).json()) as {
        items: UserBody[];
      };
      assert.equal(users.items.find((u) => u.name === "twice")?.disabled, false, "nothing bad was stored");
      // Characters, not UTF-16 units: 300 emoji are 300 characters.
      const emoji = await post("twice/disable", admin, { reason: "🔒".repeat(300) });
      assert.equal(emoji.status, 200, JSON.stringify(await emoji.clone().json()));
      assert.equal((await post("twice/enable", admin)).status, 200);

      const approver = await createToken(gw, { user: "sec-lead", role: "approver" });
      assert.equal((await post("twice/disable", approver)).status, 403, "admins only");
    });

    test("two admins disabling each other at the same moment: one wins, an enabled admin remains", async () => {
      for (let round = 0; round < 5; round++) {
        const [a, b] = [`ops-a${round}`, `ops-b${round}`];
        const tokenA = await createToken(gw, { user: a, role: "admin" });
        const tokenB = await createToken(gw, { user: b, role: "admin" });
        // Both checks cached: both requests pass authentication before either disables.
        for (const t of [tokenA, tokenB]) assert.equal((await me(gw, t)).status, 200);
        const [byA, byB] = await Promise.all([post(`${b}/disable`, tokenA), post(`${a}/disable`, tokenB)]);
        const statuses = [byA.status, byB.status].sort();
        assert.equal(statuses[0], 200, `round ${round}: one of them wins`);
        assert.ok(
          [401, 403].includes(statuses[1]!),
          `round ${round}: the other is refused, got ${statuses[1]}`,
        );
        const users = (await (await fetch(`${gw.url}/api/v1/users`, { headers: bearer(admin) })).json()) as {
          items: UserBody[];
        };
        const enabled = users.items.filter((u) => (u.name === a || u.name === b) && !u.disabled);
        assert.equal(enabled.length, 1, `round ${round}: exactly one of ${a} and ${b} stays enabled`);
      }
    });
  });
}
