import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { after, afterEach, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { MockAgent } from "undici";
import {
  startJsonIndexServer,
  startStaticIndexServer,
  type IndexServer,
  type JsonIndexServer,
} from "../../../test/helpers/upstream-server.js";
import type { DistFile } from "../../domain/distribution.js";
import { HttpUpstream, type HttpUpstreamOptions } from "./http-upstream.js";
import { MemoryPageCache } from "./memory-page-cache.js";
import {
  UpstreamFileNotFoundError,
  UpstreamForbiddenUrlError,
  UpstreamUnavailableError,
  type Upstream,
} from "./upstream.js";

const WHEEL = Buffer.from("not really a zip, but bytes with a known digest\n");
const SDIST = Buffer.from("sdist bytes\n");
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

function fakeClock(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A one-off loopback server for the cases the index helpers do not cover. */
async function adHocServer(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handler);
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

function distFile(url: string, filename = "demo-1.0-py3-none-any.whl"): DistFile {
  return { filename, url, hashes: {}, yanked: false, coreMetadata: false };
}

describe("HttpUpstream", () => {
  let server: JsonIndexServer;
  const upstreams: Upstream[] = [];
  const make = (options: Partial<HttpUpstreamOptions> = {}) => {
    const upstream = new HttpUpstream({ baseUrl: server.simpleUrl, timeoutMs: 2_000, ...options });
    upstreams.push(upstream);
    return upstream;
  };

  before(async () => {
    server = await startJsonIndexServer({
      projects: {
        demo: {
          files: [
            {
              filename: "demo-1.0-py3-none-any.whl",
              bytes: WHEEL,
              uploadTime: "2025-03-01T10:00:00.000000Z",
              requiresPython: ">=3.9",
            },
            { filename: "demo-1.0.tar.gz", bytes: SDIST, yanked: "broken" },
          ],
        },
        other: { files: [{ filename: "other-2.0-py3-none-any.whl", bytes: SDIST }] },
      },
    });
  });
  afterEach(async () => {
    server.setFault(null);
    server.requests.clear();
    await Promise.all(upstreams.splice(0).map((u) => u.close?.()));
  });
  after(() => server.close());

  describe("getProject", () => {
    it("fetches and parses the PEP 691 JSON page, with PEP 700 fields and the serial header", async () => {
      const result = await make().getProject("Demo");

      assert.ok(result);
      assert.equal(result.stale, false);
      assert.equal(result.page.name, "demo");
      assert.equal(typeof result.page.lastSerial, "number");
      assert.deepEqual(result.page.versions, ["1.0"]);
      assert.deepEqual(result.page.files[0], {
        filename: "demo-1.0-py3-none-any.whl",
        url: `${server.url}/files/demo-1.0-py3-none-any.whl`,
        hashes: { sha256: sha256(WHEEL) },
        requiresPython: ">=3.9",
        yanked: false,
        size: WHEEL.length,
        uploadTime: "2025-03-01T10:00:00.000000Z",
        coreMetadata: false,
      });
      assert.equal(result.page.files[1]?.yanked, "broken");
      assert.equal(server.requests.get("/simple/demo/"), 1);
    });

    it("falls back to HTML when the upstream serves only PEP 503 pages", async () => {
      const tree = await mkdtemp(join(tmpdir(), "portcullis-static-"));
      await mkdir(join(tree, "simple", "demo"), { recursive: true });
      await mkdir(join(tree, "files"));
      await writeFile(join(tree, "files", "demo-1.0.tar.gz"), SDIST);
      await writeFile(
        join(tree, "simple", "demo", "index.html"),
        `<!DOCTYPE html><html><body><a href="../../files/demo-1.0.tar.gz#sha256=${sha256(SDIST)}" data-requires-python="&gt;=3.8">demo-1.0.tar.gz</a></body></html>`,
      );
      const statics = await startStaticIndexServer({ root: tree });
      try {
        const upstream = make({ baseUrl: statics.simpleUrl });

        const result = await upstream.getProject("demo");
        const opened = await upstream.openFile(result?.page.files[0] as DistFile);

        assert.deepEqual(result?.page.files, [
          {
            filename: "demo-1.0.tar.gz",
            url: `${statics.url}/files/demo-1.0.tar.gz`,
            hashes: { sha256: sha256(SDIST) },
            requiresPython: ">=3.8",
            yanked: false,
            coreMetadata: false,
          },
        ]);
        assert.deepEqual(await readAll(opened.stream), SDIST);
      } finally {
        await statics.close();
        await rm(tree, { recursive: true, force: true });
      }
    });

    it("serves a fresh cached page without a request, then revalidates with If-None-Match", async () => {
      const clock = fakeClock();
      const cache = new MemoryPageCache();
      const upstream = make({ now: clock.now, cache, ttlMs: 60_000 });

      const first = await upstream.getProject("demo");
      clock.advance(59_000);
      const second = await upstream.getProject("demo");
      const etag = (await cache.get("demo"))?.etag;
      clock.advance(2_000);
      const third = await upstream.getProject("demo");

      assert.equal(server.requests.get("/simple/demo/"), 2);
      assert.ok(etag);
      assert.deepEqual(second, first);
      assert.equal(third?.stale, false);
      assert.equal(third?.fetchedAt, clock.now());
      assert.deepEqual(third?.page, first?.page);
      assert.equal((await cache.get("demo"))?.fetchedAt, clock.now());
    });

    it("revalidates against a static server with ETag and Last-Modified (304)", async () => {
      const tree = await mkdtemp(join(tmpdir(), "portcullis-static-"));
      await mkdir(join(tree, "demo"), { recursive: true });
      await writeFile(
        join(tree, "demo", "index.html"),
        `<html><body><a href="demo-1.0.tar.gz">demo-1.0.tar.gz</a></body></html>`,
      );
      const statics: IndexServer = await startStaticIndexServer({ root: tree });
      try {
        const clock = fakeClock();
        const cache = new MemoryPageCache();
        const upstream = make({ baseUrl: `${statics.url}/`, now: clock.now, cache, ttlMs: 1_000 });

        await upstream.getProject("demo");
        const entry = await cache.get("demo");
        clock.advance(5_000);
        const again = await upstream.getProject("demo");

        assert.ok(entry?.etag);
        assert.ok(entry?.lastModified);
        assert.equal(statics.requests.get("/demo/"), 2);
        assert.equal(again?.fetchedAt, clock.now());
        assert.equal(again?.page.files.length, 1);
      } finally {
        await statics.close();
        await rm(tree, { recursive: true, force: true });
      }
    });

    it("picks up a changed page after the TTL", async () => {
      const clock = fakeClock();
      const upstream = make({ now: clock.now, ttlMs: 1_000 });
      const before = await upstream.getProject("other");
      server.setProject("other", { files: [{ filename: "other-3.0-py3-none-any.whl", bytes: WHEEL }] });
      try {
        clock.advance(1_000);
        const after = await upstream.getProject("other");

        assert.deepEqual(
          before?.page.files.map((f) => f.filename),
          ["other-2.0-py3-none-any.whl"],
        );
        assert.deepEqual(
          after?.page.files.map((f) => f.filename),
          ["other-3.0-py3-none-any.whl"],
        );
        assert.ok((after?.page.lastSerial ?? 0) > (before?.page.lastSerial ?? 0));
      } finally {
        server.setProject("other", { files: [{ filename: "other-2.0-py3-none-any.whl", bytes: SDIST }] });
      }
    });

    it("returns null for a 404 and remembers it for the negative TTL", async () => {
      const clock = fakeClock();
      const upstream = make({ now: clock.now, negativeTtlMs: 60_000 });

      assert.equal(await upstream.getProject("missing"), null);
      clock.advance(59_000);
      assert.equal(await upstream.getProject("missing"), null);
      assert.equal(server.requests.get("/simple/missing/"), 1);
      clock.advance(1_000);
      assert.equal(await upstream.getProject("missing"), null);
      assert.equal(server.requests.get("/simple/missing/"), 2);
    });

    it("answers null for an invalid name without asking the upstream", async () => {
      assert.equal(await make().getProject("../etc/passwd"), null);
      assert.equal(server.requests.size, 0);
    });

    it("serves the cached copy with stale: true when the upstream answers 5xx", async () => {
      const clock = fakeClock();
      const upstream = make({ now: clock.now, ttlMs: 1_000 });
      const good = await upstream.getProject("demo");
      clock.advance(3_600_000);
      server.setFault({ type: "status", status: 503 });

      const stale = await upstream.getProject("demo");

      assert.equal(stale?.stale, true);
      assert.equal(stale?.fetchedAt, good?.fetchedAt);
      assert.deepEqual(stale?.page, good?.page);
    });

    it("says it serves stale pages in the log, once a minute at most, with how many", async () => {
      const clock = fakeClock();
      const warnings: object[] = [];
      const logger = { warn: (meta: object) => warnings.push(meta) };
      const upstream = make({ now: clock.now, ttlMs: 1_000, logger });
      await upstream.getProject("demo");
      clock.advance(3_600_000);
      server.setFault({ type: "status", status: 503 });
      for (let i = 0; i < 3; i++) assert.equal((await upstream.getProject("demo"))?.stale, true);
      assert.equal(warnings.length, 1);
      assert.equal((warnings[0] as { stalePages: number }).stalePages, 1);
      clock.advance(60_000);
      assert.equal((await upstream.getProject("demo"))?.stale, true);
      assert.deepEqual(
        warnings.map((w) => (w as { stalePages: number }).stalePages),
        [1, 3],
        "the second counts the two served quietly and itself",
      );
    });

    it("throws UpstreamUnavailableError for 5xx with nothing cached", async () => {
      server.setFault({ type: "status", status: 502 });

      await assert.rejects(make().getProject("demo"), UpstreamUnavailableError);
    });

    it("treats 429 as unavailable, never as not found", async () => {
      server.setFault({ type: "status", status: 429, headers: { "retry-after": "30" } });

      await assert.rejects(make().getProject("demo"), (error: unknown) => {
        assert.ok(error instanceof UpstreamUnavailableError);
        assert.match(error.message, /429/);
        return true;
      });
    });

    it("treats a garbage body as unavailable, and serves a stale copy when it has one", async () => {
      const clock = fakeClock();
      const upstream = make({ now: clock.now, ttlMs: 1_000 });
      server.setFault({ type: "garbage" }, { times: 1 });
      await assert.rejects(upstream.getProject("demo"), UpstreamUnavailableError);

      await upstream.getProject("demo");
      clock.advance(2_000);
      server.setFault(
        { type: "garbage", contentType: "text/html", body: "\u0000\u0001\u0002" },
        { times: 1 },
      );
      const stale = await upstream.getProject("demo");

      assert.equal(stale?.stale, true);
    });

    it("treats a body cut short as unavailable", async () => {
      server.setFault({ type: "close-mid-body" });

      await assert.rejects(make().getProject("demo"), UpstreamUnavailableError);
    });

    it("gives up on a server that never answers within the configured time-out", async () => {
      server.setFault({ type: "hang" });
      const upstream = make({ timeoutMs: 150 });

      const started = performance.now();
      await assert.rejects(upstream.getProject("demo"), UpstreamUnavailableError);

      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 140 && elapsed < 1_000, `gave up after ${elapsed} ms`);
    });

    it("shares one request among concurrent callers (single flight)", async () => {
      const upstream = make();

      const results = await Promise.all(Array.from({ length: 5 }, () => upstream.getProject("demo")));

      assert.equal(server.requests.get("/simple/demo/"), 1);
      for (const result of results) assert.deepEqual(result, results[0]);
    });

    it("rejects with the abort reason when the caller aborts, without counting a failure", async () => {
      server.setFault({ type: "hang" }, { times: 1 });
      const upstream = make({ failureThreshold: 1 });
      const controller = new AbortController();

      const pending = upstream.getProject("demo", controller.signal);
      setImmediate(() => controller.abort());
      await assert.rejects(pending, { name: "AbortError" });
      const next = await upstream.getProject("demo");

      assert.equal(next?.stale, false);
      assert.equal(upstream.circuitState, "closed");
    });

    it("opens the circuit after N failures, fails fast while open, and closes after a good trial", async () => {
      const clock = fakeClock();
      const upstream = make({ now: clock.now, failureThreshold: 3, coolDownMs: 30_000 });
      server.setFault({ type: "status", status: 500 });

      for (let i = 0; i < 3; i++) await assert.rejects(upstream.getProject("demo"), UpstreamUnavailableError);
      assert.equal(upstream.circuitState, "open");
      await assert.rejects(upstream.getProject("demo"), /circuit open/);
      clock.advance(29_999);
      await assert.rejects(upstream.getProject("other"), /circuit open/);
      assert.equal(server.requests.get("/simple/demo/"), 3);
      assert.equal(server.requests.get("/simple/other/"), undefined);

      clock.advance(1);
      assert.equal(upstream.circuitState, "half-open");
      server.setFault(null);
      const trial = await upstream.getProject("demo");

      assert.equal(trial?.stale, false);
      assert.equal(upstream.circuitState, "closed");
      assert.equal(server.requests.get("/simple/demo/"), 4);
    });

    it("re-opens the circuit when the half-open trial fails, and serves stale copies meanwhile", async () => {
      const clock = fakeClock();
      const upstream = make({ now: clock.now, ttlMs: 1_000, failureThreshold: 2, coolDownMs: 10_000 });
      const good = await upstream.getProject("demo");
      clock.advance(5_000);
      server.setFault({ type: "status", status: 503 });

      await upstream.getProject("demo");
      await upstream.getProject("demo");
      assert.equal(upstream.circuitState, "open");
      const whileOpen = await upstream.getProject("demo");
      clock.advance(10_000);
      const trial = await upstream.getProject("demo");

      assert.equal(whileOpen?.stale, true);
      assert.deepEqual(whileOpen?.page, good?.page);
      assert.equal(trial?.stale, true);
      assert.equal(upstream.circuitState, "open");
      assert.equal(server.requests.get("/simple/demo/"), 4);
    });

    it("follows same-origin redirects and refuses redirects to another origin", async () => {
      const elsewhere = await startJsonIndexServer({ projects: { demo: { files: [] } } });
      const redirector = await adHocServer((req, res) => {
        if (req.url === "/simple/demo/") res.writeHead(302, { location: "/moved/demo/" }).end();
        else if (req.url === "/moved/demo/") {
          res.writeHead(200, { "content-type": "application/vnd.pypi.simple.v1+json" });
          res.end(
            JSON.stringify({
              meta: { "api-version": "1.0" },
              name: "demo",
              files: [{ filename: "demo-1.0.tar.gz", url: "x/demo-1.0.tar.gz", hashes: {} }],
            }),
          );
        } else res.writeHead(301, { location: `${elsewhere.simpleUrl}demo/` }).end();
      });
      try {
        const upstream = make({ baseUrl: `${redirector.origin}/simple/` });

        const moved = await upstream.getProject("demo");

        assert.equal(moved?.page.files[0]?.url, `${redirector.origin}/moved/demo/x/demo-1.0.tar.gz`);
        await assert.rejects(upstream.getProject("other"), /refused redirect/);
        assert.equal(elsewhere.requests.size, 0);
      } finally {
        await redirector.close();
        await elsewhere.close();
      }
    });

    it("decodes gzip-compressed pages", async () => {
      const body = gzipSync(JSON.stringify({ meta: { "api-version": "1.1" }, name: "zipped", files: [] }));
      const gz = await adHocServer((req, res) => {
        assert.match(String(req.headers["accept-encoding"]), /gzip/);
        res.writeHead(200, {
          "content-type": "application/vnd.pypi.simple.v1+json",
          "content-encoding": "gzip",
        });
        res.end(body);
      });
      try {
        const result = await make({ baseUrl: `${gz.origin}/simple/` }).getProject("zipped");

        assert.equal(result?.page.name, "zipped");
      } finally {
        await gz.close();
      }
    });

    it("sends Basic credentials from the base URL to the index origin only", async () => {
      const seen: (string | undefined)[] = [];
      const files = await adHocServer((req, res) => {
        seen.push(req.headers.authorization);
        res.writeHead(200).end("bytes");
      });
      const index = await adHocServer((req, res) => {
        seen.push(req.headers.authorization);
        res.writeHead(200, { "content-type": "application/vnd.pypi.simple.v1+json" });
        res.end(
          JSON.stringify({
            name: "p",
            files: [{ filename: "p-1.0.tar.gz", url: `${files.origin}/p-1.0.tar.gz`, hashes: {} }],
          }),
        );
      });
      try {
        const base = index.origin.replace("http://", "http://alice:s%3Acret@");
        const upstream = make({ baseUrl: `${base}/simple/`, allowedFileHosts: [files.origin] });

        const result = await upstream.getProject("p");
        await readAll((await upstream.openFile(result?.page.files[0] as DistFile)).stream);

        assert.equal(upstream.description, `${index.origin}/simple/`);
        assert.deepEqual(seen, [`Basic ${Buffer.from("alice:s:cret").toString("base64")}`, undefined]);
      } finally {
        await files.close();
        await index.close();
      }
    });
  });

  describe("openFile", () => {
    it("streams a file from the upstream's own origin", async () => {
      const upstream = make();
      const result = await upstream.getProject("demo");

      const opened = await upstream.openFile(result?.page.files[0] as DistFile);

      assert.equal(opened.size, WHEEL.length);
      assert.equal(sha256(await readAll(opened.stream)), sha256(WHEEL));
    });

    it("refuses URLs off the upstream (SSRF guard) without touching the network", async () => {
      const upstream = make();
      const port = new URL(server.url).port;
      const refused = [
        "http://127.0.0.2:1/files/demo-1.0-py3-none-any.whl",
        `http://localhost:${port}/files/demo-1.0-py3-none-any.whl`,
        `https://127.0.0.1:${port}/files/demo-1.0-py3-none-any.whl`,
        "file:///etc/passwd",
        "ftp://127.0.0.1/demo.whl",
        "javascript:alert(1)",
        `http://127.0.0.1:${port}@evil.example/files/demo-1.0-py3-none-any.whl`,
        `http://user:pw@127.0.0.1:${port}/files/demo-1.0-py3-none-any.whl`,
        "not a url",
      ];

      for (const url of refused) {
        await assert.rejects(upstream.openFile(distFile(url)), UpstreamForbiddenUrlError, url);
      }
      assert.equal(server.requests.size, 0);
    });

    it("refuses a redirect to another host, and follows one to an allowed host", async () => {
      const files = await startJsonIndexServer({
        projects: { demo: { files: [{ filename: "demo-1.0.tar.gz", bytes: SDIST }] } },
      });
      const redirector = await adHocServer((req, res) => {
        res.writeHead(302, { location: `${files.url}/files/demo-1.0.tar.gz` }).end();
      });
      try {
        const strict = make({ baseUrl: `${redirector.origin}/simple/` });
        const allowing = make({ baseUrl: `${redirector.origin}/simple/`, allowedFileHosts: [files.url] });
        const file = distFile(`${redirector.origin}/dl/demo-1.0.tar.gz`, "demo-1.0.tar.gz");

        await assert.rejects(strict.openFile(file), UpstreamForbiddenUrlError);
        assert.equal(files.requests.size, 0);
        const opened = await allowing.openFile(file);

        assert.deepEqual(await readAll(opened.stream), SDIST);
      } finally {
        await redirector.close();
        await files.close();
      }
    });

    it("allows files.pythonhosted.org by default for pypi.org and nothing else", async () => {
      const mock = new MockAgent();
      mock.disableNetConnect();
      mock
        .get("https://files.pythonhosted.org")
        .intercept({ path: "/packages/aa/bb/demo-1.0.tar.gz", method: "GET" })
        .reply(200, SDIST, { headers: { "content-length": String(SDIST.length) } });
      const upstream = make({ baseUrl: "https://pypi.org/simple/", dispatcher: mock });
      try {
        const opened = await upstream.openFile(
          distFile("https://files.pythonhosted.org/packages/aa/bb/demo-1.0.tar.gz"),
        );

        assert.deepEqual(await readAll(opened.stream), SDIST);
        await assert.rejects(
          upstream.openFile(distFile("https://files.pythonhosted.org.evil.example/demo-1.0.tar.gz")),
          UpstreamForbiddenUrlError,
        );
        await assert.rejects(
          upstream.openFile(distFile("http://files.pythonhosted.org/demo-1.0.tar.gz")),
          UpstreamForbiddenUrlError,
        );
      } finally {
        await mock.close();
      }
    });

    it("throws UpstreamFileNotFoundError for 404 and UpstreamUnavailableError for 5xx or time-outs", async () => {
      const upstream = make({ timeoutMs: 150 });

      await assert.rejects(
        upstream.openFile(distFile(`${server.url}/files/nope-1.0.tar.gz`)),
        UpstreamFileNotFoundError,
      );
      server.setFault({ type: "status", status: 503 }, { times: 1 });
      await assert.rejects(
        upstream.openFile(distFile(`${server.url}/files/demo-1.0.tar.gz`)),
        UpstreamUnavailableError,
      );
      server.setFault({ type: "hang" }, { times: 1 });
      await assert.rejects(
        upstream.openFile(distFile(`${server.url}/files/demo-1.0.tar.gz`)),
        UpstreamUnavailableError,
      );
    });
  });

  describe("fetchProvenance (PEP 740)", () => {
    const release = { project: "demo", version: "1.0" };
    const PROVENANCE = { version: 1, attestation_bundles: [] };

    it("fetches the page's provenance URL on the upstream's origin; 404 means none; 5xx is unavailable", async () => {
      let status = 200;
      const server = await adHocServer((req, res) => {
        if (req.url === "/gone") res.writeHead(302, { location: "/missing" }).end();
        else if (req.url === "/missing") res.writeHead(404).end();
        else res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(PROVENANCE));
      });
      try {
        const upstream = make({ baseUrl: `${server.origin}/simple/` });
        const file = {
          filename: "demo-1.0.tar.gz",
          provenance: `${server.origin}/integrity/demo/provenance`,
        };
        assert.deepEqual(await upstream.fetchProvenance(file, release), PROVENANCE);
        assert.equal(
          await upstream.fetchProvenance({ ...file, provenance: `${server.origin}/gone` }, release),
          null,
        );
        status = 503;
        await assert.rejects(upstream.fetchProvenance(file, release), UpstreamUnavailableError);
        // No field, or an explicit null, on an index other than PyPI: nothing is asked.
        assert.equal(await upstream.fetchProvenance({ filename: "demo-1.0.tar.gz" }, release), null);
        assert.equal(await upstream.fetchProvenance({ ...file, provenance: null }, release), null);
      } finally {
        await server.close();
      }
    });

    it("refuses provenance URLs and redirects off the upstream's origin (SSRF)", async () => {
      const elsewhere = await adHocServer((_req, res) => res.writeHead(200).end("{}"));
      const redirector = await adHocServer((_req, res) =>
        res.writeHead(302, { location: `${elsewhere.origin}/p` }).end(),
      );
      try {
        const upstream = make({
          baseUrl: `${redirector.origin}/simple/`,
          allowedFileHosts: [elsewhere.origin],
        });
        await assert.rejects(
          upstream.fetchProvenance(
            { filename: "demo-1.0.tar.gz", provenance: `${elsewhere.origin}/p` },
            release,
          ),
          (err: Error) =>
            err instanceof UpstreamForbiddenUrlError && /is not the upstream's/.test(err.message),
        );
        await assert.rejects(
          upstream.fetchProvenance(
            { filename: "demo-1.0.tar.gz", provenance: `${redirector.origin}/p` },
            release,
          ),
          /refused redirect/,
        );
      } finally {
        await redirector.close();
        await elsewhere.close();
      }
    });

    it("asks PyPI's Integrity API when a pypi.org page names no provenance", async () => {
      const mock = new MockAgent();
      mock.disableNetConnect();
      mock
        .get("https://pypi.org")
        .intercept({ path: "/integrity/demo/1.0/demo-1.0.tar.gz/provenance", method: "GET" })
        .reply(200, JSON.stringify(PROVENANCE), { headers: { "content-type": "application/json" } });
      const upstream = make({ baseUrl: "https://pypi.org/simple/", dispatcher: mock });
      assert.deepEqual(await upstream.fetchProvenance({ filename: "demo-1.0.tar.gz" }, release), PROVENANCE);
      mock.assertNoPendingInterceptors();
    });
  });

  describe("listProjects and probe", () => {
    it("lists the root page's projects (JSON)", async () => {
      assert.deepEqual(await make().listProjects(), ["demo", "other"]);
    });

    it("lists the root page's projects (HTML)", async () => {
      const html = await adHocServer((_req, res) => {
        res.writeHead(200, { "content-type": "text/html" });
        res.end(`<html><body><a href="a/">Alpha</a><a href="b/">beta</a></body></html>`);
      });
      try {
        assert.deepEqual(await make({ baseUrl: `${html.origin}/simple/` }).listProjects(), ["Alpha", "beta"]);
      } finally {
        await html.close();
      }
    });

    it("probes the base URL", async () => {
      const ok = await make().probe();
      const down = await make({ baseUrl: "http://127.0.0.1:1/simple/" }).probe();

      assert.equal(ok.ok, true);
      assert.match(ok.detail, /200/);
      assert.equal(down.ok, false);
    });
  });
});
