import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Command } from "commander";
import { sharedDataDir } from "../../test/helpers/shared-data.js";
import { KeyRing } from "../crypto/key-ring.js";
import { parseKeysDocument } from "../services/proof/attestation-verifier.js";
import { CliError } from "./cli-error.js";
import { withLocalServices } from "./local-services.js";
import { registerProofCommands } from "./proof-commands.js";

/** Runs `portcullis <args>` with only the proof commands, capturing stdout. */
async function cli(args: string[]): Promise<{ stdout: string; error?: CliError }> {
  const program = new Command("portcullis").exitOverride();
  let stdout = "";
  registerProofCommands(program, { write: (text: string) => (stdout += text) });
  try {
    await program.parseAsync(["node", "portcullis", ...args]);
    return { stdout };
  } catch (err) {
    if (err instanceof CliError) return { stdout, error: err };
    throw err;
  }
}

const vectors = join(sharedDataDir(), "attestations");
const manifest = JSON.parse(readFileSync(join(vectors, "manifest.json"), "utf8")) as {
  files: Record<string, { sha256: string }>;
};
const SDIST = "pypi_attestations-0.0.19.tar.gz";

describe("portcullis keys", () => {
  test("list prints the keys document; rotate keeps the old key as retired", async () => {
    const data = mkdtempSync(join(tmpdir(), "keys-cli-"));
    // list only reads: the data directory is started first, as a gateway would (its first start
    // makes the key; a CLI command never does).
    await withLocalServices({ data }, async () => undefined, { create: true });
    KeyRing.open(join(data, "keys"));
    const first = parseKeysDocument(
      JSON.parse((await cli(["keys", "list", "--json", "--data", data])).stdout),
    );
    assert.equal(first.size, 1);
    const [active] = [...first.keys()];
    const rotated = await cli(["keys", "rotate", "--data", data]);
    assert.match(rotated.stdout, new RegExp(`^retired ${active}\\nactive  [0-9a-f]{64}\\n$`));
    const listed = (await cli(["keys", "list", "--data", data])).stdout.trim().split("\n");
    assert.equal(listed.length, 2);
    assert.match(listed[0]!, /^[0-9a-f]{64} {2}ed25519 {2}active$/);
    assert.equal(listed[1], `${active}  ed25519  retired`);
    // An admin action: recorded in the audit trail.
    const audited = await withLocalServices({ data }, (services) =>
      services.auditLog.query({ action: "keys.rotate", limit: 10, order: "asc" }),
    );
    assert.deepEqual(
      audited.map((r) => [r.action, r.outcome]),
      [["keys.rotate", "ok"]],
    );
  });

  test("without a key (before the gateway's first start) list and rotate say so and make none", async () => {
    const data = mkdtempSync(join(tmpdir(), "keys-cli-"));
    await withLocalServices({ data }, async () => undefined, { create: true });
    for (const args of [["list"], ["list", "--json"], ["rotate"]]) {
      const { stdout, error } = await cli(["keys", ...args, "--data", data]);
      assert.equal(error?.exitCode, 2, `keys ${args.join(" ")}: ${error?.message}`);
      assert.match(
        error?.message ?? "",
        /^no signing key in .*keys: the gateway generates its key there at its first start/,
      );
      assert.equal(stdout, "");
      assert.equal(existsSync(join(data, "keys", "active.pem")), false, `keys ${args.join(" ")} made a key`);
    }
  });

  test("rotate refuses a key supplied from outside", async () => {
    const data = mkdtempSync(join(tmpdir(), "keys-cli-"));
    const { generateKeyPairSync } = await import("node:crypto");
    const file = join(data, "supplied.pem");
    writeFileSync(file, generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }));
    const previous = process.env.PORTCULLIS_SIGNING_KEY;
    process.env.PORTCULLIS_SIGNING_KEY = file;
    try {
      const { error } = await cli(["keys", "rotate", "--data", data]);
      assert.match(error?.message ?? "", /supplied from outside/);
    } finally {
      if (previous === undefined) delete process.env.PORTCULLIS_SIGNING_KEY;
      else process.env.PORTCULLIS_SIGNING_KEY = previous;
    }
  });
});

describe("portcullis provenance", () => {
  const root = join(vectors, "trusted-roots", "trusted_root.production.json");

  test("verify: a real Integrity API provenance object, then the same with a wrong digest", async () => {
    const args = [
      "provenance",
      "verify",
      join(vectors, `${SDIST}.provenance`),
      "--file",
      SDIST,
      "--trusted-root",
      root,
    ];
    const ok = await cli([...args, "--sha256", manifest.files[SDIST]!.sha256]);
    assert.equal(
      ok.stdout,
      `ok ${SDIST}: published by github:trailofbits/pypi-attestations/release.yml (1 attestation(s))\n`,
    );
    const bad = await cli([...args, "--sha256", "0".repeat(64)]);
    assert.equal(bad.error?.exitCode, 1);
    assert.match(bad.error?.message ?? "", /^FAIL pypi_attestations-0\.0\.19\.tar\.gz: the statement digest/);
  });

  test("refresh-root installs a root that loads, and refuses one that does not", async () => {
    const data = mkdtempSync(join(tmpdir(), "root-cli-"));
    const ok = await cli(["provenance", "refresh-root", root, "--data", data]);
    assert.match(ok.stdout, /trusted root installed at .*sigstore\/trusted_root\.json/);
    assert.ok(existsSync(join(data, "sigstore", "trusted_root.json")));
    const junk = join(data, "junk.json");
    writeFileSync(junk, "{}");
    const bad = await cli(["provenance", "refresh-root", junk, "--data", data]);
    assert.match(bad.error?.message ?? "", /is not a usable Sigstore trusted root/);
    assert.equal(bad.error?.exitCode, 2, "a file that is not a trusted root is bad input");
  });

  test("a trusted root (or provenance) over plain http or another scheme is refused with exit 2", async () => {
    const data = mkdtempSync(join(tmpdir(), "root-cli-"));
    // Port 9 (discard): a fetch would fail with 1; the refusal comes before any request.
    for (const source of [
      "http://127.0.0.1:9/trusted_root.json",
      "HTTP://127.0.0.1:9/x",
      "ftp://127.0.0.1:9/x",
    ]) {
      const refused = await cli(["provenance", "refresh-root", source, "--data", data]);
      assert.equal(refused.error?.exitCode, 2, refused.error?.message);
      assert.match(refused.error?.message ?? "", /only https:\/\/ URLs or local files are accepted/);
    }
    assert.equal(existsSync(join(data, "sigstore")), false, "nothing installed");
    const verify = await cli([
      "provenance",
      "verify",
      join(vectors, `${SDIST}.provenance`),
      "--file",
      SDIST,
      "--sha256",
      manifest.files[SDIST]!.sha256,
      "--trusted-root",
      "http://127.0.0.1:9/trusted_root.json",
    ]);
    assert.equal(verify.error?.exitCode, 2, verify.error?.message);
    const missing = await cli(["provenance", "refresh-root", join(data, "nope.json"), "--data", data]);
    assert.equal(missing.error?.exitCode, 2, "a file that is not there is bad input");
    assert.match(missing.error?.message ?? "", /^cannot read .*nope\.json/);
  });
});
