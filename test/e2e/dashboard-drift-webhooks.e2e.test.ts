/**
 * The dashboard's Drift and Webhooks pages in real Chromium against a real gateway.
 *
 * Drift: a CI token pulls acme-lib 2.0 and left-pad 1.0 twenty days ago (the gateway's clock set
 * back), then acme-lib 1.5, left-pad 1.1 and brand-new 0.1 now; an anonymous caller pulls
 * left-pad 1.1. An approver sees each consumer with its changes (the downgrade said in words), the
 * 30-day window in the address across a reload, and an empty window said plainly; a reader gets a
 * notice and no link.
 *
 * Webhooks: an admin adds one for two events through the form (the secret never shown again), a
 * real event (a request the policy approves) reaches a receiver on loopback with a valid
 * signature, the page's delivery log shows it delivered and a failing endpoint's error; a
 * duplicate is refused (409) and a bad secret too (400), both shown; removal needs a
 * confirmation. An approver gets a notice and no link. Screenshots at 1280 and 390 px go to
 * test-output/dashboard/.
 *
 * Chromium is Debian's (`/usr/bin/chromium`, or `PORTCULLIS_CHROMIUM`), driven by playwright-core:
 * a downloaded browser is never used.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { bearer, createToken, downloadRelease, flushAudit } from "../helpers/identity.js";
import { buildWheel } from "../helpers/wheel-builder.js";
import {
  refusingUrl,
  signatureValid,
  startWebhookReceiver,
  type WebhookReceiver,
} from "../integration/governance-webhook-receiver.js";
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
const SECRET = "a-webhook-secret-of-some-length";
const RELEASES: Record<string, string[]> = {
  "acme-lib": ["1.5", "2.0"],
  "left-pad": ["1.0", "1.1"],
  "brand-new": ["0.1"],
};

const skip = chromiumSkip();

interface Hook {
  id: number;
  url: string;
  format: string;
  events: string[] | null;
}

describe("dashboard drift and webhooks pages in real Chromium", { skip }, () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  let browser: Browser;
  let receiver: WebhookReceiver;
  const filenames = new Map<string, string>();
  const tokens = { admin: "", approver: "", reader: "", requester: "", ci: "" };
  // The gateway's clock: set back for the old pulls, forward for an empty window.
  let clock: number | undefined;

  const api = <T>(method: string, path: string, token: string, body?: unknown) =>
    apiCall<T>(gw.url, method, path, token, body);

  const loggedIn = (token: string, width?: number, opts?: { timezoneId?: string }) =>
    logInToDashboard(browser, gw.url, token, width, opts);

  /** The webhooks the API lists. */
  async function hooks(): Promise<Hook[]> {
    const res = await api<{ items: Hook[] }>("GET", "/api/v1/webhooks", tokens.admin);
    assert.equal(res.status, 200);
    return res.body.items;
  }

  /** Waits until the webhook's deliveries have each been tried at least once (the dispatcher records each). */
  async function tried(webhookId: number, n: number): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      const list = (await gw.gateway.services.webhooks.deliveries(webhookId)) ?? [];
      if (list.length >= n && list.every((d) => d.attempts > 0)) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.fail(`webhook ${webhookId}: ${n} deliveries never tried`);
  }

  /** The section of one consumer, by its heading. */
  function consumer(page: Page, name: string): Locator {
    return page.locator("section.card", { has: page.getByRole("heading", { name, exact: true, level: 2 }) });
  }

  /** The cells of the change row naming `release` (`project==version`). */
  async function changeRow(section: Locator, release: string): Promise<string[]> {
    const row = section.locator("tbody tr", {
      has: section.page().getByRole("link", { name: release, exact: true }),
    });
    await row.waitFor();
    const project = release.split("==")[0]!;
    assert.equal(
      await row.getByRole("link", { name: release, exact: true }).getAttribute("href"),
      `/projects/${project}`,
    );
    return row.locator("td").allInnerTexts();
  }

  before(async () => {
    ensureDashboardBuilt();
    const projects: Parameters<typeof startJsonIndexServer>[0]["projects"] = {};
    for (const [name, versions] of Object.entries(RELEASES)) {
      const files = [];
      for (const version of versions) {
        const wheel = await buildWheel({ name, version });
        filenames.set(`${name}==${version}`, wheel.filename);
        files.push({ filename: wheel.filename, bytes: wheel.bytes, uploadTime: "2025-01-01T00:00:00Z" });
      }
      projects[name] = { files };
    }
    upstream = await startJsonIndexServer({ projects });
    receiver = await startWebhookReceiver();
    gw = await startTestGateway({ upstream: upstream.simpleUrl }, { now: () => clock ?? Date.now() });

    // Twenty days ago: the CI job's tokens exist, and it pulls acme-lib 2.0 and left-pad 1.0.
    clock = Date.now() - 20 * DAY;
    tokens.admin = await createToken(gw, { user: "root", role: "admin", team: "platform" });
    tokens.approver = await createToken(gw, { user: "alice", role: "approver", team: "security" });
    tokens.reader = await createToken(gw, { user: "rita", role: "reader", team: "data" });
    tokens.requester = await createToken(gw, { user: "dan", role: "requester", team: "data" });
    tokens.ci = await createToken(gw, { user: "ci-bot", role: "reader", team: "build", label: "nightly" });
    await downloadRelease(gw, bearer(tokens.ci), "acme-lib", "2.0");
    await downloadRelease(gw, bearer(tokens.ci), "left-pad", "1.0");
    await flushAudit(gw);
    // Now: a downgrade, a new version, a new project; and an anonymous caller's first pull.
    clock = undefined;
    await downloadRelease(gw, bearer(tokens.ci), "acme-lib", "1.5");
    await downloadRelease(gw, bearer(tokens.ci), "left-pad", "1.1");
    await downloadRelease(gw, bearer(tokens.ci), "brand-new", "0.1");
    await downloadRelease(gw, {}, "left-pad", "1.1");
    await flushAudit(gw);

    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    await receiver?.close();
    await upstream?.close();
  });

  test("an approver sees each consumer's drift, the downgrade in words; the window stays in the address", async () => {
    const { context, page } = await loggedIn(tokens.approver);
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    try {
      await page.getByRole("link", { name: "Drift", exact: true }).click();
      await page.getByRole("heading", { name: "Drift", level: 1 }).waitFor();
      assert.equal(new URL(page.url()).pathname, "/drift");

      const ci = consumer(page, "ci-bot [nightly]");
      await ci.waitFor();
      assert.deepEqual(await ci.locator("dd").allInnerTexts(), [
        "ci-bot",
        "nightly",
        "build",
        "127.0.0.1 (latest)",
      ]);
      const downgrade = await changeRow(ci, "acme-lib==1.5");
      assert.equal(downgrade[0], "downgrade");
      assert.equal(downgrade[2], "down from 2.0");
      assert.equal(downgrade[3], filenames.get("acme-lib==1.5"));
      assert.notEqual(downgrade[4], "—", "the first-pulled time is shown");
      const newProject = await changeRow(ci, "brand-new==0.1");
      assert.deepEqual(newProject.slice(0, 4), [
        "new project",
        "brand-new==0.1",
        "first pull of the project",
        filenames.get("brand-new==0.1"),
      ]);
      const newVersion = await changeRow(ci, "left-pad==1.1");
      assert.deepEqual(newVersion.slice(0, 3), ["new version", "left-pad==1.1", "up from 1.0"]);
      assert.match(await ci.locator("caption").innerText(), /^3 changes, 1 downgrade$/);
      // Pulled twenty days ago: outside the week.
      assert.equal(await ci.getByRole("link", { name: "acme-lib==2.0" }).count(), 0);

      const anonymous = consumer(page, "anonymous at 127.0.0.1");
      assert.deepEqual((await changeRow(anonymous, "left-pad==1.1")).slice(0, 1), ["new project"]);
      assert.equal(await page.locator("main section.card").count(), 2, "one section per consumer");
      const window = page.getByRole("navigation", { name: "Drift window" });
      assert.equal(await window.getByRole("link", { name: "7 days" }).getAttribute("aria-current"), "page");

      // Thirty days hold the old pulls too: acme-lib 2.0 was the project's first pull, 1.5 a downgrade.
      await window.getByRole("link", { name: "30 days" }).click();
      await page.waitForURL((u) => u.pathname === "/drift" && u.search === "?days=30");
      assert.deepEqual((await changeRow(ci, "acme-lib==2.0")).slice(0, 3), [
        "new project",
        "acme-lib==2.0",
        "first pull of the project",
      ]);
      assert.deepEqual((await changeRow(ci, "left-pad==1.0")).slice(0, 1), ["new project"]);
      assert.equal((await changeRow(ci, "acme-lib==1.5"))[0], "downgrade");
      await page.reload();
      await ci.getByRole("link", { name: "acme-lib==2.0", exact: true }).waitFor();
      assert.equal(await window.getByRole("link", { name: "30 days" }).getAttribute("aria-current"), "page");
      assert.equal(new URL(page.url()).search, "?days=30");
      assert.match(await ci.locator("caption").innerText(), /^5 changes, 1 downgrade$/);

      // The project link goes to the project's page.
      await ci.getByRole("link", { name: "brand-new==0.1", exact: true }).click();
      await page.waitForURL((u) => u.pathname === "/projects/brand-new");
    } finally {
      await context.close();
    }
    assert.deepEqual(errors, [], "the dashboard threw in the browser");
  });

  test("a window with no drift says so plainly", async () => {
    // A hundred days on, nobody has pulled anything for a hundred days.
    clock = Date.now() + 100 * DAY;
    const { context, page } = await loggedIn(tokens.approver);
    try {
      await page.goto(`${gw.url}/drift?days=90`);
      await page
        .getByText(/^No drift in the last 90 days \(since .+\): nobody pulled a project or a version/)
        .waitFor();
      assert.equal(await page.locator("main section.card").count(), 0);
      assert.equal(await page.getByRole("alert").count(), 0);
    } finally {
      clock = undefined;
      await context.close();
    }
  });

  test("a reader gets a notice instead of the drift page, and no link to it", async () => {
    const { context, page } = await loggedIn(tokens.reader);
    try {
      await page.locator(".identity", { hasText: "rita (reader)" }).waitFor();
      assert.equal(await page.getByRole("link", { name: "Drift", exact: true }).count(), 0);
      await page.goto(`${gw.url}/drift?days=30`);
      await page.getByText("Only approvers and administrators can see drift.").waitFor();
      await page.waitForLoadState("networkidle");
      assert.equal(await page.getByRole("alert").count(), 0, "an error shown to a reader");
      assert.equal(await page.locator("main section.card").count(), 0);
      assert.equal(await page.getByRole("navigation", { name: "Drift window" }).count(), 0);
    } finally {
      await context.close();
    }
    const refused = await api<unknown>("GET", "/api/v1/inventory/drift", tokens.reader);
    assert.equal(refused.status, 403, "the API refuses the reader anyway");
  });

  test("an admin adds a webhook for two events; a real event reaches the receiver, signed, and the log shows it", async () => {
    // A second webhook, at an address where nothing listens: its failures must show in its log.
    const dead = await api<Hook>("POST", "/api/v1/webhooks", tokens.admin, {
      url: await refusingUrl(),
      secret: SECRET,
      events: ["request.approved"],
    });
    assert.equal(dead.status, 201, JSON.stringify(dead.body));

    const { context, page } = await loggedIn(tokens.admin);
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    try {
      await page.getByRole("link", { name: "Webhooks", exact: true }).click();
      await page.getByRole("heading", { name: "Webhooks", level: 1 }).waitFor();
      assert.equal(new URL(page.url()).pathname, "/webhooks");
      const form = page.getByRole("form", { name: "Add a webhook" });
      assert.equal(await form.getByLabel("Secret").getAttribute("type"), "password");
      assert.equal(
        await form.getByLabel("All events (also kinds added later)").isChecked(),
        true,
        "all by default",
      );
      await form.getByLabel("URL").fill(receiver.url);
      await form.getByLabel("Secret").fill(SECRET);
      await form.getByLabel("request.pending").check();
      await form.getByLabel("request.approved").check();
      assert.equal(await form.getByLabel("All events (also kinds added later)").isChecked(), false);

      // The button is disabled while the call is in flight (held until checked, then sent as is).
      let letGo!: () => void;
      const held = new Promise<void>((r) => (letGo = r));
      await page.route("**/api/v1/webhooks", async (route) => {
        if (route.request().method() === "POST") await held;
        await route.continue();
      });
      await form.getByRole("button", { name: "Add webhook" }).click();
      await form.getByRole("button", { name: "Adding…" }).waitFor();
      assert.equal(await form.getByRole("button", { name: "Adding…" }).isDisabled(), true);
      assert.equal(await form.getByLabel("Secret").inputValue(), "", "the secret is not kept after submit");
      const answered = page.waitForResponse(
        (r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/api/v1/webhooks",
      );
      letGo();
      assert.equal((await answered).status(), 201);
      await page.unroute("**/api/v1/webhooks");

      const status = form.getByRole("status");
      await status
        .filter({ hasText: /^Webhook #\d+ added: json, request\.pending, request\.approved\.$/ })
        .waitFor();
      const added = (await hooks()).find((h) => h.url === receiver.url);
      assert.ok(added, "the API lists the new webhook");
      assert.deepEqual([added.format, added.events], ["json", ["request.pending", "request.approved"]]);
      const row = page.locator("main tbody tr", { hasText: `#${added.id}` });
      await row.getByText(receiver.url).waitFor();
      assert.equal(
        (await row.locator("td").allInnerTexts())[3],
        "request.pending, request.approved",
        "its events are listed",
      );
      await page.locator("main tbody tr", { hasText: `#${dead.body.id}` }).waitFor();
      assert.ok(!(await page.content()).includes(SECRET), "the secret is on the page");

      // A real event: a request the policy approves at once.
      const request = await api<{ id: number; state: string }>("POST", "/api/v1/requests", tokens.requester, {
        project: "brand-new",
        version: "0.1",
        reason: "a small helper for the build",
      });
      assert.equal(request.status, 201, JSON.stringify(request.body));
      assert.equal(request.body.state, "approved");
      const [got] = await receiver.waitFor(1);
      assert.ok(signatureValid(got!, SECRET), "the delivery's X-Portcullis-Signature is valid");
      assert.match(got!.body, /request\.approved/);
      await tried(added.id, 1);
      await tried(dead.body.id, 1);

      await row.getByRole("button", { name: `Show deliveries of webhook #${added.id}` }).click();
      const log = page.locator("section.card", {
        has: page.getByRole("heading", { name: `Deliveries to webhook #${added.id}`, level: 2 }),
      });
      const delivery = log.locator("tbody tr", { hasText: "request.approved" });
      await delivery.waitFor();
      const cells = await delivery.locator("td").allInnerTexts();
      assert.deepEqual(cells.slice(0, 5), ["request.approved", "delivered", "1", "HTTP 204", "—"]);
      assert.notEqual(cells[6], "—", "the delivery time is shown");

      // The failing endpoint: its delivery waits for another attempt, with the error that failed it.
      await page
        .locator("main tbody tr", { hasText: `#${dead.body.id}` })
        .getByRole("button", { name: `Show deliveries of webhook #${dead.body.id}` })
        .click();
      const deadLog = page.locator("section.card", {
        has: page.getByRole("heading", { name: `Deliveries to webhook #${dead.body.id}`, level: 2 }),
      });
      // The log loads after the click: wait for its row before reading it.
      const failingRow = deadLog.locator("tbody tr", { hasText: "request.approved" });
      await failingRow.waitFor();
      const failing = await failingRow.locator("td").allInnerTexts();
      assert.match(failing[1] ?? "", /^(pending next attempt .+|failed)$/);
      assert.equal(failing[3], "—", "no HTTP answer");
      assert.match(failing[4] ?? "", /ECONNREFUSED|refused/i);
    } finally {
      await context.close();
    }
    assert.deepEqual(errors, [], "the dashboard threw in the browser");
  });

  test("a duplicate (409) and a bad secret (400) are shown; removal asks first, then removes it", async () => {
    const { context, page } = await loggedIn(tokens.admin);
    try {
      await page.goto(`${gw.url}/webhooks`);
      const form = page.getByRole("form", { name: "Add a webhook" });
      const submit = async (secret: string) => {
        await form.getByLabel("URL").fill(receiver.url);
        await form.getByLabel("Secret").fill(secret);
        await form.getByLabel("request.pending").check();
        await form.getByLabel("request.approved").check();
        await form.getByRole("button", { name: "Add webhook" }).click();
      };
      const [hook] = (await hooks()).filter((h) => h.url === receiver.url);
      assert.ok(hook);
      await submit(SECRET);
      await form
        .getByRole("alert")
        .filter({
          hasText: new RegExp(
            `^webhook ${hook.id} already sends the same events \\(request\\.pending, request\\.approved\\) to .+ \\(CONFLICT, HTTP 409\\)$`,
          ),
        })
        .waitFor();
      assert.equal(await form.getByLabel("Secret").inputValue(), "");
      assert.equal(await form.getByRole("button", { name: "Add webhook" }).isEnabled(), true);

      await submit(" ".repeat(20));
      await form
        .getByRole("alert")
        .filter({ hasText: /^the secret is blank .*\(VALIDATION, HTTP 400\)$/ })
        .waitFor();
      await submit("too-short");
      await form
        .getByRole("alert")
        .filter({ hasText: /secret must NOT have fewer than 16 characters.*HTTP 400\)$/ })
        .waitFor();
      assert.equal((await hooks()).filter((h) => h.url === receiver.url).length, 1, "nothing was added");

      // Remove: a first click only asks; Cancel keeps it; confirming removes it.
      const row = page.locator("main tbody tr", { hasText: `#${hook.id}` });
      await row.getByRole("button", { name: `Remove webhook #${hook.id}` }).click();
      const confirm = row.getByRole("group", { name: `Confirm removing webhook #${hook.id}` });
      await confirm.getByRole("button", { name: "Cancel" }).click();
      assert.equal(
        (await hooks()).filter((h) => h.id === hook.id).length,
        1,
        "removed without a confirmation",
      );
      await row.getByRole("button", { name: `Remove webhook #${hook.id}` }).click();
      await confirm.getByRole("button", { name: "Confirm removal" }).click();
      await page
        .getByRole("status")
        .filter({ hasText: `Webhook #${hook.id} removed` })
        .waitFor();
      await row.waitFor({ state: "detached" });
      assert.equal((await hooks()).filter((h) => h.id === hook.id).length, 0, "the API still lists it");
    } finally {
      await context.close();
    }
  });

  test("an approver gets a notice instead of the webhooks page, and no link to it", async () => {
    const { context, page } = await loggedIn(tokens.approver);
    try {
      await page.locator(".identity", { hasText: "alice (approver)" }).waitFor();
      assert.equal(await page.getByRole("link", { name: "Webhooks", exact: true }).count(), 0);
      await page.goto(`${gw.url}/webhooks`);
      await page.getByText("Only administrators can see and change webhooks.").waitFor();
      await page.waitForLoadState("networkidle");
      assert.equal(await page.getByRole("alert").count(), 0, "an error shown to an approver");
      assert.equal(await page.getByRole("form", { name: "Add a webhook" }).count(), 0);
      assert.equal(await page.locator("main table").count(), 0);
    } finally {
      await context.close();
    }
    const refused = await api<unknown>("GET", "/api/v1/webhooks", tokens.approver);
    assert.equal(refused.status, 403, "the API refuses the approver anyway");
  });

  test("both pages render at 1280 and 390 px wide (screenshots in test-output/dashboard)", async () => {
    mkdirSync(SHOTS, { recursive: true });
    for (const width of WIDTHS) {
      const { context, page } = await loggedIn(tokens.admin, width);
      try {
        for (const [path, ready, name] of [
          ["/drift?days=30", "ci-bot [nightly]", "drift"],
          ["/webhooks", "Add a webhook", "webhooks"],
        ] as const) {
          await page.goto(`${gw.url}${path}`);
          await page.getByRole("heading", { name: ready, exact: true, level: 2 }).waitFor();
          await page.waitForLoadState("networkidle");
          // At 390 px the layout must reflow (tables scroll inside their box), not scroll sideways.
          const overflow = await page.evaluate<number>(
            "document.documentElement.scrollWidth - window.innerWidth",
          );
          assert.ok(overflow <= 1, `${name} at ${width}px is ${overflow}px wider than the window`);
          await page.screenshot({ path: join(SHOTS, `${name}-${width}.png`), fullPage: true });
        }
      } finally {
        await context.close();
      }
    }
  });
});
