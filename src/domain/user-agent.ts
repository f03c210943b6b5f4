import { escapeControlCharacters } from "./control-characters.js";
import type { ClientInfo } from "./identity.js";

const MAX_UA = 512;

/**
 * The client behind a User-Agent. pip (`pip/_internal/network/session.py` `user_agent()`) and uv
 * send `<installer>/<version> <JSON>`, the JSON holding `installer {name, version}`, `python`,
 * `implementation`, `system {name, release}`, `distro {name, version, id}`, `cpu` and `ci`
 * (`true` or `null`). Anything else keeps its product token (`curl/8.5.0` → curl 8.5.0).
 * Never throws: the header is attacker-controlled and only informative. `userAgent` keeps the
 * header truncated to 512 characters, or only its product token when the JSON was parsed. Every
 * field is inert text: control characters, bidi overrides and line breaks (sent JSON-escaped,
 * `"\u001b[2J"`, or as raw tab and latin-1 bytes) are written as `\uXXXX` escapes, so a
 * client label printed back by `who-has` cannot repaint the terminal or forge a line.
 *
 * @example parseUserAgent('pip/24.0 {"installer":{"name":"pip","version":"24.0"},"python":"3.12.1"}').installer // "pip"
 */
export function parseUserAgent(header: string | undefined): ClientInfo | null {
  if (!header) return null;
  const ua = header.slice(0, MAX_UA);
  const info: ClientInfo = { userAgent: bounded(ua, MAX_UA) };
  const product = /^([A-Za-z0-9._-]+)\/([A-Za-z0-9.+_-]+)/.exec(ua);
  if (product && product[1] === "Mozilla") {
    // Every browser opens with `Mozilla/5.0`, a compatibility token that names no client; the
    // browser names itself later (Edge and Opera send Chrome's token too, Chrome Safari's).
    const browser = browserOf(ua);
    info.installer = browser?.name ?? "browser";
    if (browser) info.installerVersion = browser.version;
  } else if (product) {
    info.installer = product[1]!.toLowerCase();
    info.installerVersion = product[2]!;
  }
  const brace = header.indexOf("{");
  if (brace > 0) {
    let data: unknown;
    try {
      // The JSON may run past MAX_UA; parse the whole header but keep bounded fields only.
      data = header.length <= 8192 ? JSON.parse(header.slice(brace)) : undefined;
    } catch {
      data = undefined;
    }
    if (data && typeof data === "object") {
      applyInstallerJson(info, data as Record<string, unknown>);
      // Every field of the JSON that matters is parsed out; keeping the product token alone keeps
      // each audit record small (the full pip header is ~600 bytes, written once per request).
      info.userAgent = bounded(header.slice(0, brace).trim(), MAX_UA);
    }
  }
  return info;
}

const BROWSERS: [RegExp, string][] = [
  [/\bEdg(?:e|A|iOS)?\/([0-9][0-9.]*)/, "edge"],
  [/\bOPR\/([0-9][0-9.]*)/, "opera"],
  [/\bFirefox\/([0-9][0-9.]*)/, "firefox"],
  [/\bChrom(?:e|ium)\/([0-9][0-9.]*)/, "chrome"],
  [/\bVersion\/([0-9][0-9.]*).*\bSafari\//, "safari"],
];

function browserOf(ua: string): { name: string; version: string } | undefined {
  for (const [re, name] of BROWSERS) {
    const m = re.exec(ua);
    if (m) return { name, version: m[1]! };
  }
  return undefined;
}

function applyInstallerJson(info: ClientInfo, d: Record<string, unknown>): void {
  const installer = obj(d.installer);
  if (installer) {
    const name = str(installer.name);
    const version = str(installer.version);
    if (name) info.installer = name.toLowerCase();
    if (version) info.installerVersion = version;
  }
  const python = str(d.python) ?? str(obj(d.implementation)?.version);
  if (python) info.python = python;
  const system = obj(d.system);
  const os = str(system?.name);
  if (os) info.os = os;
  const distro = obj(d.distro);
  if (distro) {
    const name = str(distro.name) ?? str(distro.id);
    const version = str(distro.version);
    if (name) info.distro = version ? `${name} ${version}` : name;
  }
  const cpu = str(d.cpu);
  if (cpu) info.cpu = cpu;
  // pip sends `"ci": true` when it sees a CI variable, `null` otherwise.
  if (d.ci === true) info.ci = true;
  else if (d.ci === null || d.ci === false) info.ci = false;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.length > 0 ? bounded(v, 100) : undefined;
}

/**
 * `text` with its control characters escaped, at most `max` characters. Escaped first, then cut:
 * the bound holds for what is stored, and a cut escape (`\u00`) is still inert.
 */
function bounded(text: string, max: number): string {
  return escapeControlCharacters(text.slice(0, max)).slice(0, max);
}

/** "pip 24.0" for listings and the inventory; null when nothing is known. */
export function clientLabel(client: ClientInfo | null): string | null {
  if (!client?.installer) return null;
  return client.installerVersion ? `${client.installer} ${client.installerVersion}` : client.installer;
}
