/**
 * Commands that only read local state refuse a place that holds no Portcullis database (missing,
 * empty, someone else's) with exit 2 and leave it as it was; `audit verify` writes nothing, not
 * even a checkpoint; `--gateway` with local state is refused. In-process through `runCli`.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import pg from "pg";
import { connectDatabase } from "../adapters/db/connect-database.js";
import { dialectSkip, dropTestSchema, POSTGRES_URL } from "../../test/helpers/databases.js";
import { cli } from "../../test/helpers/run-cli.js";

/** Every command that only reads local state, with the arguments it needs. */
const READERS: string[][] = [
  ["keys", "list"],
  ["audit", "verify"],
  ["audit", "export"],
  ["who-has", "left-pad==1.0"],
  ["token", "list"],
  ["user", "list"],
  ["team", "list"],
  ["owner", "list"],
  ["drift"],
  ["intel", "status"],
  ["explain", "left-pad==1.0"],
  ["webhook", "list"],
  ["remediation", "list"],
  ["requests", "list"],
];

const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

describe("reading commands and a place holding no Portcullis database", () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), "pcl-readonly-"));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test("a missing or empty --data: exit 2 naming it, nothing created", async () => {
    const missing = join(root, "typo");
    for (const args of READERS) {
      const run = await cli(...args, "--data", missing);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, /^portcullis: no Portcullis database in .*typo: check --data/, args.join(" "));
      assert.equal(existsSync(missing), false, `${args.join(" ")} created ${missing}`);
    }
    const empty = join(root, "empty");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(empty);
    const keys = await cli("keys", "list", "--data", empty);
    assert.equal(keys.code, 2, keys.stderr);
    assert.deepEqual(readdirSync(empty), [], "keys list made no key ring");
  });

  test("a database from an older or a newer Portcullis is refused, never migrated by a command that reads", async () => {
    const data = join(root, "versions");
    const handle = await connectDatabase({ url: "", dataDir: data });
    const ran = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(
      handle.db,
    );
    const last = ran.rows.at(-1)!.name;
    await sql`DELETE FROM kysely_migration WHERE name = ${last}`.execute(handle.db);
    await handle.close();
    const names = async () => {
      const h = await connectDatabase({ url: "", dataDir: data, migrate: false });
      try {
        return (await sql<{ name: string }>`SELECT name FROM kysely_migration`.execute(h.db)).rows.map(
          (r) => r.name,
        );
      } finally {
        await h.close();
      }
    };
    for (const args of [
      ["audit", "verify"],
      ["who-has", "left-pad==1.0"],
      ["token", "list"],
    ]) {
      const run = await cli(...args, "--data", data);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(
        run.stderr,
        /is from an older Portcullis \(left untouched\): start this version's gateway/,
      );
    }
    assert.equal((await names()).includes(last), false, `${last} was run by a command that only reads`);
    const h = await connectDatabase({ url: "", dataDir: data, migrate: false });
    await sql`INSERT INTO kysely_migration (name, timestamp) VALUES ('9999-from-the-future', '2027-01-01')`.execute(
      h.db,
    );
    await h.close();
    const newer = await cli("audit", "verify", "--data", data);
    assert.equal(newer.code, 2, newer.stderr);
    assert.match(newer.stderr, /was migrated by a newer Portcullis \(left untouched\)/);
    // An older gateway starting on it (a rolling upgrade gone wrong) says so too, rather than
    // calling the database corrupted.
    await assert.rejects(
      connectDatabase({ url: "", dataDir: data }),
      /database was migrated by a newer Portcullis \(its migration 9999-from-the-future is not one this version knows\): run that version or a later one/,
    );
  });

  test("a SQLite file that is not a Portcullis database is refused and left byte for byte", async () => {
    const other = join(root, "other.db");
    // Whichever SQLite this runtime uses: Node 24's node:sqlite (better-sqlite3's Node 20 build is
    // not loadable there), better-sqlite3 on Node 20.
    const builtIn = (await import("node:sqlite" as string).catch(() => undefined)) as
      { DatabaseSync: new (path: string) => { exec(sql: string): void; close(): void } } | undefined;
    const db = builtIn
      ? new builtIn.DatabaseSync(other)
      : new (await import("better-sqlite3")).default(other);
    db.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine')");
    db.close();
    const text = join(root, "notes.txt");
    writeFileSync(text, "not a database at all\n");
    for (const file of [other, text]) {
      const before = sha(file);
      for (const args of READERS.filter((a) => a[0] !== "keys")) {
        const run = await cli(...args, "--database", `sqlite:${file}`, "--data", join(root, "d"));
        assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
        assert.match(run.stderr, /is not a Portcullis database \(left untouched\)/, args.join(" "));
      }
      assert.equal(sha(file), before, `${file} was changed`);
      assert.equal(existsSync(`${file}-wal`), false, "not even switched to WAL");
    }
  });

  test("a command that sets state up may still start a new data directory", async () => {
    const fresh = join(root, "fresh");
    const created = await cli("owner", "set", "left-pad", "platform", "--data", fresh);
    assert.equal(created.code, 0, created.stderr);
    const listed = await cli("owner", "list", "--data", fresh);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /left-pad/);
    // The signing key is the gateway's to make, at its first start: not a command's.
    const keys = await cli("keys", "list", "--data", fresh);
    assert.equal(keys.code, 2, keys.stderr);
    assert.match(
      keys.stderr,
      /no signing key in .*fresh\/keys: the gateway generates its key there at its first start/,
    );
    assert.equal(existsSync(join(fresh, "keys", "active.pem")), false, "a command made a signing key");
  });

  test("--gateway together with --data, --database or --config is refused", async () => {
    for (const local of [
      ["--data", root],
      ["--database", "sqlite:x.db"],
      ["--config", "x.yaml"],
    ]) {
      const run = await cli("who-has", "left-pad", "--gateway", "http://127.0.0.1:9", ...local);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, new RegExp(`give one of --gateway \\(a running gateway\\) or ${local[0]}`));
    }
  });
});

describe("audit verify only reads", () => {
  let data: string;
  before(async () => {
    data = mkdtempSync(join(tmpdir(), "pcl-verify-ro-"));
    const created = await cli("owner", "set", "left-pad", "platform", "--data", data);
    assert.equal(created.code, 0, created.stderr);
  });
  after(() => rmSync(data, { recursive: true, force: true }));

  /** The checkpoints stored, and a way to change the trail behind the gateway's back. */
  async function withDb<T>(fn: (db: Awaited<ReturnType<typeof connectDatabase>>["db"]) => Promise<T>) {
    const handle = await connectDatabase({ url: "", dataDir: data, migrate: false });
    try {
      return await fn(handle.db);
    } finally {
      await handle.close();
    }
  }
  const checkpoints = () =>
    withDb(async (db) =>
      (await db.selectFrom("audit_checkpoints").select("seq").execute()).map((r) => r.seq),
    );

  test("an unsigned head stays unsigned, and a broken trail gets no checkpoint", async () => {
    // As if the records had been written and not yet signed (a gateway between checkpoints).
    await withDb(async (db) => {
      await db.deleteFrom("audit_checkpoints").execute();
      await db.updateTable("audit_head").set({ checkpoint_seq: 0, checkpoint_at: 0 }).execute();
    });
    const intact = await cli("audit", "verify", "--data", data);
    assert.equal(intact.code, 0, intact.stderr);
    assert.match(intact.stdout, /none signed yet/);
    assert.equal(intact.stderr, "", "no signing noise");
    assert.deepEqual(await checkpoints(), [], "verify signed a checkpoint");

    await withDb((db) => sql`UPDATE audit_log SET outcome = 'forged' WHERE seq = 1`.execute(db));
    const broken = await cli("audit", "verify", "--data", data);
    assert.equal(broken.code, 1, broken.stderr);
    assert.match(broken.stderr, /^portcullis: audit trail NOT intact: /);
    assert.deepEqual(await checkpoints(), [], "a checkpoint was signed over a broken trail");
  });
});

describe("reading commands and an empty PostgreSQL schema", { skip: await dialectSkip("postgres") }, () => {
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const url = `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  const tables = async () => {
    const c = new pg.Client({ connectionString: POSTGRES_URL });
    await c.connect();
    try {
      const r = await c.query("SELECT table_name FROM information_schema.tables WHERE table_schema = $1", [
        schema,
      ]);
      return r.rows.length;
    } finally {
      await c.end();
    }
  };
  before(async () => {
    const c = new pg.Client({ connectionString: POSTGRES_URL });
    await c.connect();
    await c.query(`CREATE SCHEMA ${schema}`);
    await c.end();
  });
  after(() => dropTestSchema(schema));

  test("exit 2 and the schema stays empty; a foreign table is not migrated either", async () => {
    const data = mkdtempSync(join(tmpdir(), "pcl-pg-ro-"));
    try {
      for (const args of READERS.filter((a) => a[0] !== "keys")) {
        const run = await cli(...args, "--database", url, "--data", data);
        assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
        assert.match(run.stderr, /^portcullis: no Portcullis database in postgres:\/\/.*: check --database/);
        assert.equal(await tables(), 0, `${args.join(" ")} migrated the empty schema`);
      }
      const c = new pg.Client({ connectionString: POSTGRES_URL });
      await c.connect();
      await c.query(`CREATE TABLE ${schema}.notes (body text)`);
      await c.end();
      const run = await cli("token", "list", "--database", url, "--data", data);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /is not a Portcullis database \(left untouched\)/);
      assert.equal(await tables(), 1);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
});
