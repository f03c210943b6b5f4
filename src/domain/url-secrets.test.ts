import { test } from "node:test";
import assert from "node:assert/strict";
import { redactUrl, takeBasicCredentials } from "./url-secrets.js";

test("a URL as logs show it: no credentials, no query, no fragment; any scheme", () => {
  assert.equal(
    redactUrl("https://u:p@siem.example:8443/ingest?token=s#x"),
    "https://siem.example:8443/ingest?…",
  );
  assert.equal(redactUrl(new URL("syslog://siem.internal:514")), "syslog://siem.internal:514");
  assert.equal(redactUrl("not a url"), "(invalid URL)");
});

test("credentials become a Basic value and leave the URL; a raw % is refused without echoing it", () => {
  const given = new URL("https://ci:p%40ss@mirror.example/simple/");
  const { url, authorization } = takeBasicCredentials(given, "upstream x");
  assert.equal(url.href, "https://mirror.example/simple/");
  assert.equal(authorization, `Basic ${Buffer.from("ci:p@ss").toString("base64")}`);
  assert.equal(given.username, "ci", "the given URL is left as it was");
  assert.equal(takeBasicCredentials(new URL("http://h/"), "x").authorization, undefined);
  assert.throws(
    () =>
      takeBasicCredentials(
        new URL("https://ci:p%zzword@mirror.example/"),
        "upstream https://mirror.example/",
      ),
    (err: Error) =>
      err.message ===
      "upstream https://mirror.example/: the password in its URL is not percent-encoded (write % as %25)",
  );
});
