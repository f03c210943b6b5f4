import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { loadConfig } from "../config/options.js";
import { buildServices } from "../main.js";
import { CliError } from "./cli-error.js";
import { governanceCli } from "../../test/helpers/governance-cli.js";
import { cli as runCli } from "../../test/helpers/run-cli.js";
import { cliActor } from "./cli-actor.js";

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

let dir: string;

/** Runs `portcullis ARGS --data dir` in-process and returns what it printed. */
const cli = (...args: string[]) => governanceCli(...args, "--data", dir);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-rem-cli-"));
  const services = await buildServices(loadConfig({ env: {}, flags: { data: dir, intelSync: "" } }), {
    logger: pino({ level: "silent" }),
    preVet: false,
  });
  try {
    await services.remediation.handle([
      {
        id: 1,
        sha256: "e".repeat(64),
        project: "acme-widgets",
        version: "1.0",
        filename: "acme_widgets-1.0-py3-none-any.whl",
        from: "admitted",
        to: "blocked",
        reasons: [
          {
            check: "malicious",
            outcome: "fail",
            action: "block",
            mode: "enforce",
            message: "reported malicious: MAL-2099-1",
            ids: ["MAL-2099-1"],
            evidence: [],
          },
        ],
        at: new Date().toISOString(),
      },
    ]);
  } finally {
    await services.close();
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("remediation list, show, ack, accept, fix and report over --data", async () => {
  assert.match(
    await cli("remediation", "list"),
    /^#1\topen\tcritical\tacme-widgets==1\.0\tdue \d{4}-\d\d-\d\d\towner -/,
  );
  assert.equal(await cli("remediation", "list", "--state", "fixed"), "no remediation items\n");
  // --json answers in the API's shape: ISO 8601 times, not epoch milliseconds.
  const [listed] = JSON.parse(await cli("remediation", "list", "--json")) as Record<string, unknown>[];
  const shown = JSON.parse(await cli("remediation", "show", "1", "--json")) as Record<string, unknown>;
  for (const item of [listed!, shown])
    assert.match(String(item.dueAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.match(await cli("remediation", "show", "1"), /why: +malicious: reported malicious: MAL-2099-1/);
  const acked = await cli("remediation", "ack", "1", "--note", "on it", "--by", "alice");
  assert.match(acked, /#1 {2}ACKNOWLEDGED/);
  // `--by` is a claim: the item says whom for and through whom.
  assert.match(acked, new RegExp(`note: +on it \\(alice via ${escapeRegExp(cliActor().user!)}\\)`));
  await assert.rejects(cli("remediation", "accept", "1", "--reason", "sandboxed"), /needs an expiry/);
  await assert.rejects(
    cli("remediation", "accept", "1", "--reason", "x", "--until", "2001-01-01"),
    /expiry in the future/,
  );
  for (const days of ["100000000", "367", "0", "-3", "1.5", "ten"])
    await assert.rejects(
      cli("remediation", "accept", "1", "--reason", "x", "--days", days),
      (err: Error) =>
        err instanceof CliError && /--days must be a whole number of days from 1 to 366/.test(err.message),
      days,
    );
  for (const until of ["2027-02-30", "-5", "next week"])
    await assert.rejects(
      cli("remediation", "accept", "1", "--reason", "x", "--until", until),
      (err: Error) => err instanceof CliError && /--until must be an ISO 8601 date/.test(err.message),
      until,
    );
  assert.match(
    await cli("remediation", "accept", "1", "--reason", "sandboxed", "--days", "10"),
    new RegExp(`accepted until .* by ${escapeRegExp(cliActor().user!)}: sandboxed`),
  );
  assert.match(await cli("remediation", "fix", "1", "--note", "removed"), /#1 {2}FIXED/);
  await assert.rejects(
    cli("remediation", "ack", "1"),
    (err: Error) => err instanceof CliError && /closed/.test(err.message),
  );
  // The whole story, not only the last change: every state, who moved it, and why.
  const me = escapeRegExp(cliActor().user!);
  const t = "\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z";
  const history = /\n {2}history:\n((?: {4}.*\n)+)/.exec(await cli("remediation", "show", "1"))?.[1];
  assert.ok(history, "show prints a history");
  const lines = history.trimEnd().split("\n");
  assert.equal(lines.length, 4, history);
  assert.match(lines[0]!, new RegExp(`^ {4}${t} {2}open {2}by portcullis$`));
  assert.match(lines[1]!, new RegExp(`^ {4}${t} {2}open -> acknowledged {2}by alice via ${me}: on it$`));
  assert.match(
    lines[2]!,
    new RegExp(`^ {4}${t} {2}acknowledged -> accepted-risk until ${t} {2}by ${me}: sandboxed$`),
  );
  assert.match(lines[3]!, new RegExp(`^ {4}${t} {2}accepted-risk -> fixed {2}by ${me}: removed; manual$`));
  const shownAfter = JSON.parse(await cli("remediation", "show", "1", "--json")) as { history: unknown[] };
  assert.equal(shownAfter.history.length, 4);
  const [listedAfter] = JSON.parse(await cli("remediation", "list", "--json")) as Record<string, unknown>[];
  assert.equal(listedAfter!.history, undefined, "lists stay without histories");
  await assert.rejects(cli("remediation", "show", "9"), /no remediation item 9/);
  await assert.rejects(cli("remediation", "show", "x"), /expected an item id/);
  const report = JSON.parse(await cli("remediation", "report", "--json")) as {
    fixed: number;
    openTotal: number;
  };
  assert.equal(report.fixed, 1);
  assert.equal(report.openTotal, 0);
});

test("the audit trail names the CLI user as the actor of a state change, and --by only as detail.by", async () => {
  const exported = await runCli("audit", "export", "--data", dir);
  assert.equal(exported.code, 0, exported.stderr);
  const records = exported.stdout
    .trim()
    .split("\n")
    .map(
      (l) =>
        JSON.parse(l) as { action: string; identity: string; role: string; detail: Record<string, unknown> },
    )
    .filter((r) => r.action.startsWith("remediation."));
  const who = cliActor().user;
  assert.match(String(who), /^cli(:|$)/, "named after the OS user, as token create records it");
  assert.deepEqual(
    records.map((r) => [r.action, r.identity, r.role, r.detail.by ?? null]),
    [
      ["remediation.open", "portcullis", "admin", null],
      ["remediation.ack", who, "admin", "alice"],
      ["remediation.accept", who, "admin", null],
      ["remediation.fixed", who, "admin", null],
    ],
    "a user named by --by is never recorded as the identity that acted",
  );
  await assert.rejects(
    governanceCli("remediation", "ack", "1", "--by", "ceo", "--gateway", "http://127.0.0.1:9"),
    (err: Error) => err instanceof CliError && /--by applies to local changes only/.test(err.message),
  );
});

test("webhook add, list, deliveries and remove over --data; the secret is never printed", async () => {
  const added = await cli(
    "webhook",
    "add",
    "http://127.0.0.1:9/h",
    "--secret",
    "cli-secret-0123456789",
    "--events",
    "file.blocked",
  );
  assert.match(added, /^webhook 1 added: http:\/\/127\.0\.0\.1:9\/h \(json; events: file\.blocked\)/);
  await assert.rejects(
    cli("webhook", "add", "http://x/", "--secret", "cli-secret-0123456789", "--events", "nope"),
    /unknown event/,
  );
  const list = await cli("webhook", "list", "--json");
  assert.equal(list.includes("cli-secret-0123456789"), false);
  assert.equal((JSON.parse(list) as unknown[]).length, 1);
  assert.equal(await cli("webhook", "deliveries", "1"), "no deliveries yet\n");
  assert.equal(await cli("webhook", "remove", "1"), "webhook 1 removed\n");
  await assert.rejects(cli("webhook", "remove", "1"), /no webhook 1/);
});
