import { test } from "node:test";
import assert from "node:assert/strict";
import { clientLabel, parseUserAgent } from "./user-agent.js";

const PIP_UA =
  'pip/23.0.1 {"ci":null,"cpu":"x86_64","distro":{"id":"jammy","libc":{"lib":"glibc","version":"2.35"},"name":"Ubuntu","version":"22.04"},"implementation":{"name":"CPython","version":"3.11.4"},"installer":{"name":"pip","version":"23.0.1"},"openssl_version":"OpenSSL 3.0.2 15 Mar 2022","python":"3.11.4","setuptools_version":"65.5.0","system":{"name":"Linux","release":"6.5.0"}}';

test("parses pip's JSON user agent", () => {
  const c = parseUserAgent(PIP_UA);
  assert.deepEqual(
    { ...c, userAgent: undefined },
    {
      installer: "pip",
      installerVersion: "23.0.1",
      python: "3.11.4",
      os: "Linux",
      distro: "Ubuntu 22.04",
      cpu: "x86_64",
      ci: false,
      userAgent: undefined,
    },
  );
  assert.equal(clientLabel(c), "pip 23.0.1");
  assert.equal(c?.userAgent, "pip/23.0.1", "the parsed JSON is not stored twice");
});

test("parses uv's user agent and its CI flag", () => {
  const c = parseUserAgent(
    'uv/0.4.18 {"installer":{"name":"uv","version":"0.4.18"},"python":"3.12.6","implementation":{"name":"CPython","version":"3.12.6"},"distro":{"name":"Debian GNU/Linux","version":"12","id":"bookworm","libc":null},"system":{"name":"Linux","release":"6.1"},"cpu":"aarch64","openssl_version":null,"setuptools_version":null,"rustc_version":null,"ci":true}',
  );
  assert.equal(c?.installer, "uv");
  assert.equal(c?.installerVersion, "0.4.18");
  assert.equal(c?.distro, "Debian GNU/Linux 12");
  assert.equal(c?.cpu, "aarch64");
  assert.equal(c?.ci, true);
});

test("keeps the product token of other clients and survives garbage", () => {
  assert.equal(clientLabel(parseUserAgent("curl/8.5.0")), "curl 8.5.0");
  const broken = parseUserAgent('pip/24.0 {"installer": {"name": ');
  assert.equal(broken?.installer, "pip");
  assert.equal(broken?.python, undefined);
  assert.equal(parseUserAgent(undefined), null);
  assert.equal(parseUserAgent("x".repeat(10_000))?.userAgent.length, 512);
  assert.equal(clientLabel(parseUserAgent("Mozilla")), null);
});

test("names a browser by its own token, not Mozilla's compatibility one", () => {
  const cases: [string, string, string | undefined][] = [
    [
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
      "chrome",
      "156.0.0.0",
    ],
    ["Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0", "firefox", "140.0"],
    [
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36 Edg/140.0.3485.54",
      "edge",
      "140.0.3485.54",
    ],
    [
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
      "safari",
      "18.1",
    ],
    ["Mozilla/5.0 (compatible; SomeBot)", "browser", undefined],
  ];
  for (const [ua, installer, version] of cases) {
    const c = parseUserAgent(ua);
    assert.equal(c?.installer, installer, ua);
    assert.equal(c?.installerVersion, version, ua);
  }
});

test("escapes control characters, bidi overrides and line breaks in every parsed field", () => {
  // pip's JSON is built by the client: anything can sit in it, JSON-escaped.
  const hostile =
    'pip/25.0 {"installer":{"name":"\\r  svc-backup (team security)  docutils==0.23  last pulled 2026-01-01T00:00:00.000Z  \\u001b[K","version":"x\\n\\u009b2J"},' +
    '"python":"3.12\\u202e","system":{"name":"Linux\\t"},"distro":{"name":"Deb\\u2066ian","version":"12\\u0000"},"cpu":"x86\\u0007"}';
  const c = parseUserAgent(hostile)!;
  assert.equal(
    c.installer,
    "\\u000d  svc-backup (team security)  docutils==0.23  last pulled 2026-01-01t00:00:00.000z  \\u001b[k",
  );
  assert.equal(c.installerVersion, "x\\u000a\\u009b2J");
  assert.equal(c.python, "3.12\\u202e");
  assert.equal(c.os, "Linux\\u0009");
  assert.equal(c.distro, "Deb\\u2066ian 12\\u0000");
  assert.equal(c.cpu, "x86\\u0007");
  // eslint-disable-next-line no-control-regex
  const raw = /[\u0000-\u001f\u007f-\u009f\u202e\u2066]/;
  for (const [field, value] of Object.entries(c))
    assert.doesNotMatch(String(value), raw, `${field} holds no control character`);
  assert.doesNotMatch(clientLabel(c)!, raw, "the inventory's client label is one inert line");

  // A header sent raw: Node lets tabs and bytes 0x80-0xff through and reads them as latin-1
  // (0x9b is the one-byte CSI). The kept header is escaped too, and stays within 512 characters.
  const rawHeader = parseUserAgent("curl/8.5.0\t\x9b2J" + "\x9b".repeat(600))!;
  assert.ok(
    rawHeader.userAgent.startsWith("curl/8.5.0\\u0009\\u009b2J\\u009b"),
    `escaped raw header: ${rawHeader.userAgent.slice(0, 40)}`,
  );
  assert.doesNotMatch(rawHeader.userAgent, raw);
  assert.equal(rawHeader.userAgent.length, 512);
  assert.equal(clientLabel(rawHeader), "curl 8.5.0");
});
