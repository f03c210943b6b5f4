import { test } from "node:test";
import assert from "node:assert/strict";
import { clientConfigs, indexUrl } from "./client-config-command.js";

test("index URL with and without a token", () => {
  assert.equal(indexUrl({ gateway: "http://127.0.0.1:8080" }), "http://127.0.0.1:8080/simple/");
  assert.equal(indexUrl({ gateway: "https://pkgs.example/base/" }), "https://pkgs.example/base/simple/");
  assert.equal(
    indexUrl({ gateway: "https://pkgs.example", token: "pc_abc" }),
    "https://__token__:pc_abc@pkgs.example/simple/",
  );
  assert.throws(() => indexUrl({ gateway: "not a url" }), /--gateway must be a URL/);
  assert.throws(() => indexUrl({ gateway: "ftp://x" }), /http\(s\)/);
});

test("pip, uv, env and poetry configs", () => {
  const c = clientConfigs({ gateway: "http://gw.local:8080" });
  assert.equal(c.pip, "[global]\nindex-url = http://gw.local:8080/simple/\ntrusted-host = gw.local\n");
  assert.match(
    c.uv,
    /\[\[index\]\]\nname = "portcullis"\nurl = "http:\/\/gw\.local:8080\/simple\/"\ndefault = true/,
  );
  assert.match(c.env, /PIP_INDEX_URL='http:\/\/gw\.local:8080\/simple\/'/);
  assert.match(c.env, /UV_DEFAULT_INDEX=/);
  assert.match(c.poetry, /poetry source add --priority=primary portcullis http:\/\/gw\.local:8080\/simple\//);
  const t = clientConfigs({ gateway: "https://gw", token: "T" });
  assert.doesNotMatch(t.pip, /trusted-host/);
  assert.match(t.poetry, /http-basic\.portcullis __token__ 'T'/);
});
