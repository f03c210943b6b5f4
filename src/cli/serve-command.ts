import type { Command } from "commander";
import { loadConfig, OPTIONS, type OptionName } from "../config/options.js";
import { createGateway } from "../main.js";
import { YoungGenerationCap } from "../adapters/runtime/young-generation-cap.js";
import { cliActor } from "./cli-actor.js";
import { CliError } from "./cli-error.js";

/** `portcullis serve`: the gateway with embedded defaults (SQLite, local disk). */
export function registerServeCommand(program: Command): void {
  const cmd = program
    .command("serve")
    .description("Start the gateway (PyPI-compatible simple API on /simple/, files on /files/).")
    .option(
      "--host <host>",
      OPTIONS.host.description + ` [env ${OPTIONS.host.env}] (default ${OPTIONS.host.default})`,
    )
    .option(
      "--port <port>",
      OPTIONS.port.description + ` [env ${OPTIONS.port.env}] (default ${OPTIONS.port.default})`,
    )
    .option(
      "--data <dir>",
      OPTIONS.data.description + ` [env ${OPTIONS.data.env}] (default ${OPTIONS.data.default})`,
    )
    .option(
      "--upstream <url|dir>",
      OPTIONS.upstream.description + ` [env ${OPTIONS.upstream.env}] (default ${OPTIONS.upstream.default})`,
    )
    .option("--config <file>", "YAML config file (see portcullis.example.yaml) [env PORTCULLIS_CONFIG]")
    .option("--database <url>", OPTIONS.database.description + ` [env ${OPTIONS.database.env}]`)
    .option("--upstream-ttl <seconds>", OPTIONS.upstreamTtl.description + ` [env ${OPTIONS.upstreamTtl.env}]`)
    .option(
      "--upstream-timeout <seconds>",
      OPTIONS.upstreamTimeout.description + ` [env ${OPTIONS.upstreamTimeout.env}]`,
    )
    .option(
      "--upstream-file-hosts <origins>",
      OPTIONS.upstreamFileHosts.description + ` [env ${OPTIONS.upstreamFileHosts.env}]`,
    )
    .option(
      "--upstream-mtime-upload-time",
      OPTIONS.upstreamMtimeUploadTime.description + ` [env ${OPTIONS.upstreamMtimeUploadTime.env}]`,
    )
    .option("--public-url <url>", OPTIONS.publicUrl.description + ` [env ${OPTIONS.publicUrl.env}]`)
    .option("--trust-proxy <addresses>", OPTIONS.trustProxy.description + ` [env ${OPTIONS.trustProxy.env}]`)
    .option("--policy <file>", OPTIONS.policy.description + ` [env ${OPTIONS.policy.env}]`)
    .option("--intel-poll <seconds>", OPTIONS.intelPoll.description + ` [env ${OPTIONS.intelPoll.env}]`)
    .option("--intel-sync <sources>", OPTIONS.intelSync.description + ` [env ${OPTIONS.intelSync.env}]`)
    .option(
      "--intel-sync-interval <seconds>",
      OPTIONS.intelSyncInterval.description + ` [env ${OPTIONS.intelSyncInterval.env}]`,
    )
    .option(
      "--auth-anonymous <read|off>",
      OPTIONS.authAnonymous.description + ` [env ${OPTIONS.authAnonymous.env}] (default read)`,
    )
    .option("--audit-sinks <urls>", OPTIONS.auditSinks.description + ` [env ${OPTIONS.auditSinks.env}]`)
    .option(
      "--audit-spool-max-mb <MiB>",
      OPTIONS.auditSpoolMaxMb.description + ` [env ${OPTIONS.auditSpoolMaxMb.env}] (default 1024)`,
    )
    .option(
      "--audit-writer-priority <idle|normal>",
      OPTIONS.auditWriterPriority.description + ` [env ${OPTIONS.auditWriterPriority.env}] (default idle)`,
    )
    .option(
      "--audit-storage <rows|batches>",
      OPTIONS.auditStorage.description + ` [env ${OPTIONS.auditStorage.env}] (default rows)`,
    )
    .option("--signing-key <file>", OPTIONS.signingKey.description + ` [env ${OPTIONS.signingKey.env}]`)
    .option(
      "--sigstore-trusted-root <file>",
      OPTIONS.sigstoreTrustedRoot.description + ` [env ${OPTIONS.sigstoreTrustedRoot.env}]`,
    )
    .option("--log-level <level>", OPTIONS.logLevel.description + ` [env ${OPTIONS.logLevel.env}]`)
    .option(
      "--shutdown-grace <seconds>",
      OPTIONS.shutdownGrace.description + ` [env ${OPTIONS.shutdownGrace.env}]`,
    )
    .action(async (flags: Record<string, string | undefined>) => {
      // Before the gateway allocates, or V8 lets its young generation grow to 2 × 16 MiB of RSS.
      new YoungGenerationCap().start();
      const picked: Partial<Record<OptionName, unknown>> = {};
      for (const name of Object.keys(OPTIONS) as OptionName[]) {
        if (flags[name] !== undefined) picked[name] = flags[name];
      }
      const config = loadConfig({ flags: picked, env: process.env, configFile: flags.config });
      const gateway = await createGateway(config).catch((err: Error) => {
        throw new CliError(`cannot start: ${err.message}`, 1);
      });
      const url = await gateway.listen().catch(async (err: Error) => {
        await gateway.close();
        throw new CliError(`cannot listen on ${config.host}:${config.port}: ${err.message}`, 1);
      });
      // Serve first, then tell: a slow or dead upstream must not delay start-up.
      const probe = await gateway.probeUpstream();
      if (!probe.ok) {
        gateway.log.warn(
          { upstream: gateway.upstream.description, detail: probe.detail },
          "upstream unreachable: only cached projects can be served; point --upstream at a mirror or a directory of wheels",
        );
      }
      const base = (config.publicUrl || url).replace(/\/+$/, "");
      process.stderr.write(
        nextSteps(
          base,
          gateway.upstream.description,
          probe,
          gateway.db.description,
          config.authAnonymous === "read",
        ),
      );
      // First start with embedded defaults: an admin to manage the rest, its token shown this once.
      // (On PostgreSQL, shared by several instances, `portcullis token create` makes the first admin.)
      if (gateway.db.dialect === "sqlite") {
        const admin = await gateway.services.identity.bootstrapAdmin(cliActor());
        if (admin) process.stderr.write(firstAdminNotice(base, admin.token));
      }
      if (config.trustProxy.length > 0)
        process.stderr.write(
          `Clients are taken from X-Forwarded-For behind the trusted proxies: ${config.trustProxy.join(", ")}.\n\n`,
        );
      if (config.authAnonymous === "read")
        process.stderr.write(
          "Anonymous read is ON: pip works without a token and installs are attributed to the client address only.\n" +
            "Production: set PORTCULLIS_AUTH_ANONYMOUS=off and give every user and CI job its own token.\n\n",
        );
      let closing = false;
      const stop = (signal: string) => {
        if (closing) {
          process.stderr.write(`${signal} again: exiting now\n`);
          process.exit(130);
        }
        closing = true;
        gateway.log.info({ signal }, "shutting down: finishing in-flight downloads");
        gateway.close().then(
          () => process.exit(0),
          (err: Error) => {
            gateway.log.error({ err }, "error during shutdown");
            process.exit(1);
          },
        );
      };
      process.on("SIGINT", () => stop("SIGINT"));
      process.on("SIGTERM", () => stop("SIGTERM"));
    });
  cmd.addHelpText(
    "after",
    "\nEvery option can also be set as PORTCULLIS_<NAME> (e.g. PORTCULLIS_UPSTREAM) or in the config file.\n" +
      "Precedence: flag > environment > config file > default.\n",
  );
}

export function nextSteps(
  base: string,
  upstream: string,
  probe: { ok: boolean; detail: string },
  database: string,
  anonymousRead: boolean,
): string {
  // With anonymous access off, an index URL without a token only earns a 401.
  const index = new URL(`${base}/simple/`);
  if (!anonymousRead) {
    index.username = "__token__";
    index.password = "TOKEN";
  }
  const lines = [
    "",
    `Portcullis is serving at ${base}/  (database ${database})`,
    "",
    anonymousRead
      ? "Install through it:"
      : "Install through it with a token (anonymous access is off; portcullis token create makes one):",
    `  pip install --index-url ${index.toString().replace("TOKEN", "$TOKEN")} flask`,
    "Make every pip and uv on this machine use it:",
    `  portcullis client-config --gateway ${base}${anonymousRead ? "" : " --token $TOKEN"} --write`,
    "",
  ];
  if (probe.ok) {
    lines.push(`Upstream: ${upstream} (reachable)`, "");
  } else {
    lines.push(
      `WARNING: the upstream ${upstream} cannot be reached (${probe.detail}).`,
      "Only projects already cached can be served. Point the gateway at a mirror or a local",
      "directory of wheels instead, for example:",
      "  portcullis serve --upstream https://mirror.example.org/simple/",
      "  portcullis serve --upstream ./wheels",
      "",
    );
  }
  return lines.join("\n") + "\n";
}

function firstAdminNotice(base: string, token: string): string {
  const withToken = new URL(`${base}/simple/`);
  withToken.username = "__token__";
  withToken.password = token;
  return (
    [
      "First start: created the user `admin` (role admin). Its API token, shown this once and stored only as a hash:",
      "",
      `  ${token}`,
      "",
      "Keep it in a password manager. Use it for the API (Authorization: Bearer TOKEN) and to create tokens:",
      `  curl -H "Authorization: Bearer $TOKEN" ${base}/api/v1/me`,
      `  pip install --index-url ${withToken.toString().replace(token, "$TOKEN")} flask`,
      "",
    ].join("\n") + "\n"
  );
}
