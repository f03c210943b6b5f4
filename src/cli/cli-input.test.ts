/**
 * Bad command-line input is refused with exit 2 and a reason, before anything is fetched or
 * written; what a command changes beyond what was asked is said. In-process through `runCli`.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_MARKER } from "./demo-command.js";
import { cli, type CliRun } from "../../test/helpers/run-cli.js";

/** Nothing listens on the discard port: a command that got as far as asking fails with 1, not 2. */
const NOWHERE = "http://127.0.0.1:9";

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), "pcl-cli-input-"));
});
after(() => rmSync(root, { recursive: true, force: true }));

describe("empty and control-character option values", () => {
  test("an empty --port or --python is refused, not taken as 0 or no target", async () => {
    const port = await cli("serve", "--port", "", "--data", join(root, "never"));
    assert.equal(port.code, 2, port.stderr);
    assert.equal(port.stderr, "portcullis: --port must not be empty\n");
    // A list option takes "" for none: `--intel-sync ""` turns the scheduled sync off.
    const sync = await cli("serve", "--intel-sync", "", "--port", "", "--data", join(root, "never"));
    assert.equal(sync.stderr, "portcullis: --port must not be empty\n", '--intel-sync "" is accepted');
    for (const python of ["", "  "]) {
      const vet = await cli("vet", "flask", "--python", python, "--gateway", NOWHERE);
      assert.equal(vet.code, 2, vet.stderr);
      assert.equal(vet.stderr, "portcullis: --python must not be empty\n");
    }
  });

  test("labels and reasons with escape sequences or line breaks are refused", async () => {
    const data = join(root, "labels");
    for (const label of ["ci\u001b[2J", "ci\nforged line", "tab\there", "c1\u009b"]) {
      const run = await cli(
        "token",
        "create",
        "--user",
        "ci",
        "--role",
        "reader",
        "--label",
        label,
        "--data",
        data,
      );
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /^portcullis: --label must not contain control characters/);
    }
    const reason = await cli(
      "request",
      "flask",
      "--reason",
      "need\u001b]0;owned\u0007",
      "--gateway",
      NOWHERE,
    );
    assert.equal(reason.code, 2, reason.stderr);
  });
});

describe("token ids and teams", () => {
  const data = () => join(root, "tokens");
  const tokenId = (run: CliRun) => {
    assert.equal(run.code, 0, run.stderr);
    return /^pcl_([0-9a-f]{12})_/.exec(run.stdout.trim())![1]!;
  };

  test("an upper-case token id is the same id", async () => {
    const id = tokenId(await cli("token", "create", "--user", "alice", "--role", "reader", "--data", data()));
    const revoked = await cli("token", "revoke", id.toUpperCase(), "--data", data());
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(revoked.stdout, `revoked token ${id} of alice\n`);
  });

  test("moving an identity to another team says so, with its other tokens", async () => {
    tokenId(
      await cli("token", "create", "--user", "bob", "--role", "reader", "--team", "red", "--data", data()),
    );
    tokenId(
      await cli("token", "create", "--user", "bob", "--role", "reader", "--team", "red", "--data", data()),
    );
    const same = await cli(
      "token",
      "create",
      "--user",
      "bob",
      "--role",
      "reader",
      "--team",
      "red",
      "--data",
      data(),
    );
    assert.doesNotMatch(same.stderr, /moved/, "same team: nothing moved");
    const moved = await cli(
      "token",
      "create",
      "--user",
      "bob",
      "--role",
      "reader",
      "--team",
      "blue",
      "--data",
      data(),
    );
    tokenId(moved);
    assert.match(
      moved.stderr,
      /^Note: bob moved from team red to team blue: its 3 other active token\(s\) now pull for team blue too/m,
    );
  });
});

describe("files given on the command line", () => {
  test("lock -o naming the input file (however spelled) is refused before asking the gateway", async () => {
    const dir = join(root, "lock");
    mkdirSync(dir);
    const input = join(dir, "requirements.in");
    writeFileSync(input, "flask\n");
    symlinkSync(input, join(dir, "link.in"));
    for (const [file, output] of [
      [input, input],
      [input, join(dir, ".", "..", "lock", "requirements.in")],
      [join(dir, "link.in"), input],
    ] as const) {
      const run = await cli("lock", file, "-o", output, "--gateway", NOWHERE);
      assert.equal(run.code, 2, run.stderr);
      assert.match(
        run.stderr,
        /is the input file .*: writing the lock there would replace your requirements/,
      );
    }
    assert.equal(readFileSync(input, "utf8"), "flask\n");
  });

  test("verify -r with a file holding no requirements: nothing to verify, exit 2", async () => {
    for (const text of ["", "# only a comment\n\n"]) {
      const file = join(root, `empty-${text.length}.txt`);
      writeFileSync(file, text);
      const run = await cli("verify", "-r", file, "--gateway", NOWHERE);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /^portcullis: nothing to verify: .* holds no requirements\n$/);
    }
  });

  test("audit export --since after --until is refused", async () => {
    const run = await cli(
      "audit",
      "export",
      "--since",
      "2026-02-01T00:00:00Z",
      "--until",
      "2026-01-01T00:00:00Z",
      "--data",
      join(root, "none"),
    );
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /--since .* is after --until/);
  });

  test("demo refuses a data directory that is not empty and not a demo's", async () => {
    const gateway = join(root, "real-gateway");
    mkdirSync(gateway);
    writeFileSync(join(gateway, "portcullis.db"), "");
    const run = await cli("demo", "--data", gateway, "--port", "0");
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /is not empty and not a demo directory: the demo would replace its intel/);
    assert.equal(readFileSync(join(gateway, "portcullis.db"), "utf8"), "", "left alone");
    const { refuseNonDemoDirectory } = await import("./demo-command.js");
    const earlier = join(root, "earlier-demo");
    mkdirSync(earlier);
    writeFileSync(join(earlier, DEMO_MARKER), "");
    writeFileSync(join(earlier, "portcullis.db"), "");
    assert.doesNotThrow(() => refuseNonDemoDirectory(earlier));
    assert.doesNotThrow(() => refuseNonDemoDirectory(join(root, "does-not-exist")));
  });
});

describe("a gateway's answer", () => {
  test("the gateway refusing the input as malformed (400, 422) is exit 2; its failures are exit 1", async () => {
    const { createServer } = await import("node:http");
    let status = 400;
    const server = createServer((_req, res) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: `answered ${status}` } }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as { port: number };
    try {
      for (const [answer, code] of [
        [400, 2],
        [422, 2],
        [500, 1],
        [403, 1],
      ] as const) {
        status = answer;
        const run = await cli("who-has", "left-pad", "--gateway", `http://127.0.0.1:${port}`);
        assert.equal(run.code, code, `${answer}: ${run.stderr}`);
        assert.match(run.stderr, new RegExp(`HTTP ${answer}: answered ${answer}`));
      }
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
