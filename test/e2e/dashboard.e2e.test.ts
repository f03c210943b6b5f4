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
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { dashboardBuilt } from "../../src/http/dashboard-http.js";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { bearer, createToken, pipIndexUrl } from "../helpers/identity.js";
import { installed, makeVenv, pipInstall } from "../helpers/python.js";
import { buildWheel } from "../helpers/wheel-builder.js";

const CHROMIUM = process.env.PORTCULLIS_CHROMIUM ?? "/usr/bin/chromium";
const ROOT = new URL("../../", import.meta.url).pathname;
const SHOTS = join(ROOT, "test-output", "dashboard");
const WIDTHS = [1280, 390] as const;

const skip = existsSync(CHROMIUM)
  ? false
  : `Chromium is not installed at ${CHROMIUM} (apt-get install chromium): the dashboard e2e test cannot run`;
if (skip) console.warn(`\n*** SKIPPED: ${skip} ***\n`);

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

  async function api<T>(
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const res = await fetch(`${gw.url}${path}`, {
      method,
      headers: { ...bearer(token), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  async function loggedIn(
    token: string,
    width: number = WIDTHS[0],
  ): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${gw.url}/login`);
    await page.getByLabel("API token").fill(token);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
    return { context, page };
  }

  before(async () => {
    if (!dashboardBuilt()) {
      const res = spawnSync(process.execPath, [join(ROOT, "scripts/build-web.mjs"), "--no-check"], {
        stdio: "inherit",
      });
      assert.equal(res.status, 0, "building the dashboard (node scripts/build-web.mjs) failed");
    }
    const old = "2025-01-01T00:00:00Z";
    const widgets = await buildWheel({ name: "acme-widgets", version: "1.0" });
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
          summary: `remote code execution in ${name}`,
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
    const second = await api<CreatedRequest>("POST", "/api/v1/requests", requesterToken, {
      project: "acme-gadgets",
      version: "2.0",
      reason: "trying gadgets",
    });
    assert.equal(second.body.state, "pending");
    leavePending = second.body;

    browser = await (
      await import("playwright-core")
    ).chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
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
