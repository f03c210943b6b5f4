import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clientConfigs, indexUrl, mergePipConf, mergeUvToml } from "./client-config-command.js";
import { cli } from "../../test/helpers/run-cli.js";

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
  assert.match(
    c.poetry,
    /poetry source add --priority=primary portcullis 'http:\/\/gw\.local:8080\/simple\/'/,
  );
  const t = clientConfigs({ gateway: "https://gw", token: "T" });
  assert.doesNotMatch(t.pip, /trusted-host/);
  assert.match(t.poetry, /http-basic\.portcullis __token__ 'T'/);
});

test("a gateway given as its index URL does not become …/simple/simple/", () => {
  for (const gateway of [
    "http://gw/simple/",
    "http://gw/simple",
    "http://gw/simple//",
    "http://gw/base/simple/",
  ])
    assert.doesNotMatch(indexUrl({ gateway }), /simple\/simple/, gateway);
  assert.equal(indexUrl({ gateway: "http://gw/simple/" }), "http://gw/simple/");
  assert.equal(indexUrl({ gateway: "http://gw/simpler" }), "http://gw/simpler/simple/");
  assert.throws(() => indexUrl({ gateway: "http://user:pw@gw" }), /must not carry credentials/);
});

test("quotes in a token are escaped for the shell, TOML and INI", async () => {
  const { parse } = await import("smol-toml");
  const c = clientConfigs({ gateway: "https://gw", token: `a'b"c\\d` });
  // The shell reads back exactly the URL (and token) given.
  const { execFileSync } = await import("node:child_process");
  const url = indexUrl({ gateway: "https://gw", token: `a'b"c\\d` });
  assert.equal(execFileSync("sh", ["-c", `${c.env} printf %s "$PIP_INDEX_URL"`], { encoding: "utf8" }), url);
  const poetry = c.poetry.split("\n")[1]!;
  assert.equal(
    execFileSync("sh", ["-c", `set -- ${poetry.replace(/^poetry /, "")}; printf %s "$4"`], {
      encoding: "utf8",
    }),
    `a'b"c\\d`,
  );
  assert.deepEqual((parse(c.uv) as { index: { url: string }[] }).index[0]!.url, url);
  assert.equal(/^index-url = (.*)$/m.exec(c.pip)?.[1], url);
});

describe("--write merges into the user's files", () => {
  test("keeps other settings and sections, replaces only what it owns, backs up and says so", async () => {
    const xdg = mkdtempSync(join(tmpdir(), "cli-client-config-"));
    const saved = process.env.XDG_CONFIG_HOME;
    process.env.XDG_CONFIG_HOME = xdg;
    try {
      mkdirSync(join(xdg, "pip"));
      mkdirSync(join(xdg, "uv"));
      const pip =
        "# mine\n[global]\ntimeout = 60\nindex_url = https://old/simple\ntrusted-host = a.example\n\n[install]\nuser = true\n";
      const uv =
        '# uv\nnative-tls = true\n\n[[index]]\nname = "internal"\nurl = "https://internal/simple"\n\n[[index]]\nname = "portcullis"\nurl = "http://old/simple/"\ndefault = true\n\n[pip]\ngenerate-hashes = true\n';
      writeFileSync(join(xdg, "pip", "pip.conf"), pip);
      writeFileSync(join(xdg, "uv", "uv.toml"), uv);
      const run = await cli(
        "client-config",
        "--gateway",
        "http://gw.local:8080/simple/",
        "--token",
        "T0K",
        "--write",
      );
      assert.equal(run.code, 0, run.stderr);
      const lines = run.stdout.trim().split("\n");
      assert.match(
        lines[0]!,
        /^wrote .*pip\.conf: \[global\] index-url = http:\/\/__token__:\*\*\*@gw\.local:8080\/simple\/ \(previous file backed up to (.*pip\.conf\.bak-\d+)\)$/,
      );
      assert.match(
        lines[1]!,
        /^wrote .*uv\.toml: \[\[index\]\] name = "portcullis".*\(previous file backed up to .*uv\.toml\.bak-\d+\)$/,
      );
      assert.doesNotMatch(run.stdout, /T0K/, "the token is not printed");
      const backup = /backed up to (\S+)\)/.exec(lines[0]!)![1]!;
      assert.equal(readFileSync(backup, "utf8"), pip);
      assert.equal(
        readFileSync(join(xdg, "pip", "pip.conf"), "utf8"),
        "# mine\n[global]\ntimeout = 60\nindex-url = http://__token__:T0K@gw.local:8080/simple/\ntrusted-host = a.example gw.local\n\n[install]\nuser = true\n",
      );
      const { parse } = await import("smol-toml");
      const written = readFileSync(join(xdg, "uv", "uv.toml"), "utf8");
      assert.match(written, /^# uv\nnative-tls = true\n/);
      const doc = parse(written) as { index: { name: string; url: string }[]; pip: unknown };
      assert.deepEqual(
        doc.index.map((i) => [i.name, i.url]),
        [
          ["internal", "https://internal/simple"],
          ["portcullis", "http://__token__:T0K@gw.local:8080/simple/"],
        ],
      );
      assert.deepEqual({ ...(doc.pip as object) }, { "generate-hashes": true });
      // Again: nothing to change, no new backup.
      const again = await cli(
        "client-config",
        "--gateway",
        "http://gw.local:8080/simple/",
        "--token",
        "T0K",
        "--write",
      );
      assert.match(again.stdout, /^unchanged .*pip\.conf/);
      assert.equal(readdirSync(join(xdg, "pip")).length, 2);
      // env and poetry have no file to write.
      for (const tool of ["env", "poetry"]) {
        const refused = await cli("client-config", "--gateway", "http://gw", "--tool", tool, "--write");
        assert.equal(refused.code, 2);
        assert.match(refused.stderr, /--write writes pip\.conf and uv\.toml only/);
      }
    } finally {
      if (saved === undefined) delete process.env.XDG_CONFIG_HOME;
      else process.env.XDG_CONFIG_HOME = saved;
      rmSync(xdg, { recursive: true, force: true });
    }
  });

  test("a pip.conf without [global] gets one; an invalid uv.toml is refused, untouched", async () => {
    const merged = mergePipConf("[install]\nuser = true\n", "https://gw/simple/");
    assert.equal(merged.text, "[install]\nuser = true\n\n[global]\nindex-url = https://gw/simple/\n");
    const { parse } = await import("smol-toml");
    assert.throws(() => mergeUvToml("[[index]\nbroken", "https://gw/simple/", parse), /is not valid TOML/);
    const extra = mergePipConf("[global]\nextra-index-url = https://pypi.org/simple\n", "https://gw/simple/");
    assert.deepEqual(extra.notes, [
      "[global] extra-index-url is kept: pip also looks there, past the gateway",
    ]);
  });
});
