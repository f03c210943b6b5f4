/**
 * `portcullis token|user|team` over `--gateway URL --token TOKEN`: the commands call a real
 * gateway's API on loopback, in-process as `bin/portcullis` runs them (`runCli`: exit code and
 * what a user sees), and print what the same command prints on the gateway's data directory
 * (compared line for line, and as parsed JSON). The tokens made remotely are tried on the gateway.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { bearer, createToken } from "../helpers/identity.js";
import { cli, type CliRun } from "../helpers/run-cli.js";

/** Nothing listens on the discard port: a command that got this far would fail to reach it (exit 1). */
const DEAD = "http://127.0.0.1:9";

/** The last line `token create` prints: the token itself. */
function tokenOf(run: CliRun): string {
  assert.equal(run.code, 0, run.stderr);
  const token = run.stdout.trim().split("\n").at(-1)!;
  assert.match(token, /^pcl_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
  return token;
}

/** A run that succeeded, and what it printed. */
function ok(run: CliRun): string {
  assert.equal(run.code, 0, run.stderr);
  return run.stdout;
}

describe("token, user and team commands over --gateway", () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  let adminToken = "";
  let readerToken = "";
  /** The options a remote command takes here: the gateway and the admin's token. */
  let remote: string[];
  /** The options the same command takes on the gateway's own data directory. */
  let local: string[];

  /** The status GET /api/v1/me answers a token with. */
  const me = async (token: string) => {
    const res = await fetch(`${gw.url}/api/v1/me`, { headers: bearer(token) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  /** The same command remotely and locally: equal exit codes and output; the remote output. */
  const sameAsLocal = async (...args: string[]) => {
    const r = await cli(...args, ...remote);
    const l = await cli(...args, ...local);
    assert.deepEqual([r.code, r.stdout, r.stderr], [l.code, l.stdout, l.stderr], args.join(" "));
    return r;
  };

  before(async () => {
    upstream = await startJsonIndexServer({ projects: {} });
    gw = await startTestGateway({ upstream: upstream.simpleUrl });
    adminToken = await createToken(gw, { user: "root", role: "admin" });
    readerToken = await createToken(gw, { user: "dev", role: "reader" });
    remote = ["--gateway", gw.url, "--token", adminToken];
    local = ["--data", gw.dataDir];
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test("token create prints a working token as its last line; token list shows it as locally", async () => {
    const run = await cli(
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
      "--expires-days",
      "30",
      ...remote,
    );
    const token = tokenOf(run);
    const id = token.slice(4, 16);
    assert.match(
      run.stderr,
      new RegExp(
        `^Created token ${id} for ci-bot \\(role reader, team build, expires \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\)\\.\\nIt is shown once and stored only as a hash\\. pip: --index-url https://__token__:TOKEN@HOST/simple/\\n$`,
      ),
    );
    const who = await me(token);
    assert.equal(who.status, 200);
    assert.deepEqual([who.body.user, who.body.role, who.body.team], ["ci-bot", "reader", "build"]);

    const list = await sameAsLocal("token", "list");
    assert.ok(!list.stdout.includes(token.slice(17)), "a listing never holds a secret");
    assert.match(
      list.stdout.split("\n").find((l) => l.startsWith(id))!,
      /^[0-9a-f]{12} {2}ci-bot +reader +build +nightly +expires \d{4}-\d\d-\d\dT[\d:.]+Z$/,
    );
    const json = JSON.parse(
      (await sameAsLocal("token", "list", "--user", "ci-bot", "--json")).stdout,
    ) as Record<string, unknown>[];
    assert.deepEqual(
      json.map((t) => [t.id, t.user, t.role, t.team, t.label, t.createdBy, t.revokedAt, t.state]),
      [[id, "ci-bot", "reader", "build", "nightly", "root", null, "active"]],
    );
    assert.deepEqual(Object.keys(json[0]!).sort(), [
      "createdAt",
      "createdBy",
      "expiresAt",
      "id",
      "label",
      "revokedAt",
      "role",
      "state",
      "team",
      "user",
    ]);
    // The identity was made a service account, as --service says.
    const users = JSON.parse(ok(await cli("user", "list", "--json", ...remote))) as Record<string, unknown>[];
    assert.equal(users.find((u) => u.name === "ci-bot")?.kind, "service");

    // A mistyped name is not "no tokens": exit 1, as locally.
    const unknown = await sameAsLocal("token", "list", "--user", "nobody");
    assert.deepEqual(
      [unknown.code, unknown.stdout, unknown.stderr],
      [1, "", 'portcullis: no user or service account "nobody" (see portcullis user list)\n'],
    );
  });

  test("token create --team moving an identity says so, as locally", async () => {
    const first = tokenOf(
      await cli("token", "create", "--user", "mover", "--role", "reader", "--team", "alpha", ...remote),
    );
    const moved = await cli(
      "token",
      "create",
      "--user",
      "mover",
      "--role",
      "reader",
      "--team",
      "beta",
      ...remote,
    );
    tokenOf(moved);
    assert.match(
      moved.stderr,
      /\nNote: mover moved from team alpha to team beta: its 1 other active token\(s\) now pull for team beta too \(inventory, drift and ownership follow\)\.\n$/,
    );
    assert.equal((await me(first)).body.team, "beta", "the first token moved along");
    // The same words locally.
    const again = await cli(
      "token",
      "create",
      "--user",
      "mover",
      "--role",
      "reader",
      "--team",
      "gamma",
      ...local,
    );
    tokenOf(again);
    assert.match(
      again.stderr,
      /\nNote: mover moved from team beta to team gamma: its 2 other active token\(s\)/,
    );
    // The same team again, or no team: no notice.
    const stay = await cli(
      "token",
      "create",
      "--user",
      "mover",
      "--role",
      "reader",
      "--team",
      "gamma",
      ...remote,
    );
    tokenOf(stay);
    assert.doesNotMatch(stay.stderr, /Note:/);
    const fresh = await cli(
      "token",
      "create",
      "--user",
      "newcomer",
      "--role",
      "reader",
      "--team",
      "gamma",
      ...remote,
    );
    tokenOf(fresh);
    assert.doesNotMatch(fresh.stderr, /Note:/);
  });

  test("token revoke: the gateway refuses the token (401) at once; a second revoke is refused", async () => {
    const token = tokenOf(await cli("token", "create", "--user", "leaver", "--role", "reader", ...remote));
    const id = token.slice(4, 16);
    assert.equal((await me(token)).status, 200);

    const revoked = await cli("token", "revoke", id.toUpperCase(), ...remote);
    assert.deepEqual(
      [revoked.code, revoked.stdout, revoked.stderr],
      [0, `revoked token ${id} of leaver\n`, ""],
    );
    assert.equal((await me(token)).status, 401);
    const listed = await sameAsLocal("token", "list", "--user", "leaver");
    assert.match(listed.stdout, new RegExp(`^${id} {2}leaver +reader +- +- +revoked \\d{4}-\\d\\d-\\d\\dT`));

    // The whole token works as well as its id.
    const other = tokenOf(await cli("token", "create", "--user", "leaver", "--role", "reader", ...remote));
    assert.equal(
      ok(await cli("token", "revoke", other, ...remote)),
      `revoked token ${other.slice(4, 16)} of leaver\n`,
    );
    assert.equal((await me(other)).status, 401);

    const again = await cli("token", "revoke", id, ...remote);
    assert.deepEqual(
      [again.code, again.stderr],
      [1, `portcullis: /api/v1/tokens/${id}: HTTP 409: token ${id} was revoked already\n`],
    );
    const unknown = await cli("token", "revoke", "0123456789ab", ...remote);
    assert.deepEqual(
      [unknown.code, unknown.stderr],
      [1, "portcullis: /api/v1/tokens/0123456789ab: HTTP 404: no token with id 0123456789ab\n"],
    );
  });

  test("user disable --reason refuses the identity's tokens (401), user enable takes them back", async () => {
    const token = tokenOf(
      await cli("token", "create", "--user", "offboarded", "--role", "reader", "--team", "web", ...remote),
    );
    assert.equal((await me(token)).status, 200);

    const reason = "left the company, ticket HR-4711";
    const disabled = await cli("user", "disable", "offboarded", "--reason", reason, ...remote);
    assert.deepEqual(
      [disabled.code, disabled.stdout, disabled.stderr],
      [0, "disabled user offboarded: its 1 active token(s) are refused by every gateway within 2 s\n", ""],
    );
    assert.equal((await me(token)).status, 401);

    const list = await sameAsLocal("user", "list");
    assert.match(
      String(list.stdout.split("\n").find((l) => l.startsWith("offboarded "))),
      /^offboarded +user +reader +web {2}\(disabled \d{4}-\d\d-\d\dT[\d:.]+Z by root: left the company, ticket HR-4711\)$/,
    );
    const json = JSON.parse((await sameAsLocal("user", "list", "--json")).stdout) as Record<
      string,
      unknown
    >[];
    const row = json.find((u) => u.name === "offboarded")!;
    assert.deepEqual([row.disabled, row.disabledReason, row.disabledBy], [true, reason, "root"]);
    assert.deepEqual(Object.keys(row).sort(), [
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
    assert.match(
      (await sameAsLocal("token", "list", "--user", "offboarded")).stdout,
      / disabled \(its user is disabled\)\n$/,
    );

    const again = await cli("user", "disable", "offboarded", ...remote);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /^portcullis: \/api\/v1\/users\/offboarded\/disable: HTTP 409: identity offboarded was disabled already \(since .*, by root: left the company/,
    );
    const unknown = await cli("user", "disable", "nobody", ...remote);
    assert.deepEqual(
      [unknown.code, unknown.stderr],
      [1, 'portcullis: /api/v1/users/nobody/disable: HTTP 404: no user or service account "nobody"\n'],
    );

    const enabled = await cli("user", "enable", "offboarded", ...remote);
    assert.deepEqual(
      [enabled.code, enabled.stdout, enabled.stderr],
      [0, "enabled user offboarded: its 1 active token(s) work again within 2 s\n", ""],
    );
    assert.equal((await me(token)).status, 200, "the same token works again");
    const enableAgain = await cli("user", "enable", "offboarded", ...remote);
    assert.deepEqual(
      [enableAgain.code, enableAgain.stderr],
      [1, "portcullis: /api/v1/users/offboarded/enable: HTTP 409: identity offboarded is not disabled\n"],
    );

    // A service account is named as one.
    const service = await cli("user", "disable", "ci-bot", ...remote);
    assert.equal(
      ok(service),
      "disabled service account ci-bot: its 1 active token(s) are refused by every gateway within 2 s\n",
    );
    assert.equal(
      ok(await cli("user", "enable", "ci-bot", ...remote)),
      "enabled service account ci-bot: its 1 active token(s) work again within 2 s\n",
    );
  });

  test("disabling your own identity over the API is refused (HTTP 403, exit 1)", async () => {
    const self = await cli("user", "disable", "root", "--reason", "oops", ...remote);
    assert.equal(self.code, 1);
    assert.match(
      self.stderr,
      /^portcullis: \/api\/v1\/users\/root\/disable: HTTP 403: you cannot disable your own identity root/,
    );
    assert.equal((await me(adminToken)).status, 200, "still enabled");
  });

  test("team list shows the teams and their member counts, as locally", async () => {
    const text = await sameAsLocal("team", "list");
    assert.match(text.stdout, /^build {19} 1 member\(s\)$/m);
    assert.match(text.stdout, /^gamma {19} 2 member\(s\)$/m);
    const json = JSON.parse((await sameAsLocal("team", "list", "--json")).stdout) as Record<
      string,
      unknown
    >[];
    assert.deepEqual(
      json.map((t) => [t.name, t.members]),
      [
        ["alpha", 0],
        ["beta", 0],
        ["build", 1],
        ["gamma", 2],
        ["web", 1],
      ],
    );
    for (const t of json) assert.deepEqual(Object.keys(t).sort(), ["createdAt", "members", "name"]);
  });

  test("a reader's token is refused by every command (HTTP 403, exit 1); nothing changes", async () => {
    const asReader = ["--gateway", gw.url, "--token", readerToken];
    for (const args of [
      ["token", "create", "--user", "intruder", "--role", "admin"],
      ["token", "create", "--user", "intruder", "--role", "admin", "--team", "build"],
      ["token", "list"],
      ["token", "revoke", adminToken.slice(4, 16)],
      ["user", "list"],
      ["user", "disable", "root"],
      ["user", "enable", "offboarded"],
      ["team", "list"],
    ]) {
      const run = await cli(...args, ...asReader);
      assert.equal(run.code, 1, args.join(" "));
      assert.equal(run.stdout, "", args.join(" "));
      assert.match(
        run.stderr,
        /^portcullis: \/api\/v1\/\S+: HTTP 403: this needs the admin role; the token has reader\n$/,
        args.join(" "),
      );
    }
    const noToken = await cli("user", "list", "--gateway", gw.url);
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /^portcullis: \/api\/v1\/users: HTTP 401: /);
    const users = JSON.parse(ok(await cli("user", "list", "--json", ...remote))) as { name: string }[];
    assert.ok(!users.some((u) => u.name === "intruder"), "nothing was created");
    assert.equal((await me(adminToken)).status, 200, "nothing was revoked or disabled");
  });

  test("bad input and local-only options are refused (exit 2) before any call", async () => {
    const dead = ["--gateway", DEAD, "--token", "pcl_x"];
    const cases: [string[], string][] = [
      [
        ["token", "list", "--data", gw.dataDir, "--gateway", gw.url],
        "give one of --gateway (a running gateway) or --data (local state), not both",
      ],
      [
        ["user", "list", "--database", "sqlite:/nowhere.db", "--gateway", gw.url],
        "give one of --gateway (a running gateway) or --database (local state), not both",
      ],
      [
        ["team", "list", "--config", "/nowhere.yaml", "--gateway", gw.url],
        "give one of --gateway (a running gateway) or --config (local state), not both",
      ],
      [
        ["token", "create", "--user", "x", "--role", "root", ...dead],
        '--role must be one of reader, requester, approver, admin, got "root"',
      ],
      [
        ["token", "create", "--user", "x", "--role", "reader", "--expires-days", "0", ...dead],
        '--expires-days must be a whole number of days from 1 to 3650, got "0"',
      ],
      [
        ["token", "create", "--user", "two words", "--role", "reader", ...dead],
        'invalid user name "two words" (letters, digits, . _ @ -)',
      ],
      [
        ["token", "create", "--user", "x", "--role", "reader", "--team", "a/b", ...dead],
        'invalid team name "a/b"',
      ],
      [
        ["token", "create", "--user", "x", "--role", "reader", "--label", "l".repeat(201), ...dead],
        "a token label has 1 to 200 characters",
      ],
      [["user", "disable", "../users", ...dead], 'invalid user name "../users" (letters, digits, . _ @ -)'],
      [["user", "disable", "x", "--reason", "r".repeat(501), ...dead], "a reason has 1 to 500 characters"],
      [["user", "enable", "two words", ...dead], 'invalid user name "two words" (letters, digits, . _ @ -)'],
      [["token", "revoke", "not-an-id", ...dead], 'expected a token id (12 hex digits), got "not-an-id"'],
      [
        ["token", "list", "--upstream", "https://pypi.org/simple/", ...dead],
        "--upstream applies to local state only: over --gateway, the running gateway uses its own (leave it out)",
      ],
      [
        ["user", "list", "--policy", "p.yaml", "--signing-key", "k.pem", ...dead],
        "--policy, --signing-key apply to local state only: over --gateway, the running gateway uses its own (leave them out)",
      ],
      [
        ["team", "list", "--signing-key", "k.pem", ...dead],
        "--signing-key applies to local state only: over --gateway, the running gateway uses its own (leave it out)",
      ],
    ];
    for (const [args, message] of cases) {
      const run = await cli(...args);
      assert.deepEqual(
        [run.code, run.stdout, run.stderr],
        [2, "", `portcullis: ${message}\n`],
        args.join(" "),
      );
    }
    // Past the checks, the dead gateway is what fails (1): the checks above made no call.
    const unreachable = await cli("user", "list", ...dead);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /^portcullis: cannot reach http:\/\/127\.0\.0\.1:9/);
  });

  test("PORTCULLIS_GATEWAY and PORTCULLIS_TOKEN stand for --gateway and --token", async () => {
    const saved = [process.env.PORTCULLIS_GATEWAY, process.env.PORTCULLIS_TOKEN] as const;
    process.env.PORTCULLIS_GATEWAY = gw.url;
    process.env.PORTCULLIS_TOKEN = adminToken;
    try {
      const viaEnv = await cli("user", "list", "--json");
      const viaLocal = await cli("user", "list", "--json", ...local);
      assert.equal(viaEnv.code, 0, viaEnv.stderr);
      assert.deepEqual(JSON.parse(viaEnv.stdout), JSON.parse(viaLocal.stdout));
      const token = tokenOf(await cli("token", "create", "--user", "from-env", "--role", "reader"));
      assert.equal((await me(token)).body.user, "from-env");
    } finally {
      if (saved[0] === undefined) delete process.env.PORTCULLIS_GATEWAY;
      else process.env.PORTCULLIS_GATEWAY = saved[0];
      if (saved[1] === undefined) delete process.env.PORTCULLIS_TOKEN;
      else process.env.PORTCULLIS_TOKEN = saved[1];
    }
  });

  test("every command's --help names --gateway and --token", async () => {
    for (const args of [
      ["token", "create"],
      ["token", "list"],
      ["token", "revoke"],
      ["user", "list"],
      ["user", "disable"],
      ["user", "enable"],
      ["team", "list"],
    ]) {
      const help = await cli(...args, "--help");
      assert.equal(help.code, 0, args.join(" "));
      assert.match(help.stdout, /--gateway <url>/, args.join(" "));
      assert.match(help.stdout, /--token <token>/, args.join(" "));
    }
  });

  test("a stored label with control characters is listed inert, as locally", async () => {
    const token = tokenOf(
      await cli("token", "create", "--user", "old-label", "--role", "reader", "--label", "app", ...remote),
    );
    // Stored before the CLI and the API refused control characters.
    await gw.gateway.services.db.db
      .updateTable("api_tokens")
      .set({ label: "app\u001b[2J\nforged" })
      .where("id", "=", token.slice(4, 16))
      .execute();
    const list = await sameAsLocal("token", "list", "--user", "old-label");
    assert.match(list.stdout, /^[0-9a-f]{12} {2}old-label +reader +- +app\\u001b\[2J\\u000aforged active\n$/);
    assert.ok(!list.stdout.includes("\u001b"));
  });

  test("lists follow the API's pages to the end: more than 500 tokens, users and teams", async () => {
    const s = gw.gateway.services;
    for (let i = 0; i < 501; i++)
      await createToken(s, { user: `bulk-${String(i).padStart(3, "0")}`, role: "reader", team: `team-${i}` });
    for (const [args, atLeast] of [
      [["token", "list", "--json"], 501],
      [["user", "list", "--json"], 501],
      [["team", "list", "--json"], 501],
    ] as const) {
      const run = await sameAsLocal(...args);
      assert.ok((JSON.parse(run.stdout) as unknown[]).length > atLeast, args.join(" "));
    }
    for (const args of [
      ["token", "list"],
      ["user", "list"],
      ["team", "list"],
    ])
      assert.ok((await sameAsLocal(...args)).stdout.split("\n").length > 502, args.join(" "));
  });
});
