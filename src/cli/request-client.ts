import type { PackageRequest } from "../adapters/db/request-repository.js";
import type { Services } from "../main.js";
import { RequestError, type RequestReport } from "../services/console/request-service.js";
import { cliActor } from "./cli-actor.js";
import { CliError } from "./cli-error.js";
import { callGateway, withLocalServices, remoteGateway } from "./local-services.js";
import { inert } from "../domain/control-characters.js";

/** A request as the API answers it (times as ISO strings). */
export type RequestView = Omit<PackageRequest<RequestReport>, "createdAt" | "updatedAt"> & {
  createdAt: string;
  updatedAt: string;
  remaining?: { project: string; version: string; filename?: string; reason: string }[];
};

/**
 * Runs a request command against `--gateway` (the REST API, with `--token`) or, without one,
 * against the local `--data` directory as the CLI actor (an admin: it holds the data).
 */
export async function onGatewayOrLocal<T>(
  flags: Record<string, unknown>,
  remote: (call: <R>(path: string, init?: { method?: string; body?: unknown }) => Promise<R>) => Promise<T>,
  local: (services: Services, actor: ReturnType<typeof cliActor>) => Promise<T>,
): Promise<T> {
  const gateway = remoteGateway(flags);
  if (gateway) {
    return remote((path, init) => callGateway(gateway.url, gateway.token, path, init));
  }
  return withLocalServices(flags, async (s) => {
    try {
      return await local(s, cliActor());
    } catch (err) {
      if (err instanceof RequestError) throw new CliError(err.message, err.status === 400 ? 2 : 1);
      throw err;
    }
  });
}

export function viewOf(
  r: PackageRequest<RequestReport> & { remaining?: RequestView["remaining"] },
): RequestView {
  return {
    ...r,
    createdAt: new Date(r.createdAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
  };
}

/**
 * Plain words for a request: its state, the tree's verdicts and findings, what remains refused.
 * Every value is escaped (`inert`): reasons are the requester's and approver's words, findings
 * quote package metadata and advisories.
 */
export function formatRequest(r: RequestView): string {
  const lines = [
    inert`request ${r.id}: ${r.project}${r.version ? `==${r.version}` : ""}  ${r.state.toUpperCase()}`,
    inert`  asked by ${r.requester}${r.requesterTeam ? ` (${r.requesterTeam})` : ""} at ${r.createdAt}: ${r.reason}`,
  ];
  if (r.decidedBy)
    lines.push(inert`  decided by ${r.decidedBy}${r.decisionReason ? `: ${r.decisionReason}` : ""}`);
  lines.push(inert`  tree risk ${r.report.treeScore}/100${r.report.ok ? ", every node admitted" : ""}`);
  for (const f of r.report.files) {
    lines.push(
      inert`  ${f.outcome.padEnd(11)} ${String(f.score).padStart(3)}  ${f.project}==${f.version}  ${f.filename}${f.passedOver ? "  (passed over)" : ""}`,
    );
    for (const reason of f.reasons.filter(
      (x) => x.outcome === "fail" || x.outcome === "warn" || x.outcome === "error",
    ))
      lines.push(inert`      ${reason.check}: ${reason.message} -> ${reason.action}`);
  }
  for (const t of r.report.targets.filter((x) => x.error)) lines.push(inert`  ${t.target}: ${t.error}`);
  for (const e of r.exceptions)
    lines.push(
      inert`  exception ${e.id}: ${e.project} ${e.version ?? e.sha256} (${e.checks?.join(", ") ?? "all checks"}) until ${e.expiresAt}`,
    );
  for (const x of r.remaining ?? [])
    lines.push(
      inert`  still refused: ${x.project}==${x.version}${x.filename ? ` ${x.filename}` : ""}: ${x.reason}`,
    );
  return lines.join("\n") + "\n";
}
