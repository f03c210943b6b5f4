/**
 * What a page advertises about a file is what the gateway serves: PEP 700 `size` and the PEP 658
 * core-metadata digest become the gateway's own once it stored and verified the bytes, a declared
 * size the bytes do not have is refused, and the same bytes under two names are served under both
 * (or not listed). Against an upstream whose page is written by hand, to make it say anything.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DIALECTS, dialectSkip, gatewayDatabase } from "../helpers/databases.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import type { GatewayError } from "../../src/services/gateway-error.js";
import { buildWheel } from "../helpers/wheel-builder.js";

const JSON_TYPE = "application/vnd.pypi.simple.v1+json";
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

interface HandFile {
  filename: string;
  bytes: Buffer;
  /** The size the page declares: the true one unless given; `null` leaves it out. */
  size?: number | null;
  coreMetadata?: boolean | { sha256: string };
}

/** A PEP 691 upstream whose pages say exactly what the test wrote; pages of `down` answer 503. */
async function startHandUpstream(
  projects: Record<string, HandFile[]>,
): Promise<{ url: string; server: Server; down: Set<string> }> {
  const down = new Set<string>();
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0]!;
    const page = /^\/simple\/([^/]+)\/$/.exec(path);
    if (page && down.has(page[1]!)) {
      res.writeHead(503).end("down");
      return;
    }
    const files = page ? projects[page[1]!] : undefined;
    if (files) {
      res.writeHead(200, { "content-type": JSON_TYPE });
      res.end(
        JSON.stringify({
          meta: { "api-version": "1.1" },
          name: page![1],
          files: files.map((f) => ({
            filename: f.filename,
            url: `/f/${f.filename}`,
            hashes: { sha256: sha256(f.bytes) },
            "upload-time": "2024-01-01T00:00:00Z",
            ...(f.size === null ? {} : { size: f.size ?? f.bytes.length }),
            ...(f.coreMetadata !== undefined ? { "core-metadata": f.coreMetadata } : {}),
          })),
        }),
      );
      return;
    }
    const file = /^\/f\/(.+)$/.exec(path);
    const found =
      file &&
      Object.values(projects)
        .flat()
        .find((f) => f.filename === file[1]);
    if (found) {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.end(found.bytes);
      return;
    }
    res.writeHead(404).end("not found");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/simple/`, server, down };
}

interface PageFile {
  filename: string;
  url: string;
  size?: number;
  "core-metadata"?: boolean | { sha256: string };
}

for (const dialect of DIALECTS) {
  const skip = await dialectSkip(dialect);
  describe(`a page advertises what the gateway serves (${dialect})`, { skip }, () => {
    let database: Awaited<ReturnType<typeof gatewayDatabase>> | undefined;
    let gw: TestGateway;
    let upstream: Awaited<ReturnType<typeof startHandUpstream>>;
    const w = {} as Record<
      "unsized" | "liar" | "twin" | "metaWrong" | "metaNone" | "metaRace" | "metaTwin" | "metaDark",
      Awaited<ReturnType<typeof buildWheel>>
    >;
    let rightMetaSha = "";

    const page = async (project: string) => {
      const res = await fetch(`${gw.url}/simple/${project}/`, { headers: { accept: JSON_TYPE } });
      assert.equal(res.status, 200, `page of ${project}`);
      return (await res.json()) as { meta: Record<string, unknown>; files: PageFile[] };
    };
    const get = (project: string, f: PageFile) => fetch(new URL(f.url, `${gw.url}/simple/${project}/`));

    before(async () => {
      w.unsized = await buildWheel({ name: "unsized", version: "1.0" });
      w.liar = await buildWheel({ name: "liar", version: "1.0" });
      w.twin = await buildWheel({ name: "twin", version: "1.0" });
      w.metaWrong = await buildWheel({ name: "meta-wrong", version: "1.0" });
      w.metaNone = await buildWheel({ name: "meta-none", version: "1.0" });
      w.metaRace = await buildWheel({ name: "meta-race", version: "1.0" });
      w.metaTwin = await buildWheel({ name: "meta-twin", version: "1.0" });
      w.metaDark = await buildWheel({ name: "meta-dark", version: "1.0" });
      upstream = await startHandUpstream({
        unsized: [{ filename: w.unsized.filename, bytes: w.unsized.bytes, size: null }],
        liar: [{ filename: w.liar.filename, bytes: w.liar.bytes, size: w.liar.bytes.length + 10 }],
        twin: [
          { filename: "twin-1.0-py3-none-any.whl", bytes: w.twin.bytes },
          { filename: "twin-1.0-py2.py3-none-any.whl", bytes: w.twin.bytes },
          // The same bytes claimed for another release: never served as that release.
          { filename: "twin-2.0-py3-none-any.whl", bytes: w.twin.bytes },
        ],
        "meta-wrong": [
          {
            filename: w.metaWrong.filename,
            bytes: w.metaWrong.bytes,
            coreMetadata: { sha256: "e".repeat(64) },
          },
        ],
        "meta-none": [{ filename: w.metaNone.filename, bytes: w.metaNone.bytes, coreMetadata: true }],
        "meta-race": [{ filename: w.metaRace.filename, bytes: w.metaRace.bytes, coreMetadata: true }],
        // One link promises nothing, the other (same bytes) a digest the METADATA does not have.
        "meta-twin": [
          { filename: "meta_twin-1.0-py3-none-any.whl", bytes: w.metaTwin.bytes, coreMetadata: true },
          {
            filename: "meta_twin-1.0-py2.py3-none-any.whl",
            bytes: w.metaTwin.bytes,
            coreMetadata: { sha256: "e".repeat(64) },
          },
        ],
        "meta-dark": [
          {
            filename: w.metaDark.filename,
            bytes: w.metaDark.bytes,
            coreMetadata: { sha256: "e".repeat(64) },
          },
        ],
      });
      database = await gatewayDatabase(dialect);
      gw = await startTestGateway({ upstream: upstream.url, database: database.url });
    });
    after(async () => {
      // The last gateway was started on the first one's data directory, which it does not remove.
      await gw?.close();
      if (gw) rmSync(gw.dataDir, { recursive: true, force: true });
      upstream?.server.close();
      await database?.drop();
    });

    test("PEP 700: an undeclared size is left out (API 1.0) until the file is stored, then it is the true size", async () => {
      const before = await page("unsized");
      assert.equal(before.meta["api-version"], "1.0", "no size to vouch for: 1.0, where size is optional");
      assert.equal(before.files[0]!.size, undefined, "no size is made up");
      const res = await get("unsized", before.files[0]!);
      assert.equal(res.status, 200);
      assert.equal(Buffer.from(await res.arrayBuffer()).length, w.unsized.bytes.length);
      const after = await page("unsized");
      assert.equal(after.files[0]!.size, w.unsized.bytes.length, "the verified size");
      assert.equal(after.meta["api-version"], "1.1");
    });

    test("a declared size the bytes do not have is refused (502), never served", async () => {
      const p = await page("liar");
      const res = await get("liar", p.files[0]!);
      assert.equal(res.status, 502);
      assert.match(
        await res.text(),
        new RegExp(
          `upstream sent ${w.liar.bytes.length} bytes, but its index declared ${w.liar.bytes.length + 10}`,
        ),
      );
      assert.equal((await get("liar", p.files[0]!)).status, 502, "and again: nothing was stored");
    });

    test("the same bytes under two names of one release are listed and served under both; another release's name is not listed", async () => {
      const p = await page("twin");
      assert.deepEqual(
        p.files.map((f) => f.filename),
        ["twin-1.0-py3-none-any.whl", "twin-1.0-py2.py3-none-any.whl"],
      );
      for (const f of p.files) {
        const res = await get("twin", f);
        assert.equal(res.status, 200, `${f.filename}: ${res.status}`);
        assert.equal(sha256(Buffer.from(await res.arrayBuffer())), w.twin.sha256, f.filename);
      }
      const other = await fetch(`${gw.url}/files/${w.twin.sha256}/twin-2.0-py3-none-any.whl`);
      assert.equal(other.status, 404, "a name the page does not list is not served");
      await other.arrayBuffer();
    });

    test("PEP 658: once METADATA is extracted the page advertises the gateway's own digest", async () => {
      const before = await page("meta-none");
      assert.equal(before.files[0]!["core-metadata"], true);
      const meta = await fetch(new URL(`${before.files[0]!.url}.metadata`, `${gw.url}/simple/meta-none/`));
      assert.equal(meta.status, 200);
      rightMetaSha = sha256(Buffer.from(await meta.arrayBuffer()));
      const after = await page("meta-none");
      assert.deepEqual(after.files[0]!["core-metadata"], { sha256: rightMetaSha });
    });

    test("PEP 658: an upstream metadata digest that the extracted METADATA does not match is refused", async () => {
      const p = await page("meta-wrong");
      assert.deepEqual(p.files[0]!["core-metadata"], { sha256: "e".repeat(64) });
      const meta = await fetch(new URL(`${p.files[0]!.url}.metadata`, `${gw.url}/simple/meta-wrong/`));
      assert.equal(meta.status, 502);
      assert.match(
        await meta.text(),
        /extracted METADATA has sha256 [0-9a-f]{64}, but the index declared e{64}/,
      );
      assert.deepEqual((await page("meta-wrong")).files[0]!["core-metadata"], { sha256: "e".repeat(64) });
    });

    test("after a restart the stored facts come from the database", async () => {
      const dataDir = gw.dataDir;
      await gw.gateway.close();
      gw = await startTestGateway({ upstream: upstream.url, data: dataDir, database: database!.url });
      const unsized = await page("unsized");
      assert.equal(unsized.files[0]!.size, w.unsized.bytes.length);
      assert.equal(unsized.meta["api-version"], "1.1");
      assert.deepEqual((await page("meta-none")).files[0]!["core-metadata"], { sha256: rightMetaSha });
    });

    test("PEP 658: concurrent extractions are shared, but each caller's promised digest is checked", async () => {
      await page("meta-race");
      const { repo, files } = gw.gateway.services;
      const known = await repo.findFile(w.metaRace.sha256);
      assert.ok(known, "the page recorded the file");
      const lie = "e".repeat(64);
      const codeOf = (r: PromiseSettledResult<unknown>) =>
        r.status === "rejected" ? (r.reason as GatewayError).code : "served";
      // Started in one tick: the second call joins the first one's extraction.
      const [open1, lied1] = await Promise.allSettled([
        files.ensureMetadata(known),
        files.ensureMetadata(known, lie),
      ]);
      assert.equal(codeOf(open1), "served", "no promise: served");
      assert.equal(codeOf(lied1), "HASH_MISMATCH", "its own promise is checked, not the first caller's");
      const [lied2, open2] = await Promise.allSettled([
        files.ensureMetadata(known, lie),
        files.ensureMetadata(known),
      ]);
      assert.equal(codeOf(lied2), "HASH_MISMATCH");
      assert.equal(codeOf(open2), "served", "a refused first caller does not refuse the others");
      const own = (open1 as PromiseFulfilledResult<{ sha256: string }>).value.sha256;
      const recorded = await repo.findFile(w.metaRace.sha256);
      assert.equal(recorded?.metadataSha256, own, "the digest some caller accepted is recorded");
      await assert.rejects(
        files.ensureMetadata(recorded!, lie),
        (err: GatewayError) => err.code === "HASH_MISMATCH",
        "METADATA extracted earlier is checked against the promise too",
      );
    });

    test("PEP 658: each link's own promise holds, though the same bytes are listed under another name", async () => {
      const p = await page("meta-twin");
      assert.deepEqual(
        p.files.map((f) => f["core-metadata"]),
        [true, { sha256: "e".repeat(64) }],
      );
      const lied = await get("meta-twin", { ...p.files[1]!, url: `${p.files[1]!.url}.metadata` });
      assert.equal(lied.status, 502, "the link that promised e…e is not answered with other bytes");
      assert.match(
        await lied.text(),
        /extracted METADATA has sha256 [0-9a-f]{64}, but the index declared e{64}/,
      );
      const open = await get("meta-twin", { ...p.files[0]!, url: `${p.files[0]!.url}.metadata` });
      assert.equal(open.status, 200, "the link that promised nothing is served");
      await open.arrayBuffer();
    });

    test("PEP 658: with the upstream's page unreadable and no copy kept, only METADATA under the gateway's own recorded digest is served", async () => {
      assert.notEqual(rightMetaSha, "", "meta-none's METADATA was extracted by an earlier test");
      const p = await page("meta-dark");
      assert.deepEqual(p.files[0]!["core-metadata"], { sha256: "e".repeat(64) }, "the client is shown e…e");
      const wheel = await get("meta-dark", p.files[0]!);
      assert.equal(wheel.status, 200, "the wheel itself is stored");
      await wheel.arrayBuffer();
      // A restart empties the memory caches; the kept pages are gone too (as on an instance whose
      // write-behind of the page failed), and the upstream's pages answer 503.
      const dataDir = gw.dataDir;
      await gw.gateway.close();
      gw = await startTestGateway({ upstream: upstream.url, data: dataDir, database: database!.url });
      await gw.gateway.db.db
        .deleteFrom("upstream_pages")
        .where("name", "in", ["meta-dark", "meta-none"])
        .execute();
      upstream.down.add("meta-dark").add("meta-none");
      try {
        const dark = await fetch(`${gw.url}/files/${w.metaDark.sha256}/${w.metaDark.filename}.metadata`);
        assert.equal(dark.status, 503, "the digest the client was shown cannot be confirmed: not served");
        assert.match(await dark.text(), /cannot confirm the core-metadata digest the index declared/);
        const own = await fetch(`${gw.url}/files/${w.metaNone.sha256}/${w.metaNone.filename}.metadata`);
        assert.equal(own.status, 200, "METADATA the gateway extracted and advertised is still served");
        assert.equal(sha256(Buffer.from(await own.arrayBuffer())), rightMetaSha);
      } finally {
        upstream.down.clear();
      }
    });
  });
}
