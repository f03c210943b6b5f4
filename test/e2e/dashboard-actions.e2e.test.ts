/**
 * The dashboard's API actions that no other browser test drives, in real Chromium against a real
 * gateway and a real upstream on loopback; each checks what the user sees and what the API says.
 *
 * Policy: an approver's dry run of a draft (a longer cooldown) lists the file it would quarantine,
 * as the job the API kept; a draft the API refuses says why. Requests: a requester's request is
 * made and listed; an invalid project name is refused in plain words and makes nothing. Tokens: a
 * token revoked through the API while its confirmation is open: confirming puts up the 409 and
 * reloads the list, which shows it revoked. Project: the dependency tree of a version, and why it
 * cannot be resolved while the upstream fails. Download: the attestation of a file the gateway
 * has not served is refused (404) and says why; an admitted one downloads. Environments: an
 * approver sets an environment's owner; a blank one is refused and the owner stays.
 *
 * Chromium is Debian's (`/usr/bin/chromium`, or `PORTCULLIS_CHROMIUM`), driven by playwright-core:
 * a downloaded browser is never used.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { Browser, Locator, Page } from "playwright-core";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { bearer, createToken, downloadRelease } from "../helpers/identity.js";
import { buildWheel } from "../helpers/wheel-builder.js";
import {
  apiCall,
  chromiumSkip,
  ensureDashboardBuilt,
  launchChromium,
  logInToDashboard,
} from "../helpers/dashboard-browser.js";

const OLD = "2025-01-01T00:00:00Z";

const skip = chromiumSkip();

interface ProjectFile {
  filename: string;
  sha256: string;
  decision: { outcome: string } | null;
}

interface ProjectDetail {
  versions: { version: string; files: ProjectFile[] }[];
}

interface DryRunJob {
  id: number;
  state: string;
  result: {
    checked: number;
    changed: number;
    changes: { filename: string; from: string; to: string }[];
  } | null;
}

interface PackageRequest {
  id: number | string;
  project: string;
  version: string | null;
  state: string;
  reason: string;
}

interface VetAnswer {
  reports: { target: string; treeScore: number; ok: boolean; error?: string }[];
}

describe("dashboard actions in real Chromium", { skip }, () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  let browser: Browser;
  const tokens = { admin: "", approver: "", requester: "" };

  const api = <T>(method: string, path: string, token: string, body?: unknown) =>
    apiCall<T>(gw.url, method, path, token, body);

  const loggedIn = (token: string) => logInToDashboard(browser, gw.url, token);

  /** A project as the API shows it to an approver. */
  async function project(name: string): Promise<ProjectDetail> {
    const res = await api<ProjectDetail>("GET", `/api/v1/projects/${name}`, tokens.approver);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  }

  /** The section of one version on the project page. */
  function version(page: Page, v: string): Locator {
    return page.locator("section.version", { has: page.getByRole("heading", { name: v, exact: true }) });
  }

  /** The headline of each target's tree shown in a version's section. */
  function lines(section: Locator): Promise<string[]> {
    return section.locator("div.tree-report > p:first-child").allInnerTexts();
  }

  /** Runs `fn` in a fresh logged-in page, failing on anything the dashboard throws. */
  async function inPage(token: string, fn: (page: Page) => Promise<void>): Promise<void> {
    const { context, page } = await loggedIn(token);
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    try {
      await fn(page);
    } finally {
      await context.close();
    }
    assert.deepEqual(errors, [], "the dashboard threw in the browser");
  }

  before(async () => {
    ensureDashboardBuilt();
    const files = [];
    for (const v of ["1.0", "2.0"]) {
      const wheel = await buildWheel({ name: "acme-fine", version: v });
      files.push({ filename: wheel.filename, bytes: wheel.bytes, uploadTime: OLD });
    }
    upstream = await startJsonIndexServer({ projects: { "acme-fine": { files } } });
    gw = await startTestGateway({ upstream: upstream.simpleUrl });
    tokens.admin = await createToken(gw, { user: "root", role: "admin", team: "platform" });
    tokens.approver = await createToken(gw, { user: "alice", role: "approver", team: "security" });
    tokens.requester = await createToken(gw, { user: "dan", role: "requester", team: "data" });
    // acme-fine 1.0 is pulled (judged on its bytes, attested); 2.0 is only listed (no decision yet).
    await downloadRelease(gw, bearer(tokens.admin), "acme-fine", "1.0");
    const [v2, v1] = (await project("acme-fine")).versions;
    assert.deepEqual(
      [v2?.version, v2?.files[0]?.decision, v1?.version, v1?.files[0]?.decision?.outcome],
      ["2.0", null, "1.0", "admitted"],
    );
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
    await upstream?.close();
  });

  test("policy: an approver's dry run shows what the draft would change; a draft the API refuses says why", async () => {
    const active = await api<{ source: string; digest: string }>("GET", "/api/v1/policy", tokens.approver);
    // A ten-year cooldown: the one judged file (acme-fine 1.0, uploaded in 2025) would wait again.
    const draft = active.body.source.replace(/^(\s+days:) 7\b/m, "$1 3650");
    assert.notEqual(draft, active.body.source);
    await inPage(tokens.approver, async (page) => {
      await page.goto(`${gw.url}/policy`);
      const section = page.getByRole("region", { name: "What would change" });
      await section.getByLabel("Draft policy (YAML)").fill(draft);
      const started = page.waitForResponse(
        (r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/api/v1/policy/dry-run",
      );
      await section.getByRole("button", { name: "Dry run against the catalog" }).click();
      const job = (await (await started).json()) as DryRunJob;
      const result = section.getByRole("status").filter({ hasText: "files would change" });
      await result.waitFor();
      const kept = await api<DryRunJob>("GET", `/api/v1/policy/dry-run/${job.id}`, tokens.approver);
      assert.equal(kept.body.state, "done");
      const { checked, changed, changes } = kept.body.result!;
      assert.deepEqual(
        changes.map((c) => [c.filename, c.from, c.to]),
        [["acme_fine-1.0-py3-none-any.whl", "admitted", "quarantined"]],
      );
      assert.match(
        await result.locator("p").innerText(),
        new RegExp(`^${changed} of ${checked} files would change\\. Admitted 1 → 0, quarantined 0 → 1,`),
      );
      const file = result.getByRole("link", { name: "acme_fine-1.0-py3-none-any.whl" });
      assert.equal(await file.getAttribute("href"), "/projects/acme-fine");
      assert.deepEqual(await result.locator("tbody tr td:nth-child(-n+3)").allInnerTexts(), [
        "acme_fine-1.0-py3-none-any.whl",
        "admitted",
        "quarantined",
      ]);

      // A rule with an action the policy does not know: refused before any job starts.
      await section
        .getByLabel("Draft policy (YAML)")
        .fill("version: 1\nrules:\n  cooldown:\n    action: explode\n");
      const refused = page.waitForResponse(
        (r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/api/v1/policy/dry-run",
      );
      await section.getByRole("button", { name: "Dry run against the catalog" }).click();
      assert.equal((await refused).status(), 400);
      const alert = section.getByRole("alert");
      await alert.waitFor();
      assert.equal(
        await alert.innerText(),
        "draft:4:5: rules.cooldown.action: Invalid enum value. Expected 'block' | 'quarantine' | 'warn' | 'allow', received 'explode' (VALIDATION, HTTP 400)",
      );
      assert.equal(
        await section.getByRole("button", { name: "Dry run against the catalog" }).isEnabled(),
        true,
      );
      // The first run's result is gone: it is not this draft's.
      assert.equal(await result.count(), 0);
    });
    const still = await api<{ digest: string }>("GET", "/api/v1/policy", tokens.approver);
    assert.equal(still.body.digest, active.body.digest, "a dry run changed the policy in force");
  });

  test("requests: a requester's request is made and listed; an invalid name is refused and makes nothing", async () => {
    const mine = async () =>
      (await api<{ items: PackageRequest[] }>("GET", "/api/v1/requests?limit=100", tokens.requester)).body
        .items;
    assert.deepEqual(await mine(), []);
    await inPage(tokens.requester, async (page) => {
      await page.goto(`${gw.url}/requests`);
      const form = page.getByRole("form", { name: "Request a package" });
      await form.getByLabel("Project").fill("acme-fine");
      await form.getByLabel("Version (optional)").fill("1.0");
      await form.getByLabel("Why you need it").fill("the nightly report reads with it");
      await form.getByRole("button", { name: "Request" }).click();
      const notice = page.getByRole("status").filter({ hasText: /^Request \d+ for acme-fine==1\.0/ });
      await notice.waitFor();
      const [made, ...others] = await mine();
      assert.deepEqual(others, []);
      assert.deepEqual(
        [made?.project, made?.version, made?.reason, made?.state],
        ["acme-fine", "1.0", "the nightly report reads with it", "approved"],
      );
      assert.equal(
        await notice.innerText(),
        `Request ${String(made!.id)} for acme-fine==1.0: approved — policy admits it; install it now.`,
      );
      await page
        .getByRole("navigation", { name: "Filter by state" })
        .getByRole("link", { name: "all" })
        .click();
      await page.getByRole("link", { name: `Review request ${String(made!.id)} for acme-fine` }).waitFor();

      await form.getByLabel("Project").fill("not a name!");
      await form.getByRole("button", { name: "Request" }).click();
      const alert = form.getByRole("alert");
      await alert.waitFor();
      assert.equal(await alert.innerText(), "not a valid project name: not a name! (VALIDATION, HTTP 400)");
      assert.equal(await form.getByRole("button", { name: "Request" }).isEnabled(), true);
    });
    assert.equal((await mine()).length, 1, "a refused request was made");
  });

  test("tokens: revoked meanwhile, confirming gets the 409 and the list shows the token revoked", async () => {
    const victim = await createToken(gw, { user: "ci-bot", role: "reader", team: "build" });
    const id = victim.slice(4, 16);
    await inPage(tokens.admin, async (page) => {
      await page.goto(`${gw.url}/tokens?user=ci-bot`);
      const row = page.locator("main tbody tr", { has: page.locator("td:first-child", { hasText: id }) });
      await row.getByRole("button", { name: `Revoke token ${id}` }).click();
      const confirm = row.getByRole("group", { name: `Confirm revoking token ${id}` });
      await confirm.waitFor();
      assert.equal((await api("DELETE", `/api/v1/tokens/${id}`, tokens.admin)).status, 200);

      const answered = page.waitForResponse(
        (r) => r.request().method() === "DELETE" && new URL(r.url()).pathname === `/api/v1/tokens/${id}`,
      );
      await confirm.getByRole("button", { name: "Confirm revoke" }).click();
      assert.equal((await answered).status(), 409);
      // The refusal reloads the list: the row shows the token as it now is, with nothing to revoke.
      await row.locator("td:nth-child(6)", { hasText: /^revoked/ }).waitFor();
      assert.equal(await row.getByRole("button", { name: `Revoke token ${id}` }).count(), 0);
      assert.equal(await page.getByRole("status").filter({ hasText: "revoked:" }).count(), 0);
      // The refusal stays on screen once the list is back (it used to go with the reloaded row).
      assert.deepEqual(await page.getByRole("alert").allInnerTexts(), [
        `token ${id} was revoked already (CONFLICT, HTTP 409)`,
      ]);
    });
    const listed = await api<{ items: { id: string; state: string }[] }>(
      "GET",
      "/api/v1/tokens?user=ci-bot",
      tokens.admin,
    );
    assert.deepEqual(
      listed.body.items.map((t) => [t.id, t.state]),
      [[id, "revoked"]],
    );
    assert.equal((await api("GET", "/api/v1/me", victim)).status, 401);
  });

  test("download: a file the gateway has not served has no attestation, and says so; an admitted one downloads", async () => {
    const [v2, v1] = (await project("acme-fine")).versions;
    const unserved = v2!.files[0]!;
    const served = v1!.files[0]!;
    await inPage(tokens.approver, async (page) => {
      await page.goto(`${gw.url}/projects/acme-fine`);
      const file = (f: ProjectFile) => page.locator("details.file", { hasText: f.filename });
      await file(unserved).locator("summary").click();
      let downloads = 0;
      page.on("download", () => downloads++);
      await file(unserved).getByRole("button", { name: "Attestation (signed decision)" }).click();
      const alert = file(unserved).getByRole("alert");
      await alert.waitFor();
      assert.equal(
        await alert.innerText(),
        `no decision for ${unserved.sha256}: the gateway has not served it (NOT_FOUND, HTTP 404)`,
      );

      await file(served).locator("summary").click();
      const saved = page.waitForEvent("download");
      await file(served).getByRole("button", { name: "Attestation (signed decision)" }).click();
      const download = await saved;
      assert.equal(download.suggestedFilename(), `${served.filename}.intoto.jsonl`);
      const envelope = await fetch(`${gw.url}/attestations/${served.sha256}`, {
        headers: bearer(tokens.approver),
      });
      assert.equal(envelope.status, 200);
      const path = await download.path();
      assert.deepEqual(JSON.parse(readFileSync(path, "utf8")), await envelope.json());
      assert.equal(downloads, 1, "the refused attestation downloaded something");
      assert.equal(await file(served).getByRole("alert").count(), 0);
    });
    const refused = await fetch(`${gw.url}/attestations/${unserved.sha256}`, {
      headers: bearer(tokens.approver),
    });
    assert.equal(refused.status, 404);
  });

  test("project: the dependency tree of a version; an upstream failing meanwhile is said in plain words", async () => {
    const body = { requirements: ["acme-fine==1.0"] };
    const vet = await api<VetAnswer>("POST", "/api/v1/vet", tokens.approver, body);
    assert.equal(vet.status, 200);
    await inPage(tokens.approver, async (page) => {
      await page.goto(`${gw.url}/projects/acme-fine`);
      const v1 = version(page, "1.0");
      await v1.getByRole("button", { name: "Dependency tree of 1.0" }).click();
      await v1.locator("pre.tree").first().waitFor();
      assert.equal(vet.body.reports.length, 4, "one report per default target");
      assert.deepEqual(
        await lines(v1),
        vet.body.reports.map((r) => `${r.target}: tree risk ${r.treeScore}/100 · everything admitted`),
      );
      assert.match(await v1.locator("pre.tree").first().innerText(), /acme-fine==1\.0/);

      // 2.0 has never been fetched: resolving it needs its bytes, which the upstream now refuses.
      upstream.setFault({ type: "status", status: 500 }, { path: /^\/files\// });
      try {
        const v2 = version(page, "2.0");
        await v2.getByRole("button", { name: "Dependency tree of 2.0" }).click();
        await v2.locator("div.tree-report").first().waitFor();
        const failed = await api<VetAnswer>("POST", "/api/v1/vet", tokens.approver, {
          requirements: ["acme-fine==2.0"],
        });
        // The API answers (200) with why each target could not be resolved; the page says it as is.
        assert.equal(failed.status, 200);
        const why = failed.body.reports.map((r) => r.error);
        assert.match(why[0] ?? "", /^could not check acme-fine 2\.0: .* answered HTTP 500$/);
        assert.deepEqual(
          await lines(v2),
          failed.body.reports.map((r) => `${r.target}: tree risk 100/100 · something is refused`),
        );
        assert.deepEqual(await v2.locator("p.notice.error").allInnerTexts(), why);
        // Each target's reason is announced (role alert), and nothing else: the call itself was answered.
        assert.deepEqual(await v2.getByRole("alert").allInnerTexts(), why);
        // Said once: no tree under it repeating "Resolution failed (SOURCE_ERROR): <the same reason>".
        assert.equal(await v2.locator("pre.tree").count(), 0);
      } finally {
        upstream.setFault(null);
      }
    });
  });

  test("environments: an approver sets who owns an environment; a blank owner is refused and changes nothing", async () => {
    const reported = await api<{ id: number }>("POST", "/api/v1/environments", tokens.requester, {
      host: "build-7",
      path: "/opt/venvs/report",
      kind: "venv",
      distributions: [],
    });
    assert.equal(reported.status, 201, JSON.stringify(reported.body));
    const owner = async () =>
      (
        await api<{ owner: string | null }>(
          "GET",
          `/api/v1/environments/${reported.body.id}`,
          tokens.approver,
        )
      ).body.owner;
    await inPage(tokens.approver, async (page) => {
      await page.goto(`${gw.url}/environments`);
      await page.getByRole("button", { name: "Show build-7:/opt/venvs/report" }).click();
      const view = page.getByRole("region", { name: "build-7:/opt/venvs/report" });
      await view.getByLabel("Owning team").fill("data-platform");
      await view.getByRole("button", { name: "Set owner" }).click();
      const row = page.locator("main tbody tr", { hasText: "build-7:/opt/venvs/report" });
      await row.locator("td:nth-child(2)", { hasText: /^data-platform$/ }).waitFor();
      assert.equal(await owner(), "data-platform");

      await view.getByLabel("Owning team").fill("   ");
      await view.getByRole("button", { name: "Set owner" }).click();
      const alert = view.getByRole("alert");
      await alert.waitFor();
      assert.equal(
        await alert.innerText(),
        "body/owner must NOT have fewer than 1 characters (VALIDATION, HTTP 400)",
      );
    });
    assert.equal(await owner(), "data-platform", "a refused owner changed it");
  });
});
