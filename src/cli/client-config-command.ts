import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { Command } from "commander";
import { CliError } from "./cli-error.js";

export interface ClientConfigInput {
  gateway: string;
  token?: string;
}

/** The index URL pip and uv use, with the token as HTTP basic auth (`__token__:TOKEN@`). */
export function indexUrl(input: ClientConfigInput): string {
  let u: URL;
  try {
    u = new URL(input.gateway);
  } catch {
    throw new CliError(
      `--gateway must be a URL such as http://127.0.0.1:8080, got ${JSON.stringify(input.gateway)}`,
    );
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new CliError("--gateway must be an http(s) URL");
  if (input.token) {
    u.username = "__token__";
    u.password = input.token;
  }
  u.pathname = u.pathname.replace(/\/+$/, "") + "/simple/";
  return u.toString();
}

/** The client configuration files and commands for one gateway. */
export function clientConfigs(input: ClientConfigInput): Record<"pip" | "uv" | "env" | "poetry", string> {
  const url = indexUrl(input);
  const host = new URL(input.gateway).hostname;
  const plainHttp = new URL(input.gateway).protocol === "http:";
  return {
    pip: ["[global]", `index-url = ${url}`, ...(plainHttp ? [`trusted-host = ${host}`] : []), ""].join("\n"),
    uv: ["[[index]]", 'name = "portcullis"', `url = "${url}"`, "default = true", ""].join("\n"),
    env: [`export PIP_INDEX_URL='${url}'`, `export UV_DEFAULT_INDEX='${url}'`, ""].join("\n"),
    poetry: [
      `poetry source add --priority=primary portcullis ${indexUrl({ gateway: input.gateway })}`,
      ...(input.token ? [`poetry config http-basic.portcullis __token__ '${input.token}'`] : []),
      "",
    ].join("\n"),
  };
}

/** Where `--write` puts pip's and uv's user configuration (XDG on Linux and macOS). */
export function userConfigPaths(home = homedir()): { pip: string; uv: string } {
  const xdg = process.env.XDG_CONFIG_HOME || join(home, ".config");
  return { pip: join(xdg, "pip", "pip.conf"), uv: join(xdg, "uv", "uv.toml") };
}

export function registerClientConfigCommand(program: Command): void {
  program
    .command("client-config")
    .description(
      "Print (or write) pip, uv, poetry and environment settings that resolve through this gateway.",
    )
    .option("--gateway <url>", "the gateway's URL [env PORTCULLIS_GATEWAY]", process.env.PORTCULLIS_GATEWAY)
    .option("--token <token>", "an API token to embed [env PORTCULLIS_TOKEN]", process.env.PORTCULLIS_TOKEN)
    .option("--tool <tool>", "only one of: pip, uv, poetry, env")
    .option("--write", "write pip.conf and uv.toml to the user's config directory (backs up existing files)")
    .action((opts: { gateway?: string; token?: string; tool?: string; write?: boolean }) => {
      if (!opts.gateway) throw new CliError("--gateway URL is required (or set PORTCULLIS_GATEWAY)");
      const configs = clientConfigs({ gateway: opts.gateway, ...(opts.token ? { token: opts.token } : {}) });
      if (opts.tool && !(opts.tool in configs))
        throw new CliError(`--tool must be pip, uv, poetry or env, not ${opts.tool}`);
      if (opts.write) {
        const paths = userConfigPaths();
        for (const tool of ["pip", "uv"] as const) {
          if (opts.tool && opts.tool !== tool) continue;
          writeWithBackup(paths[tool], configs[tool]);
          process.stdout.write(`wrote ${paths[tool]}\n`);
        }
        return;
      }
      const titles = {
        pip: "pip.conf (~/.config/pip/pip.conf)",
        uv: "uv.toml (~/.config/uv/uv.toml)",
        env: "environment",
        poetry: "poetry",
      };
      for (const tool of Object.keys(configs) as (keyof typeof configs)[]) {
        if (opts.tool && opts.tool !== tool) continue;
        if (!opts.tool) process.stdout.write(`# ${titles[tool]}\n`);
        process.stdout.write(configs[tool] + (opts.tool ? "" : "\n"));
      }
    });
}

function writeWithBackup(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  if (existsSync(path)) {
    if (readFileSync(path, "utf8") === content) return;
    renameSync(path, `${path}.bak-${Date.now()}`);
  }
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode: 0o600 });
  renameSync(tmp, path);
}
