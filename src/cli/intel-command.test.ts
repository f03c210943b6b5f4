import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli } from "../../test/helpers/run-cli.js";

/**
 * `intel import` exit codes: 2 for a source that names nothing usable (bad input the user can
 * correct), 1 for a source that could not be fetched (try again later), each with one clear line
 * and no stack trace.
 */
test("intel import: bad input exits 2, an unreachable source exits 1, never a stack trace", async () => {
  const dir = mkdtempSync(join(tmpdir(), "intel-cli-"));
  const server: Server = createServer((req, res) => {
    if (req.url === "/fail.zip") {
      res.writeHead(500).end("boom");
      return;
    }
    // Promises a body and breaks off part-way.
    res.writeHead(200, { "content-length": "100000" });
    res.write(Buffer.alloc(1000));
    setTimeout(() => res.destroy(), 20);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    writeFileSync(join(dir, "corrupt.zip"), Buffer.from("PK\x03\x04 this is not a whole zip"));
    writeFileSync(join(dir, "names.jsonl"), "not json\n");
    writeFileSync(join(dir, "top.json"), JSON.stringify({ rows: [{ project: 1, download_count: 2 }] }));
    const data = join(dir, "data");
    const cases: [string, number, RegExp][] = [
      [join(dir, "missing.zip"), 2, /cannot read .*missing\.zip/],
      [join(dir, "corrupt.zip"), 2, /cannot open OSV zip/],
      [join(dir, "names.jsonl"), 2, /holds no malicious package names/],
      // A file: URL names the local path, as --upstream takes it.
      [`file://${join(dir, "names.jsonl")}`, 2, /holds no malicious package names/],
      // A list that is not one: the first issue, on one line.
      [
        join(dir, "top.json"),
        2,
        /is not a top-pypi-packages list: rows\.0\.project: Expected string, received number\n$/,
      ],
      [`${base}/fail.zip`, 1, /answered HTTP 500/],
      [`${base}/cut.zip`, 1, /broke off/],
    ];
    for (const [source, code, message] of cases) {
      const run = await cli("intel", "import", source, "--data", data);
      assert.equal(run.code, code, `${source}: ${run.stderr}`);
      assert.match(run.stderr, message, source);
      assert.doesNotMatch(run.stderr, /unexpected error|\n\s+at /, `${source}: no stack trace`);
    }
    // Every import, failed or not, is in the audit trail: who brought which source in.
    writeFileSync(
      join(dir, "PYSEC-2099-5.json"),
      JSON.stringify({
        id: "PYSEC-2099-5",
        modified: "2026-01-01T00:00:00Z",
        affected: [
          {
            package: { ecosystem: "PyPI", name: "six" },
            ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "2.0" }] }],
          },
        ],
      }),
    );
    const ok = await cli("intel", "import", join(dir, "PYSEC-2099-5.json"), "--kind", "osv", "--data", data);
    assert.equal(ok.code, 0, ok.stderr);
    const exported = await cli("audit", "export", "--data", data);
    const imports = exported.stdout
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            action: string;
            identity: string;
            outcome: string;
            detail: Record<string, unknown>;
          },
      )
      .filter((r) => r.action === "intel.import");
    assert.deepEqual(
      imports.map((r) => [r.outcome, String(r.detail.source).split("/").pop()]),
      [
        ["error", "missing.zip"],
        ["error", "corrupt.zip"],
        ["error", "names.jsonl"],
        ["error", "names.jsonl"],
        ["error", "top.json"],
        ["error", "fail.zip"],
        ["error", "cut.zip"],
        ["ok", "PYSEC-2099-5.json"],
      ],
    );
    assert.ok(
      imports.every((r) => r.identity.startsWith("cli")),
      "the CLI user imported them",
    );
    assert.equal(imports.at(-1)!.detail.added, 1);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
