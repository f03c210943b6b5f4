import { test } from "node:test";
import assert from "node:assert/strict";
import { sql } from "kysely";
import { openTestDatabase } from "../../test/helpers/databases.js";
import { connectDatabase } from "../adapters/db/connect-database.js";
import { explainDatabaseError } from "./cli-error.js";

test("SQLite's write lock held by another process is told in one sentence, not a stack", async () => {
  const a = await openTestDatabase("sqlite");
  const b = await connectDatabase({ url: a.description, dataDir: "" });
  try {
    await sql`PRAGMA busy_timeout = 0`.execute(b.db);
    let busy: unknown;
    await a.db
      .transaction()
      .setIsolationLevel("serializable")
      .execute(async () => {
        busy = await sql`INSERT INTO teams (name, created_at) VALUES ('b', 1)`.execute(b.db).then(
          () => undefined,
          (err: unknown) => err,
        );
      });
    assert.notEqual(busy, undefined, "the second process was refused");
    assert.match(explainDatabaseError(busy) ?? "", /^the database is busy: another process/);
  } finally {
    await b.close();
    await a.cleanup();
  }
});

test("anything else keeps its stack (a bug is not dressed up as a database problem)", () => {
  assert.equal(explainDatabaseError(new TypeError("x is undefined")), undefined);
  assert.equal(
    explainDatabaseError(Object.assign(new Error("no such table: t"), { code: "SQLITE_ERROR" })),
    undefined,
  );
  assert.equal(explainDatabaseError(null), undefined);
});
