import type { Role } from "../../src/domain/identity.js";
import { CLI_ACTOR } from "../../src/domain/identity.js";
import type { Services } from "../../src/main.js";
import assert from "node:assert/strict";
import type { TestGateway } from "./test-gateway.js";

/**
 * API tokens and token-bearing URLs for tests: a real token, made through the same service the
 * CLI and the API use, valid on the gateway at once.
 * @example const token = await createToken(gw, { user: "ci", role: "reader" })
 */
export async function createToken(
  target: TestGateway | Services,
  who: { user: string; role: Role; team?: string; label?: string; expiresAt?: number },
): Promise<string> {
  const services = "gateway" in target ? target.gateway.services : target;
  const { token } = await services.identity.createToken(
    {
      user: who.user,
      role: who.role,
      team: who.team ?? null,
      label: who.label ?? null,
      expiresAt: who.expiresAt ?? null,
    },
    CLI_ACTOR,
  );
  return token;
}

/** `http://__token__:TOKEN@host:port/simple/`, as pip and uv take it (basic auth in the index URL). */
export function pipIndexUrl(gatewayUrl: string, token: string): string {
  const u = new URL("/simple/", gatewayUrl);
  u.username = "__token__";
  u.password = token;
  return u.toString();
}

/** Headers for the API with a bearer token. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** Headers for the index with basic auth (`__token__:TOKEN`), as pip sends them. */
export function basic(token: string, user = "__token__"): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${token}`).toString("base64")}` };
}

/** Writes what is queued in the audit trail (the gateway flushes on a timer; tests need it now). */
export async function flushAudit(target: TestGateway | Services): Promise<void> {
  const services = "gateway" in target ? target.gateway.services : target;
  await services.audit.flush();
}

/**
 * Downloads `project==version` through the gateway as pip does (the JSON page, then the file),
 * with `headers` (`basic(token)`, `bearer(token)`, or none for an anonymous pull).
 */
export async function downloadRelease(
  gw: TestGateway,
  headers: Record<string, string>,
  project: string,
  version: string,
): Promise<void> {
  const pageUrl = `${gw.url}/simple/${project}/`;
  const page = await fetch(pageUrl, {
    headers: { ...headers, accept: "application/vnd.pypi.simple.v1+json" },
  });
  assert.equal(page.status, 200, `${project} page`);
  const { files } = (await page.json()) as { files: { filename: string; url: string }[] };
  const file = files.find((f) => f.filename.startsWith(`${project.replace(/-/g, "_")}-${version}-`));
  assert.ok(file, `${project}==${version} is listed`);
  const res = await fetch(new URL(file.url, pageUrl), { headers });
  assert.equal(res.status, 200, `${file.filename} downloads`);
  await res.arrayBuffer();
}
