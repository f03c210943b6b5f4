/**
 * The dashboard's Remediation page in real Chromium against a real gateway: a file a reader pulled
 * is blocked by a new advisory, which opens a remediation item for the project's owning team. An
 * approver finds it (severity, project, owner, overdue), opens it, acknowledges it with a note,
 * meets a 409 when someone else changed it first, is refused an accepted risk without a reason,
 * then accepts it with a reason and an expiry; the state filter lives in the address. A reader
 * gets a notice and no link. Screenshots at 1280 and 390 px go to test-output/dashboard/.
 *
 * Chromium is Debian's (`/usr/bin/chromium`, or `PORTCULLIS_CHROMIUM`), driven by playwright-core:
 * a downloaded browser is never used.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Locator } from "playwright-core";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { basic, createToken, downloadRelease, flushAudit } from "../helpers/identity.js";
import { buildWheel } from "../helpers/wheel-builder.js";
import {
  apiCall,
  chromiumSkip,
  ensureDashboardBuilt,
  launchChromium,
  logInToDashboard,
  SHOTS,
  WIDTHS,
} from "../helpers/dashboard-browser.js";

const DAY = 86_400_000;

const skip = chromiumSkip();

interface Item {
  id: number;
  state: string;
  note: string | null;
  acceptedUntil: string | null;
  stateChangedBy: string | null;
}

describe("dashboard remediation page in real Chromium", { skip }, () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  let browser: Browser;
  let approverToken: string;
  let readerToken: string;
  let adminToken: string;
  let itemId: number;
  // The gateway's clock: set back while the item opens, so that it is overdue by now.
  let clock: number | undefined;

  const api = <T>(method: string, path: string, token: string, body?: unknown) =>
    apiCall<T>(gw.url, method, path, token, body);

  const loggedIn = (token: string, width?: number, opts?: { timezoneId?: string }) =>
    logInToDashboard(browser, gw.url, token, width, opts);

  /** The state of the item as the API has it. */
  async function stored(): Promise<Item> {
    const res = await api<Item>("GET", `/api/v1/remediation/${itemId}`, approverToken);
    assert.equal(res.status, 200);
    return res.body;
  }

  /**
   * The item's history table as shown, oldest first: each row's state, by and why (the time
   * column left out). Waits for the table to have loaded.
   */
  async function historyRows(detail: Locator): Promise<string[][]> {
    const rows = detail.locator("table.history tbody tr");
    await rows.first().waitFor();
    const cells = await Promise.all((await rows.all()).map((r) => r.locator("td").allInnerTexts()));
    return cells.map((c) => c.slice(1).map((t) => t.trim()));
  }

  before(async () => {
    ensureDashboardBuilt();
    const old = "2025-01-01T00:00:00Z";
    const v1 = await buildWheel({ name: "acme-widgets", version: "1.0" });
    const v2 = await buildWheel({ name: "acme-widgets", version: "1.1" });
    upstream = await startJsonIndexServer({
      projects: {
        "acme-widgets": {
          files: [
            { filename: v1.filename, bytes: v1.bytes, uploadTime: old },
            { filename: v2.filename, bytes: v2.bytes, uploadTime: old },
          ],
        },
      },
    });
    gw = await startTestGateway({ upstream: upstream.simpleUrl }, { now: () => clock ?? Date.now() });
    approverToken = await createToken(gw, { user: "alice", role: "approver", team: "security" });
    readerToken = await createToken(gw, { user: "rita", role: "reader", team: "data" });
    adminToken = await createToken(gw, { user: "root", role: "admin", team: "platform" });
    const owner = await api("PUT", "/api/v1/owners/acme-widgets", adminToken, { team: "widgets" });
    assert.equal(owner.status, 200, JSON.stringify(owner.body));

    // rita pulls 1.0: it is admitted, and she is its consumer.
    await downloadRelease(gw, basic(readerToken), "acme-widgets", "1.0");
    await flushAudit(gw);

    // Ten days ago, a critical advisory (2 days' SLA) blocks it: the item is overdue now.
    clock = Date.now() - 10 * DAY;
    const dir = mkdtempSync(join(tmpdir(), "osv-"));
    writeFileSync(
      join(dir, "PYSEC-2099-7.json"),
      JSON.stringify({
        id: "PYSEC-2099-7",
        modified: "2026-01-01T00:00:00Z",
        summary: "remote code execution in widget parsing",
        severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }],
        affected: [
          {
            package: { ecosystem: "PyPI", name: "acme-widgets" },
            ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "1.1" }] }],
          },
        ],
      }),
    );
    await gw.gateway.intel.importSource(dir);
    await gw.gateway.policy.refresh();
    const s = gw.gateway.services;
    await s.decisionEvents.flush();
    await Promise.all([s.remediation.flush(), s.decisionNotifier.flush()]);
    clock = undefined;
    const [item] = await s.remediation.list({ project: "acme-widgets" });
    assert.ok(item, "an item opened");
    assert.equal(item.state, "open");
    assert.equal(item.severity, "critical");
    assert.equal(item.owner, "widgets");
    assert.ok(item.dueAt < Date.now(), "the item is overdue");
    itemId = item.id;

    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    await upstream?.close();
  });

  test("an approver finds the item, opens it, acknowledges it, and meets a 409 for a stale change", async () => {
    const { context, page } = await loggedIn(approverToken);
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    try {
      await page.getByRole("link", { name: "Remediation", exact: true }).click();
      await page.getByRole("heading", { name: "Remediation", level: 1 }).waitFor();
      // Open items by default, in the list with the project, severity, owner and consumers.
      const row = page.locator("main tbody tr", { hasText: `#${itemId}` });
      await row.waitFor();
      await row.getByRole("link", { name: "acme-widgets==1.0" }).waitFor();
      assert.equal(
        await row.getByRole("link", { name: "acme-widgets==1.0" }).getAttribute("href"),
        "/projects/acme-widgets",
      );
      const cells = await row.locator("td").allInnerTexts();
      assert.equal(cells[1], "critical");
      assert.equal(cells[3], "widgets");
      assert.equal(cells[4], "open");
      assert.match(cells[5] ?? "", /overdue/, "overdue said in words");
      assert.equal(cells[7], "1", "one consumer");

      await row.getByRole("button", { name: `Show item #${itemId}: acme-widgets==1.0` }).click();
      const detail = page.locator("section.card", {
        has: page.getByRole("heading", { name: `Item #${itemId}: acme-widgets==1.0`, level: 2 }),
      });
      await detail.waitFor();
      // Why, where to move to, who has it.
      assert.match(await detail.locator("dd.reason").first().innerText(), /^vulnerability: .*PYSEC-2099-7/);
      await detail.getByRole("link", { name: "acme-widgets==1.1" }).waitFor();
      await detail.locator("tbody tr", { hasText: "rita" }).waitFor();
      assert.equal(
        await page.evaluate("document.activeElement && document.activeElement.tagName"),
        "H2",
        "opening an item takes the focus to it",
      );

      // Acknowledge with a note: the item shows it, the API agrees, the open list no longer has it.
      await detail.getByRole("button", { name: "Acknowledge", exact: true }).click();
      await detail.getByLabel("Note (optional)").fill("looking at it this sprint");
      await detail.getByRole("button", { name: "Confirm acknowledgement" }).click();
      await detail.locator(".facts .badge", { hasText: "acknowledged" }).waitFor();
      await detail.locator(".facts").getByText("looking at it this sprint").waitFor();
      await page.getByText("No open remediation items.").waitFor();
      // Its history: opened by the gateway, acknowledged by alice with her note.
      assert.deepEqual(await historyRows(detail), [
        ["open", "portcullis", "—"],
        ["open → acknowledged", "alice", "looking at it this sprint"],
      ]);
      const acked = await stored();
      assert.equal(acked.state, "acknowledged");
      assert.equal(acked.note, "looking at it this sprint");
      assert.equal(acked.stateChangedBy, "alice");

      // Someone else reopens it while the page still shows it acknowledged: Reopen here is a 409,
      // said in words, and the item is shown as it now is.
      const behind = await api<Item>("POST", `/api/v1/remediation/${itemId}/state`, approverToken, {
        state: "open",
      });
      assert.equal(behind.status, 200);
      await detail.getByRole("button", { name: "Reopen", exact: true }).click();
      await detail.getByRole("button", { name: "Confirm reopening" }).click();
      await detail
        .getByRole("alert")
        .filter({ hasText: "the item is open already (CONFLICT, HTTP 409)" })
        .waitFor();
      await detail.locator(".facts .badge", { hasText: "open" }).waitFor();
      assert.equal(await detail.getByRole("button", { name: "Reopen", exact: true }).count(), 0);
      await detail.getByRole("button", { name: "Acknowledge", exact: true }).waitFor();
      // The reopening done elsewhere is in the history shown, not only in the badge.
      assert.deepEqual((await historyRows(detail)).at(-1), ["acknowledged → open", "alice", "—"]);
    } finally {
      await context.close();
    }
    assert.deepEqual(errors, [], "the dashboard threw in the browser");
  });

  test("accepting the risk needs a reason and an expiry; then the item is accepted-risk until then", async () => {
    const { context, page } = await loggedIn(approverToken, WIDTHS[0], { timezoneId: "UTC" });
    try {
      await page.goto(`${gw.url}/remediation?state=all`);
      const row = page.locator("main tbody tr", { hasText: `#${itemId}` });
      await row.getByRole("button", { name: `Show item #${itemId}: acme-widgets==1.0` }).click();
      const detail = page.locator("section.card", {
        has: page.getByRole("heading", { name: `Item #${itemId}: acme-widgets==1.0`, level: 2 }),
      });
      await detail.getByRole("button", { name: "Accept risk", exact: true }).click();
      const reason = detail.getByLabel("Reason for accepting the risk");
      const until = detail.getByLabel("Risk accepted until (the item reopens then)");
      const day = new Date(Date.now() + 30 * DAY).toISOString().slice(0, 10);

      // No reason: the form itself refuses, and nothing is sent.
      let posted = 0;
      page.on("request", (r) => {
        if (r.method() === "POST" && r.url().endsWith(`/api/v1/remediation/${itemId}/state`)) posted++;
      });
      await until.fill(day);
      await detail.getByRole("button", { name: "Confirm risk acceptance" }).click();
      assert.equal(
        await reason.evaluate(
          (el) => (el as unknown as { validity: { valueMissing: boolean } }).validity.valueMissing,
        ),
        true,
        "the reason field is not marked missing",
      );
      assert.equal(posted, 0, "a form without a reason was sent");
      // A reason of blanks gets past the form: the API's 400 is shown, not swallowed.
      await reason.fill("   ");
      await detail.getByRole("button", { name: "Confirm risk acceptance" }).click();
      await detail
        .getByRole("alert")
        .filter({ hasText: "accepted-risk needs a reason and an until date (VALIDATION, HTTP 400)" })
        .waitFor();
      assert.equal(posted, 1);
      assert.equal((await stored()).state, "open");

      await reason.fill("not reachable: we never parse untrusted widgets");
      await detail.getByRole("button", { name: "Confirm risk acceptance" }).click();
      await detail.locator(".facts .badge", { hasText: "accepted-risk" }).waitFor();
      await detail.locator(".facts").getByText("not reachable: we never parse untrusted widgets").waitFor();
      const [moved, by, why] = (await historyRows(detail)).at(-1)!;
      assert.match(moved!, /^open → accepted-risk until \S/);
      assert.deepEqual([by, why], ["alice", "not reachable: we never parse untrusted widgets"]);
      assert.equal(await detail.getByRole("alert").count(), 0, "the earlier refusal stayed on screen");
      const accepted = await stored();
      assert.equal(accepted.state, "accepted-risk");
      assert.equal(accepted.note, "not reachable: we never parse untrusted widgets");
      // The last second of that day where the approver is (UTC here).
      assert.equal(accepted.acceptedUntil, `${day}T23:59:59.000Z`);
      // An accepted risk is not overdue: the list stops saying so.
      await page.getByText(`Item #${itemId} is now accepted-risk.`).waitFor();
      await row.locator("td", { hasText: "accepted-risk" }).waitFor();
      assert.equal(await row.getByText("overdue").count(), 0);

      // The project changes hands: the item moves with it, and its history says from whom to whom.
      const handedOver = await api("PUT", "/api/v1/owners/acme-widgets", adminToken, { team: "platform" });
      assert.equal(handedOver.status, 200);
      try {
        await page.reload();
        await page.getByRole("button", { name: `Show item #${itemId}: acme-widgets==1.0` }).click();
        await detail.locator("table.history").waitFor();
        assert.deepEqual((await historyRows(detail)).at(-1), [
          "owner → platform",
          "root",
          "previously widgets",
        ]);
      } finally {
        assert.equal(
          (await api("PUT", "/api/v1/owners/acme-widgets", adminToken, { team: "widgets" })).status,
          200,
        );
      }
    } finally {
      await context.close();
    }
  });

  test("the state filter narrows the list and stays in the address across a reload", async () => {
    const { context, page } = await loggedIn(approverToken);
    try {
      await page.getByRole("link", { name: "Remediation", exact: true }).click();
      await page.getByText("No open remediation items.").waitFor();
      const filter = page.getByRole("navigation", { name: "Filter by state" });
      await filter.getByRole("link", { name: "fixed", exact: true }).click();
      await page.waitForURL((u) => u.search === "?state=fixed");
      await page.getByText("No fixed remediation items.").waitFor();
      assert.equal(await page.locator("main tbody tr").count(), 0);
      await filter.getByRole("link", { name: "accepted-risk", exact: true }).click();
      await page.waitForURL((u) => u.search === "?state=accepted-risk");
      await page.locator("main tbody tr", { hasText: `#${itemId}` }).waitFor();
      await page.reload();
      await page.locator("main tbody tr", { hasText: `#${itemId}` }).waitFor();
      assert.equal(
        await filter.getByRole("link", { name: "accepted-risk", exact: true }).getAttribute("aria-current"),
        "page",
      );
      assert.equal(new URL(page.url()).search, "?state=accepted-risk");
    } finally {
      await context.close();
    }
  });

  test("a reader gets a notice instead of the page, and no link to it", async () => {
    const { context, page } = await loggedIn(readerToken);
    try {
      await page.locator(".identity", { hasText: "rita (reader)" }).waitFor();
      assert.equal(await page.getByRole("link", { name: "Remediation", exact: true }).count(), 0);
      await page.goto(`${gw.url}/remediation`);
      await page.getByText("Only approvers and administrators can see and work remediation items.").waitFor();
      await page.waitForLoadState("networkidle");
      assert.equal(await page.getByRole("alert").count(), 0, "an error shown to a reader");
      assert.equal(await page.locator("main table").count(), 0);
      assert.equal(await page.getByRole("navigation", { name: "Filter by state" }).count(), 0);
    } finally {
      await context.close();
    }
    const refused = await api<{ error: { code: string } }>("GET", "/api/v1/remediation", readerToken);
    assert.equal(refused.status, 403, "the API refuses the reader anyway");
  });

  test("the page with an item open renders at 1280 and 390 px wide (screenshots in test-output/dashboard)", async () => {
    mkdirSync(SHOTS, { recursive: true });
    for (const width of WIDTHS) {
      const { context, page } = await loggedIn(approverToken, width);
      try {
        await page.goto(`${gw.url}/remediation?state=all`);
        await page.getByRole("button", { name: `Show item #${itemId}: acme-widgets==1.0` }).click();
        await page.getByRole("heading", { name: `Item #${itemId}: acme-widgets==1.0`, level: 2 }).waitFor();
        await page.waitForLoadState("networkidle");
        // At 390 px the layout must reflow (tables scroll inside their box), not scroll sideways.
        const overflow = await page.evaluate<number>(
          "document.documentElement.scrollWidth - window.innerWidth",
        );
        assert.ok(overflow <= 1, `remediation at ${width}px is ${overflow}px wider than the window`);
        await page.screenshot({ path: join(SHOTS, `remediation-${width}.png`), fullPage: true });
      } finally {
        await context.close();
      }
    }
  });
});
