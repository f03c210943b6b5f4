import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "./options.js";

const tmp = () => mkdtempSync(join(tmpdir(), "portcullis-config-"));

test("defaults are the embedded ones", () => {
  const c = loadConfig({ env: {} });
  assert.equal(c.host, "127.0.0.1");
  assert.equal(c.port, 8080);
  assert.equal(c.data, "./data");
  assert.equal(c.upstream, "https://pypi.org/simple/");
  assert.equal(c.database, "");
});

test("flag beats environment beats file beats default", () => {
  const dir = tmp();
  const file = join(dir, "p.yaml");
  writeFileSync(file, "port: 7000\nhost: 0.0.0.0\nupstream: ./wheels\nupstream-ttl: 5\n");
  const c = loadConfig({
    flags: { port: "9000" },
    env: { PORTCULLIS_PORT: "8000", PORTCULLIS_HOST: "::1" },
    configFile: file,
  });
  assert.equal(c.port, 9000);
  assert.equal(c.host, "::1");
  assert.equal(c.upstream, "./wheels");
  assert.equal(c.upstreamTtl, 5);
  const d = loadConfig({ env: { PORTCULLIS_PORT: "8000", PORTCULLIS_CONFIG: file } });
  assert.equal(d.port, 8000);
  assert.equal(d.configFile, file);
});

test("the shipped example config loads", () => {
  const c = loadConfig({
    env: {},
    configFile: new URL("../../portcullis.example.yaml", import.meta.url).pathname,
  });
  assert.equal(c.port, 8080);
  assert.deepEqual(c.upstreamFileHosts, []);
});

test("bad values and unknown settings are refused with where they came from", () => {
  assert.throws(
    () => loadConfig({ env: { PORTCULLIS_PORT: "99999" } }),
    (e: Error) => e instanceof ConfigError && /PORTCULLIS_PORT/.test(e.message),
  );
  assert.throws(() => loadConfig({ flags: { port: "abc" }, env: {} }), /--port/);
  // Links and printed pip commands are built on the public URL: it must be one.
  for (const url of ["pypi.corp.example", "ftp://pypi.corp.example", "https://u:p@pypi.corp.example"])
    assert.throws(
      () => loadConfig({ env: { PORTCULLIS_PUBLIC_URL: url } }),
      (e: Error) =>
        e instanceof ConfigError && /PORTCULLIS_PUBLIC_URL.*http:\/\/ or https:\/\/ URL/.test(e.message),
      url,
    );
  assert.equal(
    loadConfig({ env: { PORTCULLIS_PUBLIC_URL: "https://gw.example/pypi" } }).publicUrl,
    "https://gw.example/pypi",
  );
  const dir = tmp();
  const bad = join(dir, "bad.yaml");
  writeFileSync(bad, "port: 1\nprot: 2\n");
  assert.throws(() => loadConfig({ env: {}, configFile: bad }), /bad\.yaml:2:1: unknown setting "prot"/);
  const broken = join(dir, "broken.yaml");
  writeFileSync(broken, "port: [1,\n");
  assert.throws(() => loadConfig({ env: {}, configFile: broken }), /broken\.yaml:\d+:\d+/);
  assert.throws(
    () => loadConfig({ env: {}, configFile: join(dir, "missing.yaml") }),
    /cannot read config file/,
  );
});

test("the audit storage: rows unless set to batches", () => {
  assert.equal(loadConfig({ env: {} }).auditStorage, "rows");
  assert.equal(loadConfig({ env: { PORTCULLIS_AUDIT_STORAGE: "batches" } }).auditStorage, "batches");
  const dir = tmp();
  const file = join(dir, "p.yaml");
  writeFileSync(file, "audit:\n  storage: batches\n");
  assert.equal(loadConfig({ env: {}, configFile: file }).auditStorage, "batches");
  assert.throws(
    () => loadConfig({ flags: { auditStorage: "blocks" }, env: {} }),
    (e: Error) => e instanceof ConfigError && /--audit-storage/.test(e.message),
  );
});

test("comma-separated file hosts from the environment", () => {
  const c = loadConfig({ env: { PORTCULLIS_UPSTREAM_FILE_HOSTS: "https://a.example, https://b.example" } });
  assert.deepEqual(c.upstreamFileHosts, ["https://a.example", "https://b.example"]);
});

test("the audit writer thread's CPU priority: idle unless set to normal", () => {
  assert.equal(loadConfig({ env: {} }).auditWriterPriority, "idle");
  assert.equal(
    loadConfig({ env: { PORTCULLIS_AUDIT_WRITER_PRIORITY: "normal" } }).auditWriterPriority,
    "normal",
  );
  const dir = tmp();
  const file = join(dir, "p.yaml");
  writeFileSync(file, "audit:\n  writer-priority: normal\n");
  assert.equal(loadConfig({ env: {}, configFile: file }).auditWriterPriority, "normal");
  assert.throws(
    () => loadConfig({ flags: { auditWriterPriority: "realtime" }, env: {} }),
    (e: Error) => e instanceof ConfigError && /--audit-writer-priority/.test(e.message),
  );
});
