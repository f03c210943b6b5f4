import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative, resolve } from "node:path";
import type { Command } from "commander";
import { destination, pino } from "pino";
import { ConfigError, loadConfig, OPTIONS } from "../config/options.js";
import { DEMO_ADVISORY_ID, importDemoIntel, writeDemoUpstream } from "../demo/demo-upstream.js";
import { buildServices, createGateway } from "../main.js";
import { CliError } from "./cli-error.js";

/** The file that marks a data directory as the demo's own (so a second run may reuse it). */
export const DEMO_MARKER = ".portcullis-demo";

/**
 * The demo imports its own advisories and popular names over whatever intel the data directory
 * holds: it runs only in a new or empty directory, or one an earlier demo made (its marker, or
 * the `demo-upstream` directory demos wrote before the marker existed).
 *
 * @throws {CliError} (exit 2) for any other directory
 */
export function refuseNonDemoDirectory(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new CliError(`--data ${dir}: ${(err as Error).message}`);
  }
  if (entries.length === 0 || entries.includes(DEMO_MARKER) || entries.includes("demo-upstream")) return;
  throw new CliError(
    `--data ${dir} is not empty and not a demo directory: the demo would replace its intel (advisories, popular names) with the demo's; give a new or empty directory, or leave --data out`,
  );
}

/**
 * `portcullis demo`: a one-minute tour, fully offline. Writes a small upstream of wheels (one
 * per thing the default policy does), imports a sample advisory and popular-names list, starts a
 * gateway on it and prints the pip commands to try. Serves until Ctrl-C.
 *
 * The demo reads no `PORTCULLIS_*` variables and no config file: a `PORTCULLIS_DATABASE_URL` or
 * `PORTCULLIS_POLICY` meant for a real site must not be touched, or change what the tour shows.
 */
export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description(
      "A one-minute offline tour: a gateway over a demo upstream (a vulnerable version, a typo-squat, a .pth payload, a fresh release under cooldown) and the pip commands to try.",
    )
    .option("--port <port>", "port to listen on (0 picks a free one)", "8080")
    .option(
      "--data <dir>",
      "data directory: a new or empty one, or an earlier demo's (default: a fresh temporary directory, removed on exit)",
    )
    .option("--keep", "keep the temporary data directory on exit")
    .option("--log-level <level>", `${OPTIONS.logLevel.description} Logs go to stderr.`, "warn")
    .action(async (flags: { port: string; data?: string; keep?: boolean; logLevel: string }) => {
      const temporary = flags.data === undefined;
      if (flags.data !== undefined) refuseNonDemoDirectory(resolve(flags.data));
      const dataDir = resolve(flags.data ?? mkdtempSync(join(tmpdir(), "portcullis-demo-")));
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(join(dataDir, DEMO_MARKER), "made by portcullis demo: its intel is the demo's\n");
      const cleanUp = () => {
        if (temporary && !flags.keep) rmSync(dataDir, { recursive: true, force: true });
      };

      let gatewayClose: (() => Promise<void>) | undefined;
      try {
        const upstreamDir = join(dataDir, "demo-upstream");
        const config = loadConfig({
          env: {},
          flags: {
            host: "127.0.0.1",
            port: flags.port,
            data: dataDir,
            upstream: upstreamDir,
            // The demo wheels carry their ages in their mtimes (acme-reports 1.1: one day, for the cooldown).
            upstreamMtimeUploadTime: true,
            // Offline by design: no scheduled intel sync.
            intelSync: "",
            logLevel: flags.logLevel,
          },
        });
        const demo = await writeDemoUpstream(upstreamDir);
        const logger = pino({ level: config.logLevel, base: { service: "portcullis" } }, destination(2));

        // What an operator does before serving: import the intel, then start the gateway on it.
        const services = await buildServices(config, { logger });
        try {
          await importDemoIntel(services.intel, demo);
        } finally {
          await services.close();
        }

        const gateway = await createGateway(config, { logger });
        gatewayClose = () => gateway.close();
        const url = await gateway.listen().catch((err: Error) => {
          throw new CliError(
            `cannot listen on 127.0.0.1:${config.port}: ${err.message} (pick another with --port)`,
            1,
          );
        });
        process.stdout.write(
          demoTour({ base: url, dataDir, upstream: demo.dir, temporary, keep: !!flags.keep }),
        );
      } catch (err) {
        await gatewayClose?.().catch(() => undefined);
        cleanUp();
        if (err instanceof CliError || err instanceof ConfigError) throw err;
        throw new CliError(`demo failed: ${(err as Error).message}`, 1);
      }

      let closing = false;
      const stop = (signal: string) => {
        if (closing) {
          process.stderr.write(`${signal} again: exiting now\n`);
          process.exit(130);
        }
        closing = true;
        process.stderr.write("\nstopping the demo gateway\n");
        gatewayClose!().then(
          () => {
            cleanUp();
            process.exit(0);
          },
          (err: Error) => {
            process.stderr.write(`error during shutdown: ${err.message}\n`);
            cleanUp();
            process.exit(1);
          },
        );
      };
      process.on("SIGINT", () => stop("SIGINT"));
      process.on("SIGTERM", () => stop("SIGTERM"));
    });
}

/** How this CLI was started, for the printed commands: `bin/portcullis` in a checkout, else `portcullis`. */
function selfCommand(): string {
  const script = process.argv[1];
  if (!script) return "portcullis";
  const rel = relative(process.cwd(), script);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) && rel.endsWith("portcullis") ? rel : "portcullis";
}

/** The tour printed once the gateway listens. */
export function demoTour(opts: {
  base: string;
  dataDir: string;
  upstream: string;
  temporary: boolean;
  keep: boolean;
}): string {
  const { base } = opts;
  const pip = `pip install --isolated --index-url ${base}/simple/`;
  const self = selfCommand();
  const where = opts.temporary
    ? opts.keep
      ? `${opts.dataDir} (kept on exit)`
      : `${opts.dataDir} (temporary, removed on exit; --keep keeps it)`
    : opts.dataDir;
  return [
    "",
    `Portcullis demo gateway: ${base}/`,
    `  data:     ${where}`,
    `  upstream: ${opts.upstream} (local wheels, no network needed)`,
    `  intel:    sample advisory ${DEMO_ADVISORY_ID} (acme-core < 1.1, HIGH), a sample of popular names`,
    `  policy:   the default (policy.default.yaml)`,
    "",
    "Try these in a throwaway virtualenv (python3 -m venv /tmp/demo-venv && . /tmp/demo-venv/bin/activate):",
    "",
    `  ${pip} acme-reports`,
    `    installs acme-reports 1.0 with acme-core 1.1: acme-reports 1.1 was uploaded yesterday and waits`,
    `    out the 7-day cooldown; acme-core 1.0 is blocked by ${DEMO_ADVISORY_ID}. pip sees both as yanked.`,
    "",
    `  ${pip} acme-core==1.0`,
    `    refused (HTTP 403): blocked by ${DEMO_ADVISORY_ID}; use 1.1 instead`,
    "",
    `  ${pip} reqeusts`,
    "    refused: the whole project is quarantined as a typo-squat of requests, so pip finds no",
    '    version ("No matching distribution found")',
    "",
    `  ${pip} acme-telemetry`,
    "    listed, but refused (HTTP 403) on its bytes when pip fetches it: acme_telemetry_init.pth:1",
    "    runs base64-decoded code at every interpreter start. Once judged, it leaves the listing.",
    "",
    `  ${self} explain acme-core==1.0 --gateway ${base}`,
    "    why a version is refused: each check, its evidence, and what to use instead",
    "    (try reqeusts==1.0 and acme-telemetry==0.1 too)",
    "",
    `Landing page: ${base}/   Decisions as JSON: ${base}/api/v1/decisions?project=acme-core&version=1.0`,
    "",
    "Press Ctrl-C to stop.",
    "",
  ].join("\n");
}
