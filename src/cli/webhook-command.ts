import type { Command } from "commander";
import { cliActor } from "./cli-actor.js";
import { WEBHOOK_EVENT_TYPES, WEBHOOK_FORMATS } from "../services/governance/webhook-message.js";
import type { Delivery, DeliveryAttempt, Webhook } from "../adapters/db/webhook-repository.js";
import {
  checkWebhookSettings,
  WebhookConflictError,
  WebhookInputError,
} from "../services/governance/webhook-service.js";
import { CliError } from "./cli-error.js";
import {
  addLocalOptions,
  addRemoteOptions,
  allPages,
  callGateway,
  remoteAdminGateway,
  withLocalServices,
} from "./local-services.js";
import { inert } from "../domain/control-characters.js";

const iso = (ms: number | null) => (ms === null ? "-" : new Date(ms).toISOString());

/**
 * The status and last-error columns of a delivery: the last HTTP status (or why there was none),
 * and what went wrong beyond that status (a non-2xx answer is recorded as just its status).
 */
function deliveryColumns(d: Pick<Delivery, "attempts" | "lastStatus" | "lastError">): [string, string] {
  const status =
    d.lastStatus !== null ? `HTTP ${d.lastStatus}` : d.attempts ? "no HTTP answer" : "not sent yet";
  if (d.lastError === null) return [status, "-"];
  if (d.lastStatus === null || d.lastError !== `HTTP ${d.lastStatus}`) return [status, d.lastError];
  return [
    status,
    d.lastStatus >= 300 && d.lastStatus < 400 ? "a redirect (not followed)" : "not a 2xx answer",
  ];
}

/** A webhook as the API sends it (`createdAt` an ISO time), in the shape the local service gives. */
function webhookFromJson(j: Omit<Webhook, "createdAt"> & { createdAt: string }): Webhook {
  return {
    id: j.id,
    url: j.url,
    format: j.format,
    events: j.events,
    createdAt: Date.parse(j.createdAt),
    createdBy: j.createdBy ?? null,
  };
}

/** A delivery as `GET /api/v1/webhooks/{id}/deliveries` sends it. */
interface DeliveryJson {
  id: number;
  eventId: string;
  eventType: string;
  state: Delivery["state"];
  attempts: number;
  nextAttemptAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
  log: { attempt: number; at: string; status: number | null; error: string | null; durationMs: number }[];
}

/**
 * A delivery from the API in the shape (and key order) the local service gives, times as epoch
 * milliseconds. The API names the next attempt only while a delivery is pending: for a delivered
 * or failed one `nextAttemptAt` is not available remotely and is left out (locally it holds the
 * last time one was scheduled, which nothing acts on once the delivery is settled).
 */
function deliveryFromJson(
  webhookId: number,
  j: DeliveryJson,
): Omit<Delivery, "nextAttemptAt"> & { nextAttemptAt?: number; log: DeliveryAttempt[] } {
  const ms = (t: string | null) => (t === null ? null : Date.parse(t));
  return {
    id: j.id,
    webhookId,
    eventId: j.eventId,
    eventType: j.eventType,
    state: j.state,
    attempts: j.attempts,
    ...(j.nextAttemptAt !== null ? { nextAttemptAt: Date.parse(j.nextAttemptAt) } : {}),
    lastStatus: j.lastStatus,
    lastError: j.lastError,
    createdAt: Date.parse(j.createdAt),
    deliveredAt: ms(j.deliveredAt),
    log: j.log.map((a) => ({
      attempt: a.attempt,
      at: Date.parse(a.at),
      status: a.status,
      error: a.error,
      durationMs: a.durationMs,
    })),
  };
}

function parseId(text: string): number {
  if (!/^[1-9][0-9]{0,14}$/.test(text))
    throw new CliError(`expected a webhook id (a number), got ${JSON.stringify(text)}`);
  return Number(text);
}

/** `portcullis webhook add|list|remove|deliveries`: where notifications go. */
export function registerWebhookCommand(program: Command): void {
  const local = (cmd: Command) => addRemoteOptions(addLocalOptions(cmd));
  const webhook = program
    .command("webhook")
    .description(
      "Manage webhooks: generic JSON or Slack-compatible messages for newly blocked files, advisories affecting admitted files (with who has them), remediation items due or overdue, and pending requests. Every delivery carries X-Portcullis-Signature: sha256=<HMAC-SHA256 of the exact body, keyed with the secret>.",
    );

  local(
    webhook
      .command("add")
      .argument("<url>", "http(s) URL that receives a POST per event")
      .requiredOption("--secret <secret>", "shared secret (16+ characters) keying the HMAC-SHA256 signature")
      .option("--format <format>", `body format: ${WEBHOOK_FORMATS.join(" or ")}`, "json")
      .option(
        "--events <list>",
        `comma-separated event types (leave out for all): ${WEBHOOK_EVENT_TYPES.join(", ")}`,
      )
      .description(
        "Register a webhook; prints its id. The secret is stored to sign deliveries and never shown again.",
      ),
  ).action(async (url: string, flags: Record<string, string | undefined>) => {
    const events = flags.events
      ?.split(",")
      .map((e) => e.trim())
      .filter(Boolean);
    if (events?.length === 0)
      throw new CliError(
        `--events names no event type, which would send nothing: omit --events to receive every event, or name some of ${WEBHOOK_EVENT_TYPES.join(", ")}`,
      );
    const secret = flags.secret ?? "";
    const format = flags.format ?? "json";
    // The service's checks, before anything is opened or sent (the URL is the gateway's to judge).
    try {
      checkWebhookSettings({ secret, format, events: events ?? null });
    } catch (err) {
      if (err instanceof WebhookInputError) throw new CliError(err.message);
      throw err;
    }
    const print = (hook: Pick<Webhook, "id" | "url" | "format" | "events">) =>
      process.stdout.write(
        inert`webhook ${hook.id} added: ${hook.url} (${hook.format}; events: ${hook.events?.join(", ") ?? "all"})\n`,
      );
    const remote = remoteAdminGateway(flags);
    if (remote) {
      // A duplicate is 409 (exit 1), input the gateway refuses 400 (exit 2), as locally.
      const hook = await callGateway<Omit<Webhook, "createdAt"> & { createdAt: string }>(
        remote.url,
        remote.token,
        "api/v1/webhooks",
        { method: "POST", body: { url, secret, format, ...(events ? { events } : {}) } },
      );
      print(webhookFromJson(hook));
      return;
    }
    await withLocalServices(
      flags,
      async ({ webhooks }) => {
        try {
          print(await webhooks.add({ url, secret, format, events: events ?? null }, cliActor()));
        } catch (err) {
          if (err instanceof WebhookConflictError) throw new CliError(err.message, 1);
          if (err instanceof WebhookInputError) throw new CliError(err.message);
          throw err;
        }
      },
      { create: true },
    );
  });

  local(
    webhook
      .command("list")
      .description("List webhooks (secrets are never shown).")
      .option("--json", "print JSON"),
  ).action(async (flags: Record<string, string | boolean | undefined>) => {
    const remote = remoteAdminGateway(flags);
    const list: Webhook[] = remote
      ? (await allPages<Omit<Webhook, "createdAt"> & { createdAt: string }>(remote, "api/v1/webhooks")).map(
          webhookFromJson,
        )
      : await withLocalServices(flags, ({ webhooks }) => webhooks.list());
    if (flags.json) {
      process.stdout.write(JSON.stringify(list, null, 2) + "\n");
      return;
    }
    if (!list.length) process.stdout.write("no webhooks\n");
    for (const h of list)
      process.stdout.write(inert`${h.id}\t${h.format}\t${h.events?.join(",") ?? "all"}\t${h.url}\n`);
  });

  local(
    webhook
      .command("remove")
      .argument("<id>", "the webhook's id (see `webhook list`)")
      .description("Remove a webhook; its pending deliveries are dropped."),
  ).action(async (id: string, flags: Record<string, string | undefined>) => {
    const n = parseId(id);
    const remote = remoteAdminGateway(flags);
    if (remote) {
      // An unknown id is 404: exit 1, as `no webhook N` is locally.
      await callGateway(remote.url, remote.token, `api/v1/webhooks/${encodeURIComponent(n)}`, {
        method: "DELETE",
      });
      process.stdout.write(`webhook ${n} removed\n`);
      return;
    }
    await withLocalServices(flags, async ({ webhooks }) => {
      if (!(await webhooks.remove(n, cliActor()))) throw new CliError(`no webhook ${n}`, 1);
      process.stdout.write(`webhook ${n} removed\n`);
    });
  });

  local(
    webhook
      .command("deliveries")
      .argument("<id>", "the webhook's id")
      .option("--limit <n>", "how many, newest first", "20")
      .option("--json", "print JSON")
      .description(
        "Show a webhook's delivery log, one delivery a line: id, created, event, state, attempts, last HTTP status, last error and, while pending, the next attempt.",
      ),
  ).action(async (id: string, flags: Record<string, string | boolean | undefined>) => {
    const n = parseId(id);
    const limit = Number(flags.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new CliError("--limit must be 1 to 500");
    const remote = remoteAdminGateway(flags);
    let list: (Omit<Delivery, "nextAttemptAt"> & { nextAttemptAt?: number; log: DeliveryAttempt[] })[];
    if (remote) {
      // The `limit` newest, page after page (newest first) until there are that many or no more.
      list = [];
      let cursor: string | null = null;
      do {
        const page: { items: DeliveryJson[]; next: string | null } = await callGateway(
          remote.url,
          remote.token,
          `api/v1/webhooks/${encodeURIComponent(n)}/deliveries?limit=${Math.min(limit - list.length, 500)}` +
            (cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`),
        );
        list.push(...page.items.map((d) => deliveryFromJson(n, d)));
        cursor = page.next;
      } while (cursor !== null && list.length < limit);
      list = list.slice(0, limit);
    } else {
      const found = await withLocalServices(flags, ({ webhooks }) => webhooks.deliveries(n, { limit }));
      if (!found) throw new CliError(`no webhook ${n}`, 1);
      list = found;
    }
    if (flags.json) {
      process.stdout.write(JSON.stringify(list, null, 2) + "\n");
      return;
    }
    if (!list.length) process.stdout.write("no deliveries yet\n");
    for (const d of list) {
      const [status, error] = deliveryColumns(d);
      process.stdout.write(
        // The last error quotes what the receiving end answered: escaped like every value.
        inert`${d.id}\t${iso(d.createdAt)}\t${d.eventType}\t${d.state}\tattempts ${d.attempts}\t${status}\t${error}` +
          (d.state === "pending" ? inert`\tnext ${iso(d.nextAttemptAt ?? null)}` : "") +
          "\n",
      );
    }
  });
}
