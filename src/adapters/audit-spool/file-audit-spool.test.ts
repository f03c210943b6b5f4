import { mock, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { auditFields } from "../../../test/helpers/audit-fields.js";
import { AuditSpoolFull, FileAuditSpool, SPOOL_LEASE_MS } from "./file-audit-spool.js";

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "spool-"));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("batches come back oldest first, front before back, and are gone once done", () => {
  withDir((dir) => {
    const spool = new FileAuditSpool(dir);
    spool.append([auditFields({ at: 2 })]);
    spool.append([auditFields({ at: 3 }), auditFields({ at: 4 })]);
    spool.append([auditFields({ at: 1 })], "front");
    assert.equal(spool.batches, 3);
    const ats: number[] = [];
    for (let b = spool.takeOldest(); b; b = spool.takeOldest()) {
      ats.push(...b.records.map((r) => r.at));
      b.done();
    }
    assert.deepEqual(ats, [1, 2, 3, 4]);
    assert.equal(spool.batches, 0);
    assert.deepEqual(readdirSync(dir), []);
  });
});

test("files are private to the gateway's user, and no temporary file is left", () => {
  withDir((dir) => {
    new FileAuditSpool(dir).append([auditFields()]);
    const names = readdirSync(dir);
    assert.equal(names.length, 1);
    assert.match(names[0]!, /^\d{13}\.json$/);
    assert.equal(statSync(join(dir, names[0]!)).mode & 0o077, 0);
  });
});

test("a released batch is taken again; a second process over the same directory never gets it twice", () => {
  withDir((dir) => {
    const a = new FileAuditSpool(dir);
    a.append([auditFields({ at: 7 })]);
    const b = new FileAuditSpool(dir, process.pid);
    const taken = a.takeOldest()!;
    assert.equal(b.takeOldest(), undefined, "claimed by the first");
    taken.release();
    const again = b.takeOldest()!;
    assert.deepEqual(
      again.records.map((r) => r.at),
      [7],
    );
    again.done();
  });
});

test("a claim left by a process that died is put back at the next start, its partial file removed", () => {
  withDir((dir) => {
    const spool = new FileAuditSpool(dir);
    spool.append([auditFields({ at: 9 })]);
    const name = readdirSync(dir)[0]!;
    // pid 2^22 + 1 is above Linux's pid_max limit: certainly not running.
    renameSync(join(dir, name), join(dir, `${name}.writing-4194305`));
    // And a batch it was writing when it died: never renamed into place, so never whole.
    writeFileSync(join(dir, ".5000000000007.json.4194305.tmp"), '[{"at":');
    const restarted = new FileAuditSpool(dir);
    assert.deepEqual(readdirSync(dir), [name], "the claim put back, the partial file removed");
    assert.equal(restarted.batches, 1);
    assert.deepEqual(
      restarted.takeOldest()!.records.map((r) => r.at),
      [9],
    );
  });
});

test("a damaged file is set aside as .corrupt with a clear error, and the next batch still comes", () => {
  withDir((dir) => {
    const spool = new FileAuditSpool(dir);
    spool.append([auditFields({ at: 1 })]);
    spool.append([auditFields({ at: 2 })]);
    const [first] = readdirSync(dir).sort();
    writeFileSync(join(dir, first!), JSON.stringify([{ ...auditFields(), at: "yesterday" }]));
    assert.throws(() => spool.takeOldest(), /unreadable \(record 0: bad at\).*\.corrupt/);
    const next = spool.takeOldest()!;
    assert.deepEqual(
      next.records.map((r) => r.at),
      [2],
    );
    next.done();
    assert.ok(readdirSync(dir).includes(`${first}.corrupt`));
    writeFileSync(join(dir, "5000000000009.json"), "{not json");
    const reopened = new FileAuditSpool(dir);
    assert.throws(() => reopened.takeOldest(), /5000000000009\.json is unreadable/);
  });
});

test("a spool directory removed from under it is made again, with nothing to give back", () => {
  withDir((dir) => {
    const spoolDir = join(dir, "spool");
    const spool = new FileAuditSpool(spoolDir);
    spool.append([auditFields()]);
    rmSync(spoolDir, { recursive: true });
    assert.equal(spool.takeOldest(), undefined);
    rmSync(spoolDir, { recursive: true });
    assert.equal(spool.batches, 0);
    spool.append([auditFields({ at: 5 })]);
    assert.deepEqual(
      spool.takeOldest()!.records.map((r) => r.at),
      [5],
    );
  });
});

test("a claim left under this very pid (a container's pid 1 at every start) is an earlier run's: put back", () => {
  withDir((dir) => {
    new FileAuditSpool(dir, 1).append([auditFields({ at: 11 })]);
    const name = readdirSync(dir)[0]!;
    renameSync(join(dir, name), join(dir, `${name}.writing-1`));
    writeFileSync(join(dir, ".5000000000003.json.1.tmp"), "[");
    const restarted = new FileAuditSpool(dir, 1);
    assert.deepEqual(readdirSync(dir), [name]);
    assert.deepEqual(
      restarted.takeOldest()!.records.map((r) => r.at),
      [11],
    );
  });
});

test("two spools on one directory (two gateways) never overwrite each other's batches", () => {
  const dir = mkdtempSync(join(tmpdir(), "spool-two-"));
  try {
    const a = new FileAuditSpool(dir);
    const b = new FileAuditSpool(dir);
    a.append([auditFields({ at: 1 })]);
    b.append([auditFields({ at: 2 })]);
    a.append([auditFields({ at: 3 })]);
    const reader = new FileAuditSpool(dir);
    const ats: number[] = [];
    for (let batch = reader.takeOldest(); batch; batch = reader.takeOldest()) {
      ats.push(...batch.records.map((r) => r.at));
      batch.done();
    }
    assert.deepEqual(ats.sort(), [1, 2, 3]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a spool at its cap refuses a batch whole, and takes one again once a batch is written back", () => {
  withDir((dir) => {
    const one = Buffer.byteLength(JSON.stringify([auditFields({ at: 1 })]));
    const spool = new FileAuditSpool(dir, process.pid, 2 * one + 10);
    spool.append([auditFields({ at: 1 })]);
    spool.append([auditFields({ at: 2 })]);
    assert.equal(spool.bytes, 2 * one);
    assert.throws(() => spool.append([auditFields({ at: 3 })]), AuditSpoolFull);
    assert.equal(spool.batches, 2);
    assert.equal(readdirSync(dir).length, 2, "nothing half-written left by the refusal");
    // A later start over the same directory sees what is held.
    const restarted = new FileAuditSpool(dir, process.pid, 2 * one + 10);
    assert.equal(restarted.bytes, 2 * one);
    assert.throws(() => restarted.append([auditFields({ at: 3 })]), /audit spool is full/);
    const oldest = restarted.takeOldest()!;
    oldest.done();
    assert.equal(restarted.bytes, one);
    restarted.append([auditFields({ at: 3 })]);
    // The first spool never saw that: before refusing it reads the disk again.
    const taken = spool.takeOldest()!;
    assert.deepEqual(
      taken.records.map((r) => r.at),
      [2],
    );
    taken.done();
    spool.append([auditFields({ at: 4 })]);
    assert.equal(spool.batches, 2, "its own batch and the other spool's, both to be written back");
    // A batch that failed while being written is older than all of them: it goes in front, past the cap.
    spool.append([auditFields({ at: 0 })], "front");
    const first = spool.takeOldest()!;
    assert.deepEqual(
      first.records.map((r) => r.at),
      [0],
    );
  });
});

/** Sets a file's times back by `ms`, as if its owner had not touched it for that long. */
function age(path: string, ms: number): void {
  const then = new Date(Date.now() - ms);
  utimesSync(path, then, then);
}

test("containers sharing the directory, each gateway pid 1: another's live claim is left alone", () => {
  withDir((dir) => {
    const a = new FileAuditSpool(dir, 1, undefined, "container-a");
    a.append([auditFields({ at: 21 })]);
    const held = a.takeOldest()!;
    const claim = readdirSync(dir)[0]!;
    assert.match(claim, /\.writing-1-container_a_\d*-[0-9a-f]{16}$/);
    // A second container starts meanwhile, its gateway also pid 1.
    const b = new FileAuditSpool(dir, 1, undefined, "container-b");
    assert.deepEqual(readdirSync(dir), [claim], "the claim is still the first container's");
    assert.equal(b.takeOldest(), undefined, "so the batch is not written twice");
    held.done();
    assert.deepEqual(readdirSync(dir), []);
  });
});

test("another host's claim untouched past the lease is put back; a restart of this container's is at once", () => {
  withDir((dir) => {
    const a = new FileAuditSpool(dir, 1, undefined, "container-a");
    a.append([auditFields({ at: 31 })]);
    a.append([auditFields({ at: 32 })]);
    a.takeOldest(); // claimed, and then the container died
    const claim = readdirSync(dir).find((n) => n.includes(".writing-"))!;
    age(join(dir, claim), SPOOL_LEASE_MS + 60_000);
    const b = new FileAuditSpool(dir, 1, undefined, "container-b");
    const first = b.takeOldest()!;
    assert.deepEqual(
      first.records.map((r) => r.at),
      [31],
      "the dead container's claim came back, oldest first",
    );
    first.done();
    // The same container restarted (same host name, pid 1 again, a new nonce): its own earlier
    // run's claim is put back without waiting for the lease.
    const c = new FileAuditSpool(dir, 1, undefined, "container-c");
    c.takeOldest();
    const again = new FileAuditSpool(dir, 1, undefined, "container-c");
    assert.deepEqual(
      again.takeOldest()!.records.map((r) => r.at),
      [32],
    );
  });
});

test("a temporary file of another host is left alone while fresh, removed once stale", () => {
  withDir((dir) => {
    const other = ".5000000000004.json.1-container_a-0123456789abcdef.tmp";
    writeFileSync(join(dir, other), "[");
    new FileAuditSpool(dir, 1, undefined, "container-b");
    assert.deepEqual(readdirSync(dir), [other], "it may be mid-write");
    age(join(dir, other), SPOOL_LEASE_MS + 60_000);
    new FileAuditSpool(dir, 1, undefined, "container-b");
    assert.deepEqual(readdirSync(dir), []);
  });
});

test("a running gateway takes back a claim whose lease ran out since it started", () => {
  withDir((dir) => {
    const a = new FileAuditSpool(dir, 1, undefined, "container-a");
    const b = new FileAuditSpool(dir, 1, undefined, "container-b");
    a.append([auditFields({ at: 41 })]);
    a.takeOldest(); // and then container a died
    const claim = readdirSync(dir)[0]!;
    age(join(dir, claim), SPOOL_LEASE_MS + 60_000);
    mock.timers.enable({ apis: ["Date"], now: Date.now() + 61_000 });
    try {
      assert.deepEqual(
        b.takeOldest()?.records.map((r) => r.at),
        [41],
      );
    } finally {
      mock.timers.reset();
    }
  });
});

test("a claim is touched while held, so it never looks abandoned", () => {
  withDir((dir) => {
    mock.timers.enable({ apis: ["setInterval"] });
    try {
      const a = new FileAuditSpool(dir, 1, undefined, "container-a");
      a.append([auditFields({ at: 51 })]);
      const held = a.takeOldest()!;
      const claim = join(dir, readdirSync(dir)[0]!);
      age(claim, SPOOL_LEASE_MS - 1000);
      mock.timers.tick(SPOOL_LEASE_MS / 4);
      assert.ok(Date.now() - statSync(claim).mtimeMs < 60_000, "the holder touched its claim");
      held.done();
    } finally {
      mock.timers.reset();
    }
  });
});

test("a batch spooled long ago and claimed just now is not taken for an abandoned claim", () => {
  withDir((dir) => {
    const a = new FileAuditSpool(dir, 1, undefined, "container-a");
    a.append([auditFields({ at: 61 })]);
    // Spooled while the database was down, half an hour ago.
    age(join(dir, readdirSync(dir)[0]!), 30 * 60_000);
    const held = a.takeOldest()!;
    const b = new FileAuditSpool(dir, 1, undefined, "container-b");
    assert.equal(b.takeOldest(), undefined, "the claim was made now: it is the first container's");
    held.done();
  });
});
