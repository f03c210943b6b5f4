/**
 * The dashboard in real Chromium against a real gateway: an approver logs in with a token, finds
 * a pending request in the queue and approves it, then real pip installs the package; a reader
 * sees no approve button and the API refuses the approval anyway. Screenshots of every page, at
 * 1280 and 390 px wide, go to test-output/dashboard/.
 *
 * Chromium is Debian's (`/usr/bin/chromium`, or `PORTCULLIS_CHROMIUM`), driven by playwright-core:
 * a downloaded browser is never used.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { CLI_ACTOR } from "../../src/domain/identity.js";
import { tokenIdOf } from "../../src/services/identity/identity-service.js";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { basic, bearer, createToken, flushAudit, pipIndexUrl } from "../helpers/identity.js";
import { installed, makeVenv, pipInstall } from "../helpers/python.js";
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

const skip = chromiumSkip();

interface CreatedRequest {
  id: string | number;
  state: string;
}

describe("dashboard in real Chromium", { skip }, () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  let browser: Browser;
  let approverToken: string;
  let readerToken: string;
  let requesterToken: string;
  let approveMe: CreatedRequest;
  let leavePending: CreatedRequest;

  const api = <T>(method: string, path: string, token: string, body?: unknown) =>
    apiCall<T>(gw.url, method, path, token, body);

  const loggedIn = (token: string, width?: number, opts?: { timezoneId?: string }) =>
    logInToDashboard(browser, gw.url, token, width, opts);

  before(async () => {
    ensureDashboardBuilt();
    const old = "2025-01-01T00:00:00Z";
    // What an extra adds is listed apart from what every install needs (none here).
    const widgets = await buildWheel({
      name: "acme-widgets",
      version: "1.0",
      requiresDist: [
        'acme-gadgets>=2; extra == "gadgets"',
        'pytest; extra == "test" and python_version >= "3.9"',
      ],
    });
    const gadgets = await buildWheel({ name: "acme-gadgets", version: "2.0" });
    const fine = await buildWheel({ name: "acme-fine", version: "1.0" });
    upstream = await startJsonIndexServer({
      projects: {
        "acme-widgets": { files: [{ filename: widgets.filename, bytes: widgets.bytes, uploadTime: old }] },
        "acme-gadgets": { files: [{ filename: gadgets.filename, bytes: gadgets.bytes, uploadTime: old }] },
        "acme-fine": { files: [{ filename: fine.filename, bytes: fine.bytes, uploadTime: old }] },
      },
    });
    gw = await startTestGateway({ upstream: upstream.simpleUrl });
    // Intel that makes both acme packages need an approver: a known vulnerability with no fix.
    const dir = mkdtempSync(join(tmpdir(), "osv-"));
    for (const [id, name] of [
      ["PYSEC-2099-11", "acme-widgets"],
      ["PYSEC-2099-12", "acme-gadgets"],
    ] as const) {
      writeFileSync(
        join(dir, `${id}.json`),
        JSON.stringify({
          id,
          modified: "2026-01-01T00:00:00Z",
          // A summary carrying a right-to-left override, as a hostile advisory feed could send.
          summary: `remote code execution in ${name}${name === "acme-gadgets" ? " via \u202Etxt.exe" : ""}`,
          affected: [
            {
              package: { ecosystem: "PyPI", name },
              ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }] }],
            },
          ],
        }),
      );
    }
    await gw.gateway.intel.importSource(dir);
    await gw.gateway.policy.refresh();

    approverToken = await createToken(gw, { user: "alice", role: "approver", team: "security" });
    readerToken = await createToken(gw, { user: "rita", role: "reader", team: "data" });
    requesterToken = await createToken(gw, { user: "dan", role: "requester", team: "data" });

    const first = await api<CreatedRequest>("POST", "/api/v1/requests", requesterToken, {
      project: "acme-widgets",
      version: "1.0",
      reason: "needed for the widget pipeline",
    });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(
      first.body.state,
      "pending",
      "a package with a known vulnerability must wait for an approver",
    );
    approveMe = first.body;
    // Free text from a requester: a right-to-left override, a long unbroken word, a line break.
    // The API now refuses the override (400), so it is stored as by an older gateway: the
    // dashboard must still show such a reason visibly.
    const hostile = `trying gadgets: ship \u202Eexe.txt\u202C now ${"x".repeat(400)}\nsecond line`;
    const refused = await api<unknown>("POST", "/api/v1/requests", requesterToken, {
      project: "acme-gadgets",
      version: "2.0",
      reason: hostile,
    });
    assert.equal(refused.status, 400, "a bidi override in a reason is refused");
    const second = await gw.gateway.services.requests.create(
      {
        user: "dan",
        role: "requester",
        team: "data",
        tokenId: null,
        ip: "127.0.0.1",
        application: null,
        client: null,
      },
      { project: "acme-gadgets", version: "2.0", reason: hostile },
    );
    assert.equal(second.state, "pending");
    leavePending = { id: second.id, state: second.state };

    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    await upstream?.close();
  });

  test("before approval, pip cannot install the package", async () => {
    const venv = await makeVenv();
    const res = await pipInstall(venv, pipIndexUrl(gw.url, readerToken), ["acme-widgets==1.0"]);
    assert.notEqual(res.code, 0, "the blocked package must not install before approval");
  });

  test("an approver finds the pending request in the queue and approves it; then pip installs it", async () => {
    const { context, page } = await loggedIn(approverToken);
    try {
      await page.getByRole("link", { name: "Requests", exact: true }).click();
      const review = page.getByRole("link", {
        name: `Review request ${String(approveMe.id)} for acme-widgets`,
      });
      await review.click();
      await page.getByRole("heading", { name: /acme-widgets==1\.0/, level: 1 }).waitFor();
      // The decision by keyboard alone: real buttons take focus and Enter.
      await page.getByRole("button", { name: "Approve" }).focus();
      await page.keyboard.press("Enter");
      await page.getByLabel("Reason for the approval").fill("reviewed: not reachable from our code");
      await page.getByRole("button", { name: "Confirm approve" }).focus();
      await page.keyboard.press("Enter");
      await page.locator(".facts .badge", { hasText: "approved" }).waitFor();
    } finally {
      await context.close();
    }
    const after = await api<CreatedRequest>("GET", `/api/v1/requests/${String(approveMe.id)}`, readerToken);
    assert.equal(after.body.state, "approved");

    const venv = await makeVenv();
    const res = await pipInstall(venv, pipIndexUrl(gw.url, readerToken), ["acme-widgets==1.0"]);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.equal((await installed(venv)).get("acme-widgets"), "1.0");
  });

  test("a reader sees the pending request but no approve button, and the API refuses the approval", async () => {
    const { context, page } = await loggedIn(readerToken);
    try {
      await page.goto(`${gw.url}/requests/${String(leavePending.id)}`);
      await page.getByRole("heading", { name: /acme-gadgets==2\.0/, level: 1 }).waitFor();
      // The role is known (the header names the reader) before the absence of buttons means anything.
      await page.locator(".identity", { hasText: "rita (reader)" }).waitFor();
      await page.getByText("Waiting for an approver.").waitFor();
      // The first Tab reaches the skip link, with a visible focus ring.
      await page.keyboard.press("Tab");
      const focused = await page.evaluate<{ text: string; outline: string }>(
        "({ text: document.activeElement.textContent, outline: getComputedStyle(document.activeElement).outlineStyle })",
      );
      assert.deepEqual(focused, { text: "Skip to content", outline: "solid" });
      assert.equal(await page.getByRole("button", { name: "Approve" }).count(), 0);
      assert.equal(await page.getByRole("button", { name: "Deny" }).count(), 0);
    } finally {
      await context.close();
    }
    const refused = await api<{ error: { code: string } }>(
      "POST",
      `/api/v1/requests/${String(leavePending.id)}/approve`,
      readerToken,
      { reason: "let me in" },
    );
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, "FORBIDDEN");
    const still = await api<CreatedRequest>(
      "GET",
      `/api/v1/requests/${String(leavePending.id)}`,
      readerToken,
    );
    assert.equal(still.body.state, "pending");
  });

  /** Two animation frames: React has committed whatever the last answer changed. */
  async function settled(page: Page): Promise<void> {
    await page.evaluate(
      "new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 50))))",
    );
  }

  test("logging out, and a token revoked mid-session, leave nothing privileged on screen", async () => {
    const { context, page } = await loggedIn(approverToken);
    try {
      await page.goto(`${gw.url}/audit`);
      await page.locator("main tbody tr").first().waitFor();
      // An API access's detail reads as `route: …`, in a column wide enough to read it.
      const apiRow = page.locator("main tbody tr", { hasText: "api.get" }).first();
      assert.match(await apiRow.locator("td.detail").innerText(), /^route: \/api\/v1\/\S+$/);
      assert.ok(((await apiRow.locator("td.detail").boundingBox())?.width ?? 0) >= 190, "detail squeezed");
      await page.getByRole("button", { name: "Log out" }).click();
      await page.locator(".identity").getByRole("link", { name: "Log in" }).waitFor();
      await page.waitForLoadState("networkidle");
      await settled(page);
      assert.equal(await page.locator("main tbody tr").count(), 0, "audit rows stayed after logging out");
      assert.equal(
        await page.evaluate("sessionStorage.length"),
        0,
        "the token must be gone from sessionStorage",
      );
    } finally {
      await context.close();
    }

    // Revoked while the tab is open: the next call's 401 ends the session with the gateway's reason.
    const carol = await createToken(gw, { user: "carol", role: "approver", team: "security" });
    const second = await loggedIn(carol);
    try {
      const p = second.page;
      await p.locator(".identity", { hasText: "carol (approver)" }).waitFor();
      await gw.gateway.services.identity.revokeToken(tokenIdOf(carol)!, CLI_ACTOR);
      await p.getByRole("link", { name: "Catalog", exact: true }).click();
      await p.getByRole("alert").filter({ hasText: "Your token was revoked: log in again." }).waitFor();
      await p.locator(".identity", { hasText: "Anonymous (read only)" }).waitFor();
      assert.equal(await p.locator(".identity", { hasText: "carol" }).count(), 0, "the header kept carol");
      assert.equal(await p.getByText("You need to log in").count(), 0, "the page showed a stale 401");
      // A tab that still holds the revoked token when it loads (the login page asks only
      // /api/v1/me): the same reason, and not "this gateway does not allow anonymous access".
      await p.evaluate(`sessionStorage.setItem("portcullis.token", ${JSON.stringify(carol)})`);
      await p.goto(`${gw.url}/login`);
      await p.getByRole("alert").filter({ hasText: "Your token was revoked: log in again." }).waitFor();
      await p.locator(".identity", { hasText: "Anonymous (read only)" }).waitFor();
      assert.equal(
        await p.getByText("does not allow anonymous access").count(),
        0,
        "this gateway does allow anonymous access",
      );
      // Logging in with the revoked token says why it is refused.
      await p.goto(`${gw.url}/login`);
      await p.getByLabel("API token").fill(carol);
      await p.getByRole("button", { name: "Log in" }).click();
      await p.getByRole("alert").filter({ hasText: "token revoked" }).waitFor();
    } finally {
      await second.context.close();
    }
  });

  test("a failed /api/v1/me at load is asked again on the next navigation", async () => {
    const { context, page } = await loggedIn(approverToken);
    try {
      await page.route("**/api/v1/me", (route) => route.abort("connectionrefused"));
      await page.reload();
      await page.waitForLoadState("networkidle");
      await page.unroute("**/api/v1/me");
      await page.getByRole("link", { name: "Catalog", exact: true }).click();
      await page.locator(".identity", { hasText: "alice (approver)" }).waitFor();
    } finally {
      await context.close();
    }
  });

  test("with anonymous access off, a visitor without a token gets only the login page", async () => {
    const closed = await startTestGateway({ upstream: upstream.simpleUrl, authAnonymous: "off" });
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      // This gateway answers an anonymous /api/v1/me with 401.
      await page.goto(`${closed.url}/catalog`);
      await page.getByRole("heading", { name: "Log in", level: 1 }).waitFor();
      await page.getByText("This gateway does not allow anonymous access: log in to use it.").waitFor();
      await page.waitForLoadState("networkidle");
      assert.equal(await page.getByText("Anonymous (read only)").count(), 0, "no anonymous reader here");
      assert.equal(
        await page.getByText("You need to log in").count(),
        0,
        "no 401 errors, only the login page",
      );
      assert.equal(
        await page.getByRole("link", { name: "Catalog", exact: true }).count(),
        0,
        "no sections to go to without logging in",
      );
      // Older gateways answer it with 200 and `anonymousAccess: "off"`: the same.
      await page.route("**/api/v1/me", (route) =>
        route.fulfill({
          json: {
            user: null,
            role: "reader",
            team: null,
            anonymous: true,
            anonymousAccess: "off",
            ip: "127.0.0.1",
          },
        }),
      );
      await page.goto(`${gw.url}/advisories`);
      await page.getByText("This gateway does not allow anonymous access: log in to use it.").waitFor();
      assert.equal(
        await page.getByText("Anonymous (read only)").count(),
        0,
        "anonymousAccess off is not anonymous",
      );
    } finally {
      await context.close();
      await closed.close();
    }
  });

  test("users: an admin disables a leaver (their token is refused at once) and enables them again", async () => {
    const adminToken = await createToken(gw, { user: "root-admin", role: "admin", team: "platform" });
    const leaverToken = await createToken(gw, { user: "leaver", role: "reader", team: "data" });
    assert.equal((await api("GET", "/api/v1/me", leaverToken)).status, 200);
    const { context, page } = await loggedIn(adminToken);
    try {
      await page.getByRole("link", { name: "Users", exact: true }).click();
      await page.getByRole("heading", { level: 1, name: "Users" }).waitFor();
      const row = page.locator("main tbody tr", { hasText: "leaver" });
      await row.getByText("active").waitFor();
      // The admin's own row offers nothing (the API refuses it too).
      assert.equal(
        await page.locator("main tbody tr", { hasText: "root-admin" }).getByRole("button").count(),
        0,
        "a button to disable yourself",
      );
      await row.getByLabel("Why disable leaver").fill("left the company");
      await row.getByRole("button", { name: "Disable" }).click();
      await row.getByText(/disabled .* by root-admin: left the company/).waitFor();
      assert.equal(
        (await api("GET", "/api/v1/me", leaverToken)).status,
        401,
        "the leaver's token is refused",
      );
      await row.getByRole("button", { name: "Enable" }).click();
      await row.getByText("active").waitFor();
      assert.equal((await api("GET", "/api/v1/me", leaverToken)).status, 200, "and works again");
    } finally {
      await context.close();
    }
    // Not for an approver: no link, and the page says why.
    const approver = await loggedIn(approverToken);
    try {
      await approver.page.goto(`${gw.url}/users`);
      await approver.page.getByText("Only administrators can see and disable users.").waitFor();
      assert.equal(await approver.page.getByRole("link", { name: "Users", exact: true }).count(), 0);
    } finally {
      await approver.context.close();
    }
  });

  test("audit: the same access repeated shows as one row with how many times", async () => {
    // rita reads one page three times in a row: the trail keeps the same access repeated within a
    // second as one record (two, should its flush timer fall between them).
    const pages = await Promise.all(
      [0, 1, 2].map(() => fetch(`${gw.url}/simple/acme-widgets/`, { headers: basic(readerToken) })),
    );
    for (const res of pages) await res.arrayBuffer();
    await flushAudit(gw);
    const { context, page } = await loggedIn(approverToken);
    try {
      await page.goto(`${gw.url}/audit?identity=rita&action=simple.page`);
      await page.locator("main tbody tr").first().waitFor();
      // Newest first: the rows of these three accesses, before any of rita's earlier reads.
      const when = await page.locator("main tbody tr td:first-child").allInnerTexts();
      let rows = 0;
      let accesses = 0;
      while (accesses < 3 && rows < when.length) accesses += Number(/×(\d+)/.exec(when[rows++]!)?.[1] ?? "1");
      assert.equal(accesses, 3, `the rows say how many times: ${JSON.stringify(when)}`);
      assert.ok(rows < 3, `not a row per access: ${JSON.stringify(when.slice(0, rows))}`);
    } finally {
      await context.close();
    }
  });

  test("audit: late pages of a replaced filter are dropped, the form follows the address, the export is whole", async () => {
    const { context, page } = await loggedIn(approverToken);
    try {
      // The unfiltered first page claims a next page; that next page answers only when let go.
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      let lateDelivered!: Promise<unknown>;
      await page.route(/\/api\/v1\/audit\?/, async (route) => {
        const url = new URL(route.request().url());
        if (url.searchParams.get("format") === "jsonl") return route.fallback();
        if (url.searchParams.get("cursor") === "stale") {
          lateDelivered = released.then(
            () =>
              route
                .fulfill({
                  contentType: "application/json",
                  body: JSON.stringify({
                    items: [
                      {
                        seq: 999999,
                        time: new Date().toISOString(),
                        action: "late-page-intruder",
                        identity: "mallory",
                        ip: "10.0.0.9",
                        outcome: "ok",
                        hash: "x",
                      },
                    ],
                    next: "stale-2",
                  }),
                })
                .catch(() => undefined), // the page may have aborted it: that is the point
          );
          return;
        }
        if (url.searchParams.has("identity")) return route.continue();
        const real = await route.fetch();
        const body = (await real.json()) as { items: unknown[]; next: string | null };
        return route.fulfill({ response: real, json: { ...body, next: "stale" } });
      });
      await page.goto(`${gw.url}/audit`);
      await page.getByRole("button", { name: "Load more" }).click();
      await page.getByLabel("Identity").fill("dan");
      await page.getByRole("button", { name: "Filter" }).click();
      await page.waitForURL((u) => u.search === "?identity=dan");
      await page.locator("main tbody tr").first().waitFor();
      release();
      await lateDelivered;
      await settled(page);
      assert.equal(
        await page.getByText("late-page-intruder").count(),
        0,
        "a late page of the old query was appended",
      );
      assert.equal(
        await page.getByRole("button", { name: "Load more" }).count(),
        0,
        "the old query's cursor was kept",
      );
      await page.unroute(/\/api\/v1\/audit\?/);

      // The form shows the address's filter: the Audit link clears it, Back brings it back.
      await page.getByRole("link", { name: "Audit", exact: true }).click();
      await page.waitForURL((u) => u.search === "");
      assert.equal(await page.getByLabel("Identity").inputValue(), "", "the Audit link must clear the form");
      await page.goBack();
      await page.waitForURL((u) => u.search === "?identity=dan");
      assert.equal(await page.getByLabel("Identity").inputValue(), "dan", "Back must restore the form");

      // The export pages (x-next-cursor): one record per page here, and the file has them all.
      await page.route(/\/api\/v1\/audit\?.*format=jsonl/, (route) => {
        const url = new URL(route.request().url());
        url.searchParams.set("limit", "1");
        return route.continue({ url: url.toString() });
      });
      const [saved] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("button", { name: "Export JSONL" }).click(),
      ]);
      const exported = readFileSync((await saved.path())!, "utf8")
        .trim()
        .split("\n");
      const whole = await fetch(`${gw.url}/api/v1/audit?identity=dan&format=jsonl&limit=1000`, {
        headers: bearer(approverToken),
      });
      const expected = (await whole.text()).trim().split("\n");
      assert.ok(expected.length > 1, `dan must have several audit records, got ${expected.length}`);
      assert.deepEqual(exported, expected, "the export must hold every page of the filtered trail");
    } finally {
      await context.close();
    }
  });

  test("catalog search as you type keeps the focus and the typed text", async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${gw.url}/catalog`);
      await page.getByLabel("Search projects").click();
      await page.keyboard.type("acme ");
      // The debounced navigation happens mid-typing: focus and the trailing space must survive it.
      await page.waitForURL((u) => u.search === "?q=acme");
      await settled(page);
      await page.keyboard.type("gadgets");
      assert.equal(await page.getByLabel("Search projects").inputValue(), "acme gadgets");
      assert.equal(
        await page.evaluate("document.activeElement.id"),
        "catalog-q",
        "focus left the search box",
      );
    } finally {
      await context.close();
    }
  });

  test("readers and requesters are not shown controls their role cannot use", async () => {
    const { context, page } = await loggedIn(readerToken);
    try {
      await page.locator(".identity", { hasText: "rita (reader)" }).waitFor();
      await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
      await page.locator(".tiles").waitFor();
      await page.waitForLoadState("networkidle");
      assert.equal(
        await page.getByRole("heading", { name: "Remediation" }).count(),
        0,
        "remediation shown to a reader",
      );
      assert.equal(await page.getByRole("alert").count(), 0, "the overview showed an error to a reader");
      assert.equal(
        await page.getByRole("link", { name: "Environments", exact: true }).count(),
        0,
        "Environments link shown to a reader",
      );
      await page.goto(`${gw.url}/projects/acme-widgets`);
      await page.getByRole("heading", { name: "Versions" }).waitFor();
      assert.equal(
        await page.getByRole("button", { name: /Who has/ }).count(),
        0,
        "who-has on the project page",
      );
      assert.equal(
        await page.getByRole("heading", { name: "Consumers" }).count(),
        0,
        "who pulled the project shown to a reader",
      );
      await page.goto(`${gw.url}/advisories`);
      await page.locator("article.card").first().waitFor();
      assert.equal(await page.getByRole("button", { name: /Who has/ }).count(), 0, "who-has on advisories");
      await page.goto(`${gw.url}/audit`);
      await page.getByText("Only approvers and administrators can read the audit log.").waitFor();
      assert.equal(
        await page.getByRole("button", { name: "Export JSONL" }).count(),
        0,
        "export shown to a reader",
      );
      assert.equal(await page.getByLabel("Identity").count(), 0, "audit filters shown to a reader");
    } finally {
      await context.close();
    }
    // An approver does get them (the checks above are not vacuous).
    const approver = await loggedIn(approverToken);
    try {
      await approver.page.goto(`${gw.url}/projects/acme-widgets`);
      await approver.page.getByRole("button", { name: "Who has acme-widgets?" }).waitFor();
      const version = approver.page.locator("section.version").first();
      assert.equal(
        await version.locator("p.muted").first().innerText(),
        "Python any · licence unknown · extras: gadgets (1), test (1)",
      );
      await version.getByText("What the extras add").click();
      assert.deepEqual(await version.locator("details.extras li").allInnerTexts(), [
        "gadgets: acme-gadgets>=2",
        'test: pytest; extra == "test" and python_version >= "3.9"',
      ]);
      await approver.page.getByRole("heading", { name: "Consumers" }).waitFor();
      await approver.page.getByRole("link", { name: "Environments", exact: true }).waitFor();
    } finally {
      await approver.context.close();
    }
    // The request form follows the address: the Requests link empties a ?project= prefill.
    const requester = await loggedIn(requesterToken);
    try {
      await requester.page.goto(`${gw.url}/requests?project=acme-fine`);
      assert.equal(await requester.page.getByLabel("Project").inputValue(), "acme-fine");
      await requester.page.getByRole("link", { name: "Requests", exact: true }).click();
      await requester.page.waitForURL((u) => u.search === "");
      assert.equal(await requester.page.getByLabel("Project").inputValue(), "", "stale prefill");
    } finally {
      await requester.context.close();
    }
  });

  test("text from outside cannot reorder itself; long reasons wrap; bars keep their colours", async () => {
    const { context, page } = await loggedIn(approverToken);
    try {
      await page.goto(`${gw.url}/requests?state=all`);
      const cell = page.locator("td.reason", { hasText: "ship" });
      await cell.waitFor();
      const text = await cell.evaluate((el) => el.textContent ?? "");
      assert.doesNotMatch(
        text,
        /[\u202A-\u202E\u2066-\u2069\u200E\u200F]/,
        "a bidi control reached the page",
      );
      assert.match(text, /\[U\+202E\]exe\.txt\[U\+202C\]/);
      const fits = await page.evaluate<{ table: number; box: number }>(
        "({ table: document.querySelector('main table').scrollWidth, box: document.querySelector('.table-wrap').clientWidth })",
      );
      assert.ok(fits.table <= fits.box + 1, `a long reason widened the table: ${JSON.stringify(fits)}`);
      assert.equal(
        await page.evaluate<string>("getComputedStyle(document.querySelector('td.reason')).whiteSpace"),
        "pre-line",
      );

      await page.goto(`${gw.url}/advisories`);
      const summary = page.locator("article", { hasText: "PYSEC-2099-12" }).locator("p.reason");
      await summary.waitFor();
      assert.doesNotMatch(await summary.evaluate((el) => el.textContent ?? ""), /\u202E/, "advisory summary");

      // The finding's evidence: its words, then its link, not run together.
      await page.goto(`${gw.url}/requests/${String(leavePending.id)}`);
      const evidence = page.locator(".evidence li").first();
      await evidence.waitFor();
      assert.match(await evidence.innerText(), /published · https?:\/\//);

      await page.goto(`${gw.url}/`);
      const critical = page.locator("rect.bar.sev-critical");
      await critical.waitFor({ state: "attached" });
      const fills = await page.evaluate<{ critical: string; accent: string }>(
        "({ critical: getComputedStyle(document.querySelector('rect.bar.sev-critical')).fill, accent: getComputedStyle(document.documentElement).getPropertyValue('--accent') })",
      );
      assert.equal(
        fills.critical,
        "rgb(207, 34, 46)",
        `severity bars must not be the accent ${fills.accent}`,
      );
    } finally {
      await context.close();
    }
  });

  test("errors in plain words; exceptions end on the local day; a 409 shows the request as it is", async () => {
    const { context, page } = await loggedIn(approverToken, WIDTHS[0], { timezoneId: "America/Los_Angeles" });
    try {
      await page.route("**/api/v1/overview", (route) =>
        route.fulfill({
          status: 502,
          contentType: "text/html",
          body: "<html><body><h1>502 Bad Gateway</h1></body></html>",
        }),
      );
      await page.goto(`${gw.url}/`);
      await page
        .getByRole("alert")
        .filter({ hasText: "The gateway answered HTTP 502 (Bad Gateway)." })
        .waitFor();
      assert.equal(await page.getByText("<html>").count(), 0, "raw markup shown");
      await page.route("**/api/v1/advisories*", (route) =>
        route.fulfill({ status: 200, contentType: "text/html", body: "<html>portal</html>" }),
      );
      await page.goto(`${gw.url}/advisories`);
      await page.getByText("Unexpected answer from the gateway").waitFor();
      for (const path of ["/requests/abc", "/projects/"]) {
        await page.goto(`${gw.url}${path}`);
        await page.getByRole("heading", { name: "Not found", level: 1 }).waitFor();
        assert.equal(
          await page.getByText(/must be|querystring|params\//).count(),
          0,
          `validator wording on ${path}`,
        );
      }

      // The decision: the POST is answered 409 here, and the request reads as decided afterwards.
      const id = String(leavePending.id);
      let sent: { expiresAt?: string } | undefined;
      let decided = false;
      await page.route(`**/api/v1/requests/${id}/approve`, (route) => {
        sent = route.request().postDataJSON() as { expiresAt?: string };
        decided = true;
        return route.fulfill({
          status: 409,
          contentType: "application/json",
          body: JSON.stringify({ error: { code: "CONFLICT", message: "the request was already denied" } }),
        });
      });
      await page.route(`**/api/v1/requests/${id}`, async (route) => {
        const real = await route.fetch();
        const body = (await real.json()) as Record<string, unknown>;
        return route.fulfill({
          response: real,
          json: decided ? { ...body, state: "denied", decidedBy: "bob" } : body,
        });
      });
      await page.goto(`${gw.url}/requests/${id}`);
      await page.getByRole("button", { name: "Approve" }).click();
      const inThirtyDays = [-1, 0, 1].map((h) =>
        new Intl.DateTimeFormat("en-CA", { timeZone: "America/Los_Angeles" }).format(
          Date.now() + 30 * 86_400_000 + h * 3_600_000,
        ),
      );
      const shown = await page.getByLabel("Exceptions expire on").inputValue();
      assert.ok(
        inThirtyDays.includes(shown),
        `default expiry ${shown}, expected one of ${inThirtyDays.join(", ")}`,
      );
      await page.getByLabel("Exceptions expire on").fill("2026-07-15");
      await page.getByLabel("Reason for the approval").fill("reviewed");
      await page.getByRole("button", { name: "Confirm approve" }).click();
      await page.locator(".facts .badge", { hasText: "denied" }).waitFor();
      await page.getByText("Someone else changed this request first").waitFor();
      // 23:59:59 on 15 July in Los Angeles (PDT, UTC-7) is 06:59:59 on the 16th in UTC.
      assert.equal(sent?.expiresAt, "2026-07-16T06:59:59.000Z");
    } finally {
      await context.close();
    }
  });

  test("every page renders at 1280 and 390 px wide (screenshots in test-output/dashboard)", async () => {
    mkdirSync(SHOTS, { recursive: true });
    const pages: [string, string, string][] = [
      ["overview", "/", "Overview"],
      ["catalog", "/catalog", "Catalog"],
      ["project", "/projects/acme-widgets", "acme-widgets"],
      ["requests", "/requests?state=all", "Requests"],
      ["request", `/requests/${String(leavePending.id)}`, "acme-gadgets"],
      ["advisories", "/advisories", "Advisories affecting the catalog"],
      ["audit", "/audit", "Audit log"],
      ["environments", "/environments", "Environments"],
      ["policy", "/policy", "Policy"],
    ];
    for (const width of WIDTHS) {
      const { context, page } = await loggedIn(approverToken, width);
      const errors: string[] = [];
      page.on("pageerror", (err) => errors.push(err.message));
      try {
        for (const [name, path, heading] of pages) {
          await page.goto(`${gw.url}${path}`);
          await page.getByRole("heading", { level: 1, name: new RegExp(heading) }).waitFor();
          await page.waitForLoadState("networkidle");
          // Nothing may be wider than the window: at 390 px the layout must reflow, not scroll sideways.
          const overflow = await page.evaluate<number>(
            "document.documentElement.scrollWidth - window.innerWidth",
          );
          if (overflow > 1) {
            const culprits = await page.evaluate<string[]>(
              `[...document.querySelectorAll("main *")].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).slice(-3).map((e) => e.tagName + "." + e.className + ": " + (e.textContent || "").slice(0, 60))`,
            );
            assert.fail(
              `${name} at ${width}px is ${overflow}px wider than the window: ${culprits.join(" | ")}`,
            );
          }
          await page.screenshot({ path: join(SHOTS, `${name}-${width}.png`), fullPage: true });
        }
        const login = await browser.newPage({ viewport: { width, height: 900 } });
        await login.goto(`${gw.url}/login`);
        await login.getByLabel("API token").waitFor();
        await login.screenshot({ path: join(SHOTS, `login-${width}.png`) });
        await login.close();
      } finally {
        await context.close();
      }
      assert.deepEqual(errors, [], "the dashboard threw in the browser");
    }
  });

  test("the shell never shadows the index, files, API or operations routes", async () => {
    const simple = await fetch(`${gw.url}/simple/acme-fine/`);
    assert.equal(simple.status, 200);
    assert.match(await simple.text(), /acme_fine-1\.0/);
    const api404 = await fetch(`${gw.url}/api/v1/nope`);
    assert.equal(api404.status, 404);
    assert.equal(((await api404.json()) as { error: { code: string } }).error.code, "NOT_FOUND");
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    const unknown = await fetch(`${gw.url}/no-such-page`);
    assert.equal(unknown.status, 404);
    const shell = await fetch(`${gw.url}/projects/acme-fine`);
    assert.equal(shell.status, 200);
    assert.match(shell.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    assert.match(await shell.text(), /<div id="root">/);
    const setup = await fetch(`${gw.url}/setup`);
    assert.match(await setup.text(), /pip install --index-url http:\/\/127\.0\.0\.1:\d+\/simple\//);
  });
});
