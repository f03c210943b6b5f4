import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Command } from "commander";
import type { CommandOutput } from "./proof-commands.js";
import { parseRequirementsFile } from "../domain/requirements-file.js";
import {
  DirectoryAttestationSource,
  GatewayAttestationSource,
  SourceError,
  type AttestationSource,
} from "../services/proof/attestation-source.js";
import type { TrustedKey } from "../services/proof/attestation-verifier.js";
import { readInstalled, sitePackagesOf } from "../services/proof/installed-distributions.js";
import {
  verifyFiles,
  verifyInstalled,
  verifyPins,
  type VerifyOutcome,
} from "../services/proof/verify-run.js";
import { CliError } from "./cli-error.js";
import { inert } from "../domain/control-characters.js";

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** `==X` exactly (no wildcard), the only pin that names one release. */
function exactVersion(specifier: string): string | undefined {
  const m = /^===?([^,*<>=!~]+)$/.exec(specifier);
  return m?.[1];
}

/**
 * `portcullis verify FILE... | -r requirements.txt | VENV_DIR`: checks files against the
 * gateway's signed decision attestations with its published keys; exits 1 naming each failure.
 */
export function registerVerifyCommand(program: Command, out: CommandOutput = process.stdout): void {
  program
    .command("verify")
    .argument(
      "[paths...]",
      "distribution files (.whl, .tar.gz, .zip) and/or virtual environments / site-packages directories",
    )
    .description(
      "Verify files against the gateway's signed decision attestations (DSSE, in-toto Statement v1, Ed25519). " +
        "A file passes when an attestation for its exact sha256 and name is signed by a key the gateway publishes. " +
        "-r checks every --hash of a pinned requirements file. A virtual environment (or site-packages) is checked per " +
        "installed distribution: the gateway attested a file of that name==version, the installed files still match " +
        "RECORD, and online every installed file is one of the attested wheel's files (installed environments keep no " +
        "wheel hash; offline only the first two can be checked). Online with --gateway, or " +
        "offline with --attestations DIR (<sha256>.json files) and --keys FILE. Exits 1 when anything fails, naming each " +
        "failure; 2 on bad usage (including nothing to verify: an empty requirements file).",
    )
    .option("-r, --requirement <file>", "a requirements file with name==version --hash=sha256:... pins")
    .option("--gateway <url>", "a running gateway [env PORTCULLIS_GATEWAY]")
    .option("--token <token>", "API token for --gateway [env PORTCULLIS_TOKEN]")
    .option("--attestations <dir>", "offline: a directory of <sha256>.json attestations")
    .option("--keys <file>", "offline: the keys document (GET /.well-known/portcullis/keys)")
    .option(
      "--export <dir>",
      "also write each verified attestation to DIR/<sha256>.json and the keys to DIR/keys.json (for offline use)",
    )
    .option("--json", "print the results as JSON")
    .action(async (paths: string[], flags: Record<string, string | boolean | undefined>) => {
      const source = pickSource(flags);
      if (paths.length === 0 && !flags.requirement)
        throw new CliError("nothing to verify: name files, environments, or -r requirements.txt");
      // The requirements file is read before the gateway is asked anything: bad input is exit 2.
      const requirements =
        typeof flags.requirement === "string" ? await readPins(flags.requirement) : undefined;
      let keys;
      try {
        keys = await source.keys();
      } catch (err) {
        throw new CliError((err as Error).message, 1);
      }
      const outcomes: VerifyOutcome[] = [];
      try {
        for (const path of paths) {
          const st = await stat(path).catch(() => null);
          if (!st) {
            outcomes.push({ item: path, ok: false, detail: "no such file or directory" });
          } else if (st.isDirectory()) {
            const sites = await sitePackagesOf(path);
            if (sites.length === 0) {
              outcomes.push({
                item: path,
                ok: false,
                detail: "not a virtual environment or site-packages directory",
              });
              continue;
            }
            for (const site of sites)
              outcomes.push(...(await verifyInstalled(source, keys, await readInstalled(site))));
          } else {
            outcomes.push(
              ...(await verifyFiles(source, keys, [
                { filename: basename(path), sha256: await sha256File(path) },
              ])),
            );
          }
        }
        if (requirements) {
          outcomes.push(...(await verifyPins(source, keys, requirements.pins)));
          for (const u of requirements.unsupported)
            outcomes.push({
              item: u.text,
              ok: false,
              detail: `line ${u.line}: ${u.kind} requirements are not served through the gateway`,
            });
        }
      } catch (err) {
        if (err instanceof SourceError) throw new CliError(err.message, 1);
        throw err;
      }
      if (outcomes.length === 0)
        throw new CliError(
          `nothing to verify: ${paths.length ? "no installed distributions found" : "the requirements file holds no requirements"}`,
        );
      if (typeof flags.export === "string") await exportAttestations(flags.export, outcomes, keys);
      const failed = outcomes.filter((o) => !o.ok);
      if (flags.json) {
        out.write(
          JSON.stringify(
            {
              source: source.description,
              ok: failed.length === 0,
              results: outcomes.map(({ envelope: _e, ...o }) => o),
            },
            null,
            2,
          ) + "\n",
        );
      } else {
        for (const o of outcomes) out.write(inert`${o.ok ? "ok  " : "FAIL"} ${o.item}: ${o.detail}\n`);
        out.write(
          failed.length === 0
            ? `${outcomes.length} verified against ${source.description}\n`
            : `${failed.length} of ${outcomes.length} failed verification against ${source.description}\n`,
        );
      }
      if (failed.length > 0) process.exitCode = 1;
    });
}

/** The pins of a requirements file, and the lines the gateway does not serve. */
async function readPins(file: string) {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const parsed = parseRequirementsFile(text);
  if (parsed.errors.length > 0)
    throw new CliError(`${file}:${parsed.errors[0]!.line}: ${parsed.errors[0]!.message}`);
  if (parsed.requirements.length === 0 && parsed.unsupported.length === 0)
    throw new CliError(`nothing to verify: ${file} holds no requirements`);
  return {
    pins: parsed.requirements.map((e) => ({
      project: e.req.normalizedName,
      version: exactVersion(e.req.specifier),
      hashes: e.hashes,
      line: e.line,
    })),
    unsupported: parsed.unsupported,
  };
}

function pickSource(flags: Record<string, string | boolean | undefined>): AttestationSource {
  const gateway = (flags.gateway as string | undefined) ?? process.env.PORTCULLIS_GATEWAY;
  const dir = flags.attestations as string | undefined;
  const keysFile = flags.keys as string | undefined;
  if (dir || keysFile) {
    if (!dir || !keysFile)
      throw new CliError("offline verification needs both --attestations DIR and --keys FILE");
    return new DirectoryAttestationSource(dir, keysFile);
  }
  if (!gateway)
    throw new CliError(
      "say where attestations come from: --gateway URL, or --attestations DIR with --keys FILE",
    );
  try {
    return new GatewayAttestationSource(
      gateway,
      (flags.token as string | undefined) ?? process.env.PORTCULLIS_TOKEN,
    );
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

async function exportAttestations(
  dir: string,
  outcomes: VerifyOutcome[],
  keys: Map<string, TrustedKey>,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const o of outcomes) {
    if (o.ok && o.sha256 && o.envelope)
      await writeFile(join(dir, `${o.sha256}.json`), JSON.stringify(o.envelope));
  }
  const doc = {
    keys: [...keys.values()].map((k) => ({
      keyid: k.keyid,
      algorithm: "ed25519",
      pem: k.key.export({ type: "spki", format: "pem" }).toString(),
      status: k.status,
    })),
  };
  await writeFile(join(dir, "keys.json"), JSON.stringify(doc, null, 2) + "\n");
}
