/**
 * Identity end to end: real pip installs through a gateway that requires a token (in the index
 * URL, as pip sends it), a wrong one gets nothing, the CLI answers "who has it?" once an advisory
 * lands against what pip installed, `audit verify` finds an edited record, and the first-start
 * admin token is printed once and stored only as a keyed hash.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import BetterSqlite from "better-sqlite3";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { flushAudit, pipIndexUrl } from "../helpers/identity.js";
import { installed, makeVenv, pipInstall, run } from "../helpers/python.js";
import { buildWheel } from "../helpers/wheel-builder.js";

const BIN = fileURLToPath(new URL("../../bin/portcullis", import.meta.url));
const cli = (args: string[]) =>
  run(process.execPath, [BIN, ...args], { env: { ...process.env, PORTCULLIS_FROM_SOURCE: "1" } });

describe("pip with a token through a gateway that requires one", () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;

  before(async () => {
    const old = "2025-01-01T00:00:00Z";
    const widgets = await buildWheel({ name: "acme-widgets", version: "1.0" });
    upstream = await startJsonIndexServer({
      projects: {
        "acme-widgets": { files: [{ filename: widgets.filename, bytes: widgets.bytes, uploadTime: old }] },
      },
    });
    gw = await startTestGateway({ upstream: upstream.simpleUrl, authAnonymous: "off", intelPoll: 0.2 });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test("a token made by `token create` installs; who-has names its identity when an advisory lands", async () => {
    const created = await cli([
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
      "--data",
      gw.dataDir,
    ]);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim().split("\n").at(-1)!;
    assert.match(token, /^pcl_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);

    const venv = await makeVenv();
    const denied = await pipInstall(venv, pipIndexUrl(gw.url, token.slice(0, -2) + "xx"), ["acme-widgets"]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stdout + denied.stderr, /401/);
    const res = await pipInstall(venv, pipIndexUrl(gw.url, token), ["acme-widgets"]);
    assert.equal(res.code, 0, res.stderr + res.stdout);
    assert.equal((await installed(venv)).get("acme-widgets"), "1.0");
    await flushAudit(gw);

    const osv = mkdtempSync(join(tmpdir(), "osv-"));
    writeFileSync(
      join(osv, "PYSEC-2099-42.json"),
      JSON.stringify({
        id: "PYSEC-2099-42",
        modified: "2026-11-01T00:00:00Z",
        summary: "made-up flaw in acme-widgets 1.0",
        affected: [
          {
            package: { ecosystem: "PyPI", name: "acme-widgets" },
            ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "1.1" }] }],
          },
        ],
      }),
    );
    assert.equal((await cli(["intel", "import", osv, "--data", gw.dataDir])).code, 0);
    assert.equal((await cli(["owner", "set", "acme-widgets", "platform", "--data", gw.dataDir])).code, 0);
    const who = await cli(["who-has", "PYSEC-2099-42", "--data", gw.dataDir]);
    assert.equal(who.code, 0, who.stderr);
    assert.match(who.stdout, /affects acme-widgets 1\.0/);
    assert.match(
      who.stdout,
      /ci-bot \(team build\)\s+acme-widgets==1\.0\s+last pulled \S+\s+×1\s+from 127\.0\.0\.1\s+app nightly\s+pip \S+\s+owner platform/,
    );
  });

  test("audit verify passes, then names an edited record", async () => {
    await flushAudit(gw);
    const ok = await cli(["audit", "verify", "--data", gw.dataDir]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /audit trail intact: \d+ records/);
    const target = await gw.gateway.db.db
      .selectFrom("audit_log")
      .select(["seq"])
      .where("action", "=", "file.download")
      .executeTakeFirstOrThrow();
    await gw.gateway.db.db
      .updateTable("audit_log")
      .set({ identity: "someone-else" })
      .where("seq", "=", target.seq)
      .execute();
    const bad = await cli(["audit", "verify", "--data", gw.dataDir]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, new RegExp(`record ${target.seq}: contents do not match its hash \\(edited\\)`));
  });
});

describe("first start", () => {
  let data: string;
  let wheels: string;
  before(async () => {
    data = mkdtempSync(join(tmpdir(), "portcullis-first-"));
    wheels = mkdtempSync(join(tmpdir(), "portcullis-wheels-"));
    const w = await buildWheel({ name: "acme-widgets", version: "1.0" });
    writeFileSync(join(wheels, w.filename), w.bytes);
  });
  after(() => {
    rmSync(data, { recursive: true, force: true });
    rmSync(wheels, { recursive: true, force: true });
  });

  /** Starts `portcullis serve`, waits for its start-up text, stops it with SIGTERM; returns stderr. */
  function serveOnce(): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          BIN,
          "serve",
          "--data",
          data,
          "--port",
          "0",
          "--upstream",
          wheels,
          "--intel-sync",
          "",
          "--log-level",
          "silent",
        ],
        { env: { ...process.env, PORTCULLIS_FROM_SOURCE: "1" }, stdio: ["ignore", "ignore", "pipe"] },
      );
      let stderr = "";
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        if (/Production: set PORTCULLIS_AUTH_ANONYMOUS=off/.test(stderr)) child.kill("SIGTERM");
      });
      child.on("error", reject);
      child.on("close", () => {
        clearTimeout(timer);
        resolve(stderr);
      });
    });
  }

  test("creates an admin and prints its token once; the database holds only its keyed hash", async () => {
    const first = await serveOnce();
    const token = /^\s+(pcl_[0-9a-f]{12}_[A-Za-z0-9_-]{43})$/m.exec(first)?.[1];
    assert.ok(token, first);
    const second = await serveOnce();
    assert.doesNotMatch(second, /pcl_/);
    assert.doesNotMatch(second, /First start/);

    const file = join(data, "portcullis.db");
    for (const f of [file, `${file}-wal`]) {
      if (existsSync(f))
        assert.ok(
          !readFileSync(f).includes(token.slice("pcl_0123456789ab_".length)),
          `${f} never holds the secret`,
        );
    }
    const db = new BetterSqlite(file, { readonly: true });
    try {
      const key = (
        db.prepare("select value from meta where key = 'identity.token-hmac-key'").get() as { value: string }
      ).value;
      const row = db.prepare("select identity, role, hash from api_tokens").get() as {
        identity: string;
        role: string;
        hash: string;
      };
      assert.equal(row.identity, "admin");
      assert.equal(row.role, "admin");
      assert.equal(row.hash, createHmac("sha256", Buffer.from(key, "base64")).update(token).digest("hex"));
    } finally {
      db.close();
    }
  });
});
