import { join, resolve } from "node:path";
import type { Command } from "commander";
import type { CommandOutput } from "./proof-commands.js";
import { OPTIONS } from "../config/options.js";
import { KeyRing } from "../crypto/key-ring.js";
import { cliActor } from "./cli-actor.js";
import { CliError } from "./cli-error.js";
import {
  addLocalOptions,
  localConfig,
  requirePortcullisDatabase,
  withLocalServices,
} from "./local-services.js";

/**
 * The key ring of an existing data directory (list only reads: a mistyped --data is refused, and
 * no key is generated: the gateway makes its own at its first start).
 */
async function openRing(flags: Record<string, string | undefined>): Promise<KeyRing> {
  const config = localConfig({ data: flags.data, config: flags.config });
  await requirePortcullisDatabase(config);
  const dir = join(resolve(config.data), "keys");
  let ring: KeyRing;
  try {
    ring = KeyRing.open(dir, config.signingKey, { create: false });
  } catch (err) {
    // A key file that is missing or not a key is bad input (2): a script must not read it as
    // "NOT intact" (1).
    throw new CliError(
      `cannot open the key ring in ${config.data}${config.signingKey ? ` or the key ${config.signingKey}` : ""}: ${(err as Error).message}`,
      2,
    );
  }
  if (ring.publicKeys().length === 0) throw new CliError(noKeyMessage(dir), 2);
  return ring;
}

/** Where the keys are when a data directory holds none. */
function noKeyMessage(dir: string): string {
  return `no signing key in ${dir}: the gateway generates its key there at its first start (portcullis serve); a key shared by several instances is the file PORTCULLIS_SIGNING_KEY (or --signing-key) names`;
}

/** `portcullis keys list|rotate`: the gateway's attestation signing keys. */
export function registerKeysCommand(program: Command, out: CommandOutput = process.stdout): void {
  const keys = program
    .command("keys")
    .description(
      "The gateway's Ed25519 signing keys (decision attestations). keyid = hex sha256 of the key's SPKI DER; published at /.well-known/portcullis/keys.",
    );
  const withData = (cmd: Command) =>
    cmd
      .option(
        "--data <dir>",
        `${OPTIONS.data.description} [env ${OPTIONS.data.env}] (default ${OPTIONS.data.default})`,
      )
      .option("--config <file>", "YAML config file [env PORTCULLIS_CONFIG]");
  withData(
    keys
      .command("list")
      .description("List the active key and the retired keys kept for verifying older attestations.")
      .option(
        "--json",
        "print the keys document as JSON (what /.well-known/portcullis/keys serves; usable with verify --keys)",
      ),
  ).action(async (flags: Record<string, string | undefined>) => {
    const ring = await openRing(flags);
    const published = ring.publicKeys();
    if (flags.json) {
      out.write(JSON.stringify({ keys: published }, null, 2) + "\n");
      return;
    }
    for (const k of published) out.write(`${k.keyid}  ${k.algorithm}  ${k.status}\n`);
  });
  addLocalOptions(
    keys
      .command("rotate")
      .description(
        "Generate a new active key; the old public key stays published as retired, so earlier attestations (and audit checkpoints) still verify. Recorded in the audit trail. A running gateway picks the new key up when restarted.",
      ),
  ).action(async (flags: Record<string, string | undefined>) => {
    await withLocalServices(
      flags,
      async (s) => {
        // Nothing to rotate: the CLI never makes the first key (see createSigningKey).
        if (!s.keys.canSign) throw new CliError(noKeyMessage(join(resolve(s.config.data), "keys")), 2);
        const before = s.keys.keyid;
        let next: string;
        try {
          next = s.keys.rotate();
        } catch (err) {
          s.audit.record({
            action: "keys.rotate",
            actor: cliActor(),
            outcome: "error",
            detail: { reason: (err as Error).message },
          });
          throw new CliError((err as Error).message, 1);
        }
        s.audit.record({
          action: "keys.rotate",
          actor: cliActor(),
          outcome: "ok",
          detail: { retired: before, active: next },
        });
        await s.audit.flush();
        out.write(`retired ${before}\nactive  ${next}\n`);
      },
      { create: true },
    );
  });
}
