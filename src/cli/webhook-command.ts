import type { Command } from "commander";
import { cliActor } from "./cli-actor.js";
import { WEBHOOK_EVENT_TYPES, WEBHOOK_FORMATS } from "../services/governance/webhook-message.js";
import type { Delivery } from "../adapters/db/webhook-repository.js";
import { WebhookConflictError, WebhookInputError } from "../services/governance/webhook-service.js";
import { CliError } from "./cli-error.js";
import { addLocalOptions, withLocalServices } from "./local-services.js";
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

function parseId(text: string): number {
  if (!/^[1-9][0-9]{0,14}$/.test(text))
    throw new CliError(`expected a webhook id (a number), got ${JSON.stringify(text)}`);
  return Number(text);
}

/** `portcullis webhook add|list|remove|deliveries`: where notifications go. */
export function registerWebhookCommand(program: Command): void {
  const webhook = program
    .command("webhook")
    .description(
      "Manage webhooks: generic JSON or Slack-compatible messages for newly blocked files, advisories affecting admitted files (with who has them), remediation items due or overdue, and pending requests. Every delivery carries X-Portcullis-Signature: sha256=<HMAC-SHA256 of the exact body, keyed with the secret>.",
    );

  addLocalOptions(
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
    await withLocalServices(
      flags,
      async ({ webhooks }) => {
        try {
          const hook = await webhooks.add(
            { url, secret: flags.secret ?? "", format: flags.format ?? "json", events: events ?? null },
            cliActor(),
          );
          process.stdout.write(
            inert`webhook ${hook.id} added: ${hook.url} (${hook.format}; events: ${hook.events?.join(", ") ?? "all"})\n`,
          );
        } catch (err) {
          if (err instanceof WebhookConflictError) throw new CliError(err.message, 1);
          if (err instanceof WebhookInputError) throw new CliError(err.message);
          throw err;
        }
      },
      { create: true },
    );
  });

  addLocalOptions(
    webhook
      .command("list")
      .description("List webhooks (secrets are never shown).")
      .option("--json", "print JSON"),
  ).action(async (flags: Record<string, string | boolean | undefined>) => {
    await withLocalServices(flags, async ({ webhooks }) => {
      const list = await webhooks.list();
      if (flags.json) {
        process.stdout.write(JSON.stringify(list, null, 2) + "\n");
        return;
      }
      if (!list.length) process.stdout.write("no webhooks\n");
      for (const h of list)
        process.stdout.write(inert`${h.id}\t${h.format}\t${h.events?.join(",") ?? "all"}\t${h.url}\n`);
    });
  });

  addLocalOptions(
    webhook
      .command("remove")
      .argument("<id>", "the webhook's id (see `webhook list`)")
      .description("Remove a webhook; its pending deliveries are dropped."),
  ).action(async (id: string, flags: Record<string, string | undefined>) => {
    const n = parseId(id);
    await withLocalServices(flags, async ({ webhooks }) => {
      if (!(await webhooks.remove(n, cliActor()))) throw new CliError(`no webhook ${n}`, 1);
      process.stdout.write(`webhook ${n} removed\n`);
    });
  });

  addLocalOptions(
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
    await withLocalServices(flags, async ({ webhooks }) => {
      const list = await webhooks.deliveries(n, { limit });
      if (!list) throw new CliError(`no webhook ${n}`, 1);
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
            (d.state === "pending" ? inert`\tnext ${iso(d.nextAttemptAt)}` : "") +
            "\n",
        );
      }
    });
  });
}
