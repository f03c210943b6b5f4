/**
 * The gateway over real HTTP against real loopback upstreams: the simple API contract, file
 * serving, and every way an upstream or a client can misbehave.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  startJsonIndexServer,
  startStaticIndexServer,
  type JsonIndexServer,
} from "../helpers/upstream-server.js";
import { connectDatabase } from "../../src/adapters/db/connect-database.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { buildWheel } from "../helpers/wheel-builder.js";
import { sharedDataDir } from "../helpers/shared-data.js";

const JSON_ACCEPT = "application/vnd.pypi.simple.v1+json";
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

function partialFiles(gw: TestGateway): string[] {
  const dir = join(gw.dataDir, "blobs", "tmp");
  return existsSync(dir) ? readdirSync(dir) : [];
}

describe("gateway over a JSON (PEP 691/700) upstream", () => {
  let upstream: JsonIndexServer;
  let gw: TestGateway;
  let demo: { filename: string; bytes: Buffer; sha256: string };
  let big: { filename: string; bytes: Buffer; sha256: string };

  before(async () => {
    demo = await buildWheel({
      name: "Demo_Pkg",
      version: "1.0",
      requiresDist: ["six>=1"],
      requiresPython: ">=3.8",
    });
    big = await buildWheel({
      name: "big-pkg",
      version: "1.0",
      files: { "big_pkg/blob.bin": randomBytes(3 * 1024 * 1024) },
    });
    const many = [];
    for (let i = 0; i < 400; i++) {
      const w = await buildWheel({ name: "many", version: `1.${i}` });
      many.push({
        filename: w.filename,
        bytes: w.bytes,
        uploadTime: new Date(Date.UTC(2020, 0, 1) + i * 86400000),
      });
    }
    upstream = await startJsonIndexServer({
      projects: {
        "demo-pkg": {
          files: [
            {
              filename: demo.filename,
              bytes: demo.bytes,
              uploadTime: "2024-05-06T07:08:09Z",
              requiresPython: ">=3.8",
              yanked: "broken <build>",
            },
          ],
        },
        "big-pkg": { files: [{ filename: big.filename, bytes: big.bytes }] },
        many: { files: many },
      },
    });
    gw = await startTestGateway({ upstream: upstream.simpleUrl, upstreamTimeout: 2 });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test("JSON page carries PEP 691/700/592/658 fields and serial", async () => {
    const res = await fetch(`${gw.url}/simple/demo-pkg/`, { headers: { accept: JSON_ACCEPT } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), JSON_ACCEPT);
    assert.equal(res.headers.get("vary"), "Accept");
    assert.ok(Number(res.headers.get("x-pypi-last-serial")) > 0);
    const body = (await res.json()) as {
      meta: Record<string, unknown>;
      files: Record<string, unknown>[];
      versions: string[];
    };
    assert.equal(body.meta["api-version"], "1.1");
    assert.deepEqual(body.versions, ["1.0"]);
    const [f] = body.files;
    assert.equal(f!.filename, demo.filename);
    assert.deepEqual(f!.hashes, { sha256: demo.sha256 });
    assert.equal(f!.size, demo.bytes.length);
    assert.equal(f!["upload-time"], "2024-05-06T07:08:09Z");
    assert.equal(f!["requires-python"], ">=3.8");
    assert.equal(f!.yanked, "broken <build>");
    assert.equal(f!["core-metadata"], true);
    assert.equal(f!.url, `../../files/${demo.sha256}/${demo.filename}`);
  });

  test("HTML by default, ?format=json for humans, 406 for the unknown, 304 on ETag", async () => {
    const html = await fetch(`${gw.url}/simple/demo-pkg/`);
    assert.match(html.headers.get("content-type") ?? "", /text\/html/);
    const text = await html.text();
    assert.match(text, /data-requires-python="&gt;=3\.8"/);
    assert.match(text, /data-yanked="broken &lt;build&gt;"/);
    const viaQuery = await fetch(`${gw.url}/simple/demo-pkg/?format=json`, {
      headers: { accept: "text/html" },
    });
    assert.equal(viaQuery.headers.get("content-type"), JSON_ACCEPT);
    const v1html = await fetch(`${gw.url}/simple/demo-pkg/`, {
      headers: { accept: "application/vnd.pypi.simple.v1+html" },
    });
    assert.equal(v1html.headers.get("content-type"), "application/vnd.pypi.simple.v1+html");
    const bad = await fetch(`${gw.url}/simple/demo-pkg/`, {
      headers: { accept: "application/vnd.pypi.simple.v9+json" },
    });
    assert.equal(bad.status, 406);
    const etag = html.headers.get("etag")!;
    const again = await fetch(`${gw.url}/simple/demo-pkg/`, { headers: { "if-none-match": etag } });
    assert.equal(again.status, 304);
  });

  test("non-normalised names redirect (301); invalid names and traversal are refused", async () => {
    const r = await fetch(`${gw.url}/simple/Demo_Pkg/?format=json`, { redirect: "manual" });
    assert.equal(r.status, 301);
    assert.equal(r.headers.get("location"), "/simple/demo-pkg/?format=json");
    const noSlash = await fetch(`${gw.url}/simple/demo-pkg`, { redirect: "manual" });
    assert.equal(noSlash.status, 301);
    for (const path of [
      "/simple/..%2F..%2Fetc/",
      "/simple/a%2Fb/",
      "/simple/-bad-/",
      "/simple/%00/",
      `/simple/${"a".repeat(300)}/`,
    ]) {
      const res = await rawGet(gw.url, path);
      assert.ok([400, 404].includes(res.status), `${path}: ${res.status}`);
      assert.ok(res.body.length > 0, "a reason in the body");
    }
    for (const path of [
      "/files/../../etc/passwd",
      "/files/%2e%2e/%2e%2e/etc/passwd",
      `/files/${"a".repeat(64)}/..%2Fx.whl`,
      "/files/XYZ/demo.whl",
    ]) {
      const res = await rawGet(gw.url, path);
      assert.ok([400, 404].includes(res.status), `${path}: ${res.status}`);
    }
    const missing = await fetch(`${gw.url}/simple/no-such-project/`);
    assert.equal(missing.status, 404);
  });

  test("a page with 400 files is complete and ordered as the upstream gave it", async () => {
    const body = (await (
      await fetch(`${gw.url}/simple/many/`, { headers: { accept: JSON_ACCEPT } })
    ).json()) as {
      files: { filename: string }[];
      versions: string[];
    };
    assert.equal(body.files.length, 400);
    assert.equal(body.versions.length, 400);
    assert.equal(body.versions[0], "1.0");
    assert.equal(body.versions.at(-1), "1.399");
    const html = await (await fetch(`${gw.url}/simple/many/`)).text();
    assert.equal(html.match(/<a /g)?.length, 400);
  });

  test("files: verified, fetched once for concurrent clients, HEAD, Range, ETag, metadata", async () => {
    await fetch(`${gw.url}/simple/big-pkg/`);
    const url = `${gw.url}/files/${big.sha256}/${big.filename}`;
    const bodies = await Promise.all(
      Array.from({ length: 5 }, () => fetch(url).then(async (r) => Buffer.from(await r.arrayBuffer()))),
    );
    for (const b of bodies) assert.equal(sha256(b), big.sha256);
    assert.equal(upstream.requests.get(`/files/${big.filename}`), 1, "one upstream fetch for five clients");
    const head = await fetch(url, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(big.bytes.length));
    assert.equal(head.headers.get("etag"), `"${big.sha256}"`);
    assert.match(head.headers.get("cache-control") ?? "", /immutable/);
    const range = await fetch(url, { headers: { range: "bytes=10-19" } });
    assert.equal(range.status, 206);
    assert.equal(range.headers.get("content-range"), `bytes 10-19/${big.bytes.length}`);
    assert.deepEqual(Buffer.from(await range.arrayBuffer()), big.bytes.subarray(10, 20));
    const bad = await fetch(url, { headers: { range: `bytes=${big.bytes.length}-` } });
    assert.equal(bad.status, 416);
    const notModified = await fetch(url, { headers: { "if-none-match": `"${big.sha256}"` } });
    assert.equal(notModified.status, 304);

    await fetch(`${gw.url}/simple/demo-pkg/`);
    const meta = await fetch(`${gw.url}/files/${demo.sha256}/${demo.filename}.metadata`);
    assert.equal(meta.status, 200);
    const text = await meta.text();
    assert.match(text, /^Metadata-Version: /);
    assert.match(text, /Requires-Dist: six>=1/);
  });

  test("unknown digests, and a known digest under another name, are 404", async () => {
    const unknown = await fetch(`${gw.url}/files/${"0".repeat(64)}/x-1.0-py3-none-any.whl`);
    assert.equal(unknown.status, 404);
    const renamed = await fetch(`${gw.url}/files/${demo.sha256}/other-1.0-py3-none-any.whl`);
    assert.equal(renamed.status, 404);
  });

  test("a hash mismatch is a 502 with the reason in the status line, and nothing is stored", async () => {
    const evil = await buildWheel({ name: "evil", version: "1.0" });
    upstream.setProject("evil", { files: [{ filename: evil.filename, bytes: evil.bytes }] });
    await fetch(`${gw.url}/simple/evil/`);
    upstream.setFault({ type: "garbage", body: "swapped bytes" }, { path: `/files/${evil.filename}` });
    const res = await rawGet(gw.url, `/files/${evil.sha256}/${evil.filename}`);
    assert.equal(res.status, 502);
    assert.match(res.statusMessage, /do not match the declared hash/);
    assert.match(res.body, /declared/);
    assert.deepEqual(partialFiles(gw), []);
    assert.equal(
      existsSync(
        join(gw.dataDir, "blobs", "sha256", evil.sha256.slice(0, 2), evil.sha256.slice(2, 4), evil.sha256),
      ),
      false,
    );
    // A truncated download is refused the same way.
    upstream.setFault({ type: "close-mid-body" }, { path: `/files/${evil.filename}` });
    const cut = await rawGet(gw.url, `/files/${evil.sha256}/${evil.filename}`);
    assert.equal(cut.status, 502);
    assert.deepEqual(partialFiles(gw), []);
    // Once the upstream behaves, the same URL serves the verified bytes.
    upstream.setFault(null);
    const ok = await fetch(`${gw.url}/files/${evil.sha256}/${evil.filename}`);
    assert.equal(ok.status, 200);
    assert.equal(sha256(Buffer.from(await ok.arrayBuffer())), evil.sha256);
  });

  test("a file URL outside the upstream's origins is refused (502), and the gateway stays up", async () => {
    const offsite = await buildWheel({ name: "offsite", version: "1.0" });
    for (const url of [
      "https://evil.example/offsite.whl",
      "file:///etc/passwd",
      "http://127.0.0.2:9/x.whl",
    ]) {
      upstream.setProject("offsite", { files: [{ filename: offsite.filename, bytes: offsite.bytes, url }] });
      await (await fetch(`${gw.url}/simple/offsite/?format=json`)).arrayBuffer();
      for (const path of [
        `/files/${offsite.sha256}/${offsite.filename}`,
        `/files/${offsite.sha256}/${offsite.filename}.metadata`,
      ]) {
        const res = await rawGet(gw.url, path);
        assert.equal(res.status, 502, `${url} ${path}: ${res.body}`);
      }
      // Let a late stream error surface, as it did when the process died of it.
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal((await fetch(`${gw.url}/healthz`)).status, 200, `alive after ${url}`);
    }
    assert.deepEqual(partialFiles(gw), []);
  });

  test("a client killed mid-download leaves no partial file and the next client gets the file", async () => {
    const slow = await buildWheel({
      name: "slow",
      version: "1.0",
      files: { "slow/x.bin": Buffer.alloc(1024 * 1024, 1) },
    });
    upstream.setProject("slow", { files: [{ filename: slow.filename, bytes: slow.bytes }] });
    await fetch(`${gw.url}/simple/slow/`);
    upstream.setFault({ type: "delay", ms: 300 }, { path: `/files/${slow.filename}`, times: 1 });
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${gw.url}/files/${slow.sha256}/${slow.filename}`);
      req.on("error", () => resolve());
      req.end();
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 50);
    });
    const ok = await fetch(`${gw.url}/files/${slow.sha256}/${slow.filename}`);
    assert.equal(ok.status, 200);
    assert.equal(sha256(Buffer.from(await ok.arrayBuffer())), slow.sha256);
    assert.deepEqual(partialFiles(gw), []);
  });

  test("upstream 5xx and 429 are 'upstream unavailable', never 'not found'; the last good page is served stale", async () => {
    const fresh = await buildWheel({ name: "flaky", version: "1.0" });
    upstream.setProject("flaky", { files: [{ filename: fresh.filename, bytes: fresh.bytes }] });
    upstream.setFault({ type: "status", status: 503 }, { path: "/simple/never-seen/" });
    const res = await rawGet(gw.url, "/simple/never-seen/");
    assert.equal(res.status, 503);
    assert.match(res.statusMessage, /Upstream unavailable/);
    upstream.setFault({ type: "status", status: 429 }, { path: "/simple/never-seen-2/" });
    assert.equal((await rawGet(gw.url, "/simple/never-seen-2/")).status, 503);
    upstream.setFault(null);
  });

  test("/healthz, /readyz, /metrics", async () => {
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    const ready = await fetch(`${gw.url}/readyz`);
    assert.equal(ready.status, 200);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(metrics, /portcullis_http_requests_total\{route="\/simple\/:project\/",status="200"\}/);
    // What the SIEM sinks dropped is watched, not only logged.
    assert.match(metrics, /^portcullis_audit_sink_dropped_records 0$/m);
    const root = await (await fetch(`${gw.url}/simple/`, { headers: { accept: JSON_ACCEPT } })).json();
    assert.ok((root as { projects: { name: string }[] }).projects.some((p) => p.name === "demo-pkg"));
  });
});

describe("gateway while the upstream is down", () => {
  test("serves the last good copy with a stale header after the TTL, and refuses what it never saw", async () => {
    const w = await buildWheel({ name: "kept", version: "1.0" });
    const upstream = await startJsonIndexServer({
      projects: { kept: { files: [{ filename: w.filename, bytes: w.bytes }] } },
    });
    let now = Date.UTC(2026, 0, 1);
    const gw = await startTestGateway(
      { upstream: upstream.simpleUrl, upstreamTtl: 60, upstreamTimeout: 1 },
      { now: () => now },
    );
    try {
      assert.equal((await fetch(`${gw.url}/simple/kept/`)).status, 200);
      upstream.setFault({ type: "status", status: 502 });
      now += 120_000;
      const stale = await fetch(`${gw.url}/simple/kept/`, { headers: { accept: JSON_ACCEPT } });
      assert.equal(stale.status, 200);
      assert.equal(stale.headers.get("x-portcullis-stale"), "true");
      assert.equal(((await stale.json()) as { files: unknown[] }).files.length, 1);
      upstream.setFault({ type: "hang" });
      const started = Date.now();
      const never = await fetch(`${gw.url}/simple/other/`);
      assert.equal(never.status, 503);
      assert.ok(Date.now() - started < 10_000, "a hung upstream times out");
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

describe("a file the upstream withdrew", () => {
  test("is not served from the store once the page no longer lists it, nor when the project is quarantined or gone", async () => {
    const gone = await buildWheel({ name: "withdrawn", version: "1.0" });
    const kept = await buildWheel({ name: "withdrawn", version: "1.1" });
    const upstream = await startJsonIndexServer({
      projects: {
        withdrawn: {
          files: [
            { filename: gone.filename, bytes: gone.bytes },
            { filename: kept.filename, bytes: kept.bytes },
          ],
        },
      },
    });
    let now = Date.UTC(2026, 0, 1);
    const gw = await startTestGateway({ upstream: upstream.simpleUrl, upstreamTtl: 60 }, { now: () => now });
    const download = async (w: { sha256: string; filename: string }) => {
      await (await fetch(`${gw.url}/simple/withdrawn/`)).text();
      return fetch(`${gw.url}/files/${w.sha256}/${w.filename}`);
    };
    try {
      assert.equal((await download(gone)).status, 200, "stored while listed");
      assert.equal((await download(kept)).status, 200);
      // A takedown: the upstream lists 1.1 only. The stored copy of 1.0 must not keep flowing.
      upstream.setProject("withdrawn", { files: [{ filename: kept.filename, bytes: kept.bytes }] });
      now += 120_000;
      const removed = await download(gone);
      assert.equal(removed.status, 404, `served a withdrawn file: ${removed.statusText}`);
      assert.match(removed.statusText, /no longer listed by the upstream/);
      assert.equal((await download(kept)).status, 200, "what is still listed is served");
      // PEP 792 quarantine: the upstream hides every file of the project.
      upstream.setProject("withdrawn", { files: [], status: { status: "quarantined", reason: "malware" } });
      now += 120_000;
      const quarantined = await download(kept);
      assert.equal(quarantined.status, 404);
      assert.match(quarantined.statusText, /project status quarantined: malware/);
      // The project taken down whole: the upstream answers 404 for its page.
      upstream.setProject("withdrawn", undefined);
      now += 120_000;
      assert.equal((await fetch(`${gw.url}/simple/withdrawn/`)).status, 404);
      const takenDown = await fetch(`${gw.url}/files/${kept.sha256}/${kept.filename}`);
      assert.equal(takenDown.status, 404, `served a file of a project taken down: ${takenDown.statusText}`);
      assert.match(takenDown.statusText, /the upstream no longer has the project withdrawn/);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

describe("gateway over an HTML (PEP 503) upstream and a local directory", () => {
  test("a remote file with no declared hash is not listed; hashed ones are", async () => {
    const root = mkdtempSync(join(tmpdir(), "portcullis-tree-"));
    const w = await buildWheel({ name: "mixed", version: "1.0" });
    const u = await buildWheel({ name: "mixed", version: "2.0" });
    mkdirSync(join(root, "simple", "mixed"), { recursive: true });
    mkdirSync(join(root, "files"));
    writeFileSync(join(root, "files", w.filename), w.bytes);
    writeFileSync(join(root, "files", u.filename), u.bytes);
    writeFileSync(
      join(root, "simple", "mixed", "index.html"),
      `<!DOCTYPE html><html><body><a href="../../files/${w.filename}#sha256=${w.sha256}">${w.filename}</a>\n<a href="../../files/${u.filename}">${u.filename}</a></body></html>`,
    );
    const server = await startStaticIndexServer({ root });
    const gw = await startTestGateway({ upstream: server.simpleUrl });
    try {
      const body = (await (
        await fetch(`${gw.url}/simple/mixed/`, { headers: { accept: JSON_ACCEPT } })
      ).json()) as {
        files: { filename: string }[];
      };
      assert.deepEqual(
        body.files.map((f) => f.filename),
        [w.filename],
      );
      const file = await fetch(`${gw.url}/files/${w.sha256}/${w.filename}`);
      assert.equal(sha256(Buffer.from(await file.arrayBuffer())), w.sha256);
    } finally {
      await gw.close();
      await server.close();
    }
  });

  test("a local directory of real wheels: the gateway computes and pins the hashes itself", async () => {
    const gw = await startTestGateway({ upstream: join(sharedDataDir(), "wheels") });
    try {
      const body = (await (
        await fetch(`${gw.url}/simple/python-dateutil/`, { headers: { accept: JSON_ACCEPT } })
      ).json()) as {
        files: { filename: string; hashes: { sha256: string }; url: string }[];
      };
      assert.equal(body.files.length, 1);
      const f = body.files[0]!;
      const res = await fetch(new URL(f.url, `${gw.url}/simple/python-dateutil/`));
      assert.equal(res.status, 200);
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), f.hashes.sha256);
      // No intel was imported: the gateway serves, but says so loudly.
      const readyRes = await fetch(`${gw.url}/readyz`);
      assert.equal(readyRes.status, 200);
      const ready = (await readyRes.json()) as { status: string; degraded?: string[] };
      assert.equal(ready.status, "degraded");
      assert.match(ready.degraded?.join(" ") ?? "", /intel missing/);
      const pageRes = await fetch(`${gw.url}/simple/six/`);
      assert.equal(pageRes.headers.get("x-portcullis-intel"), "missing");
    } finally {
      await gw.close();
    }
  });
});

function rawGet(
  base: string,
  path: string,
): Promise<{ status: number; statusMessage: string; body: string }> {
  // node:http keeps the path byte for byte (fetch would normalise `..` and `%2e%2e`).
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const req = httpRequest({ host: u.hostname, port: u.port, path, method: "GET" }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? "", body }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("graceful shutdown", () => {
  test("finishes a download in flight, then stops accepting", async () => {
    const w = await buildWheel({
      name: "inflight",
      version: "1.0",
      files: { "inflight/x.bin": Buffer.alloc(512 * 1024, 3) },
    });
    const upstream = await startJsonIndexServer({
      projects: { inflight: { files: [{ filename: w.filename, bytes: w.bytes }] } },
    });
    const gw = await startTestGateway({ upstream: upstream.simpleUrl });
    try {
      await fetch(`${gw.url}/simple/inflight/`);
      upstream.setFault({ type: "delay", ms: 400 }, { path: `/files/${w.filename}`, times: 1 });
      const download = fetch(`${gw.url}/files/${w.sha256}/${w.filename}`);
      await new Promise((r) => setTimeout(r, 100));
      const closing = gw.gateway.close();
      const res = await download;
      assert.equal(res.status, 200);
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), w.sha256);
      await closing;
      await assert.rejects(fetch(`${gw.url}/healthz`));
    } finally {
      await upstream.close();
    }
  });

  test("a download still being written to a slow client when the stop comes is audited", async () => {
    const w = await buildWheel({
      name: "slowread",
      version: "1.0",
      files: { "slowread/x.bin": randomBytes(12 * 1024 * 1024) },
    });
    const upstream = await startJsonIndexServer({
      projects: { slowread: { files: [{ filename: w.filename, bytes: w.bytes }] } },
    });
    const data = mkdtempSync(join(tmpdir(), "gw-stop-audit-"));
    const gw = await startTestGateway({ upstream: upstream.simpleUrl, data });
    try {
      await (await fetch(`${gw.url}/simple/slowread/`)).arrayBuffer();
      // Cold: fetched from the upstream and streamed from the new blob, as a first pull is.
      upstream.setFault({ type: "delay", ms: 150 }, { path: `/files/${w.filename}`, times: 1 });
      const url = new URL(`${gw.url}/files/${w.sha256}/${w.filename}`);
      // A client that reads nothing for a while: the answer sits in the socket's buffers,
      // unfinished, while the gateway closes.
      const body = new Promise<{ status: number; bytes: number }>((resolve, reject) => {
        const req = httpRequest(url, (res) => {
          res.pause();
          let bytes = 0;
          res.on("data", (c: Buffer) => (bytes += c.length));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes }));
          setTimeout(() => res.resume(), 400);
        });
        req.on("error", reject);
        req.end();
      });
      await new Promise((r) => setTimeout(r, 250));
      await gw.gateway.close();
      const got = await body;
      assert.deepEqual(got, { status: 200, bytes: w.bytes.length });
      const handle = await connectDatabase({ url: "", dataDir: data });
      try {
        const rows = await handle.db
          .selectFrom("audit_log")
          .select(["action", "status"])
          .where("action", "=", "file.download")
          .execute();
        assert.deepEqual(
          rows.map((r) => ({ ...r })), // node:sqlite (Node 24) gives null-prototype rows
          [{ action: "file.download", status: 200 }],
          "the download is in the trail",
        );
      } finally {
        await handle.close();
      }
    } finally {
      await upstream.close();
      rmSync(data, { recursive: true, force: true });
    }
  });
});
