import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Command } from "commander";
import type { CommandOutput } from "./proof-commands.js";
import { loadConfig, OPTIONS } from "../config/options.js";
import { loadSigstoreTrust, verifyProvenance } from "../services/proof/pep740-verifier.js";
import { refreshedRootPath } from "../services/proof/proof-services.js";
import { trustedRootPath } from "../services/proof/trusted-root.js";
import { cliActor } from "./cli-actor.js";
import { CliError } from "./cli-error.js";
import { addLocalOptions, withLocalServices } from "./local-services.js";
import { inert } from "../domain/control-characters.js";

/**
 * Reads a local file or an https URL. Anything else with a scheme (`http://`, `ftp://`…) is refused:
 * a trusted root, or what is checked against it, fetched over plain HTTP is whatever a network
 * attacker wants it to be.
 */
async function readSource(source: string, what: string): Promise<string> {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(source)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== "https") {
    throw new CliError(
      `refusing ${JSON.stringify(source)} for ${what}: only https:// URLs or local files are accepted (${scheme}:// is not authenticated)`,
      2,
    );
  }
  if (scheme === "https") {
    let res: Response;
    try {
      res = await fetch(source, { signal: AbortSignal.timeout(60_000) });
    } catch (err) {
      throw new CliError(`cannot fetch ${source}: ${(err as Error).message}`, 1);
    }
    if (!res.ok) throw new CliError(`${source} answered HTTP ${res.status}`, 1);
    return res.text();
  }
  try {
    return await readFile(source, "utf8");
  } catch (err) {
    throw new CliError(`cannot read ${source}: ${(err as Error).message}`, 2);
  }
}

/** `portcullis provenance refresh-root|verify`: the Sigstore trusted root and PEP 740 provenance. */
export function registerProvenanceCommand(program: Command, out: CommandOutput = process.stdout): void {
  const cmd = program
    .command("provenance")
    .description("Upstream PEP 740 provenance: the Sigstore trusted root it is verified against, offline.");
  addLocalOptions(
    cmd
      .command("refresh-root")
      .argument(
        "<source>",
        "a trusted_root.json file or an https:// URL (e.g. from the Sigstore TUF repository); http:// and other schemes are refused",
      )
      .description(
        "Install a new Sigstore trusted root into the data directory (checked first: it must load as a trusted root). Used instead of the shipped one unless sigstore.trusted-root is set. Recorded in the audit trail.",
      ),
  ).action(async (source: string, flags: Record<string, string | undefined>) => {
    const text = await readSource(source, "the trusted root");
    try {
      await loadSigstoreTrust(JSON.parse(text));
    } catch (err) {
      throw new CliError(`${source} is not a usable Sigstore trusted root: ${(err as Error).message}`, 2);
    }
    await withLocalServices(
      flags,
      async (s) => {
        const target = refreshedRootPath(s.config.data);
        await mkdir(dirname(target), { recursive: true });
        await writeFile(`${target}.tmp`, text);
        await rename(`${target}.tmp`, target);
        s.provenance.reloadTrust();
        s.audit.record({
          action: "provenance.refresh-root",
          actor: cliActor(),
          outcome: "ok",
          detail: { source, sha256: createHash("sha256").update(text).digest("hex") },
        });
        await s.audit.flush();
        out.write(`trusted root installed at ${target}\n`);
        if (s.config.sigstoreTrustedRoot)
          out.write(
            `note: sigstore.trusted-root (${s.config.sigstoreTrustedRoot}) is set and takes precedence\n`,
          );
      },
      { create: true },
    );
  });
  cmd
    .command("verify")
    .argument(
      "<provenance>",
      "a PEP 740 provenance object (JSON, as PyPI's Integrity API serves it): a file or an https:// URL",
    )
    .requiredOption("--file <name>", "the distribution's file name")
    .requiredOption("--sha256 <hex>", "the distribution's sha256")
    .option(
      "--trusted-root <file>",
      "a Sigstore trusted root, a file or an https:// URL (default: the one in force)",
    )
    .option("--data <dir>", `${OPTIONS.data.description} [env ${OPTIONS.data.env}]`)
    .description(
      "Verify a provenance object offline for one distribution and print its publisher; exits 1 when it fails.",
    )
    .action(async (file: string, flags: Record<string, string | undefined>) => {
      if (!/^[0-9a-fA-F]{64}$/.test(flags.sha256 ?? "")) throw new CliError("--sha256 must be 64 hex digits");
      const config = loadConfig({ flags: flags.data ? { data: flags.data } : {}, env: process.env });
      const rootFile = flags.trustedRoot ?? trustedRootPath(config.sigstoreTrustedRoot, config.data);
      let verdict;
      try {
        const trust = await loadSigstoreTrust(JSON.parse(await readSource(rootFile, "the trusted root")));
        verdict = verifyProvenance(trust, JSON.parse(await readSource(file, "the provenance")), {
          filename: flags.file!,
          sha256: flags.sha256!.toLowerCase(),
        });
      } catch (err) {
        if (err instanceof CliError) throw err;
        throw new CliError((err as Error).message, 1);
      }
      if (!verdict.ok) throw new CliError(`FAIL ${flags.file}: ${verdict.reason}`, 1);
      out.write(
        inert`ok ${flags.file}: published by ${verdict.identity} (${verdict.attestations} attestation(s))\n`,
      );
    });
}
