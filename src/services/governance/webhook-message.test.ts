import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import type { GatewayEvent } from "../event-bus.js";
import {
  backoffMs,
  describeEvent,
  eventKey,
  MAX_ATTEMPTS,
  renderBody,
  signBody,
  wants,
} from "./webhook-message.js";

const blocked: GatewayEvent = {
  type: "file.blocked",
  sha256: "a".repeat(64),
  project: "acme",
  version: "1.0",
  filename: "acme-1.0-py3-none-any.whl",
  from: "admitted",
  reasons: [
    {
      check: "vulnerability",
      outcome: "fail",
      action: "block",
      mode: "enforce",
      message: "1 known vulnerability (PYSEC-1)",
      evidence: [],
    },
  ],
  at: "2026-01-01T00:00:00.000Z",
};

const digest: Extract<GatewayEvent, { type: "files.blocked" }> = {
  type: "files.blocked",
  count: 137,
  admittedBefore: 120,
  byProject: [
    { project: "acme", count: 100 },
    { project: "widgets", count: 37 },
  ],
  byReason: [
    { reason: "PYSEC-1", check: "vulnerability", count: 130 },
    { reason: "licence", check: "licence", count: 7 },
  ],
  files: Array.from({ length: 50 }, (_, i) => ({
    sha256: i.toString(16).padStart(64, "0"),
    project: "acme",
    version: `1.${i}`,
    filename: `acme-1.${i}-py3-none-any.whl`,
  })),
  at: "2026-01-01T00:00:00.000Z",
  batch: "f".repeat(64),
};

const openedDigest: Extract<GatewayEvent, { type: "remediations.opened" }> = {
  type: "remediations.opened",
  count: 64,
  bySeverity: [
    { severity: "critical", count: 4 },
    { severity: "medium", count: 60 },
  ],
  byOwner: [
    { owner: "team-a", count: 40 },
    { owner: "team-b", count: 14 },
  ],
  unowned: 10,
  earliestDue: "2026-01-03T00:00:00.000Z",
  items: Array.from({ length: 50 }, (_, i) => ({
    itemId: i + 1,
    project: "acme",
    version: `1.${i}`,
    severity: i < 4 ? "critical" : "medium",
    owner: i < 2 ? null : "team-a",
    due: i < 4 ? "2026-01-03T00:00:00.000Z" : "2026-01-31T00:00:00.000Z",
  })),
  at: "2026-01-01T00:00:00.000Z",
  batch: "a".repeat(64),
};

test("the signature is sha256=<hex HMAC-SHA256 of the exact body>", () => {
  const body = renderBody(blocked, "json", "evt-1");
  const expected = createHmac("sha256", "s3cret-s3cret-s3cret").update(Buffer.from(body)).digest("hex");
  assert.equal(signBody("s3cret-s3cret-s3cret", body), `sha256=${expected}`);
  assert.notEqual(signBody("other-secret-other", body), `sha256=${expected}`);
});

test("generic JSON carries id, type, time and the event; Slack gets plain text", () => {
  const json = JSON.parse(renderBody(blocked, "json", "evt-1")) as Record<string, unknown>;
  assert.equal(json.id, "evt-1");
  assert.equal(json.type, "file.blocked");
  assert.equal((json.data as { sha256: string }).sha256, "a".repeat(64));
  const slack = JSON.parse(renderBody(blocked, "slack", "evt-1")) as Record<string, unknown>;
  assert.deepEqual(Object.keys(slack), ["text"]);
  assert.match(
    slack.text as string,
    /acme-1\.0-py3-none-any\.whl .* now refused \(it was admitted before\): vulnerability: 1 known vulnerability \(PYSEC-1\)/,
  );
  const affects = renderBody(
    {
      type: "advisory.affects",
      advisoryId: "PYSEC-1",
      project: "acme",
      versions: ["1.0"],
      consumers: [{ identity: "ci-bot", client: "pip 26.0", versions: ["1.0"], lastPulled: "2026-01-01" }],
      at: "x",
    },
    "slack",
    "e",
  );
  assert.match(affects, /PYSEC-1 affects acme 1\.0.*Who has it: ci-bot \(pip 26\.0\)/);
});

test("a files.blocked digest: JSON carries the counts and the first files; Slack one line summing it up", () => {
  const json = JSON.parse(renderBody(digest, "json", "evt-2")) as {
    id: string;
    type: string;
    at: string;
    data: { count: number; byProject: unknown[]; byReason: unknown[]; files: unknown[] };
  };
  assert.equal(json.type, "files.blocked");
  assert.equal(json.at, "2026-01-01T00:00:00.000Z");
  assert.equal(json.data.count, 137);
  assert.deepEqual(json.data.byProject, [
    { project: "acme", count: 100 },
    { project: "widgets", count: 37 },
  ]);
  assert.equal(json.data.files.length, 50);
  const text = (JSON.parse(renderBody(digest, "slack", "evt-2", "https://gate.example")) as { text: string })
    .text;
  assert.equal(text.includes("\n"), false, "one line");
  assert.equal(
    text,
    ":no_entry: 137 files are now refused (120 of them admitted before). By project: acme 100, widgets 37. " +
      "By reason: PYSEC-1 130, licence 7. First: acme-1.0-py3-none-any.whl (acme 1.0); " +
      "acme-1.1-py3-none-any.whl (acme 1.1); acme-1.2-py3-none-any.whl (acme 1.2); " +
      "acme-1.3-py3-none-any.whl (acme 1.3); acme-1.4-py3-none-any.whl (acme 1.4) and 132 more. https://gate.example",
  );
  const many = describeEvent({
    ...digest,
    byProject: Array.from({ length: 12 }, (_, i) => ({ project: `p${i}`, count: 12 - i })),
  });
  assert.match(
    many,
    /By project: p0 12, .*p9 3 and 2 more\. By reason/,
    "ten projects named, the rest counted",
  );
});

test("a remediations.opened digest: JSON carries the counts and the first items; Slack one line summing it up", () => {
  const json = JSON.parse(renderBody(openedDigest, "json", "evt-3")) as {
    id: string;
    type: string;
    at: string;
    data: typeof openedDigest;
  };
  assert.equal(json.id, "evt-3");
  assert.equal(json.type, "remediations.opened");
  assert.equal(json.at, "2026-01-01T00:00:00.000Z");
  assert.deepEqual(json.data, openedDigest, "every field, as published");
  const text = (
    JSON.parse(renderBody(openedDigest, "slack", "evt-3", "https://gate.example")) as { text: string }
  ).text;
  assert.equal(text.includes("\n"), false, "one line");
  assert.equal(
    text,
    ":hammer_and_wrench: 64 remediation items opened. By severity: critical 4, medium 60. " +
      "By owner: team-a 40, team-b 14; 10 with no owner. Earliest due 2026-01-03T00:00:00.000Z. " +
      "First: #1 acme 1.0 (critical, owner unassigned, due 2026-01-03T00:00:00.000Z); " +
      "#2 acme 1.1 (critical, owner unassigned, due 2026-01-03T00:00:00.000Z); " +
      "#3 acme 1.2 (critical, owner team-a, due 2026-01-03T00:00:00.000Z); " +
      "#4 acme 1.3 (critical, owner team-a, due 2026-01-03T00:00:00.000Z); " +
      "#5 acme 1.4 (medium, owner team-a, due 2026-01-31T00:00:00.000Z) and 59 more. https://gate.example",
  );
  assert.match(
    describeEvent({ ...openedDigest, byOwner: [], unowned: 64 }),
    /By owner: 64 with no owner\. Earliest/,
    "no owner at all",
  );
  assert.match(
    describeEvent({ ...openedDigest, unowned: 0 }),
    /By owner: team-a 40, team-b 14\. Earliest/,
    "every item owned",
  );
  const many = describeEvent({
    ...openedDigest,
    byOwner: Array.from({ length: 12 }, (_, i) => ({ owner: `t${i}`, count: 12 - i })),
  });
  assert.match(
    many,
    /By owner: t0 12, .*t9 3 and 2 more; 10 with no owner\./,
    "ten teams named, the rest counted",
  );
});

test("Slack text escapes &, < and > in everything from outside; the gateway's own link stays a link", () => {
  const hostile = "<!channel> <https://evil.example|click> & co";
  const escaped = "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; co";
  const texts = [
    describeEvent({
      type: "request.pending",
      requestId: 7,
      project: "acme<!here>",
      version: "1.0",
      requester: "eve <@U123>",
      reason: hostile,
      at: "t",
    }),
    describeEvent({
      ...blocked,
      filename: "acme-1.0<!everyone>.whl",
      reasons: [{ ...blocked.reasons[0]!, message: `PYSEC-1: ${hostile}` }],
    }),
    describeEvent({
      type: "advisory.affects",
      advisoryId: "GHSA-<x>",
      project: "acme",
      versions: ["1.0"],
      consumers: [{ identity: "ci&bot", client: hostile, versions: ["1.0"], lastPulled: "2026-01-01" }],
      at: "t",
    }),
    describeEvent({
      ...digest,
      byProject: [{ project: "acme<!here>", count: 137 }],
      byReason: [{ reason: "GHSA-<x>", check: "vulnerability", count: 137 }],
      files: [{ ...digest.files[0]!, filename: "a<!channel>&.whl" }],
    }),
    describeEvent(
      {
        type: "remediation.opened",
        itemId: 3,
        project: "acme",
        version: "1.0",
        severity: "high",
        owner: "<!subteam^S1>",
        due: "2026-02-01",
        at: "t",
      },
      "https://gate.example/console?a=1",
    ),
    describeEvent({
      ...openedDigest,
      bySeverity: [{ severity: "<!here>", count: 64 }],
      byOwner: [{ owner: "<!subteam^S1>&co", count: 54 }],
      items: [
        {
          itemId: 1,
          project: "acme<!channel>",
          version: "1.0<x>",
          severity: "high&",
          owner: "<@U1>",
          due: "<2026>",
        },
      ],
      earliestDue: "<!everyone>",
    }),
  ];
  for (const text of texts) {
    assert.doesNotMatch(text, /<|>/, `no control sequence from outside survives: ${text}`);
    assert.doesNotMatch(text, /&(?!amp;|lt;|gt;)/, `every & is an entity: ${text}`);
  }
  assert.equal(
    texts[0],
    `:inbox_tray: request #7 pending: acme&lt;!here&gt; 1.0 by eve &lt;@U123&gt;: ${escaped}`,
  );
  assert.match(texts[1]!, /acme-1\.0&lt;!everyone&gt;\.whl .*: vulnerability: PYSEC-1: &lt;!channel&gt;/);
  assert.match(texts[2]!, /GHSA-&lt;x&gt; affects acme 1\.0.*Who has it: ci&amp;bot \(&lt;!channel&gt;/);
  assert.match(
    texts[3]!,
    /By project: acme&lt;!here&gt; 137\. By reason: GHSA-&lt;x&gt; 137\. First: a&lt;!channel&gt;&amp;\.whl/,
  );
  assert.match(
    texts[4]!,
    /owner &lt;!subteam\^S1&gt;, due 2026-02-01 https:\/\/gate\.example\/console\?a=1$/,
  );
  assert.equal(
    texts[5],
    ":hammer_and_wrench: 64 remediation items opened. By severity: &lt;!here&gt; 64. " +
      "By owner: &lt;!subteam^S1&gt;&amp;co 54; 10 with no owner. Earliest due &lt;!everyone&gt;. " +
      "First: #1 acme&lt;!channel&gt; 1.0&lt;x&gt; (high&amp;, owner &lt;@U1&gt;, due &lt;2026&gt;) and 63 more.",
  );
  // The body is JSON: Slack receives the entities, and shows them as the characters typed.
  const body = JSON.parse(
    renderBody(
      {
        type: "request.denied",
        requestId: 1,
        project: "p",
        version: null,
        requester: "r",
        reason: "a&b",
        at: "t",
      },
      "slack",
      "e",
    ),
  ) as { text: string };
  assert.equal(body.text, ":inbox_tray: request #1 denied: p by r: a&amp;b");
});

test("event keys are the same for the same fact, whoever computes them", () => {
  assert.equal(eventKey(blocked), eventKey({ ...blocked }));
  assert.notEqual(eventKey(blocked), eventKey({ ...blocked, at: "2026-01-02T00:00:00.000Z" }));
  assert.equal(eventKey(digest), eventKey({ ...digest }), "a digest of the same batch: one key");
  assert.notEqual(eventKey(digest), eventKey({ ...digest, batch: "e".repeat(64) }), "another batch");
  const due = {
    type: "remediation.due",
    itemId: 3,
    project: "p",
    version: "1",
    severity: "high",
    owner: null,
    due: "d",
    at: "t1",
  } as const;
  assert.equal(eventKey(due), eventKey({ ...due }));
  assert.notEqual(
    eventKey({ ...due, type: "remediation.overdue" }),
    eventKey({ ...due, type: "remediation.overdue", at: "t2" }),
    "an overdue notice sent again (the item reopened from an expired acceptance) is a new delivery",
  );
  const opened = { ...due, type: "remediation.opened" } as const;
  assert.equal(eventKey(opened), eventKey({ ...opened, at: "t2" }), "an item opens once per due date");
  assert.equal(
    eventKey(openedDigest),
    `remediations.opened:${"a".repeat(64)}`,
    "a remediations.opened digest is keyed by its batch",
  );
  assert.equal(eventKey(openedDigest), eventKey({ ...openedDigest, at: "t2" }), "the same batch: one key");
  assert.notEqual(
    eventKey(openedDigest),
    eventKey({ ...openedDigest, batch: "e".repeat(64) }),
    "another batch",
  );
});

test("subscriptions filter by type; back-off doubles and is capped", () => {
  assert.equal(wants(null, "file.blocked"), true);
  assert.equal(wants(["advisory.affects"], "file.blocked"), false);
  assert.equal(
    wants(["file.blocked"], "files.blocked"),
    true,
    "a digest stands for file.blocked events: their subscribers get it",
  );
  assert.equal(wants(["files.blocked"], "files.blocked"), true);
  assert.equal(wants(["files.blocked"], "file.blocked"), false, "the digest alone may be asked for");
  assert.equal(wants(["advisory.affects"], "files.blocked"), false);
  assert.equal(
    wants(["remediation.opened"], "remediations.opened"),
    true,
    "a digest stands for remediation.opened events: their subscribers get it",
  );
  assert.equal(wants(["remediations.opened"], "remediations.opened"), true);
  assert.equal(
    wants(["remediations.opened"], "remediation.opened"),
    false,
    "the digest alone may be asked for",
  );
  assert.equal(wants(["remediation.due", "file.blocked"], "remediations.opened"), false);
  assert.equal(wants(["remediation.opened"], "files.blocked"), false, "each digest stands for its own type");
  const none = () => 0;
  assert.deepEqual(
    [1, 2, 3, 4].map((a) => backoffMs(a, none)),
    [30_000, 60_000, 120_000, 240_000],
  );
  assert.equal(backoffMs(40, none), 6 * 3_600_000);
  assert.equal(
    backoffMs(1, () => 1),
    33_000,
  );
});

test("retries span a weekend: the waits before the last attempt add up to 2.5 days or more", () => {
  let total = 0;
  for (let a = 1; a < MAX_ATTEMPTS; a++) total += backoffMs(a, () => 0);
  assert.ok(total >= 60 * 3_600_000, `${total / 3_600_000} h`);
  assert.ok(total <= 72 * 3_600_000, `${total / 3_600_000} h`);
});
