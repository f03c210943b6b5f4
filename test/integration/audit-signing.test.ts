/**
 * Who signs the audit chain, and when, over the dialect matrix (SQLite and PostgreSQL).
 *
 * A running gateway that goes idle signs its own records once they have waited an interval for
 * a checkpoint (before, they stayed unsigned until the next batch or a clean stop, and could be
 * cut off the end unnoticed for as long as it idled), on the writer thread's path too, without a
 * database round trip per timer tick, and with several instances one checkpoint, not one each.
 *
 * A CLI command run without the gateway's key (a workstation without PORTCULLIS_SIGNING_KEY)
 * makes no key of its own and signs nothing: it writes its records unsigned and the gateway's
 * next checkpoint covers them. It used to generate a key and sign with it, and every later
 * `audit verify` failed on a checkpoint "not one of this gateway's keys", for good. `audit
 * verify` given no trusted key at all says how to give one (exit 2) instead of "NOT intact", and
 * verifies with the gateway's public keys alone.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { AuditRepository, type CheckpointSigner } from "../../src/adapters/db/audit-repository.js";
import { ThreadAuditWriter } from "../../src/adapters/db/audit-writer-thread.js";
import { connectDatabase } from "../../src/adapters/db/connect-database.js";
import { loadConfig } from "../../src/config/options.js";
import { keyIdOf, SigningKeyMissing } from "../../src/crypto/key-ring.js";
import type { Actor } from "../../src/domain/identity.js";
import { createGateway } from "../../src/main.js";
import { AuditTrail } from "../../src/services/audit/audit-trail.js";
import { inlineAuditWriter, type AuditWriter } from "../../src/services/audit/audit-writer.js";
import { verifyAuditLog, type AuditVerification } from "../../src/services/audit/audit-verifier.js";
import { DIALECTS, dialectSkip, gatewayDatabase, withTestDatabase } from "../helpers/databases.js";
import { eventually } from "../helpers/eventually.js";
import { cli } from "../helpers/run-cli.js";
import { startJsonIndexServer, type JsonIndexServer } from "../helpers/upstream-server.js";

const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const keyid = keyIdOf(publicKey);
const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
const key = { keyid, privateKey, publicKeyPem };
const signer: CheckpointSigner = {
  sign: (m) => ({ keyid, publicKeyPem, signature: sign(null, m, privateKey).toString("base64") }),
};
const log = pino({ level: "silent" });
const who: Actor = {
  user: "ci",
  role: "reader",
  team: null,
  tokenId: null,
  ip: "10.0.0.7",
  application: null,
  client: null,
};
const INTERVAL = 60_000;
/** Any fixed time: the trails here run on a clock the test moves. */
const T = 1_800_000_000_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 10 ms until it holds or `ms` pass; whether it held. */
/** `n` page requests, each its own record (a page each: the same access repeated would be one). */
function pulls(trail: AuditTrail, n: number): void {
  for (let i = 0; i < n; i++)
    trail.record({
      action: "simple.page",
      actor: who,
      outcome: "ok",
      project: `requests-${i}`,
      detail: { status: 200 },
    });
}

/** The database's inline writer, its `seal` calls (the head looked at) counted. */
function countingWriter(repo: AuditRepository): AuditWriter & { seals: number } {
  const inline = inlineAuditWriter(repo, signer);
  const w = {
    ...inline,
    seals: 0,
    seal: (now: number, minAgeMs?: number) => {
      w.seals++;
      return inline.seal!(now, minAgeMs);
    },
  };
  return w;
}

for (const dialect of DIALECTS) {
  const skip = await dialectSkip(dialect);

  test(
    `a serving gateway's idle trail also signs what a keyless CLI command left unsigned, an interval on (${dialect})`,
    { skip },
    () =>
      withTestDatabase(dialect, async (db) => {
        const repo = new AuditRepository(db.db, db.dialect);
        let clock = T;
        const gateway = new AuditTrail({
          writer: inlineAuditWriter(repo, signer),
          now: () => clock,
          log,
          checkpointEveryMs: INTERVAL,
          watchOthers: true,
        });
        // A CLI command on a workstation without the gateway's key: it writes, and cannot sign.
        const keyless: CheckpointSigner = {
          sign: () => {
            throw new SigningKeyMissing("no signing key in this process");
          },
        };
        const signedThrough = async () => (await repo.head())!.checkpointSeq;
        gateway.start(5);
        try {
          pulls(gateway, 3);
          await gateway.flush();
          assert.equal(await signedThrough(), 3, "the chain's first batch is signed with it");
          // An interval on, the gateway looks once, finds all it wrote signed, and stops looking
          // for its own records.
          clock = T + INTERVAL + 1;
          await sleep(100);
          clock = T + INTERVAL + 5_000;
          const cliTrail = new AuditTrail({
            writer: inlineAuditWriter(repo, keyless),
            now: () => clock,
            log,
          });
          cliTrail.record({
            action: "user.disable",
            actor: { ...who, user: "cli:root", role: "admin", ip: "cli" },
            outcome: "ok",
          });
          await cliTrail.close();
          assert.equal((await repo.head())!.seq, 4);
          assert.equal(await signedThrough(), 3, "the CLI signed nothing");
          clock = T + 2 * INTERVAL;
          await sleep(100);
          assert.equal(await signedThrough(), 3, "looked at once an interval");
          clock = T + 2 * INTERVAL + 2;
          assert.equal(
            await eventually(async () => (await signedThrough()) === 4),
            true,
            "the idle gateway signed the CLI's record",
          );
        } finally {
          await gateway.close();
        }
      }),
  );

  test(
    `an idle gateway's trail signs its records an interval after writing them, inline and on the writer thread, looking at the head only then (${dialect})`,
    { skip },
    () =>
      withTestDatabase(dialect, async (db) => {
        const repo = new AuditRepository(db.db, db.dialect);
        const writer = countingWriter(repo);
        let clock = T;
        const trail = new AuditTrail({
          writer,
          background: () => new ThreadAuditWriter({ database: db.reopen!, key, log, idleMs: 60_000 }),
          now: () => clock,
          log,
          checkpointEveryMs: INTERVAL,
        });
        trail.start(5);
        const signedThrough = async () => (await repo.head())!.checkpointSeq;
        try {
          // The chain's first batch is signed with it; the next, a second later, is not.
          pulls(trail, 3);
          await trail.flush();
          assert.equal(await signedThrough(), 3);
          clock = T + 1_000;
          pulls(trail, 3);
          await trail.flush();
          assert.equal(trail.lastWriter, "inline");
          assert.equal(await signedThrough(), 3, "a second after a checkpoint: not signed");

          // Idle: dozens of ticks cost no database round trip until an interval has passed.
          await sleep(150);
          clock = T + INTERVAL - 1;
          await sleep(150);
          assert.equal(writer.seals, 0, "the timer looked at the head before anything was due");
          assert.equal(await signedThrough(), 3);
          clock = T + INTERVAL;
          assert.equal(
            await eventually(async () => (await signedThrough()) === 6),
            true,
            "idle records signed",
          );
          await sleep(150);
          assert.equal(writer.seals, 1, "one look at the head, then none while nothing is unsigned");

          // A busy spell's batch goes to the writer thread; idle again, it is signed the same way.
          clock = T + INTERVAL + 1_000;
          pulls(trail, 200);
          await trail.flush();
          assert.equal(trail.lastWriter, "writer thread");
          assert.equal(await signedThrough(), 6, "a second after the last checkpoint: not signed");
          clock = T + 2 * INTERVAL + 999;
          await sleep(150);
          assert.equal(await signedThrough(), 6, "not before its records have waited an interval");
          assert.equal(writer.seals, 1);
          clock = T + 2 * INTERVAL + 1_000;
          assert.equal(await eventually(async () => (await signedThrough()) === 206), true, "signed");
          assert.equal(writer.seals, 2);

          const verdict = await verifyAuditLog(repo, new Set([keyid]));
          assert.deepEqual(
            [verdict.ok, verdict.records, verdict.unsigned, verdict.problem],
            [true, 206, 0, null],
          );
        } finally {
          await trail.close();
        }
      }),
  );

  test(
    `several idle instances sign once an interval between them, and stop looking once their records are signed (${dialect})`,
    { skip },
    () =>
      withTestDatabase(dialect, async (db) => {
        // A second instance: a connection of its own to the same database.
        const other = await connectDatabase({ ...db.reopen!, migrate: false });
        let clock = T;
        const instance = (repo: AuditRepository) => {
          const writer = countingWriter(repo);
          const trail = new AuditTrail({ writer, now: () => clock, log, checkpointEveryMs: INTERVAL });
          trail.start(5);
          return { trail, writer };
        };
        const repo = new AuditRepository(db.db, db.dialect);
        const a = instance(repo);
        const b = instance(new AuditRepository(other.db, other.dialect));
        const write = async (trail: AuditTrail, at: number) => {
          clock = at;
          pulls(trail, 3);
          await trail.flush();
        };
        const checkpoints = async () => (await repo.checkpoints()).map((c) => c.seq);
        try {
          await write(a.trail, T); // the chain's first batch: signed with it
          await write(b.trail, T + 1_000);
          await write(a.trail, T + 2_000);
          // Both have waited an interval: one signs, the other finds the head signed.
          clock = T + INTERVAL + 1_000;
          assert.equal(await eventually(() => a.writer.seals === 1 && b.writer.seals === 1), true);
          assert.deepEqual(await checkpoints(), [3, 9]);

          // A's records are signed by B's next batch (written an interval after the last
          // checkpoint); B writes more right after. A looks when due, finds a checkpoint too
          // recent to sign after, and looks again only once it is an interval old.
          await write(a.trail, T + INTERVAL + 2_000);
          await write(b.trail, T + 2 * INTERVAL + 1_000);
          assert.deepEqual(await checkpoints(), [3, 9, 15], "B's batch signed");
          await write(b.trail, T + 2 * INTERVAL + 1_500);
          clock = T + 2 * INTERVAL + 2_000;
          assert.equal(await eventually(() => a.writer.seals === 2), true, "A looked when due");
          clock = T + 3 * INTERVAL + 999;
          await sleep(150);
          assert.deepEqual([a.writer.seals, b.writer.seals], [2, 1], "no look before it is due");
          assert.deepEqual(await checkpoints(), [3, 9, 15]);
          clock = T + 3 * INTERVAL + 1_000;
          assert.equal(await eventually(() => a.writer.seals === 3 && b.writer.seals === 2), true);
          assert.deepEqual(await checkpoints(), [3, 9, 15, 18], "one checkpoint for the two");
          await sleep(150);
          assert.deepEqual([a.writer.seals, b.writer.seals], [3, 2], "nothing unsigned: no more looks");
          const verdict = await verifyAuditLog(repo, new Set([keyid]));
          assert.deepEqual([verdict.ok, verdict.unsigned, verdict.problem], [true, 0, null]);
        } finally {
          await a.trail.close();
          await b.trail.close();
          await other.close();
        }
      }),
  );

  describe(`a CLI command without the gateway's key (${dialect})`, { skip }, () => {
    let up: JsonIndexServer;
    let database: Awaited<ReturnType<typeof gatewayDatabase>>;
    let root: string;
    /** The gateway's data directory; its key is the shared file `keyFile`, not kept there. */
    let gatewayData: string;
    let keyFile: string;
    let savedKeyEnv: string | undefined;

    /** A gateway on the shared key; `now` moves its clock (an earlier spell of it). */
    async function runGateway(pages: number, now?: () => number): Promise<void> {
      const config = loadConfig({
        env: {},
        flags: {
          host: "127.0.0.1",
          port: 0,
          logLevel: "silent",
          intelSync: "",
          upstream: up.simpleUrl,
          data: gatewayData,
          database: database.url,
          signingKey: keyFile,
        },
      });
      const gateway = await createGateway(config, { logger: log, ...(now ? { now } : {}) });
      try {
        const url = await gateway.listen();
        for (let i = 0; i < pages; i++) await (await fetch(`${url}/simple/acme/`)).arrayBuffer();
        await gateway.services.audit.flush();
      } finally {
        await gateway.close();
      }
    }

    /** `--database` for PostgreSQL (SQLite's database is the data directory's). */
    const dbArgs = () => (database.url ? ["--database", database.url] : []);

    async function verify(
      ...args: string[]
    ): Promise<{ code: number; stderr: string; json?: AuditVerification }> {
      const run = await cli("audit", "verify", "--json", ...dbArgs(), ...args);
      return {
        code: run.code,
        stderr: run.stderr,
        ...(run.stdout ? { json: JSON.parse(run.stdout) as AuditVerification } : {}),
      };
    }

    before(async () => {
      // Whatever the machine's environment says, these commands run without the shared key.
      savedKeyEnv = process.env.PORTCULLIS_SIGNING_KEY;
      delete process.env.PORTCULLIS_SIGNING_KEY;
      up = await startJsonIndexServer({ projects: { acme: { files: [] } } });
      database = await gatewayDatabase(dialect);
      root = mkdtempSync(join(tmpdir(), "audit-signing-"));
      gatewayData = join(root, "gateway");
      mkdirSync(join(root, "secrets"));
      keyFile = join(root, "secrets", "portcullis-ed25519.pem");
      writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    });
    after(async () => {
      if (savedKeyEnv === undefined) delete process.env.PORTCULLIS_SIGNING_KEY;
      else process.env.PORTCULLIS_SIGNING_KEY = savedKeyEnv;
      await up?.close();
      await database?.drop();
      rmSync(root, { recursive: true, force: true });
    });

    test("writes its records unsigned and makes no key; verify stays intact, and the gateway's next checkpoint covers them", async () => {
      // The gateway served pages and went idle ten minutes ago (its clock set back that far).
      await runGateway(3, () => Date.now() - 10 * INTERVAL);
      const signed = await verify("--data", gatewayData, "--signing-key", keyFile);
      assert.deepEqual([signed.code, signed.json?.unsigned], [0, 0], signed.stderr);

      // An admin on a workstation: another data directory for PostgreSQL, the gateway's for SQLite.
      const workstation = database.url ? join(root, "cli") : gatewayData;
      const created = await cli(
        "token",
        "create",
        "--user",
        "admin",
        "--role",
        "admin",
        "--data",
        workstation,
        ...dbArgs(),
      );
      assert.equal(created.code, 0, created.stderr);
      assert.equal(existsSync(join(workstation, "keys", "active.pem")), false, "the command made a key");
      const after = await verify("--data", gatewayData, "--signing-key", keyFile);
      assert.equal(after.code, 0, `${after.stderr} ${JSON.stringify(after.json)}`);
      assert.deepEqual(
        [after.json?.ok, after.json?.checkpoints, after.json?.unsigned],
        [true, signed.json?.checkpoints, 1],
        "the command's record is hash-chained, not signed, and no checkpoint was added",
      );

      // The gateway's next batch signs it (an interval has passed since its last checkpoint).
      await runGateway(1);
      const covered = await verify("--data", gatewayData, "--signing-key", keyFile);
      assert.equal(covered.code, 0, covered.stderr);
      assert.deepEqual([covered.json?.ok, covered.json?.unsigned], [true, 0]);
      const withDb = await connectDatabase({ url: database.url, dataDir: gatewayData, migrate: false });
      try {
        const keyids = new Set(
          (await new AuditRepository(withDb.db, withDb.dialect).checkpoints()).map((c) => c.keyid),
        );
        assert.deepEqual([...keyids], [keyid], "every checkpoint signed with the shared key");
      } finally {
        await withDb.close();
      }
    });

    test("verify without any trusted key says how to give one (exit 2); the public key alone verifies", async () => {
      // The gateway's data directory holds no key (it is the shared file), the workstation's none either.
      const keyless = database.url ? mkdtempSync(join(root, "nokeys-")) : gatewayData;
      const none = await verify("--data", keyless);
      assert.equal(none.code, 2, none.stderr);
      assert.match(
        none.stderr,
        /^portcullis: no trusted signing keys to check the audit checkpoints with \(none in .*keys\): give the gateway's key with --signing-key FILE \(or PORTCULLIS_SIGNING_KEY\), or --data DIR whose keys\/ holds its keys \(active\.pem, or only their public keys as keys\/retired\/<keyid>\.pem/,
      );
      assert.equal(none.json, undefined, "no verdict printed");
      // A key file that is missing or not a key is bad input too (2), never "NOT intact" (1).
      const junk = join(root, "junk.pem");
      writeFileSync(junk, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
      for (const file of [join(root, "no-such.pem"), junk]) {
        const bad = await verify("--data", keyless, "--signing-key", file);
        assert.equal(bad.code, 2, `${file}: ${bad.stderr}`);
        assert.match(bad.stderr, /cannot open the key ring/);
      }

      // Only the public key, as /.well-known/portcullis/keys publishes it.
      mkdirSync(join(keyless, "keys", "retired"), { recursive: true });
      writeFileSync(join(keyless, "keys", "retired", `${keyid}.pem`), publicKeyPem);
      try {
        const publicOnly = await verify("--data", keyless);
        assert.equal(publicOnly.code, 0, publicOnly.stderr);
        assert.equal(publicOnly.json?.ok, true);
      } finally {
        rmSync(join(keyless, "keys"), { recursive: true, force: true });
      }
    });
  });

  test(
    `a data directory set up before the gateway's first start: the command signs nothing, the gateway then makes its key and signs (${dialect})`,
    { skip },
    async () => {
      const saved = process.env.PORTCULLIS_SIGNING_KEY;
      delete process.env.PORTCULLIS_SIGNING_KEY;
      const database = await gatewayDatabase(dialect);
      const data = mkdtempSync(join(tmpdir(), "audit-first-"));
      const up = await startJsonIndexServer({ projects: { acme: { files: [] } } });
      const local = ["--data", data, ...(database.url ? ["--database", database.url] : [])];
      try {
        const created = await cli("token", "create", "--user", "admin", "--role", "admin", ...local);
        assert.equal(created.code, 0, created.stderr);
        assert.equal(existsSync(join(data, "keys", "active.pem")), false, "the command made a key");
        const before = await cli("audit", "verify", ...local);
        assert.equal(before.code, 0, before.stderr);
        assert.match(
          before.stdout,
          /^audit trail intact: 1 records, 0 signed checkpoint\(s\); none signed yet/,
        );

        const config = loadConfig({
          env: {},
          flags: {
            host: "127.0.0.1",
            port: 0,
            logLevel: "silent",
            intelSync: "",
            upstream: up.simpleUrl,
            data,
            database: database.url,
          },
        });
        const gateway = await createGateway(config, { logger: log });
        try {
          const url = await gateway.listen();
          await (await fetch(`${url}/simple/acme/`)).arrayBuffer();
        } finally {
          await gateway.close();
        }
        assert.equal(existsSync(join(data, "keys", "active.pem")), true, "the gateway made its key");
        const signed = await cli("audit", "verify", ...local);
        assert.equal(signed.code, 0, signed.stderr);
        assert.match(signed.stdout, /^audit trail intact: 2 records, 1 signed checkpoint\(s\)\n$/);
      } finally {
        if (saved !== undefined) process.env.PORTCULLIS_SIGNING_KEY = saved;
        await up.close();
        await database.drop();
        rmSync(data, { recursive: true, force: true });
      }
    },
  );
}
