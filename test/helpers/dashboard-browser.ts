/**
 * What the dashboard's browser tests share: Debian's Chromium driven by playwright-core (a
 * downloaded browser is never used), the built dashboard, logging in with a token, and calling the
 * API beside the browser.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { dashboardBuilt } from "../../src/http/dashboard-http.js";
import { bearer } from "./identity.js";

/** Debian's Chromium (`apt-get install chromium`), or `PORTCULLIS_CHROMIUM`. */
export const CHROMIUM = process.env.PORTCULLIS_CHROMIUM ?? "/usr/bin/chromium";
export const ROOT = new URL("../../", import.meta.url).pathname;
/** Where the browser tests leave their screenshots. */
export const SHOTS = join(ROOT, "test-output", "dashboard");
/** The widths the dashboard must read at: a laptop and a phone. */
export const WIDTHS = [1280, 390] as const;

/** The reason to skip a browser test (said once on the console), or false when Chromium is here. */
export function chromiumSkip(): string | false {
  if (existsSync(CHROMIUM)) return false;
  const reason = `Chromium is not installed at ${CHROMIUM} (apt-get install chromium): the dashboard e2e test cannot run`;
  console.warn(`\n*** SKIPPED: ${reason} ***\n`);
  return reason;
}

/** Builds the dashboard (web/dist) unless it is built. */
export function ensureDashboardBuilt(): void {
  if (dashboardBuilt()) return;
  const res = spawnSync(process.execPath, [join(ROOT, "scripts/build-web.mjs"), "--no-check"], {
    stdio: "inherit",
  });
  assert.equal(res.status, 0, "building the dashboard (node scripts/build-web.mjs) failed");
}

/** Headless Chromium with the flags these machines need. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

/** A new browser context logged in to the dashboard at `url` with `token`, on the overview. */
export async function logInToDashboard(
  browser: Browser,
  url: string,
  token: string,
  width: number = WIDTHS[0],
  opts: { timezoneId?: string } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width, height: 900 }, ...opts });
  const page = await context.newPage();
  await page.goto(`${url}/login`);
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
  return { context, page };
}

/** One API call with a bearer token (and a JSON body); the status and the parsed answer. */
export async function apiCall<T>(
  url: string,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { ...bearer(token), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as T };
}
