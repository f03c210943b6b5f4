import { createHmac } from "node:crypto";
import type { GatewayEvent } from "../event-bus.js";

/**
 * What a webhook receives, free of I/O: the body of an event in either format, its signature,
 * its idempotency key and the retry schedule.
 */

export const WEBHOOK_FORMATS = ["json", "slack"] as const;
export type WebhookMessageFormat = (typeof WEBHOOK_FORMATS)[number];

/** Event types a webhook may subscribe to (`--events`). */
export const WEBHOOK_EVENT_TYPES = [
  "file.blocked",
  "files.blocked",
  "advisory.affects",
  "remediation.opened",
  "remediations.opened",
  "remediation.due",
  "remediation.overdue",
  "request.pending",
  "request.approved",
  "request.denied",
  "request.exception",
] as const;

export const SIGNATURE_HEADER = "X-Portcullis-Signature";

/**
 * `sha256=<hex HMAC-SHA256 of the exact body bytes, keyed with the webhook's secret>`, as GitHub
 * does it: the receiver recomputes it over the raw body and compares in constant time.
 */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body, "utf8").digest("hex")}`;
}

/**
 * The idempotency key of an event for one webhook: the same fact seen by several instances (or
 * twice by one) yields one key, so it is delivered once.
 */
export function eventKey(event: GatewayEvent): string {
  switch (event.type) {
    case "file.blocked":
      // `at` is the decision time of the change, the same for everyone who reads that change.
      // A first-sight refusal from the index is keyed by what it was judged under instead.
      return `file.blocked:${event.sha256}:${event.basis ?? event.at}`;
    case "files.blocked":
      return `files.blocked:${event.batch}`;
    case "advisory.affects":
      return `advisory.affects:${event.advisoryId}:${event.project}:${[...event.versions].sort().join(",")}`;
    case "remediation.opened":
      return `${event.type}:${event.itemId}:${event.due}`;
    case "remediations.opened":
      return `remediations.opened:${event.batch}`;
    case "remediation.due":
    case "remediation.overdue":
      // One instance publishes each notice (a compare-and-set marker on the item); the same
      // notice goes out again when an item reopens from an expired risk acceptance, so its time
      // is part of the key, or that second notice would be taken for the first and never sent.
      return `${event.type}:${event.itemId}:${event.due}:${event.at}`;
    default:
      return `${event.type}:${event.requestId}:${event.at}`;
  }
}

/** The event type each digest stands for. */
const DIGEST_OF: ReadonlyMap<string, string> = new Map([
  ["files.blocked", "file.blocked"],
  ["remediations.opened", "remediation.opened"],
]);

/**
 * Whether a webhook subscribed to `events` (null: all) gets this event. A digest (`files.blocked`,
 * `remediations.opened`) stands for events of another type (`file.blocked`,
 * `remediation.opened`), so a webhook subscribed to those gets it too: it would otherwise hear
 * nothing of a large re-evaluation.
 */
export function wants(events: readonly string[] | null, type: string): boolean {
  if (events === null || events.includes(type)) return true;
  const standsFor = DIGEST_OF.get(type);
  return standsFor !== undefined && events.includes(standsFor);
}

/** Text already fit for Slack: our own words, with whatever came from outside escaped. */
class SlackText {
  constructor(readonly text: string) {}
}

/**
 * Escapes text for Slack's `text` field. Slack reads `&`, `<` and `>` as control characters
 * (`<!channel>` pings a channel, `<https://host|label>` is a link under any label), and asks
 * for exactly these three to be escaped as HTML entities in text that is not a control sequence:
 * https://api.slack.com/reference/surfaces/formatting#escaping
 */
export function escapeSlackText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * A template whose every value is escaped for Slack, but for {@link SlackText} made the same
 * way: requester reasons, names, filenames, advisory texts and identities come from outside,
 * so none of them can ping a channel or plant a disguised link.
 */
function slack(strings: TemplateStringsArray, ...values: (string | number | SlackText)[]): SlackText {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += (v instanceof SlackText ? v.text : escapeSlackText(String(v))) + strings[i + 1]!;
  });
  return new SlackText(out);
}

function joinSlack(parts: readonly SlackText[], separator: string): SlackText {
  return new SlackText(parts.map((p) => p.text).join(separator));
}

/** `name count, name count, ...` for the first ten, then how many more. */
function countedList(rows: readonly { name: string; count: number }[], limit = 10): SlackText {
  const listed = joinSlack(
    rows.slice(0, limit).map((r) => slack`${r.name} ${r.count}`),
    ", ",
  );
  return rows.length > limit ? slack`${listed} and ${rows.length - limit} more` : listed;
}

/**
 * One line of plain words for an event, for chat (Slack's `text`: what came from outside is
 * escaped, see {@link escapeSlackText}).
 */
export function describeEvent(event: GatewayEvent, publicUrl?: string): string {
  return describe(event, publicUrl).text;
}

function describe(event: GatewayEvent, publicUrl?: string): SlackText {
  // The gateway's own address, from its configuration: left as is so that Slack links it.
  const link = new SlackText(publicUrl ? ` ${publicUrl}` : "");
  switch (event.type) {
    case "file.blocked": {
      const why = joinSlack(
        event.reasons
          .filter((r) => r.action === "block" || r.action === "quarantine")
          .map((r) => slack`${r.check}: ${r.message}`),
        "; ",
      );
      const before = new SlackText(event.from === "admitted" ? " (it was admitted before)" : "");
      return slack`:no_entry: ${event.filename} (${event.project} ${event.version}) is now refused${before}: ${why.text ? why : "by policy"}`;
    }
    case "files.blocked": {
      const projects = countedList(event.byProject.map((r) => ({ name: r.project, count: r.count })));
      const reasons = event.byReason.length
        ? countedList(event.byReason.map((r) => ({ name: r.reason, count: r.count })))
        : slack`policy`;
      const first = event.files.slice(0, 5);
      const named = joinSlack(
        first.map((f) => slack`${f.filename} (${f.project} ${f.version})`),
        "; ",
      );
      const rest = event.count > first.length ? slack` and ${event.count - first.length} more` : "";
      return slack`:no_entry: ${event.count} files are now refused (${event.admittedBefore} of them admitted before). By project: ${projects}. By reason: ${reasons}. First: ${named}${rest}.${link}`;
    }
    case "advisory.affects": {
      const who = event.consumers.length
        ? joinSlack(
            event.consumers
              .slice(0, 10)
              .map((c) => slack`${c.identity}${c.client ? slack` (${c.client})` : ""}, last ${c.lastPulled}`),
            "; ",
          )
        : "no recorded consumers";
      const more = event.consumers.length > 10 ? slack` and ${event.consumers.length - 10} more` : "";
      return slack`:warning: ${event.advisoryId} affects ${event.project} ${event.versions.join(", ")}, already admitted. Who has it: ${who}${more}`;
    }
    case "remediations.opened": {
      const severities = countedList(event.bySeverity.map((r) => ({ name: r.severity, count: r.count })));
      const owners = joinSlack(
        [
          ...(event.byOwner.length
            ? [countedList(event.byOwner.map((r) => ({ name: r.owner, count: r.count })))]
            : []),
          ...(event.unowned ? [slack`${event.unowned} with no owner`] : []),
        ],
        "; ",
      );
      const first = event.items.slice(0, 5);
      const named = joinSlack(
        first.map(
          (i) =>
            slack`#${i.itemId} ${i.project} ${i.version} (${i.severity}, owner ${i.owner ?? "unassigned"}, due ${i.due})`,
        ),
        "; ",
      );
      const rest = event.count > first.length ? slack` and ${event.count - first.length} more` : "";
      return slack`:hammer_and_wrench: ${event.count} remediation items opened. By severity: ${severities}. By owner: ${owners}. Earliest due ${event.earliestDue}. First: ${named}${rest}.${link}`;
    }
    case "remediation.opened":
    case "remediation.due":
    case "remediation.overdue": {
      const verb =
        event.type === "remediation.opened"
          ? "opened"
          : event.type === "remediation.due"
            ? "due soon"
            : "OVERDUE";
      return slack`:hammer_and_wrench: remediation #${event.itemId} ${verb}: ${event.project} ${event.version} (${event.severity}), owner ${event.owner ?? "unassigned"}, due ${event.due}${link}`;
    }
    default: {
      const version = event.version ? slack` ${event.version}` : "";
      return slack`:inbox_tray: request #${event.requestId} ${event.type.slice("request.".length)}: ${event.project}${version} by ${event.requester}: ${event.reason}`;
    }
  }
}

/**
 * The exact body sent: generic JSON (`{id, type, at, data}`) or Slack-compatible `{"text": ...}`.
 */
export function renderBody(
  event: GatewayEvent,
  format: WebhookMessageFormat,
  eventId: string,
  publicUrl?: string,
): string {
  if (format === "slack") return JSON.stringify({ text: describeEvent(event, publicUrl) });
  return JSON.stringify({ id: eventId, type: event.type, at: event.at, data: event });
}

/**
 * Exponential back-off before attempt `attempts + 1`: 30 s, 1 min, 2 min, ... capped at 6 h, with
 * up to 10% jitter from `random` so that many deliveries to one endpoint spread out.
 */
export function backoffMs(attempts: number, random: () => number = Math.random): number {
  const base = Math.min(30_000 * 2 ** Math.max(0, attempts - 1), 6 * 3_600_000);
  return Math.round(base * (1 + 0.1 * random()));
}

/**
 * Attempts before a delivery is given up: the waits add up to about 62 hours (14.5 h to reach the
 * 6 h cap, then 6 h apart), so a receiver down from a Friday evening to Monday morning still gets
 * its messages.
 */
export const MAX_ATTEMPTS = 20;

/**
 * How an attempt cut off by the gateway's shutdown is logged (its error starts so). The request
 * was sent and its answer never read: the receiver may have the delivery or not, so it is sent
 * again, and with the same delivery id, by which a receiver drops the repeat.
 */
export const CUT_OFF_BY_SHUTDOWN = "cut off by shutdown";

export function isCutOffByShutdown(attempt: { status: number | null; error: string | null }): boolean {
  return attempt.status === null && (attempt.error?.startsWith(CUT_OFF_BY_SHUTDOWN) ?? false);
}

/**
 * Whether a delivery has used up its {@link MAX_ATTEMPTS} after `attempts` sends, `cutOff` of them
 * cut off by a shutdown: those say nothing of the receiver, so they never make it give up.
 */
export function attemptsUsedUp(attempts: number, cutOff: number): boolean {
  return attempts - cutOff >= MAX_ATTEMPTS;
}
