/**
 * Drift per identity, not per address, on a real gateway on SQLite and PostgreSQL: pulls from
 * 127.0.0.1 and from 127.0.0.2 (real connections from each address, a fake clock ten days
 * apart), then `GET /api/v1/inventory/drift` and `portcullis drift`. A known identity, or an
 * anonymous caller naming its application, pulling what it had from a new address is no drift;
 * an anonymous caller without an application is known by its address alone, so there it is.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { DIALECTS, dialectSkip, gatewayDatabase } from "../helpers/databases.js";
import { bearer, createToken, flushAudit } from "../helpers/identity.js";
import { cli } from "../helpers/run-cli.js";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { buildWheel } from "../helpers/wheel-builder.js";

type Wheel = Awaited<ReturnType<typeof buildWheel>>;

const DAY = 86_400_000;

/** Downloads a file over a connection from `from` (an address of the loopback network). */
function download(gw: TestGateway, w: Wheel, from: string, headers: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${gw.url}/files/${w.sha256}/${w.filename}`,
      { localAddress: from, headers: { ...headers, connection: "close" } },
      (res) => {
        let bytes = 0;
        res.on("data", (c: Buffer) => (bytes += c.length));
        res.on("end", () => {
          try {
            assert.deepEqual([res.statusCode, bytes], [200, w.bytes.length], `${w.filename} from ${from}`);
            resolve();
          } catch (err) {
            reject(err as Error);
          }
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

interface DriftItem {
  identity: string | null;
  ip: string;
  application: string | null;
  team: string | null;
  changes: { kind: string; project: string; version: string }[];
}

for (const dialect of DIALECTS) {
  describe(`drift per identity, not per address (${dialect})`, { skip: await dialectSkip(dialect) }, () => {
    let upstream: JsonIndexServer;
    let gw: TestGateway;
    let database: { url: string; drop(): Promise<void> };
    let clock = Date.parse("2026-11-01T00:00:00Z");
    let approver: string;
    let alabaster: Wheel;
    let babel: Wheel;

    before(async () => {
      alabaster = await buildWheel({ name: "alabaster", version: "1.0.0" });
      babel = await buildWheel({ name: "babel", version: "2.0" });
      upstream = await startJsonIndexServer({
        projects: {
          alabaster: { files: [{ filename: alabaster.filename, bytes: alabaster.bytes }] },
          babel: { files: [{ filename: babel.filename, bytes: babel.bytes }] },
        },
      });
      database = await gatewayDatabase(dialect);
      gw = await startTestGateway(
        { upstream: upstream.simpleUrl, database: database.url },
        { now: () => clock },
      );
      approver = await createToken(gw, { user: "security", role: "approver" });
      const alice = bearer(await createToken(gw, { user: "alice", role: "reader", team: "web" }));
      for (const name of ["alabaster", "babel"])
        await (await fetch(`${gw.url}/simple/${name}/`)).arrayBuffer();

      // Week one, all from 127.0.0.1: alice (many times), an anonymous CI job naming its
      // application, and an anonymous caller naming nothing.
      for (let i = 0; i < 5; i++) await download(gw, alabaster, "127.0.0.1", alice);
      await download(gw, alabaster, "127.0.0.1", { "x-portcullis-project": "ci-web" });
      await download(gw, alabaster, "127.0.0.1", {});
      await flushAudit(gw);
      // Ten days on, the same from 127.0.0.2 (a new runner, a new laptop address); and alice
      // pulls one project she never had.
      clock += 10 * DAY;
      await download(gw, alabaster, "127.0.0.2", alice);
      await download(gw, babel, "127.0.0.2", alice);
      await download(gw, alabaster, "127.0.0.2", { "x-portcullis-project": "ci-web" });
      await download(gw, alabaster, "127.0.0.2", {});
      await flushAudit(gw);
    });
    after(async () => {
      await gw?.close();
      await upstream?.close();
      await database?.drop();
    });

    test("the API: a new address is no drift for an identity or an application, only for an anonymous address", async () => {
      const since = new Date(clock - 7 * DAY).toISOString();
      const res = await fetch(`${gw.url}/api/v1/inventory/drift?since=${encodeURIComponent(since)}`, {
        headers: bearer(approver),
      });
      assert.equal(res.status, 200);
      const { items } = (await res.json()) as { items: DriftItem[] };
      assert.deepEqual(
        items.map((d) => ({
          who: [d.identity, d.ip, d.application, d.team],
          changes: d.changes.map((c) => [c.kind, c.project, c.version]),
        })),
        [
          // The address is all an anonymous caller without an application is known by.
          { who: [null, "127.0.0.2", null, null], changes: [["new-project", "alabaster", "1.0.0"]] },
          // alice's pull of alabaster from a new address is not new to her; babel is.
          { who: ["alice", "127.0.0.2", null, "web"], changes: [["new-project", "babel", "2.0"]] },
        ],
      );

      // who-has still lists each host: there the address is what a responder needs.
      const who = await fetch(`${gw.url}/api/v1/who-has?q=alabaster`, { headers: bearer(approver) });
      const { consumers } = (await who.json()) as { consumers: { identity: string | null; ip: string }[] };
      assert.deepEqual(
        consumers
          .filter((c) => c.identity === "alice")
          .map((c) => c.ip)
          .sort(),
        ["127.0.0.1", "127.0.0.2"],
      );
    });

    test("the CLI: `drift --since` says the same", async () => {
      const since = new Date(clock - 7 * DAY).toISOString();
      const local = ["--data", gw.dataDir, ...(database.url ? ["--database", database.url] : [])];
      const run = await cli("drift", "--since", since, ...local);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(
        run.stdout.replace(/first pulled \S+/g, "first pulled T"),
        [
          "anonymous@127.0.0.2:",
          "  new-project alabaster==1.0.0  first pulled T",
          "alice (team web):",
          "  new-project babel==2.0  first pulled T",
          "",
        ].join("\n"),
      );
    });
  });
}
