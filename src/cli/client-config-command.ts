import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
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
  if (u.username || u.password)
    throw new CliError("--gateway must not carry credentials: give the token with --token");
  if (input.token) {
    u.username = "__token__";
    u.password = input.token;
  }
  // The gateway's URL or its index's (`…/simple/`) alike: never `…/simple/simple/`.
  const base = u.pathname.replace(/\/+$/, "");
  u.pathname = /\/simple$/i.test(base) ? `${base}/` : `${base}/simple/`;
  u.search = "";
  u.hash = "";
  return u.toString();
}

/** A POSIX shell single-quoted word: `'` closes, escapes and reopens the quote. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The client configuration files and commands for one gateway. */
export function clientConfigs(input: ClientConfigInput): Record<"pip" | "uv" | "env" | "poetry", string> {
  const url = indexUrl(input);
  const host = new URL(url).hostname;
  const plainHttp = new URL(url).protocol === "http:";
  return {
    // pip.conf is INI: values are unquoted to the end of the line, and a serialised URL holds no
    // line break (WHATWG URL percent-encodes or strips them).
    pip: ["[global]", `index-url = ${url}`, ...(plainHttp ? [`trusted-host = ${host}`] : []), ""].join("\n"),
    uv: uvIndexBlock(url),
    env: [`export PIP_INDEX_URL=${shellQuote(url)}`, `export UV_DEFAULT_INDEX=${shellQuote(url)}`, ""].join(
      "\n",
    ),
    poetry: [
      `poetry source add --priority=primary portcullis ${shellQuote(indexUrl({ gateway: input.gateway }))}`,
      ...(input.token ? [`poetry config http-basic.portcullis __token__ ${shellQuote(input.token)}`] : []),
      "",
    ].join("\n"),
  };
}

/** uv's `[[index]]` entry for the gateway (TOML basic strings: JSON's escapes are TOML's). */
function uvIndexBlock(url: string): string {
  return [
    "[[index]]",
    `name = ${JSON.stringify(UV_INDEX_NAME)}`,
    `url = ${JSON.stringify(url)}`,
    "default = true",
    "",
  ].join("\n");
}

/** The name of the uv index entry `--write` owns: the one it replaces on the next write. */
const UV_INDEX_NAME = "portcullis";

/** What a merge changed, for the user, and what the file still holds that bypasses the gateway. */
export interface MergedConfig {
  text: string;
  notes: string[];
}

/** A header line of an INI or TOML file: `[section]` or `[[array]]`. */
const HEADER = /^\s*\[/;

/**
 * Sets `index-url` (and, for plain HTTP, the gateway's host in `trusted-host`) in pip.conf's
 * `[global]`, keeping every other line, section and comment as it was. pip reads keys with `_` or
 * `-` alike and continuation lines start with whitespace (configparser).
 */
export function mergePipConf(existing: string, url: string): MergedConfig {
  const u = new URL(url);
  const host = u.protocol === "http:" ? u.hostname : undefined;
  const lines = existing.length ? existing.replace(/\r\n/g, "\n").replace(/\n$/, "").split("\n") : [];
  const notes: string[] = [];
  const keyOf = (line: string) =>
    /^([A-Za-z0-9_-]+)\s*[=:]/.exec(line)?.[1]?.toLowerCase().replace(/_/g, "-");
  let section: string | undefined;
  let globalEnd = -1;
  let globalStart = -1;
  const out: string[] = [];
  let setIndex = false;
  let setHost = host === undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const header = /^\s*\[([^\]]+)\]/.exec(line);
    if (header) {
      if (section === "global") globalEnd = out.length;
      section = header[1]!.trim();
      if (section === "global") globalStart = out.length;
      out.push(line);
      continue;
    }
    const key = /^\s/.test(line) ? undefined : keyOf(line);
    if (key && section !== undefined) {
      // The value's continuation lines belong to it.
      let j = i + 1;
      while (j < lines.length && /^\s+\S/.test(lines[j]!) && !HEADER.test(lines[j]!)) j++;
      const block = lines.slice(i, j);
      if (section === "global" && key === "index-url") {
        out.push(`index-url = ${url}`);
        setIndex = true;
        i = j - 1;
        continue;
      }
      if (section === "global" && key === "trusted-host" && host !== undefined) {
        const hosts = block
          .join(" ")
          .replace(/^[^=:]*[=:]/, "")
          .trim()
          .split(/\s+/)
          .filter(Boolean);
        out.push(...(hosts.includes(host) ? block : [`${block[0]} ${host}`, ...block.slice(1)]));
        setHost = true;
        i = j - 1;
        continue;
      }
      if (key === "extra-index-url" || key === "find-links")
        notes.push(`[${section}] ${key} is kept: pip also looks there, past the gateway`);
      if (key === "index-url" && section !== "global")
        notes.push(`[${section}] index-url is kept and wins over [global] for pip ${section}`);
      out.push(...block);
      i = j - 1;
      continue;
    }
    out.push(line);
  }
  if (section === "global") globalEnd = out.length;
  const added = [...(setIndex ? [] : [`index-url = ${url}`]), ...(setHost ? [] : [`trusted-host = ${host}`])];
  if (globalStart === -1) {
    if (out.length && out.at(-1)!.trim() !== "") out.push("");
    out.push("[global]", ...added);
  } else {
    // After [global]'s last setting, before its trailing blank lines and comments.
    let at = globalEnd;
    while (at > globalStart + 1 && (out[at - 1]!.trim() === "" || /^\s*[#;]/.test(out[at - 1]!))) at--;
    out.splice(at, 0, ...added);
  }
  return { text: out.join("\n") + "\n", notes };
}

/**
 * Replaces uv.toml's `[[index]]` entry named "portcullis" (or adds it), keeping everything else as
 * written (comments too). The file must be valid TOML before and after.
 *
 * @throws {CliError} when the existing file is not valid TOML
 */
export function mergeUvToml(existing: string, url: string, parse: (text: string) => unknown): MergedConfig {
  const notes: string[] = [];
  let doc: { index?: unknown; "index-url"?: unknown; "extra-index-url"?: unknown; pip?: unknown };
  try {
    doc = parse(existing) as typeof doc;
  } catch (err) {
    throw new CliError(
      `is not valid TOML (${(err as Error).message.split("\n")[0]}): fix or move it first`,
      1,
    );
  }
  const lines = existing.length ? existing.replace(/\r\n/g, "\n").replace(/\n$/, "").split("\n") : [];
  // Split into the top (before any table) and one block per table header.
  const blocks: string[][] = [[]];
  for (const line of lines) {
    if (HEADER.test(line)) blocks.push([line]);
    else blocks.at(-1)!.push(line);
  }
  const kept = blocks.filter((block) => {
    if (!/^\s*\[\[\s*index\s*\]\]/.test(block[0] ?? "")) return true;
    try {
      const entry = (parse(block.join("\n")) as { index?: { name?: unknown }[] }).index?.[0];
      return entry?.name !== UV_INDEX_NAME;
    } catch {
      return true;
    }
  });
  const others = Array.isArray(doc.index) ? (doc.index as { name?: unknown; default?: unknown }[]) : [];
  for (const e of others)
    if (e.name !== UV_INDEX_NAME && e.default === true)
      notes.push(`[[index]] ${String(e.name)} is also marked default = true: uv uses one default index`);
  if (doc["index-url"] !== undefined || doc["extra-index-url"] !== undefined)
    notes.push("top-level index-url/extra-index-url are kept: uv also looks there, past the gateway");
  const body = kept
    .map((b) => b.join("\n"))
    .join("\n")
    .replace(/\n+$/, "");
  const text = (body.length ? `${body}\n\n` : "") + uvIndexBlock(url);
  parse(text);
  return { text, notes };
}

/** Where `--write` puts pip's and uv's user configuration (XDG on Linux and macOS). */
export function userConfigPaths(home = homedir()): { pip: string; uv: string } {
  const xdg = process.env.XDG_CONFIG_HOME || join(home, ".config");
  return { pip: join(xdg, "pip", "pip.conf"), uv: join(xdg, "uv", "uv.toml") };
}

/** A URL for messages: the token, if any, not printed. */
function redacted(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = "***";
  return u.toString();
}

export function registerClientConfigCommand(program: Command): void {
  program
    .command("client-config")
    .description(
      "Print (or write) pip, uv, poetry and environment settings that resolve through this gateway.",
    )
    .option(
      "--gateway <url>",
      "the gateway's URL, or its index URL (…/simple/) [env PORTCULLIS_GATEWAY]",
      process.env.PORTCULLIS_GATEWAY,
    )
    .option("--token <token>", "an API token to embed [env PORTCULLIS_TOKEN]", process.env.PORTCULLIS_TOKEN)
    .option("--tool <tool>", "only one of: pip, uv, poetry, env")
    .option(
      "--write",
      "merge into pip.conf and uv.toml in the user's config directory: sets [global] index-url (and trusted-host for http) and the uv [[index]] named portcullis, keeps every other setting; the old file is backed up next to it. Not for --tool env or poetry",
    )
    .action(async (opts: { gateway?: string; token?: string; tool?: string; write?: boolean }) => {
      if (!opts.gateway) throw new CliError("--gateway URL is required (or set PORTCULLIS_GATEWAY)");
      const configs = clientConfigs({ gateway: opts.gateway, ...(opts.token ? { token: opts.token } : {}) });
      if (opts.tool && !(opts.tool in configs))
        throw new CliError(`--tool must be pip, uv, poetry or env, not ${opts.tool}`);
      if (opts.write) {
        if (opts.tool === "env" || opts.tool === "poetry")
          throw new CliError(
            `--write writes pip.conf and uv.toml only; for --tool ${opts.tool}, drop --write and run or source what is printed`,
          );
        const url = indexUrl({ gateway: opts.gateway, ...(opts.token ? { token: opts.token } : {}) });
        const { parse } = await import("smol-toml");
        const paths = userConfigPaths();
        for (const tool of ["pip", "uv"] as const) {
          if (opts.tool && opts.tool !== tool) continue;
          const path = paths[tool];
          const existing = existsSync(path) ? readFileSync(path, "utf8") : "";
          let merged: MergedConfig;
          try {
            merged = tool === "pip" ? mergePipConf(existing, url) : mergeUvToml(existing, url, parse);
          } catch (err) {
            if (err instanceof CliError) throw new CliError(`${path} ${err.message}`, err.exitCode);
            throw err;
          }
          const backup = writeWithBackup(path, merged.text);
          const what =
            tool === "pip"
              ? `[global] index-url = ${redacted(url)}`
              : `[[index]] name = "${UV_INDEX_NAME}", url = "${redacted(url)}", default = true`;
          process.stdout.write(
            backup === null
              ? `unchanged ${path} (already ${what})\n`
              : `wrote ${path}: ${what}${backup ? ` (previous file backed up to ${backup})` : ""}\n`,
          );
          for (const note of merged.notes) process.stderr.write(`note: ${path}: ${note}\n`);
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

/**
 * Writes `content` to `path` atomically, first moving an existing different file aside. Returns the
 * backup's path, `undefined` when there was no file, or `null` when the file already held `content`.
 */
function writeWithBackup(path: string, content: string): string | undefined | null {
  mkdirSync(dirname(path), { recursive: true });
  let backup: string | undefined;
  if (existsSync(path)) {
    if (readFileSync(path, "utf8") === content) return null;
    backup = `${path}.bak-${Date.now()}`;
    copyFileSync(path, backup);
  }
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode: 0o600 });
  renameSync(tmp, path);
  return backup;
}
