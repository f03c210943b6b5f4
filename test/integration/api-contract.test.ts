/**
 * The API contract: the OpenAPI document at /api/docs describes every /api/v1 route Fastify
 * serves, and every documented GET answers, on a real gateway with data in it, a body that
 * validates against the documented response schema (ajv). Routes are discovered from the
 * document, so every feature's routes are checked as they appear.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { buildWheel, type BuiltArtifact } from "../helpers/wheel-builder.js";
import { sharedDataDir } from "../helpers/shared-data.js";
import { bearer, createToken, flushAudit } from "../helpers/identity.js";

const DAY = 24 * 3600 * 1000;
const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);

interface Operation {
  parameters?: { in: string; name: string; required?: boolean }[];
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
  tags?: string[];
}
interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components?: { securitySchemes?: Record<string, unknown> };
}

/** What the paging, limit and token tests read from an answer. */
interface ListBody {
  items: unknown[];
  next: string | null;
  error?: { code: string; message: string };
  info: { id: string; expiresAt: string | null };
}

/** The routes Fastify serves, from its route tree (`printRoutes`), as `METHOD /path/{param}`. */
function servedRoutes(tree: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split("\n")) {
    const at = line.indexOf("── ");
    if (at < 0) continue;
    const depth = (at - 1) / 4;
    const m = /^(.*?)(?: \(([^)]*)\))?$/.exec(line.slice(at + 3))!;
    stack[depth] = m[1]!;
    stack.length = depth + 1;
    const path = stack.join("").replace(/:([A-Za-z0-9_]+)/g, "{$1}");
    for (const method of (m[2] ?? "").split(", ").filter(Boolean)) out.push(`${method} ${path}`);
  }
  return out;
}

describe("API contract: /api/docs against the routes", () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  let admin: string;
  let doc: OpenApiDocument;
  const wheels: Record<string, BuiltArtifact> = {};
  const values: Record<string, string> = {};

  before(async () => {
    const old = new Date(T0 - 400 * DAY).toISOString();
    wheels.vulnerable = await buildWheel({ name: "tweepy", version: "2.3" });
    wheels.fixed = await buildWheel({
      name: "tweepy",
      version: "2.3.1",
      requiresDist: [
        "zqxwv-core>=1",
        'pytest>=8; extra == "test"',
        'sphinx; extra == "Docs" and python_version >= "3.10"',
      ],
    });
    wheels.core = await buildWheel({ name: "zqxwv-core", version: "1.0" });
    wheels.squat = await buildWheel({ name: "reqeusts", version: "2.0" });
    const file = (w: BuiltArtifact) => ({ filename: w.filename, bytes: w.bytes, uploadTime: old });
    upstream = await startJsonIndexServer({
      projects: {
        tweepy: { files: [file(wheels.vulnerable), file(wheels.fixed)] },
        "zqxwv-core": { files: [file(wheels.core)] },
        reqeusts: { files: [file(wheels.squat)] },
      },
    });
    gw = await startTestGateway({ upstream: upstream.simpleUrl, authAnonymous: "off" }, { now: () => T0 });
    for (const f of ["osv/pypa-advisory-database.zip", "top-pypi-packages.json"])
      await gw.gateway.intel.importSource(join(sharedDataDir(), f));
    await gw.gateway.policy.refresh();
    admin = await createToken(gw, { user: "root", role: "admin", team: "platform" });
    const requester = await createToken(gw, { user: "ana", role: "requester", team: "data" });
    // Data in every table the read API shows: downloads (decisions, inventory), requests.
    for (const w of [wheels.fixed!, wheels.core!, wheels.vulnerable!]) {
      const project = w.filename.split("-")[0]!.replace(/_/g, "-");
      await fetch(`${gw.url}/simple/${project}/`, { headers: bearer(admin) });
      await (
        await fetch(`${gw.url}/files/${w.sha256}/${w.filename}`, { headers: bearer(admin) })
      ).arrayBuffer();
    }
    const ask = async (project: string) => {
      const res = await fetch(`${gw.url}/api/v1/requests`, {
        method: "POST",
        headers: { ...bearer(requester), "content-type": "application/json" },
        body: JSON.stringify({ project, reason: "contract test" }),
      });
      assert.equal(res.status, 201);
      return (await res.json()) as { id: number; state: string };
    };
    assert.equal((await ask("tweepy")).state, "approved");
    const pending = await ask("reqeusts");
    assert.equal(pending.state, "pending");
    await flushAudit(gw);
    Object.assign(values, {
      sha256: wheels.fixed!.sha256,
      name: "tweepy",
      project: "tweepy",
      version: "2.3.1",
      id: String(pending.id),
      filename: wheels.fixed!.filename,
      q: "tweepy",
    });
    const res = await fetch(`${gw.url}/api/docs`, {
      headers: { accept: "application/json", ...bearer(admin) },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/);
    doc = (await res.json()) as OpenApiDocument;
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test("the document is OpenAPI 3 with a bearer scheme; /api/docs/json is the same; browsers get the UI", async () => {
    assert.match(doc.openapi, /^3\./);
    assert.ok(doc.components?.securitySchemes?.bearer);
    const json = await (await fetch(`${gw.url}/api/docs/json`)).json();
    assert.deepEqual(json, doc);
    const ui = await fetch(`${gw.url}/api/docs`, { headers: { accept: "text/html,application/xhtml+xml" } });
    assert.equal(ui.status, 200);
    const html = await ui.text();
    assert.match(html, /swagger-ui/);
    for (const src of html.matchAll(/(?:src|href)="(\/api\/docs\/static\/[^"]+)"/g)) {
      const asset = await fetch(`${gw.url}${src[1]}`);
      assert.equal(asset.status, 200, src[1]);
      await asset.arrayBuffer();
    }
    assert.equal((await fetch(`${gw.url}/api/docs/static/..%2Fpackage.json`)).status, 404);
    for (const name of ["__proto__", "constructor", "toString"])
      assert.equal((await fetch(`${gw.url}/api/docs/static/${name}`)).status, 404, name);
    // Routes without a schema (the simple API, files, operations) stay out.
    assert.ok(!Object.keys(doc.paths).some((p) => p.startsWith("/simple") || p.startsWith("/files")));
  });

  test("every /api/v1 route Fastify serves is in the document", () => {
    const missing = servedRoutes(gw.gateway.app.printRoutes({ commonPrefix: false }))
      .filter((r) => r.split(" ")[1]!.startsWith("/api/v1/") && !r.startsWith("HEAD "))
      .filter((r) => {
        const [method, path] = r.split(" ");
        return !doc.paths[path!]?.[method!.toLowerCase()];
      });
    assert.deepEqual(missing, []);
    for (const p of ["/api/v1/overview", "/api/v1/requests/{id}/approve", "/api/v1/decisions/{sha256}"])
      assert.ok(doc.paths[p], p);
  });

  test("every documented GET answers a body that matches its documented schema", async (t) => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addSchema(doc, "openapi");
    let checked = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      const op = item.get;
      if (!op) continue;
      const params = op.parameters ?? [];
      const unknown = params.filter((p) => (p.in === "path" || p.required) && !(p.name in values));
      if (unknown.length) {
        t.diagnostic(`skipped GET ${path}: no test value for ${unknown.map((p) => p.name).join(", ")}`);
        continue;
      }
      const url = new URL(
        path.replace(/\{(\w+)\}/g, (_, n: string) => encodeURIComponent(values[n]!)),
        gw.url,
      );
      for (const p of params.filter((x) => x.in === "query" && x.required))
        url.searchParams.set(p.name, values[p.name]!);
      const res = await fetch(url, { headers: { ...bearer(admin), accept: "application/json" } });
      const label = `GET ${path} -> ${res.status}`;
      assert.ok(res.status < 500, label);
      const documented = op.responses[String(res.status)];
      assert.ok(documented, `${label}: status not documented`);
      // Every route whose parameters name real data must find it.
      if (!path.includes("{id}"))
        assert.ok(res.status >= 200 && res.status < 300, `${label}: ${await res.clone().text()}`);
      const schema = documented.content?.["application/json"]?.schema;
      if (!schema || !/json/.test(res.headers.get("content-type") ?? "")) {
        await res.arrayBuffer();
        continue;
      }
      const pointer = `openapi#/paths/${path.replaceAll("~", "~0").replaceAll("/", "~1")}/get/responses/${res.status}/content/application~1json/schema`;
      const validate = ajv.getSchema(pointer);
      assert.ok(validate, `${label}: schema not found`);
      const body: unknown = await res.json();
      assert.ok(
        validate(body),
        `${label}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`,
      );
      checked++;
    }
    t.diagnostic(`${checked} GET routes validated`);
    assert.ok(checked >= 12, `only ${checked} routes validated`);
  });

  test("the read API shows the seeded data", async () => {
    const get = async (p: string) => (await fetch(`${gw.url}${p}`, { headers: bearer(admin) })).json();
    const overview = (await get("/api/v1/overview")) as {
      counts: { admitted: number; blocked: number };
      requests: { pending: number };
      history: unknown[];
      topReasons: { code: string }[];
    };
    assert.ok(overview.counts.admitted >= 2);
    assert.equal(overview.requests.pending, 1);
    assert.equal(overview.history.length, 30);
    const project = (await get("/api/v1/projects/Tweepy")) as {
      versions: {
        version: string;
        dependencies: string[];
        requires: string[];
        extras: { name: string; dependencies: string[] }[];
        files: { decision: { outcome: string } | null }[];
      }[];
    };
    assert.deepEqual(
      project.versions.map((v) => v.version),
      ["2.3.1", "2.3"],
    );
    const deps = project.versions[0]!;
    assert.deepEqual(deps.dependencies, [
      "zqxwv-core>=1",
      'pytest>=8; extra == "test"',
      'sphinx; extra == "Docs" and python_version >= "3.10"',
    ]);
    // What every install pulls in, apart from what each extra adds (a marker naming only the extra left out).
    assert.deepEqual(deps.requires, ["zqxwv-core>=1"]);
    assert.deepEqual(deps.extras, [
      { name: "test", dependencies: ["pytest>=8"] },
      { name: "docs", dependencies: ['sphinx; extra == "Docs" and python_version >= "3.10"'] },
    ]);
    assert.equal(project.versions[0]!.files[0]!.decision?.outcome, "admitted");
    const search = (await get("/api/v1/projects?q=ZQXWV&limit=1")) as {
      items: { name: string }[];
      next: string | null;
    };
    assert.deepEqual(
      search.items.map((p) => p.name),
      ["zqxwv-core"],
    );
    const advisories = (await get("/api/v1/advisories")) as {
      items: { id: string; projects: { project: string; files: { version: string }[] }[] }[];
    };
    const pysec = advisories.items.find((a) => a.id === "PYSEC-2012-17");
    assert.ok(pysec, JSON.stringify(advisories.items.map((a) => a.id)));
    assert.deepEqual(
      pysec.projects[0]!.files.map((f) => f.version),
      ["2.3"],
    );
    const bad = await fetch(`${gw.url}/api/v1/projects?cursor=nonsense`, { headers: bearer(admin) });
    assert.equal(bad.status, 400);
  });

  test("API answers are never cached (no-store)", async () => {
    for (const path of [
      "/api/v1/me",
      "/api/v1/tokens",
      "/api/v1/projects/zqxwv-core",
      "/api/v1/requests",
      "/api/v1/nope",
    ]) {
      const res = await fetch(`${gw.url}${path}`, { headers: bearer(admin) });
      await res.arrayBuffer();
      assert.equal(res.headers.get("cache-control"), "no-store", path);
    }
  });

  test("a policy dry run says which files would change; a broken draft names its line", async () => {
    const current = (await (await fetch(`${gw.url}/api/v1/policy`, { headers: bearer(admin) })).json()) as {
      source: string;
      digest: string;
    };
    const draft = current.source.replace(
      /^projects:.*$/m,
      "projects:\n  zqxwv-core:\n    rules:\n      licence:\n        action: block\n        unknown: fail",
    );
    const dry = async (source: string) =>
      fetch(`${gw.url}/api/v1/policy/dry-run`, {
        method: "POST",
        headers: { ...bearer(admin), "content-type": "application/json" },
        body: JSON.stringify({ source }),
      });
    interface Job {
      id: number;
      state: string;
      result: { changed: number; checked: number; changes: { project: string; from: string; to: string }[] };
    }
    // The POST starts a job at once; the result comes from polling it.
    const finished = async (res: Response): Promise<Job["result"]> => {
      assert.equal(res.status, 202);
      let job = (await res.json()) as Job;
      while (job.state === "running") {
        await new Promise((r) => setTimeout(r, 20));
        job = (await (
          await fetch(`${gw.url}/api/v1/policy/dry-run/${job.id}`, { headers: bearer(admin) })
        ).json()) as Job;
      }
      assert.equal(job.state, "done", JSON.stringify(job));
      return job.result;
    };
    const unchanged = await finished(await dry(current.source));
    assert.equal(unchanged.changed, 0);
    assert.ok(unchanged.checked >= 2, JSON.stringify(unchanged));
    const body = await finished(await dry(draft));
    assert.deepEqual(
      body.changes.map((c) => [c.project, c.from, c.to]),
      [["zqxwv-core", "admitted", "blocked"]],
    );
    const other = await fetch(`${gw.url}/api/v1/policy/dry-run/999999`, { headers: bearer(admin) });
    assert.equal(other.status, 404);
    const broken = await dry("rules:\n  nonsense: {}\n");
    assert.equal(broken.status, 400);
    assert.match(((await broken.json()) as { error: { message: string } }).error.message, /draft:2:\d+/);
  });

  const get = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${gw.url}${path}`, {
      ...init,
      headers: {
        ...bearer(admin),
        ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
      },
    });
    const text = await res.text();
    return {
      status: res.status,
      body: (/application\/json/.test(res.headers.get("content-type") ?? "")
        ? JSON.parse(text)
        : { text }) as ListBody,
    };
  };

  /** Every item of a list, one page of `limit` at a time; also how many pages that took. */
  const pages = async (path: string, limit: number) => {
    const items: unknown[] = [];
    let cursor: string | null = null;
    let count = 0;
    do {
      const sep = path.includes("?") ? "&" : "?";
      const res = await get(`${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`);
      assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
      const page = res.body as { items: unknown[]; next: string | null };
      assert.ok(page.items.length > 0, `${path}: a cursor never leads to an empty page`);
      assert.ok(page.items.length <= limit, `${path}: at most the limit`);
      items.push(...page.items);
      cursor = page.next;
      count++;
    } while (cursor && count < 50);
    return { items, count };
  };

  test("tokens, users, teams, owners and the audit trail page with limit and cursor, never to an empty page", async () => {
    for (const [user, team] of [
      ["pat", "web"],
      ["quinn", "web"],
      ["ruth", "ml"],
    ] as const)
      await createToken(gw, { user, role: "reader", team });
    for (const path of ["/api/v1/tokens", "/api/v1/users", "/api/v1/teams", "/api/v1/owners"]) {
      const all = await get(`${path}?limit=500`);
      assert.equal(all.status, 200, `${path}: ${JSON.stringify(all.body)}`);
      const every = all.body.items as unknown[];
      assert.ok(every.length >= 2, `${path} has enough rows to page: ${every.length}`);
      assert.equal(all.body.next, null);
      const one = await pages(path, 1);
      assert.deepEqual(one.items, every, `${path}: pages of one give every row once, in order`);
      assert.equal(one.count, every.length, `${path}: no extra empty page`);
      const full = await get(`${path}?limit=${every.length}`);
      assert.equal(full.body.next, null, `${path}: an exactly full last page has no cursor`);
      assert.equal((await get(`${path}?cursor=garbage`)).status, 400, `${path}: a forged cursor`);
    }
    const web = await get("/api/v1/tokens?user=pat&limit=1");
    assert.deepEqual(
      (web.body.items as { user: string }[]).map((t) => t.user),
      ["pat"],
    );
    assert.equal(web.body.next, null);
    const audit = await pages("/api/v1/audit?action=token.create", 2);
    assert.ok(audit.items.length >= 5, `audited token creations: ${audit.items.length}`);
  });

  test("list limits: at most 500 (audit JSON lines up to 1000), plain decimal integers only", async () => {
    for (const path of [
      "/api/v1/audit?limit=501",
      "/api/v1/audit?limit=10000",
      "/api/v1/audit?limit=1001&format=jsonl",
      "/api/v1/users?limit=501",
      "/api/v1/audit?limit=0x10",
      "/api/v1/audit?limit=1e2",
      "/api/v1/tokens?limit=0b11",
      "/api/v1/requests?limit=%205",
      "/api/v1/requests?limit=5.0",
      "/api/v1/overview?days=1e1",
      "/api/v1/requests/0x1",
    ]) {
      const res = await get(path);
      assert.equal(res.status, 400, `${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error?.code, "VALIDATION", path);
    }
    assert.match(
      JSON.stringify((await get("/api/v1/audit?limit=0x10")).body),
      /querystring\/limit must be a plain decimal integer/,
    );
    for (const path of [
      "/api/v1/audit?limit=500",
      "/api/v1/audit?limit=1000&format=jsonl",
      "/api/v1/users?limit=16",
    ])
      assert.equal((await get(path)).status, 200, path);
  });

  test("a token's expiresInDays is a whole number of days", async () => {
    for (const expiresInDays of [1.5, 0, "1e1"]) {
      const res = await get("/api/v1/tokens", {
        method: "POST",
        body: JSON.stringify({ user: "temp", role: "reader", expiresInDays }),
      });
      assert.equal(res.status, 400, `${expiresInDays}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error?.code, "VALIDATION");
    }
    const ok = await get("/api/v1/tokens", {
      method: "POST",
      body: JSON.stringify({ user: "temp", role: "reader", expiresInDays: 2 }),
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.info.expiresAt, new Date(T0 + 2 * DAY).toISOString());
  });

  test("a refused token revocation is audited as well as a done one", async () => {
    const created = await get("/api/v1/tokens", {
      method: "POST",
      body: JSON.stringify({ user: "short-lived", role: "reader" }),
    });
    const id = created.body.info.id as string;
    assert.equal((await get(`/api/v1/tokens/${id}`, { method: "DELETE" })).status, 200);
    const again = await get(`/api/v1/tokens/${id}`, { method: "DELETE" });
    assert.equal(again.status, 409, JSON.stringify(again.body));
    const unknown = await get("/api/v1/tokens/0123456789ab", { method: "DELETE" });
    assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
    await flushAudit(gw);
    const trail = await gw.gateway.services.auditLog.query({
      action: "token.revoke",
      limit: 10,
      order: "asc",
    });
    assert.deepEqual(
      trail.map((r) => [r.outcome, JSON.parse(r.detail_json ?? "{}").tokenId]),
      [
        ["ok", id],
        ["refused", id],
        ["not-found", "0123456789ab"],
      ],
    );
  });
});
