import type { Command } from "commander";
import {
  intelImportRecord,
  IntelImportError,
  OSV_PYPI_ALL_ZIP,
  type IntelKind,
} from "../services/intel-service.js";
import { cliActor } from "./cli-actor.js";
import { escapeControlCharacters, inert } from "../domain/control-characters.js";
import { CliError } from "./cli-error.js";
import { addLocalOptions, withLocalServices } from "./local-services.js";

/** `portcullis intel import|status`: the advisory, malicious-package and popular-name store. */
export function registerIntelCommand(program: Command): void {
  const intel = program
    .command("intel")
    .description("Import and inspect vulnerability, malicious-package and popularity intel.");

  addLocalOptions(
    intel
      .command("import")
      .argument(
        "<source>",
        `an OSV zip (e.g. ${OSV_PYPI_ALL_ZIP}), a directory of OSV .json/.yaml, a malicious-names .jsonl, a top-pypi-packages .json, or an http(s) URL of one`,
      )
      .description(
        "Import intel into the store; a gateway serving from the same data re-judges its catalog within seconds.",
      )
      .option("--kind <kind>", "osv, malicious-names or popular (detected by default)"),
  ).action(async (source: string, flags: Record<string, string | undefined>) => {
    const kind = flags.kind as IntelKind | undefined;
    if (kind && !["osv", "malicious-names", "popular"].includes(kind)) {
      throw new CliError("--kind must be osv, malicious-names or popular");
    }
    await withLocalServices(
      flags,
      async ({ intel: service, audit }) => {
        try {
          const report = await service.importSource(source, kind ? { kind } : {}).catch((err: Error) => {
            audit.record(intelImportRecord(source, cliActor(), { error: err }));
            throw err;
          });
          audit.record(intelImportRecord(source, cliActor(), { report }));
          if (report.unchanged) {
            process.stdout.write(inert`${source}: unchanged since the last import (HTTP 304)\n`);
            return;
          }
          process.stdout.write(
            `imported ${report.added} ${report.kind === "osv" ? "advisories" : report.kind === "popular" ? "popular projects" : "malicious names"} from ${escapeControlCharacters(source)}` +
              (report.skipped ? ` (${report.skipped} malformed records skipped)` : "") +
              ` - intel generation ${report.generation}\n`,
          );
          for (const e of report.errors.slice(0, 5))
            process.stderr.write(inert`  skipped ${e.source}: ${e.error}\n`);
        } catch (err) {
          if (err instanceof IntelImportError)
            throw new CliError(err.message, err.failure === "unavailable" ? 1 : 2);
          throw err;
        }
      },
      { create: true },
    );
  });

  addLocalOptions(intel.command("status").description("Show what intel the store holds.")).action(
    async (flags: Record<string, string | undefined>) => {
      await withLocalServices(flags, async ({ policy, intelRepo }) => {
        const s = policy.status();
        process.stdout.write(
          s.intelMissing
            ? "intel missing: no advisories imported\n"
            : `${s.intel.advisories} advisories (${s.intel.malicious} malicious-package reports), ${s.intel.maliciousNames} malicious names, ${s.intel.popular} popular projects\n`,
        );
        for (const i of await intelRepo.imports())
          process.stdout.write(inert`  ${i.at}  ${i.kind}  ${i.added}  ${i.source}\n`);
      });
    },
  );
}
