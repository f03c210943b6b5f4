import { test } from "node:test";
import assert from "node:assert/strict";
import { nextSteps } from "./serve-command.js";

test("the start-up banner gives a pip command that works with the gateway's access setting", () => {
  const probe = { ok: true, detail: "" };
  const open = nextSteps("https://gw.example/pypi", "https://pypi.org/simple/", probe, "sqlite", true);
  assert.match(open, /pip install --index-url https:\/\/gw\.example\/pypi\/simple\/ flask/);
  assert.match(open, /portcullis client-config --gateway https:\/\/gw\.example\/pypi --write/);
  const closed = nextSteps("https://gw.example", "https://pypi.org/simple/", probe, "sqlite", false);
  assert.match(closed, /anonymous access is off/);
  assert.match(closed, /pip install --index-url https:\/\/__token__:\$TOKEN@gw\.example\/simple\/ flask/);
  assert.match(closed, /client-config --gateway https:\/\/gw\.example --token \$TOKEN --write/);
});
