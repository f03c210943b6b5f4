import type { Command } from "commander";
import { ISO_TIME_HINT, parseIsoTime } from "../domain/iso-time.js";
import { REQUEST_STATES, type RequestState } from "../adapters/db/request-repository.js";
import { CliError } from "./cli-error.js";
import { addLocalOptions, addRemoteOptions } from "./local-services.js";
import { formatRequest, onGatewayOrLocal, viewOf, type RequestView } from "./request-client.js";
import { inert } from "../domain/control-characters.js";

type Flags = Record<string, string | boolean | undefined>;

function requestId(id: string): number {
  const n = Number(id);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`expected a request id, got ${JSON.stringify(id)}`);
  return n;
}

function print(r: RequestView, flags: Flags): void {
  process.stdout.write(flags.json ? JSON.stringify(r, null, 2) + "\n" : formatRequest(r));
}

/** `portcullis requests list|show|approve|deny|exception`: the approval queue. */
export function registerRequestsCommand(program: Command): void {
  const requests = program
    .command("requests")
    .description(
      "The package request queue: list and show requests; approvers approve, deny or grant exceptions.",
    );
  const both = (cmd: Command) => addLocalOptions(addRemoteOptions(cmd.option("--json", "print JSON")));

  both(
    requests
      .command("list")
      .description("List requests, newest first.")
      .option("--state <state>", `only requests in this state (${REQUEST_STATES.join(", ")})`)
      .option("--mine", "only your requests")
      .option("--limit <n>", "at most this many", "50"),
  ).action(async (flags: Flags) => {
    const state = flags.state as string | undefined;
    if (state && !REQUEST_STATES.includes(state as RequestState))
      throw new CliError(`--state must be one of ${REQUEST_STATES.join(", ")}`);
    const limit = Number(flags.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new CliError("--limit must be 1 to 500");
    const items = await onGatewayOrLocal(
      flags,
      async (call) => {
        const q = new URLSearchParams({ limit: String(limit) });
        if (state) q.set("state", state);
        if (flags.mine) q.set("mine", "true");
        return (
          await call<{ items: (Omit<RequestView, "report"> & { ok: boolean; treeScore: number })[] }>(
            `api/v1/requests?${q}`,
          )
        ).items;
      },
      async (s, actor) =>
        (
          await s.requests.list({
            ...(state ? { state: state as RequestState } : {}),
            ...(flags.mine ? { requester: actor.user ?? "cli" } : {}),
            limit,
          })
        ).map((r) => ({
          ...r,
          createdAt: new Date(r.createdAt).toISOString(),
          updatedAt: new Date(r.updatedAt).toISOString(),
        })),
    );
    if (flags.json) {
      process.stdout.write(JSON.stringify(items, null, 2) + "\n");
      return;
    }
    if (items.length === 0) process.stdout.write("no requests\n");
    for (const r of items)
      process.stdout.write(
        inert`${String(r.id).padStart(5)}  ${r.state.padEnd(8)}  risk ${String(r.treeScore).padStart(3)}  ${r.project}${r.version ? `==${r.version}` : ""}  by ${r.requester}: ${r.reason}\n`,
      );
  });

  both(
    requests
      .command("show")
      .argument("<id>", "request id")
      .description("Show a request with its vetting report."),
  ).action(async (id: string, flags: Flags) => {
    const n = requestId(id);
    const r = await onGatewayOrLocal<RequestView>(
      flags,
      (call) => call(`api/v1/requests/${n}`),
      async (s) => {
        const found = await s.requests.get(n);
        if (!found) throw new CliError(`no request ${n}`, 1);
        return viewOf(found);
      },
    );
    print(r, flags);
  });

  both(
    requests
      .command("approve")
      .argument("<id>", "request id")
      .requiredOption("--reason <text>", "why (recorded with the exceptions and in the audit trail)")
      .option("--ticket <ref>", "change or ticket reference")
      .option("--expires <date>", "when the granted exceptions expire (default: in 90 days)")
      .description(
        "Approve a pending request (approver): grants exceptions for the refused files of its tree, then re-vets it.",
      ),
  ).action(async (id: string, flags: Flags) => {
    const n = requestId(id);
    const body = {
      reason: String(flags.reason),
      ...(flags.ticket ? { ticket: String(flags.ticket) } : {}),
      ...(flags.expires ? { expiresAt: isoDate(String(flags.expires)) } : {}),
    };
    const r = await onGatewayOrLocal<RequestView>(
      flags,
      (call) => call(`api/v1/requests/${n}/approve`, { method: "POST", body }),
      async (s, actor) => viewOf(await s.requests.approve(actor, n, body)),
    );
    print(r, flags);
    if (r.state === "pending") process.exitCode = 3;
  });

  both(
    requests
      .command("deny")
      .argument("<id>", "request id")
      .requiredOption("--reason <text>", "why (the requester is told)")
      .description("Deny a pending request (approver). No exception is granted."),
  ).action(async (id: string, flags: Flags) => {
    const n = requestId(id);
    const body = { reason: String(flags.reason) };
    print(
      await onGatewayOrLocal<RequestView>(
        flags,
        (call) => call(`api/v1/requests/${n}/deny`, { method: "POST", body }),
        async (s, actor) => viewOf(await s.requests.deny(actor, n, body)),
      ),
      flags,
    );
  });

  both(
    requests
      .command("exception")
      .argument("<id>", "request id")
      .option("--project <name>", "the project (default: the request's)")
      .option("--version <version>", "waive for this exact version")
      .option("--sha256 <digest>", "waive for this exact file")
      .option("--checks <ids>", "comma-separated checks to waive (default: all)")
      .requiredOption("--reason <text>", "why")
      .option("--ticket <ref>", "change or ticket reference")
      .option("--expires <date>", "expiry (default: in 90 days)")
      .description(
        "Grant a policy exception (exact version or exact file) for part of a pending request's tree (approver).",
      ),
  ).action(async (id: string, flags: Flags) => {
    const n = requestId(id);
    if (!flags.version === !flags.sha256) throw new CliError("give exactly one of --version or --sha256");
    const body = {
      reason: String(flags.reason),
      ...(flags.project ? { project: String(flags.project) } : {}),
      ...(flags.version ? { version: String(flags.version) } : {}),
      ...(flags.sha256 ? { sha256: String(flags.sha256) } : {}),
      // Given but empty (`--checks ""`, an unset variable in a script) is refused by the service,
      // never read as "all checks".
      ...(flags.checks !== undefined
        ? {
            checks: String(flags.checks)
              .split(",")
              .map((c) => c.trim())
              .filter(Boolean),
          }
        : {}),
      ...(flags.ticket ? { ticket: String(flags.ticket) } : {}),
      ...(flags.expires ? { expiresAt: isoDate(String(flags.expires)) } : {}),
    };
    const r = await onGatewayOrLocal<RequestView>(
      flags,
      (call) => call(`api/v1/requests/${n}/exception`, { method: "POST", body }),
      async (s, actor) => viewOf(await s.requests.exception(actor, n, body)),
    );
    print(r, flags);
    if (r.state === "pending") process.exitCode = 3;
  });
}

function isoDate(text: string): string {
  const t = parseIsoTime(text);
  if (t === undefined) throw new CliError(`--expires must be ${ISO_TIME_HINT}, got ${JSON.stringify(text)}`);
  return new Date(t).toISOString();
}
