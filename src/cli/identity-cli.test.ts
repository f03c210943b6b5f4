/**
 * `portcullis token|user|team|owner|drift|audit export` in-process, as `bin/portcullis` runs them
 * (`runCli`: the exit code and the message a user sees), on the data directory and database of a
 * real gateway serving beside them, on SQLite and PostgreSQL. The inventory and the audit trail
 * are seeded by real downloads through that gateway, on a fake clock ten days apart.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { DIALECTS, dialectSkip, gatewayDatabase } from "../../test/helpers/databases.js";
import { basic, downloadRelease, flushAudit } from "../../test/helpers/identity.js";
import { startJsonIndexServer, type JsonIndexServer } from "../../test/helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../../test/helpers/test-gateway.js";
import { buildWheel } from "../../test/helpers/wheel-builder.js";
import { CLI_ACTOR } from "../domain/identity.js";
import { GENESIS_HASH, recordHash } from "../services/audit/audit-chain.js";
import { cli, type CliRun } from "../../test/helpers/run-cli.js";

const DAY = 86_400_000;
const DAY0 = Date.parse("2026-11-01T00:00:00Z");
const DAY10 = DAY0 + 10 * DAY;
const RELEASES: Record<string, string[]> = {
  "acme-lib": ["1.5", "2.0"],
  "left-pad": ["1.0", "1.1"],
  "brand-new": ["0.1"],
};

/** A row of `user list --json`. */
interface UserRow {
  name: string;
  disabled: boolean;
}

/** The last line `token create` prints: the token itself. */
function tokenOf(run: CliRun): string {
  assert.equal(run.code, 0, run.stderr);
  const token = run.stdout.trim().split("\n").at(-1)!;
  assert.match(token, /^pcl_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
  return token;
}

for (const dialect of DIALECTS) {
  describe(`identity CLI beside a running gateway (${dialect})`, { skip: await dialectSkip(dialect) }, () => {
    let upstream: JsonIndexServer;
    let gw: TestGateway;
    let database: { url: string; drop(): Promise<void> };
    let clock = DAY0;
    /** The options every local command takes here: the gateway's data directory and database. */
    let local: string[];

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
      local = ["--data", gw.dataDir, ...(database.url ? ["--database", database.url] : [])];
    });
    after(async () => {
      await gw?.close();
      await upstream?.close();
      await database?.drop();
    });

    test("on a fresh gateway every list says it is empty", async () => {
      for (const [args, empty] of [
        [["token", "list"], "no tokens\n"],
        [["user", "list"], "no users\n"],
        [["team", "list"], "no teams\n"],
        [["owner", "list"], "no owners set\n"],
      ] as const) {
        const run = await cli(...args, ...local);
        assert.deepEqual([run.code, run.stdout], [0, empty], args.join(" "));
      }
    });

    test("token create, then token, user and team list show it (never the secret)", async () => {
      const token = tokenOf(
        await cli(
          "token",
          "create",
          "--user",
          "ci-bot",
          "--role",
          "reader",
          "--team",
          "build",
          "--label",
          "nightly",
          "--service",
          ...local,
        ),
      );
      tokenOf(
        await cli("token", "create", "--user", "alice", "--role", "approver", "--team", "security", ...local),
      );
      const id = token.slice(4, 16);

      const list = await cli("token", "list", ...local);
      assert.equal(list.code, 0, list.stderr);
      assert.ok(!list.stdout.includes(token.slice(17)), "a listing never holds a secret");
      const lines = list.stdout.trimEnd().split("\n");
      assert.equal(lines.length, 2);
      assert.match(
        lines.find((l) => l.startsWith(id))!,
        /^[0-9a-f]{12} {2}ci-bot +reader +build +nightly +active$/,
      );

      const json = await cli("token", "list", "--user", "ci-bot", "--json", ...local);
      const tokens = JSON.parse(json.stdout) as Record<string, unknown>[];
      assert.deepEqual(
        tokens.map((t) => [t.id, t.user, t.role, t.team, t.label, t.expiresAt, t.revokedAt]),
        [[id, "ci-bot", "reader", "build", "nightly", null, null]],
      );
      assert.match(String(tokens[0]!.createdBy), /^cli/);

      const users = await cli("user", "list", ...local);
      assert.equal(users.code, 0, users.stderr);
      assert.deepEqual(
        users.stdout
          .trimEnd()
          .split("\n")
          .map((l) => l.split(/\s+/))
          .sort(),
        [
          ["alice", "user", "approver", "security"],
          ["ci-bot", "service", "reader", "build"],
        ],
      );
      const usersJson = JSON.parse((await cli("user", "list", "--json", ...local)).stdout) as {
        name: string;
        kind: string;
      }[];
      assert.deepEqual(usersJson.map((u) => [u.name, u.kind]).sort(), [
        ["alice", "user"],
        ["ci-bot", "service"],
      ]);
      // The API's shape (GET /api/v1/users): camelCase keys, times in ISO 8601.
      for (const u of usersJson) {
        assert.deepEqual(Object.keys(u).sort(), [
          "createdAt",
          "disabled",
          "disabledAt",
          "disabledBy",
          "disabledReason",
          "kind",
          "name",
          "role",
          "team",
        ]);
        assert.match(String((u as { createdAt?: unknown }).createdAt), /^\d{4}-\d\d-\d\dT.*Z$/);
      }

      const teams = await cli("team", "list", ...local);
      assert.equal(teams.code, 0, teams.stderr);
      assert.deepEqual(
        teams.stdout
          .trimEnd()
          .split("\n")
          .map((l) => l.split(/\s+/))
          .sort(),
        [
          ["build", "1", "member(s)"],
          ["security", "1", "member(s)"],
        ],
      );
      const teamsJson = JSON.parse((await cli("team", "list", "--json", ...local)).stdout) as {
        name: string;
        members: number;
      }[];
      assert.deepEqual(teamsJson.map((t) => [t.name, t.members]).sort(), [
        ["build", 1],
        ["security", 1],
      ]);
      for (const t of teamsJson) {
        assert.deepEqual(Object.keys(t).sort(), ["createdAt", "members", "name"]);
        assert.match(String((t as { createdAt?: unknown }).createdAt), /^\d{4}-\d\d-\d\dT.*Z$/);
      }
    });

    test("token create and list refuse bad input with exit 2, an unknown user with exit 1", async () => {
      const badRole = await cli("token", "create", "--user", "x", "--role", "root", ...local);
      assert.equal(badRole.code, 2);
      assert.match(badRole.stderr, /^portcullis: --role must be one of reader, requester, approver, admin/);
      const badDays = await cli(
        "token",
        "create",
        "--user",
        "x",
        "--role",
        "reader",
        "--expires-days",
        "0",
        ...local,
      );
      assert.equal(badDays.code, 2);
      assert.equal(
        badDays.stderr,
        'portcullis: --expires-days must be a whole number of days from 1 to 3650, got "0"\n',
      );
      const badName = await cli("token", "create", "--user", "two words", "--role", "reader", ...local);
      assert.equal(badName.code, 2);
      assert.match(badName.stderr, /^portcullis: invalid user name "two words"/);
      const unknown = await cli("token", "list", "--user", "nobody", ...local);
      assert.equal(unknown.code, 1, unknown.stdout);
      assert.match(unknown.stderr, /^portcullis: no user or service account "nobody"/);
      assert.equal(unknown.stdout, "");
      const users = JSON.parse((await cli("user", "list", "--json", ...local)).stdout) as { name: string }[];
      assert.ok(!users.some((u) => u.name === "x" || u.name === "two words"), "nothing was created");
    });

    test("token revoke: the running gateway refuses the token (401) once its 2 s cache lapses", async () => {
      const token = tokenOf(await cli("token", "create", "--user", "leaver", "--role", "reader", ...local));
      const id = token.slice(4, 16);
      const page = () => fetch(`${gw.url}/simple/acme-lib/`, { headers: basic(token) });
      assert.equal((await page()).status, 200);

      const revoked = await cli("token", "revoke", id, ...local);
      assert.deepEqual([revoked.code, revoked.stdout], [0, `revoked token ${id} of leaver\n`]);
      assert.equal((await page()).status, 200, "still in the gateway's cache");
      clock += 2_001;
      const refused = await page();
      assert.equal(refused.status, 401);
      assert.match(await refused.text(), /token revoked/);
      const listed = JSON.parse(
        (await cli("token", "list", "--user", "leaver", "--json", ...local)).stdout,
      ) as {
        revokedAt: string | null;
      }[];
      assert.ok(listed[0]!.revokedAt, "the listing says when");
      assert.match(
        (await cli("token", "list", "--user", "leaver", ...local)).stdout,
        / revoked \d{4}-\d\d-\d\dT/,
      );

      // The whole token works as well as its id.
      const other = tokenOf(await cli("token", "create", "--user", "leaver", "--role", "reader", ...local));
      assert.equal((await cli("token", "revoke", other, ...local)).code, 0);

      const again = await cli("token", "revoke", id, ...local);
      assert.equal(again.code, 1);
      assert.equal(again.stderr, `portcullis: token ${id} was revoked already\n`);
      const unknown = await cli("token", "revoke", "0123456789ab", ...local);
      assert.equal(unknown.code, 1);
      assert.equal(unknown.stderr, "portcullis: no token with id 0123456789ab\n");
      const malformed = await cli("token", "revoke", "not-an-id", ...local);
      assert.equal(malformed.code, 2);
      assert.match(malformed.stderr, /^portcullis: expected a token id \(12 hex digits\), got "not-an-id"/);
      const missing = await cli("token", "revoke", ...local);
      assert.equal(missing.code, 2, "commander: a missing argument is a usage error");
      assert.match(missing.stderr, /missing required argument 'id'/);
      // A mistyped flag is a usage error (2), never the 1 of "audit trail NOT intact".
      const typo = await cli("audit", "verify", "--jsn", ...local);
      assert.equal(typo.code, 2);
      assert.match(typo.stderr, /unknown option '--jsn'/);
    });

    test("user disable and enable: the running gateway refuses the identity's tokens (401) within its 2 s cache, then takes them back", async () => {
      const token = tokenOf(
        await cli("token", "create", "--user", "offboarded", "--role", "reader", "--team", "web", ...local),
      );
      const page = () => fetch(`${gw.url}/simple/acme-lib/`, { headers: basic(token) });
      assert.equal((await page()).status, 200);

      const reason = "left the company, ticket HR-4711";
      const disabled = await cli("user", "disable", "offboarded", "--reason", reason, ...local);
      assert.deepEqual(
        [disabled.code, disabled.stdout, disabled.stderr],
        [0, "disabled user offboarded: its 1 active token(s) are refused by every gateway within 2 s\n", ""],
      );
      assert.equal((await page()).status, 200, "still in the gateway's cache");
      clock += 2_001;
      const refused = await page();
      assert.equal(refused.status, 401);
      assert.match(await refused.text(), /identity is disabled/);

      const line = (await cli("user", "list", ...local)).stdout
        .split("\n")
        .find((l) => l.startsWith("offboarded "));
      assert.match(
        String(line),
        /^offboarded +user +reader +web {2}\(disabled \d{4}-\d\d-\d\dT[\d:.]+Z by cli\S*: left the company, ticket HR-4711\)$/,
      );
      const json = JSON.parse((await cli("user", "list", "--json", ...local)).stdout) as Record<
        string,
        unknown
      >[];
      const row = json.find((u) => u.name === "offboarded")!;
      assert.deepEqual([row.disabled, row.disabledReason], [true, reason]);
      assert.match(String(row.disabledBy), /^cli/);

      // Refused (1), like a second revocation; bad input (2); nothing changes.
      const again = await cli("user", "disable", "offboarded", ...local);
      assert.equal(again.code, 1);
      assert.match(
        again.stderr,
        /^portcullis: identity offboarded was disabled already \(since .* by cli\S*: left the company/,
      );
      const unknown = await cli("user", "disable", "nobody", ...local);
      assert.deepEqual(
        [unknown.code, unknown.stderr],
        [1, 'portcullis: no user or service account "nobody"\n'],
      );
      const badName = await cli("user", "disable", "two words", ...local);
      assert.equal(badName.code, 2);
      assert.match(badName.stderr, /^portcullis: invalid user name "two words"/);
      for (const bad of ["gone\u001b[2J", "line\nbreak", "x".repeat(501), ""]) {
        const run = await cli("user", "disable", "alice", "--reason", bad, ...local);
        assert.equal(run.code, 2, JSON.stringify(bad));
        assert.match(run.stderr, /--reason must not|a reason has 1 to 500 characters/, JSON.stringify(bad));
      }
      const stillEnabled = JSON.parse((await cli("user", "list", "--json", ...local)).stdout) as UserRow[];
      assert.equal(
        stillEnabled.find((u) => u.name === "alice")?.disabled,
        false,
        "a refused reason disables nobody",
      );
      const noToken = await cli("token", "create", "--user", "offboarded", "--role", "reader", ...local);
      assert.equal(noToken.code, 1, "no new token for a disabled identity");

      const enabled = await cli("user", "enable", "offboarded", ...local);
      assert.deepEqual(
        [enabled.code, enabled.stdout],
        [0, "enabled user offboarded: its 1 active token(s) work again within 2 s\n"],
      );
      assert.equal((await page()).status, 401, "the refusal is still in the gateway's cache");
      clock += 2_001;
      assert.equal((await page()).status, 200, "the same token works again");
      const enableAgain = await cli("user", "enable", "offboarded", ...local);
      assert.deepEqual(
        [enableAgain.code, enableAgain.stderr],
        [1, "portcullis: identity offboarded is not disabled\n"],
      );
      assert.equal((await cli("user", "enable", "nobody", ...local)).code, 1);

      // Disabling the only admin is not refused (this command is the way back in), but said.
      tokenOf(await cli("token", "create", "--user", "sole-admin", "--role", "admin", ...local));
      const lastAdmin = await cli("user", "disable", "sole-admin", ...local);
      assert.equal(lastAdmin.code, 0, lastAdmin.stderr);
      assert.match(
        lastAdmin.stderr,
        /^Note: no enabled admin remains for the API; enable one \(portcullis user enable NAME\)/,
      );
      assert.equal((await cli("user", "enable", "sole-admin", ...local)).code, 0);

      // The trail has each attempt, with its reason, by the CLI's actor.
      const audit = (await cli("audit", "export", ...local)).stdout
        .trimEnd()
        .split("\n")
        .map(
          (l) =>
            JSON.parse(l) as {
              action: string;
              identity: string;
              outcome: string;
              detail: Record<string, unknown>;
            },
        )
        .filter((r) => r.action.startsWith("user.") && r.detail.user === "offboarded");
      assert.deepEqual(
        audit.map((r) => [r.action, r.outcome, r.detail.reason]),
        [
          ["user.disable", "ok", reason],
          [
            "user.disable",
            "refused",
            `identity offboarded was disabled already (since ${String(row.disabledAt)}, by ${String(row.disabledBy)}: ${reason})`,
          ],
          ["user.enable", "ok", reason],
          ["user.enable", "refused", "identity offboarded is not disabled"],
        ],
      );
      for (const r of audit) assert.match(r.identity, /^cli/, "the CLI's actor");
    });

    test("owner set and list; bad names exit 2; the gateway and the audit trail see the owner", async () => {
      const set = await cli("owner", "set", "Acme_Lib", "platform", ...local);
      assert.deepEqual([set.code, set.stderr], [0, ""]);
      assert.equal(set.stdout, "acme-lib is owned by platform\n", "the name as stored (normalised)");
      const list = await cli("owner", "list", ...local);
      assert.deepEqual(
        list.stdout
          .trimEnd()
          .split("\n")
          .map((l) => l.split(/\s+/)),
        [["acme-lib", "platform"]],
      );
      const json = JSON.parse((await cli("owner", "list", "--json", ...local)).stdout) as Record<
        string,
        unknown
      >[];
      assert.deepEqual(
        json.map((o) => [o.project, o.team, typeof o.setBy, /^\d{4}-\d\d-\d\dT/.test(String(o.setAt))]),
        [["acme-lib", "platform", "string", true]],
        "the shape of GET /api/v1/owners",
      );
      assert.ok((await cli("team", "list", ...local)).stdout.includes("platform"), "a new team is created");

      const badProject = await cli("owner", "set", "not a name", "platform", ...local);
      assert.equal(badProject.code, 2);
      assert.equal(badProject.stderr, 'portcullis: invalid project name "not a name"\n');
      const badTeam = await cli("owner", "set", "left-pad", "two words", ...local);
      assert.equal(badTeam.code, 2);
      assert.equal(badTeam.stderr, 'portcullis: invalid team name "two words"\n');

      const api = (await (await fetch(`${gw.url}/api/v1/owners`)).json()) as { items: { project: string }[] };
      assert.deepEqual(
        api.items.map((o) => o.project),
        ["acme-lib"],
      );
      const audited = await gw.gateway.services.auditLog.query({
        action: "owner.set",
        limit: 10,
        order: "asc",
      });
      assert.equal(audited.length, 1);
      assert.equal(audited[0]!.project, "acme-lib");
      assert.match(audited[0]!.identity ?? "", /^cli/);
    });

    test("drift --since: per consumer, new projects, new versions and downgrades", async () => {
      const ci = tokenOf(
        await cli("token", "create", "--user", "ci-bot", "--role", "reader", "--label", "nightly", ...local),
      );
      clock = DAY0;
      await downloadRelease(gw, basic(ci), "acme-lib", "2.0");
      await downloadRelease(gw, basic(ci), "left-pad", "1.0");
      await flushAudit(gw);
      clock = DAY10;
      await downloadRelease(gw, basic(ci), "acme-lib", "2.0");
      await downloadRelease(gw, basic(ci), "acme-lib", "1.5");
      await downloadRelease(gw, basic(ci), "left-pad", "1.1");
      await downloadRelease(gw, basic(ci), "brand-new", "0.1");
      await downloadRelease(gw, {}, "left-pad", "1.1");
      await flushAudit(gw);

      const since = new Date(DAY10 - 7 * DAY).toISOString();
      const text = await cli("drift", "--since", since, ...local);
      assert.equal(text.code, 0, text.stderr);
      const at = new Date(DAY10).toISOString();
      assert.equal(
        text.stdout,
        [
          "anonymous@127.0.0.1:",
          `  new-project left-pad==1.1  first pulled ${at}`,
          "ci-bot [nightly] (team build):",
          `  downgrade   acme-lib==1.5 (had 2.0)  first pulled ${at}`,
          `  new-project brand-new==0.1  first pulled ${at}`,
          `  new-version left-pad==1.1 (had 1.0)  first pulled ${at}`,
          "",
        ].join("\n"),
      );
      const json = await cli("drift", "--since", since, "--json", ...local);
      const drift = JSON.parse(json.stdout) as { identity: string | null; changes: { kind: string }[] }[];
      assert.deepEqual(
        drift.map((d) => [d.identity, d.changes.map((c) => c.kind)]),
        [
          [null, ["new-project"]],
          ["ci-bot", ["downgrade", "new-project", "new-version"]],
        ],
      );

      const quiet = await cli("drift", "--since", new Date(DAY10 + 1).toISOString(), ...local);
      assert.deepEqual([quiet.code, quiet.stdout], [0, "no drift: nobody pulled anything new\n"]);
      const bad = await cli("drift", "--since", "last tuesday", ...local);
      assert.equal(bad.code, 2);
      assert.equal(
        bad.stderr,
        'portcullis: --since must be an ISO 8601 date (2026-12-31) or time (2026-12-31T18:00:00Z), got "last tuesday"\n',
      );
      assert.equal(bad.stdout, "");
      // What Date.parse would bend (a negative number read as a year, a 30th of February) is refused.
      for (const since of ["-5", "1", "2027-02-30", "2026-11-01T00:00:00"]) {
        const r = await cli("drift", "--since", since, ...local);
        assert.equal(r.code, 2, since);
        assert.match(r.stderr, /--since must be an ISO 8601 date/, since);
      }
    });

    test("audit export: JSON lines in seq order, chained, windowed by --since/--until", async () => {
      // More than one page of the export (5,000 records), written through the trail's public API.
      for (let i = 0; i < 5_050; i++)
        gw.gateway.services.audit.record({
          action: "test.filler",
          actor: CLI_ACTOR,
          outcome: "ok",
          detail: { i },
        });
      await flushAudit(gw);

      const all = await cli("audit", "export", ...local);
      assert.equal(all.code, 0, all.stderr);
      assert.ok(all.stdout.endsWith("\n"));
      const records = all.stdout
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.ok(records.length > 5_050, `${records.length} records: more than one page`);
      let prevHash = GENESIS_HASH;
      records.forEach((r, k) => {
        assert.equal(r.seq, k + 1, "every record, in seq order, no gaps");
        assert.equal(r.prevHash, prevHash, `record ${k + 1} links to the one before`);
        assert.match(String(r.hash), /^[0-9a-f]{64}$/);
        prevHash = String(r.hash);
      });
      // A reader can re-derive each hash from the exported fields alone.
      for (const r of records.filter((x) => x.client === null)) {
        const fields = {
          at: Date.parse(String(r.time)),
          action: String(r.action),
          identity: r.identity as string | null,
          role: String(r.role),
          team: r.team as string | null,
          token_id: r.tokenId as string | null,
          ip: String(r.ip),
          application: r.application as string | null,
          client_json: null,
          project: r.project as string | null,
          version: r.version as string | null,
          filename: r.filename as string | null,
          sha256: r.sha256 as string | null,
          outcome: String(r.outcome),
          status: r.status as number | null,
          detail_json: r.detail === null ? null : JSON.stringify(r.detail),
        };
        assert.equal(
          recordHash(Number(r.seq), String(r.prevHash), fields),
          r.hash,
          `record ${String(r.seq)}`,
        );
      }
      const actions = new Set(records.map((r) => r.action));
      for (const a of ["token.create", "token.revoke", "owner.set", "file.download", "test.filler"])
        assert.ok(actions.has(a), a);

      // The downloads of day ten, to the millisecond: --since is inclusive, --until exclusive.
      const window = await cli(
        "audit",
        "export",
        "--since",
        new Date(DAY10).toISOString(),
        "--until",
        new Date(DAY10 + 1).toISOString(),
        ...local,
      );
      assert.equal(window.code, 0, window.stderr);
      const windowed = window.stdout
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line) as { seq: number });
      assert.deepEqual(
        windowed,
        records.filter((r) => r.time === new Date(DAY10).toISOString()),
      );
      assert.ok(windowed.length >= 10, "the day-ten pages and downloads");
      const before = await cli("audit", "export", "--until", new Date(DAY10).toISOString(), ...local);
      assert.ok(!before.stdout.includes(`"time":"${new Date(DAY10).toISOString()}"`), "--until is exclusive");
      const none = await cli("audit", "export", "--since", "2099-01-01T00:00:00Z", ...local);
      assert.deepEqual([none.code, none.stdout], [0, ""]);

      const badSince = await cli("audit", "export", "--since", "yesterday", ...local);
      assert.equal(badSince.code, 2);
      assert.match(badSince.stderr, /^portcullis: --since must be an ISO 8601 date .*, got "yesterday"\n$/);
      for (const until of ["2026-13-01", "2027-02-30", "1", "2026-12-31T23:59:60Z"]) {
        const badUntil = await cli("audit", "export", "--until", until, ...local);
        assert.equal(badUntil.code, 2, until);
        assert.match(badUntil.stderr, /--until must be an ISO 8601 date/, until);
      }
      const badFormat = await cli("audit", "export", "--format", "csv", ...local);
      assert.equal(badFormat.code, 2);
      assert.equal(badFormat.stderr, 'portcullis: --format must be jsonl, got "csv"\n');

      // The chain the export shows is the one `audit verify` checks.
      const verify = await cli("audit", "verify", ...local);
      assert.equal(verify.code, 0, verify.stderr);
      // verify only reads: what the running gateway has not signed yet stays unsigned (and said so).
      const json = JSON.parse((await cli("audit", "verify", "--json", ...local)).stdout) as {
        ok: boolean;
        records: number;
        checkpoints: number;
        signedThrough: number;
        unsigned: number;
      };
      assert.equal(json.ok, true);
      assert.ok(json.records >= records.length);
      assert.equal(json.signedThrough + json.unsigned, json.records, JSON.stringify(json));
      const again = JSON.parse((await cli("audit", "verify", "--json", ...local)).stdout) as typeof json;
      assert.equal(again.checkpoints, json.checkpoints, "verifying signed no checkpoint");
      assert.match(
        verify.stdout,
        /^audit trail intact: \d+ records( \(\d+ accesses\))?, \d+ signed checkpoint\(s\)(; signed through record \d+, the last \d+ hash-chained only until the next checkpoint)?\n$/,
      );
    });
  });
}

describe("local commands and the data directory they are given", () => {
  test("a reading command on a data directory without a database exits 2 and creates nothing", async () => {
    const { mkdtemp, readdir, rm } = await import("node:fs/promises");
    const { existsSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const root = await mkdtemp(join(tmpdir(), "pcl-nodata-"));
    try {
      const missing = join(root, "typo");
      for (const args of [["audit", "verify"], ["who-has", "left-pad==1.0"], ["token", "list"], ["drift"]]) {
        const run = await cli(...args, "--data", missing);
        assert.equal(run.code, 2, args.join(" "));
        assert.match(run.stderr, /no Portcullis database in .*typo: check --data/);
        assert.equal(existsSync(missing), false, `${args.join(" ")} created ${missing}`);
      }
      // An empty directory is no better: nothing is created in it either.
      const run = await cli("audit", "verify", "--data", root);
      assert.equal(run.code, 2);
      assert.deepEqual(await readdir(root), []);
      // A command that sets state up may start a new data directory (intel, tokens before the first start).
      const created = await cli("owner", "set", "left-pad", "platform", "--data", missing);
      assert.equal(created.code, 0, created.stderr);
      const verified = await cli("audit", "verify", "--data", missing);
      assert.equal(verified.code, 0, verified.stderr);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test("an explicit --data wins over PORTCULLIS_GATEWAY", async () => {
    const saved = process.env.PORTCULLIS_GATEWAY;
    process.env.PORTCULLIS_GATEWAY = "http://127.0.0.1:9/"; // nothing listens on the discard port
    try {
      const { mkdtemp, rm } = await import("node:fs/promises");
      const { join } = await import("node:path");
      const { tmpdir } = await import("node:os");
      const root = await mkdtemp(join(tmpdir(), "pcl-envgw-"));
      try {
        assert.equal((await cli("owner", "set", "left-pad", "platform", "--data", root)).code, 0);
        const local = await cli("who-has", "left-pad", "--data", root);
        assert.equal(local.code, 0, local.stderr);
        // Without --data the variable names the gateway, which is not there.
        const remote = await cli("who-has", "left-pad");
        assert.equal(remote.code, 1);
        assert.match(remote.stderr, /cannot reach http:\/\/127\.0\.0\.1:9/);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    } finally {
      if (saved === undefined) delete process.env.PORTCULLIS_GATEWAY;
      else process.env.PORTCULLIS_GATEWAY = saved;
    }
  });
});
