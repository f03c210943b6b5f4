/**
 * The dashboard's Tokens page in real Chromium against a real gateway.
 *
 * An admin makes a reader token for a new service account (team, label, expiry) through the form:
 * the page shows the secret once, with a Copy button and the pip line; the token read from the
 * page works for real (`/api/v1/me` names the identity, `/simple/` answers as pip asks); it is
 * never in the address, in sessionStorage or localStorage, or in the list; after "Done" it is gone
 * from the page. The list shows the token (label, team, state), the user filter narrows it and
 * survives a reload; Revoke asks first (Cancel keeps it), then revokes it, and the token gets 401.
 * The API's refusals are shown (a bad expiry, a bad name: 400; a disabled identity: 409). An
 * approver gets a notice and no link. At 390 px the page reflows, and Copy falls back to selecting
 * the token when the browser refuses the clipboard; the screenshot goes to test-output/dashboard/.
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
import { basic, createToken } from "../helpers/identity.js";
import {
  apiCall,
  chromiumSkip,
  ensureDashboardBuilt,
  launchChromium,
  logInToDashboard,
  SHOTS,
} from "../helpers/dashboard-browser.js";

const SERVICE = "nightly-build";
const LABEL = "wheelhouse sync";

const skip = chromiumSkip();

interface TokenInfo {
  id: string;
  user: string;
  role: string;
  team: string | null;
  label: string | null;
  state: string;
  expiresAt: string | null;
}

describe("dashboard tokens page in real Chromium", { skip }, () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  let browser: Browser;
  const tokens = { admin: "", approver: "" };
  // The token the admin makes through the page, read from the page.
  let made = "";

  const api = <T>(method: string, path: string, token: string, body?: unknown) =>
    apiCall<T>(gw.url, method, path, token, body);

  const loggedIn = (token: string, width?: number, opts?: { timezoneId?: string }) =>
    logInToDashboard(browser, gw.url, token, width, opts);

  /** The tokens the API lists (of one user, when given). */
  async function listed(user?: string): Promise<TokenInfo[]> {
    const res = await api<{ items: TokenInfo[] }>(
      "GET",
      `/api/v1/tokens?limit=100${user ? `&user=${encodeURIComponent(user)}` : ""}`,
      tokens.admin,
    );
    assert.equal(res.status, 200);
    return res.body.items;
  }

  /** Every value in the page's sessionStorage and localStorage, and its address. */
  async function stored(page: Page): Promise<string> {
    return page.evaluate<string>(
      "JSON.stringify([location.href, Object.entries(sessionStorage), Object.entries(localStorage)])",
    );
  }

  /** The cells of the list row of token `id`. */
  function row(page: Page, id: string): Locator {
    return page.locator("main tbody tr", { has: page.locator("td:first-child", { hasText: id }) });
  }

  /** The form, filled in (each field only when given) and sent. */
  async function create(
    page: Page,
    f: { user: string; service?: boolean; role?: string; team?: string; label?: string; days?: string },
  ): Promise<void> {
    const form = page.getByRole("form", { name: "Create a token" });
    await form.getByLabel("User", { exact: true }).fill(f.user);
    await form.getByLabel("service account (CI job, scheduled script)").setChecked(f.service ?? false);
    await form.getByLabel("Role").selectOption(f.role ?? "reader");
    await form.getByLabel("Team (optional)").fill(f.team ?? "");
    await form.getByLabel("Label (optional)").fill(f.label ?? "");
    await form.getByLabel("Expires after (days, optional)").fill(f.days ?? "");
    await form.getByRole("button", { name: "Create token" }).click();
  }

  before(async () => {
    ensureDashboardBuilt();
    upstream = await startJsonIndexServer({ projects: {} });
    gw = await startTestGateway({ upstream: upstream.simpleUrl });
    tokens.admin = await createToken(gw, { user: "root", role: "admin", team: "platform" });
    tokens.approver = await createToken(gw, { user: "alice", role: "approver", team: "security" });
    await createToken(gw, { user: "ci-bot", role: "reader", team: "build", label: "nightly" });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    await upstream?.close();
  });

  test("an admin makes a token for a new service account; it is shown once, works, and is never stored", async () => {
    const { context, page } = await loggedIn(tokens.admin);
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: gw.url });
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    try {
      await page.getByRole("link", { name: "Tokens", exact: true }).click();
      await page.getByRole("heading", { name: "Tokens", level: 1 }).waitFor();
      assert.equal(new URL(page.url()).pathname, "/tokens");
      await row(page, (await listed("ci-bot"))[0]!.id).waitFor();

      // The button is disabled while the call is in flight (held until checked, then sent as is).
      let letGo!: () => void;
      const held = new Promise<void>((r) => (letGo = r));
      await page.route("**/api/v1/tokens", async (route) => {
        if (route.request().method() === "POST") await held;
        await route.continue();
      });
      await create(page, { user: SERVICE, service: true, team: "build", label: LABEL, days: "30" });
      const form = page.getByRole("form", { name: "Create a token" });
      await form.getByRole("button", { name: "Creating…" }).waitFor();
      assert.equal(await form.getByRole("button", { name: "Creating…" }).isDisabled(), true);
      const answered = page.waitForResponse(
        (r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/api/v1/tokens",
      );
      letGo();
      assert.equal((await answered).status(), 201);
      await page.unroute("**/api/v1/tokens");

      // Shown once, in its own box, with the pip line for this gateway.
      const box = page.getByRole("region", { name: `New token for ${SERVICE} — shown once` });
      const secret = box.getByLabel("The new token");
      made = (await secret.innerText()).trim();
      assert.match(made, /^pcl_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
      const id = made.slice(4, 16);
      assert.ok(
        (await box.innerText()).includes(
          `pip install --index-url http://__token__:${made}@${new URL(gw.url).host}/simple/ PACKAGE`,
        ),
        "the pip line names this gateway and the token",
      );
      assert.equal(await form.getByLabel("User", { exact: true }).inputValue(), "", "the form is reset");

      // Copy puts it on the clipboard.
      await box.getByRole("button", { name: "Copy" }).click();
      await box.getByRole("status").filter({ hasText: "Copied." }).waitFor();
      assert.equal(await page.evaluate<string>("navigator.clipboard.readText()"), made);

      // It works for real: the API names the identity, the index answers as pip asks.
      const me = await api<{ user: string; role: string; team: string | null }>("GET", "/api/v1/me", made);
      assert.equal(me.status, 200);
      assert.deepEqual([me.body.user, me.body.role, me.body.team], [SERVICE, "reader", "build"]);
      const simple = await fetch(`${gw.url}/simple/`, { headers: basic(made) });
      assert.equal(simple.status, 200);
      await simple.arrayBuffer();
      const users = await api<{ items: { name: string; kind: string }[] }>(
        "GET",
        "/api/v1/users",
        tokens.admin,
      );
      assert.equal(users.body.items.find((u) => u.name === SERVICE)?.kind, "service");

      // The list shows it, without the secret.
      const cells = await row(page, id).locator("td").allInnerTexts();
      assert.deepEqual(cells.slice(0, 6), [id, SERVICE, "reader", "build", LABEL, "active"]);
      assert.notEqual(cells[6], "never", "the expiry is shown");
      assert.ok(!(await page.locator("main table").innerHTML()).includes(made), "the secret is in the list");
      assert.ok(!(await stored(page)).includes(made), "the secret is in the address or in storage");
      assert.equal((await listed(SERVICE))[0]?.label, LABEL);

      // Done: gone from the page, and from everywhere else.
      await box.getByRole("button", { name: "Done — I have stored it" }).click();
      await box.waitFor({ state: "detached" });
      assert.ok(!(await page.content()).includes(made), "the secret is still in the page");
      assert.ok(!(await stored(page)).includes(made), "the secret is in the address or in storage");
      await row(page, id).waitFor();
    } finally {
      await context.close();
    }
    assert.deepEqual(errors, [], "the dashboard threw in the browser");
  });

  test("the user filter narrows the list and stays in the address across a reload", async () => {
    const { context, page } = await loggedIn(tokens.admin);
    try {
      await page.goto(`${gw.url}/tokens`);
      const rows = page.locator("main tbody tr");
      await row(page, made.slice(4, 16)).waitFor();
      assert.equal(await rows.count(), 4, "root, alice, ci-bot and the new one");
      const filter = page.getByRole("form", { name: "Filter tokens" });
      await filter.getByLabel("User").fill(SERVICE);
      await filter.getByRole("button", { name: "Filter" }).click();
      await page.waitForURL((u) => u.pathname === "/tokens" && u.search === `?user=${SERVICE}`);
      await page.getByRole("table").getByText(`Tokens of ${SERVICE}, newest first`).waitFor();
      assert.deepEqual(await rows.locator("td:nth-child(2)").allInnerTexts(), [SERVICE]);
      await page.reload();
      await page.getByRole("table").getByText(`Tokens of ${SERVICE}, newest first`).waitFor();
      assert.deepEqual(await rows.locator("td:nth-child(2)").allInnerTexts(), [SERVICE]);
      assert.equal(await filter.getByLabel("User").inputValue(), SERVICE);
      await page.getByRole("link", { name: "All tokens" }).click();
      await page.waitForURL((u) => u.pathname === "/tokens" && u.search === "");
      await page.getByRole("table").getByText("Tokens, newest first").waitFor();
      assert.equal(await rows.count(), 4);
    } finally {
      await context.close();
    }
  });

  test("revoke asks first: Cancel keeps the token, Confirm revokes it and it gets 401", async () => {
    const id = made.slice(4, 16);
    const { context, page } = await loggedIn(tokens.admin);
    try {
      await page.goto(`${gw.url}/tokens?user=${SERVICE}`);
      const r = row(page, id);
      await r.getByRole("button", { name: `Revoke token ${id}` }).click();
      const confirm = r.getByRole("group", { name: `Confirm revoking token ${id}` });
      await confirm.getByRole("button", { name: "Cancel" }).click();
      await confirm.waitFor({ state: "detached" });
      assert.equal((await listed(SERVICE))[0]?.state, "active", "revoked without a confirmation");
      assert.equal((await api("GET", "/api/v1/me", made)).status, 200);

      await r.getByRole("button", { name: `Revoke token ${id}` }).click();
      await confirm.getByRole("button", { name: "Confirm revoke" }).click();
      await page
        .getByRole("status")
        .filter({ hasText: `Token ${id} revoked` })
        .waitFor();
      await r.locator("td:nth-child(6)", { hasText: /^revoked/ }).waitFor();
      assert.equal(await r.getByRole("button", { name: `Revoke token ${id}` }).count(), 0);
      assert.equal((await listed(SERVICE))[0]?.state, "revoked");
      assert.equal((await api("GET", "/api/v1/me", made)).status, 401, "the revoked token still works");
    } finally {
      await context.close();
    }
  });

  test("the API's refusals are shown: a bad expiry or name (400), a disabled identity (409)", async () => {
    const before = (await listed()).length;
    const { context, page } = await loggedIn(tokens.admin);
    try {
      await page.goto(`${gw.url}/tokens`);
      const form = page.getByRole("form", { name: "Create a token" });
      const refused = async (f: Parameters<typeof create>[1], reason: RegExp) => {
        await create(page, f);
        await form.getByRole("alert").filter({ hasText: reason }).waitFor();
        assert.equal(await form.getByRole("button", { name: "Create token" }).isEnabled(), true);
      };
      await refused({ user: "batch", days: "0" }, /expiresInDays must be >= 1 \(VALIDATION, HTTP 400\)$/);
      await refused(
        { user: "batch", days: "1.5" },
        /expiresInDays must be integer \(VALIDATION, HTTP 400\)$/,
      );
      await refused(
        { user: "bad name!" },
        /^invalid user name "bad name!" \(letters, digits, \. _ @ -\) \(VALIDATION, HTTP 400\)$/,
      );
      const disabled = await api("POST", "/api/v1/users/ci-bot/disable", tokens.admin, {});
      assert.equal(disabled.status, 200);
      await refused({ user: "ci-bot" }, /\(CONFLICT, HTTP 409\)$/);
      assert.equal(await page.getByRole("region", { name: /shown once/ }).count(), 0);
    } finally {
      await context.close();
    }
    assert.equal((await listed()).length, before, "a refused form made a token");
  });

  test("an approver gets a notice instead of the tokens page, and no link to it", async () => {
    const { context, page } = await loggedIn(tokens.approver);
    try {
      await page.locator(".identity", { hasText: "alice (approver)" }).waitFor();
      assert.equal(await page.getByRole("link", { name: "Tokens", exact: true }).count(), 0);
      await page.goto(`${gw.url}/tokens`);
      await page.getByText("Only administrators can see, create and revoke tokens.").waitFor();
      await page.waitForLoadState("networkidle");
      assert.equal(await page.getByRole("alert").count(), 0, "an error shown to an approver");
      assert.equal(await page.getByRole("form", { name: "Create a token" }).count(), 0);
      assert.equal(await page.locator("main table").count(), 0);
    } finally {
      await context.close();
    }
    assert.equal((await api("GET", "/api/v1/tokens", tokens.approver)).status, 403);
  });

  test("at 390 px wide the page reflows with a new token shown; Copy falls back to selecting it", async () => {
    mkdirSync(SHOTS, { recursive: true });
    const { context, page } = await loggedIn(tokens.admin, 390);
    try {
      await page.goto(`${gw.url}/tokens`);
      await create(page, { user: "report-job", service: true, team: "data", label: "weekly report" });
      const box = page.getByRole("region", { name: "New token for report-job — shown once" });
      // A browser that refuses the clipboard (plain HTTP to another host, a policy): Copy selects
      // the token for Ctrl+C instead.
      await page.evaluate("navigator.clipboard.writeText = () => Promise.reject(new Error('refused'))");
      await box.getByRole("button", { name: "Copy" }).click();
      await box.getByRole("status").filter({ hasText: "Selected: press Ctrl+C" }).waitFor();
      assert.equal(
        await page.evaluate<string>("String(window.getSelection())"),
        (await box.getByLabel("The new token").innerText()).trim(),
      );
      await page.waitForLoadState("networkidle");
      // The layout reflows (the token wraps, the table scrolls inside its box), never sideways.
      const overflow = await page.evaluate<number>(
        "document.documentElement.scrollWidth - window.innerWidth",
      );
      assert.ok(overflow <= 1, `the tokens page at 390px is ${overflow}px wider than the window`);
      await page.screenshot({ path: join(SHOTS, "tokens-390.png"), fullPage: true });
    } finally {
      await context.close();
    }
  });
});
