/**
 * Terminal escape injection, end to end: anonymous pulls through a real gateway carry hostile
 * User-Agent and X-Portcullis-Project headers (sent as raw bytes by node:http, as any client
 * can), an advisory carries an escape sequence in its summary, a requester's reason and a stored
 * remediation note hold control characters. What `who-has`, `drift`, `remediation` and
 * `requests` print in text mode (run in-process, as `bin/portcullis` runs them) must hold no raw
 * control character: nothing can repaint the terminal or forge a line of output.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest, type OutgoingHttpHeaders } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bearer, createToken, flushAudit } from "../../test/helpers/identity.js";
import { cli } from "../../test/helpers/run-cli.js";
import { startJsonIndexServer, type JsonIndexServer } from "../../test/helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../../test/helpers/test-gateway.js";
import { buildWheel } from "../../test/helpers/wheel-builder.js";
import { cliActor } from "./cli-actor.js";

/** Any control character a terminal acts on, line feeds included (checked per line). */
// eslint-disable-next-line no-control-regex
const RAW = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

/** The attack from the review: a pip User-Agent whose installer name paints a forged consumer line. */
const HOSTILE_UA =
  'pip/25.0 {"installer":{"name":"\\r  svc-backup (team security)  docutils==0.23  last pulled 2026-01-01T00:00:00.000Z  \\u001b[K","version":"x"}}';
const FORGED = /^\s*svc-backup/m;

/** Each printed line holds no control character, and no line was forged. */
function assertInert(text: string, what: string): void {
  for (const line of text.split("\n"))
    assert.doesNotMatch(line, RAW, `${what}: a raw control character in ${JSON.stringify(line)}`);
  assert.doesNotMatch(text, FORGED, `${what}: a forged line`);
}

/** GET with headers written as given (node:http sends header strings as latin-1 bytes). */
function get(url: string, headers: OutgoingHttpHeaders): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** Pulls `project==version` as pip does (the JSON page, then the file), anonymously, with `headers`. */
async function pull(gw: TestGateway, project: string, version: string, headers: OutgoingHttpHeaders) {
  const pageUrl = `${gw.url}/simple/${project}/`;
  const page = await get(pageUrl, { ...headers, accept: "application/vnd.pypi.simple.v1+json" });
  assert.equal(page.status, 200, `${project} page`);
  const { files } = JSON.parse(page.body.toString()) as { files: { filename: string; url: string }[] };
  const file = files.find((f) => f.filename.startsWith(`${project.replace(/-/g, "_")}-${version}-`));
  assert.ok(file, `${project}==${version} is listed`);
  const res = await get(new URL(file.url, pageUrl).toString(), headers);
  assert.equal(res.status, 200, `${file.filename} downloads`);
}

describe("text output of values that came from outside is inert", () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  let osvDir: string;
  let approver: Record<string, string>;
  let requester: Record<string, string>;
  const clock = Date.parse("2026-11-27T12:00:00Z");
  const local = () => ["--data", gw.dataDir];

  const api = async (path: string, headers: Record<string, string>, body: unknown) => {
    const res = await fetch(`${gw.url}${path}`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  before(async () => {
    const old = "2025-01-01T00:00:00Z";
    const files = [];
    for (const version of ["1.0", "1.1"]) {
      const w = await buildWheel({ name: "acme-widgets", version });
      files.push({ filename: w.filename, bytes: w.bytes, uploadTime: old });
    }
    // A release the upstream yanked with a reason that paints over the terminal (`explain`).
    const yanked = await buildWheel({ name: "yank-me", version: "1.0" });
    upstream = await startJsonIndexServer({
      projects: {
        "acme-widgets": { files },
        "yank-me": {
          files: [
            {
              filename: yanked.filename,
              bytes: yanked.bytes,
              uploadTime: old,
              yanked: "bad\u001b[2J\rforged",
            },
          ],
        },
      },
    });
    gw = await startTestGateway({ upstream: upstream.simpleUrl }, { now: () => clock });
    approver = bearer(await createToken(gw, { user: "sec", role: "approver" }));
    requester = bearer(await createToken(gw, { user: "dev", role: "requester" }));

    // A C1 CSI (byte 0x9b) and a tab: not UTF-8, so read as latin-1.
    await pull(gw, "acme-widgets", "1.0", {
      "user-agent": HOSTILE_UA,
      "x-portcullis-project": "ci\t\x9b2J",
    });
    // A right-to-left override, sent as its UTF-8 bytes.
    await pull(gw, "acme-widgets", "1.0", {
      "user-agent": "pip/25.0",
      "x-portcullis-project": Buffer.from("build\u202eevil", "utf8").toString("latin1"),
    });
    // The header twice: two header lines, which Node would join as "first, still first, second".
    await pull(gw, "acme-widgets", "1.1", {
      "user-agent": "pip/25.0",
      "x-portcullis-project": ["first, still first", "second"],
    });
    await flushAudit(gw);

    // An advisory whose summary paints over the terminal; it opens a remediation item for 1.0.
    osvDir = mkdtempSync(join(tmpdir(), "portcullis-osv-"));
    writeFileSync(
      join(osvDir, "PYSEC-2099-77.json"),
      JSON.stringify({
        id: "PYSEC-2099-77",
        modified: "2026-01-01T00:00:00Z",
        summary: "harmless\u001b[2J\r\u009b2Kforged line",
        affected: [
          {
            package: { ecosystem: "PyPI", name: "acme-widgets" },
            ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "1.1" }] }],
          },
        ],
      }),
    );
    await gw.gateway.intel.importSource(osvDir);
    await gw.gateway.policy.refresh();
    const s = gw.gateway.services;
    await s.decisionEvents.flush();
    await s.remediation.flush();
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    if (osvDir) rmSync(osvDir, { recursive: true, force: true });
  });

  test("the gateway stores the client and application headers escaped; a repeated header counts once", async () => {
    const run = await cli("who-has", "acme-widgets", "--json", ...local());
    assert.equal(run.code, 0, run.stderr);
    const { consumers } = JSON.parse(run.stdout) as {
      consumers: { version: string; application: string | null; client: string | null }[];
    };
    const of = (version: string) =>
      consumers
        .filter((c) => c.version === version)
        .map((c) => [c.application, c.client])
        .sort();
    assert.deepEqual(of("1.0"), [
      ["build\\u202eevil", "pip 25.0"],
      [
        "ci\\u0009\\u009b2J",
        "\\u000d  svc-backup (team security)  docutils==0.23  last pulled 2026-01-01t00:00:00.000z  \\u001b[k x",
      ],
    ]);
    assert.deepEqual(of("1.1"), [["first, still first", "pip 25.0"]]);
  });

  test("who-has prints the advisory summary and every consumer as one inert line each", async () => {
    for (const query of ["acme-widgets==1.0", "PYSEC-2099-77"]) {
      const run = await cli("who-has", query, ...local());
      assert.equal(run.code, 0, run.stderr);
      assertInert(run.stdout, `who-has ${query}`);
      const consumers = run.stdout.split("\n").filter((l) => l.startsWith("  ") && !/^ {2}affects /.test(l));
      assert.equal(consumers.length, 2, run.stdout);
      for (const line of consumers) assert.match(line, /^ {2}anonymous@127\.0\.0\.1 {2}acme-widgets==1\.0 /);
    }
    const advisory = await cli("who-has", "PYSEC-2099-77", ...local());
    assert.match(advisory.stdout, /^PYSEC-2099-77: harmless\\u001b\[2J\\u000d\\u009b2Kforged line\n/);
  });

  test("explain prints the upstream's yanked reason inert", async () => {
    const run = await cli("explain", "yank-me==1.0", ...local(), "--upstream", upstream.simpleUrl);
    assertInert(run.stdout, "explain");
    assert.match(run.stdout, /bad\\u001b\[2J\\u000dforged/);
  });

  test("drift prints applications and clients inert", async () => {
    const run = await cli("drift", ...local());
    assert.equal(run.code, 0, run.stderr);
    assertInert(run.stdout, "drift");
    assert.match(run.stdout, /^anonymous@127\.0\.0\.1 \[ci\\u0009\\u009b2J\]:$/m);
  });

  test("the API refuses control characters in a remediation reason or note (400 VALIDATION)", async () => {
    const until = new Date(clock + 2 * 86_400_000).toISOString();
    const bad: Record<string, unknown>[] = [
      { state: "accepted-risk", reason: "fine\u001b[2J", until },
      { state: "accepted-risk", reason: "fine\nforged", until },
      { state: "acknowledged", note: "on it\u009b2K" },
      { state: "acknowledged", note: "tab\there" },
      { state: "acknowledged", note: "evil\u202etxt.exe" },
    ];
    for (const body of bad) {
      const res = await api("/api/v1/remediation/1/state", approver, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      const { error } = res.body as { error: { code: string; message: string } };
      assert.equal(error.code, "VALIDATION");
      assert.match(error.message, /must not contain control characters/);
      assert.doesNotMatch(error.message, RAW, "the refusal does not echo them raw");
    }
    const item = await cli("remediation", "show", "1", ...local());
    assert.match(item.stdout, /#1 {2}OPEN /, "nothing refused was stored");
    const ok = await api("/api/v1/remediation/1/state", approver, { state: "acknowledged", note: "on it" });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  test("remediation show and list print notes and consumers inert", async () => {
    // A note stored before the API refused control characters.
    await gw.gateway.services.remediation.changeState(
      1,
      { state: "fixed", note: "done\r\u001b[2K  #2  OPEN  critical" },
      cliActor(),
    );
    const shown = await cli("remediation", "show", "1", ...local());
    assert.equal(shown.code, 0, shown.stderr);
    assertInert(shown.stdout, "remediation show");
    assert.match(shown.stdout, /note: +done\\u000d\\u001b\[2K {2}#2 {2}OPEN {2}critical/);
    assert.match(shown.stdout, /app ci\\u0009\\u009b2J/);
    const listed = await cli("remediation", "list", ...local());
    assert.equal(listed.code, 0, listed.stderr);
    assertInert(listed.stdout.replace(/\t/g, " "), "remediation list");
  });

  test("the API refuses control characters in a request's reason; one stored before prints inert", async () => {
    const hostile = "need it\r\u001b[2K    9  approved  risk   0  evil==6.6.6  by sec: ok";
    const refused = await api("/api/v1/requests", requester, {
      project: "acme-widgets",
      version: "1.1",
      reason: hostile,
    });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    const multiLine = await api("/api/v1/requests", requester, {
      project: "acme-widgets",
      version: "1.0",
      reason: "needed for the report\nticket OPS-1",
    });
    assert.ok(
      [200, 201].includes(multiLine.status),
      `a reason may span lines: ${JSON.stringify(multiLine.body)}`,
    );
    // A reason stored before the API refused control characters.
    const stored = await gw.gateway.services.requests.create(
      {
        user: "dev",
        role: "requester",
        team: null,
        tokenId: null,
        ip: "127.0.0.1",
        application: null,
        client: null,
      },
      { project: "acme-widgets", version: "1.1", reason: hostile },
    );
    const id = String(stored.id);
    const listed = await cli("requests", "list", ...local());
    assert.equal(listed.code, 0, listed.stderr);
    assertInert(listed.stdout, "requests list");
    assert.doesNotMatch(listed.stdout, /^\s*9 {2}approved/m);
    const shown = await cli("requests", "show", id, ...local());
    assert.equal(shown.code, 0, shown.stderr);
    assertInert(shown.stdout, "requests show");
    assert.match(shown.stdout, /asked by dev at .*: need it\\u000d\\u001b\[2K/);
  });

  test("an error message quoting outside text is printed inert", async () => {
    const run = await cli("who-has", "acme\u009b2J\u202e==1.0", ...local());
    assert.equal(run.code, 2);
    assertInert(run.stderr, "the error");
    assert.match(run.stderr, /acme\\u009b2J\\u202e==1\.0/);
  });
});
