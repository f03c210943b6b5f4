import { useEffect, useRef, useState, type FormEvent } from "react";
import { api } from "../api";
import { ActionStatus, ApiErrorNotice } from "../components/api-status";
import { ListFooter } from "../components/list-footer";
import { UserText } from "../components/user-text";
import { formatDate } from "../format";
import { useSession } from "../session";
import type { Webhook, WebhookDelivery } from "../types";
import { useApiAction } from "../use-api-action";
import { usePagedList } from "../use-paged-list";
import { RoleRequired } from "../components/role-required";

/** The event types a webhook may receive (the API's WEBHOOK_EVENT_TYPES), each in words. */
const EVENTS: { type: string; what: string }[] = [
  { type: "file.blocked", what: "an admitted file is now refused" },
  { type: "files.blocked", what: "more than 20 files refused at once, in one message" },
  { type: "advisory.affects", what: "an advisory refuses files that were admitted" },
  { type: "remediation.opened", what: "a remediation item opens" },
  { type: "remediations.opened", what: "more than 20 items open at once, in one message" },
  { type: "remediation.due", what: "an item is nearly due" },
  { type: "remediation.overdue", what: "an item is overdue" },
  { type: "request.pending", what: "a request waits for an approver" },
  { type: "request.approved", what: "a request is approved" },
  { type: "request.denied", what: "a request is denied" },
  { type: "request.exception", what: "an exception is granted" },
];

const FORMATS = [
  { value: "json", label: "JSON (your own receiver)" },
  { value: "slack", label: "Slack (incoming webhook)" },
] as const;

function eventsText(events: string[] | null): string {
  return events ? events.join(", ") : "all events";
}

/**
 * Registers a webhook: `POST /api/v1/webhooks`. The secret is sent once and forgotten at once
 * (the field is cleared whatever the answer): the gateway never gives it back, nor does this page.
 */
function AddWebhook({ onAdded }: { onAdded: () => void }) {
  const [url, setUrl] = useState("");
  const [secret, setSecret] = useState("");
  const [format, setFormat] = useState<string>("json");
  const [all, setAll] = useState(true);
  const [events, setEvents] = useState<string[]>([]);
  const { busy, error, run } = useApiAction();
  const [done, setDone] = useState<string | null>(null);

  const toggle = (type: string, on: boolean) => {
    const next = on ? [...events, type] : events.filter((e) => e !== type);
    setEvents(EVENTS.map((e) => e.type).filter((t) => next.includes(t)));
    // Naming an event means "only these"; naming none again means nothing, which the API refuses.
    if (on) setAll(false);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const body = { url: url.trim(), secret, format, ...(all ? {} : { events }) };
    setSecret("");
    setDone(null);
    await run(async () => {
      const hook = await api<Webhook>("/api/v1/webhooks", { method: "POST", body });
      setUrl("");
      setFormat("json");
      setAll(true);
      setEvents([]);
      setDone(`Webhook #${hook.id} added: ${hook.format}, ${eventsText(hook.events)}.`);
      onAdded();
    });
  };

  return (
    <form className="card stack" onSubmit={(e) => void submit(e)} aria-labelledby="webhook-add">
      <h2 id="webhook-add">Add a webhook</h2>
      <label htmlFor="webhook-url">URL</label>
      <input
        id="webhook-url"
        type="url"
        required
        maxLength={2000}
        placeholder="https://hooks.example.org/portcullis"
        value={url}
        onChange={(e) => setUrl(e.target.value)}
      />
      <label htmlFor="webhook-secret">Secret</label>
      <input
        id="webhook-secret"
        type="password"
        required
        autoComplete="new-password"
        maxLength={500}
        aria-describedby="webhook-secret-hint"
        value={secret}
        onChange={(e) => setSecret(e.target.value)}
      />
      <p id="webhook-secret-hint" className="muted">
        At least 16 characters, also known to the receiver: every delivery is signed with it
        (X-Portcullis-Signature, HMAC-SHA256 of the body). It is never shown again.
      </p>
      <label htmlFor="webhook-format">Format</label>
      <select id="webhook-format" value={format} onChange={(e) => setFormat(e.target.value)}>
        {FORMATS.map((f) => (
          <option key={f.value} value={f.value}>
            {f.label}
          </option>
        ))}
      </select>
      <fieldset>
        <legend>Events</legend>
        <label>
          <input
            type="checkbox"
            checked={all}
            onChange={(e) => {
              setAll(e.target.checked);
              if (e.target.checked) setEvents([]);
            }}
          />{" "}
          All events (also kinds added later)
        </label>
        <ul className="checks">
          {EVENTS.map((ev) => (
            <li key={ev.type}>
              <label>
                <input
                  type="checkbox"
                  checked={!all && events.includes(ev.type)}
                  onChange={(e) => toggle(ev.type, e.target.checked)}
                />{" "}
                <code>{ev.type}</code> <span className="muted">{ev.what}</span>
              </label>
            </li>
          ))}
        </ul>
      </fieldset>
      <button type="submit" disabled={busy}>
        {busy ? "Adding…" : "Add webhook"}
      </button>
      <ActionStatus done={done} error={error} />
    </form>
  );
}

/** Remove, after a confirmation step: `DELETE /api/v1/webhooks/{id}`. */
function RemoveWebhook({ hook, onRemoved }: { hook: Webhook; onRemoved: (id: number) => void }) {
  const [confirming, setConfirming] = useState(false);
  const { busy, error, run, clear } = useApiAction();
  const remove = () =>
    run(
      async () => {
        await api(`/api/v1/webhooks/${hook.id}`, { method: "DELETE" });
        onRemoved(hook.id);
      },
      // Someone else removed it first: the list shows it gone.
      (refusal) => {
        if (refusal.status === 404) onRemoved(hook.id);
      },
    );
  if (!confirming)
    return (
      <button
        type="button"
        className="danger"
        aria-label={`Remove webhook #${hook.id}`}
        onClick={() => {
          setConfirming(true);
          clear();
        }}
      >
        Remove
      </button>
    );
  return (
    <div className="stack" role="group" aria-label={`Confirm removing webhook #${hook.id}`}>
      <span>Remove webhook #{hook.id}? Its pending deliveries are dropped; nothing more is sent to it.</span>
      <div className="row">
        <button type="button" className="danger" disabled={busy} onClick={() => void remove()}>
          {busy ? "Removing…" : "Confirm removal"}
        </button>
        <button type="button" className="secondary" disabled={busy} onClick={() => setConfirming(false)}>
          Cancel
        </button>
      </div>
      <ActionStatus error={error} />
    </div>
  );
}

const DELIVERY_STATES: Record<string, string> = {
  delivered: "badge-admitted",
  pending: "badge-pending",
  failed: "badge-blocked",
};

/** A delivery's state in words (a pending one is being retried; a failed one gave up). */
function DeliveryState({ d }: { d: WebhookDelivery }) {
  return (
    <>
      <span className={`badge ${DELIVERY_STATES[d.state] ?? "badge-other"}`}>{d.state}</span>
      {d.state === "pending" && d.nextAttemptAt && (
        <span className="muted"> next attempt {formatDate(d.nextAttemptAt)}</span>
      )}
    </>
  );
}

/** A webhook's delivery log, newest first, paged: whether its endpoint takes what is sent. */
function DeliveryLog({ hook, onClose }: { hook: Webhook; onClose: () => void }) {
  const list = usePagedList<WebhookDelivery>(`/api/v1/webhooks/${hook.id}/deliveries?limit=50`);
  const heading = useRef<HTMLHeadingElement>(null);
  // The log shows below the list: opening it takes keyboard and screen reader users there.
  useEffect(() => {
    heading.current?.focus();
  }, []);
  return (
    <section className="card" aria-labelledby={`webhook-log-${hook.id}`}>
      <h2 id={`webhook-log-${hook.id}`} tabIndex={-1} ref={heading}>
        Deliveries to webhook #{hook.id}
      </h2>
      <p className="muted">
        <UserText text={hook.url} />
      </p>
      <div className="row">
        <button type="button" className="secondary" onClick={list.reload} disabled={list.loading}>
          Refresh
        </button>
        <button type="button" className="secondary" onClick={onClose}>
          Close
        </button>
      </div>
      {list.error && <ApiErrorNotice error={list.error} />}
      {!list.error && !list.loading && list.items.length === 0 && (
        <p className="muted">Nothing has been sent to this webhook yet.</p>
      )}
      {list.items.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">State</th>
                <th scope="col" className="num">
                  Attempts
                </th>
                <th scope="col">Last answer</th>
                <th scope="col">Last error</th>
                <th scope="col">Queued</th>
                <th scope="col">Delivered</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((d) => (
                <tr key={d.id}>
                  <td>{d.eventType}</td>
                  <td>
                    <DeliveryState d={d} />
                  </td>
                  <td className="num">{d.attempts}</td>
                  <td>{d.lastStatus ? `HTTP ${d.lastStatus}` : "—"}</td>
                  <td className="detail">{d.lastError ? <UserText text={d.lastError} /> : "—"}</td>
                  <td>{formatDate(d.createdAt)}</td>
                  <td>{formatDate(d.deliveredAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ListFooter list={list} />
    </section>
  );
}

/**
 * Webhooks (admins): where the gateway sends its events (blocked files, advisories, remediation,
 * requests), how each is added and removed, and whether its deliveries arrive.
 */
export function WebhooksPage() {
  const session = useSession();
  const allowed = session.can("admin");
  const list = usePagedList<Webhook>(allowed ? "/api/v1/webhooks?limit=50" : null);
  // The webhook whose log is open, kept as it was listed: reloading the list (after adding one)
  // leaves the log where it is.
  const [open, setOpen] = useState<Webhook | null>(null);
  const [removed, setRemoved] = useState<string | null>(null);
  return (
    <>
      <h1 tabIndex={-1}>Webhooks</h1>
      <p className="muted">
        The gateway posts its events (files blocked, advisories, remediation items, requests) to these
        addresses, signed with each webhook’s secret, and retries a failing one.
      </p>
      <RoleRequired allowed={allowed}>Only administrators can see and change webhooks.</RoleRequired>
      {allowed && (
        <AddWebhook
          onAdded={() => {
            setRemoved(null);
            list.reload();
          }}
        />
      )}
      <ActionStatus done={removed} />
      {list.error && <ApiErrorNotice error={list.error} />}
      {allowed && !list.error && !list.loading && list.items.length === 0 && (
        <p className="muted">No webhooks: the gateway sends its events nowhere.</p>
      )}
      {list.items.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption>Webhooks, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">Webhook</th>
                <th scope="col">URL</th>
                <th scope="col">Format</th>
                <th scope="col">Events</th>
                <th scope="col">Added</th>
                <th scope="col">Deliveries</th>
                <th scope="col">Remove</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((h) => (
                <tr key={h.id}>
                  <td>#{h.id}</td>
                  <td className="detail">
                    <UserText text={h.url} />
                  </td>
                  <td>{h.format}</td>
                  <td>{h.events ? h.events.join(", ") : <span className="muted">all events</span>}</td>
                  <td>
                    {formatDate(h.createdAt)}
                    {h.createdBy && (
                      <>
                        {" "}
                        by <UserText text={h.createdBy} />
                      </>
                    )}
                  </td>
                  <td>
                    <button
                      type="button"
                      className="secondary"
                      aria-expanded={open?.id === h.id}
                      aria-label={`${open?.id === h.id ? "Hide" : "Show"} deliveries of webhook #${h.id}`}
                      onClick={() => setOpen(open?.id === h.id ? null : h)}
                    >
                      {open?.id === h.id ? "Hide" : "Show"}
                    </button>
                  </td>
                  <td>
                    <RemoveWebhook
                      hook={h}
                      onRemoved={(id) => {
                        if (open?.id === id) setOpen(null);
                        setRemoved(`Webhook #${id} removed: nothing more is sent to it.`);
                        list.reload();
                      }}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ListFooter list={list} />
      {/* Keyed by the webhook: another one starts its own log. */}
      {allowed && open && <DeliveryLog key={open.id} hook={open} onClose={() => setOpen(null)} />}
    </>
  );
}
