import { useEffect, useRef, useState, type FormEvent } from "react";
import { api, withQuery } from "../api";
import { ActionStatus, ApiErrorNotice, Loaded } from "../components/api-status";
import { ListFooter } from "../components/list-footer";
import { OutcomeBadge } from "../components/outcome-badge";
import { UserText } from "../components/user-text";
import { formatDate, shortSha } from "../format";
import { Link, useLocation } from "../router";
import { useSession } from "../session";
import type { RemediationEvent, RemediationItem, RemediationState } from "../types";
import { useApi } from "../use-api";
import { useApiAction } from "../use-api-action";
import { usePagedList } from "../use-paged-list";
import { RoleRequired } from "../components/role-required";

const STATES = ["open", "acknowledged", "fixed", "accepted-risk", "all"] as const;

/** The changes a person can make, in the order the buttons show them. */
const ACTIONS: { to: RemediationState; label: string; confirm: string; className?: string }[] = [
  { to: "acknowledged", label: "Acknowledge", confirm: "Confirm acknowledgement" },
  { to: "fixed", label: "Mark fixed", confirm: "Confirm fixed" },
  { to: "accepted-risk", label: "Accept risk", confirm: "Confirm risk acceptance", className: "secondary" },
  { to: "open", label: "Reopen", confirm: "Confirm reopening", className: "secondary" },
];

/**
 * What each state allows, as the API's state machine does (a fixed item is closed). Offering only
 * these keeps a 409 for the race it is meant for: someone else changed the item first.
 */
const ALLOWED: Record<string, readonly RemediationState[]> = {
  open: ["acknowledged", "fixed", "accepted-risk"],
  acknowledged: ["open", "fixed", "accepted-risk"],
  "accepted-risk": ["open", "acknowledged", "fixed"],
};

const SEVERITIES = new Set(["low", "medium", "high", "critical"]);

/** Only work still to do can be late: an accepted risk or a fixed item is not overdue. */
function isOverdue(item: RemediationItem, now = Date.now()): boolean {
  const due = new Date(item.dueAt).getTime();
  return (item.state === "open" || item.state === "acknowledged") && !Number.isNaN(due) && due < now;
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** `YYYY-MM-DD` of `d` in the browser's time zone (what a date input shows and takes). */
function localDay(d: Date): string {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
}

/**
 * The last second of the day `YYYY-MM-DD` in the browser's time zone, as an ISO 8601 instant;
 * undefined for anything else (the API then says what is missing).
 */
function endOfLocalDay(day: string): string | undefined {
  const [y = NaN, m = NaN, d = NaN] = day.split("-").map(Number);
  const end = new Date(y, m - 1, d, 23, 59, 59);
  return Number.isNaN(end.getTime()) ? undefined : end.toISOString();
}

function SeverityBadge({ value }: { value: string }) {
  return <span className={`badge sev-${SEVERITIES.has(value) ? value : "unrated"}`}>{value}</span>;
}

/** The due date, with "overdue" in words beside it (never colour alone). */
function Due({ item, now }: { item: RemediationItem; now?: number }) {
  return (
    <>
      {formatDate(item.dueAt)}
      {isOverdue(item, now) && (
        <>
          {" "}
          <span className="badge badge-blocked">overdue</span>
        </>
      )}
    </>
  );
}

/** The changes the item's state allows: acknowledge, mark fixed, accept the risk, reopen. */
function StateActions({ item, onChanged }: { item: RemediationItem; onChanged: () => void }) {
  const [action, setAction] = useState<RemediationState | null>(null);
  const [note, setNote] = useState("");
  const [reason, setReason] = useState("");
  const [until, setUntil] = useState("");
  const { busy, error, run, clear } = useApiAction();
  const [done, setDone] = useState<string | null>(null);
  const allowed = ALLOWED[item.state] ?? [];
  const chosen = ACTIONS.find((a) => a.to === action && allowed.includes(a.to));
  // The API takes an acceptance of at most 366 days from now, ending in the future.
  const today = new Date();
  const latest = new Date(today);
  latest.setDate(latest.getDate() + 365);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!chosen) return;
    setDone(null);
    await run(
      async () => {
        const body: Record<string, string> = { state: chosen.to };
        if (chosen.to === "accepted-risk") {
          body.reason = reason.trim();
          const end = endOfLocalDay(until);
          if (end) body.until = end;
        } else if (note.trim()) {
          body.note = note.trim();
        }
        const changed = await api<RemediationItem>(`/api/v1/remediation/${item.id}/state`, {
          method: "POST",
          body,
        });
        setAction(null);
        setNote("");
        setReason("");
        setUntil("");
        setDone(`Item #${changed.id} is now ${changed.state}.`);
        onChanged();
      },
      // Someone else changed (or removed) it first: show the item as it now is, beside the refusal.
      (refusal) => {
        if (refusal.status === 409 || refusal.status === 404) onChanged();
      },
    );
  };

  return (
    <div className="card">
      <h3>Work the item</h3>
      {allowed.length === 0 ? (
        <p className="muted">
          {item.state === "fixed"
            ? "Fixed: the item is closed. It reopens by itself if the file is refused again for the same cause."
            : `No change can be made to an item that is ${item.state}.`}
        </p>
      ) : (
        <div className="row" role="group" aria-label={`Change the state of item #${item.id}`}>
          {ACTIONS.filter((a) => allowed.includes(a.to)).map((a) => (
            <button
              key={a.to}
              type="button"
              className={a.className}
              disabled={busy}
              aria-pressed={action === a.to}
              onClick={() => {
                setAction(a.to);
                clear();
                setDone(null);
              }}
            >
              {a.label}
            </button>
          ))}
        </div>
      )}
      {chosen && (
        <form className="stack" onSubmit={(e) => void submit(e)} aria-label={chosen.label}>
          {chosen.to === "accepted-risk" ? (
            <>
              <label htmlFor={`rm-reason-${item.id}`}>Reason for accepting the risk</label>
              <textarea
                id={`rm-reason-${item.id}`}
                rows={2}
                required
                maxLength={2000}
                value={reason}
                onChange={(e) => setReason(e.target.value)}
              />
              <label htmlFor={`rm-until-${item.id}`}>Risk accepted until (the item reopens then)</label>
              <input
                id={`rm-until-${item.id}`}
                type="date"
                required
                min={localDay(today)}
                max={localDay(latest)}
                value={until}
                onChange={(e) => setUntil(e.target.value)}
              />
            </>
          ) : (
            <>
              <label htmlFor={`rm-note-${item.id}`}>Note (optional)</label>
              <textarea
                id={`rm-note-${item.id}`}
                rows={2}
                maxLength={2000}
                value={note}
                onChange={(e) => setNote(e.target.value)}
              />
            </>
          )}
          <button type="submit" disabled={busy}>
            {busy ? "Saving…" : chosen.confirm}
          </button>
        </form>
      )}
      <ActionStatus done={done} error={error} />
    </div>
  );
}

/**
 * Every state an item has been in, oldest first: when, from what, who moved it and why; and each
 * change of its owning team.
 */
function History({ events }: { events: RemediationEvent[] }) {
  return (
    <div className="table-wrap">
      <table className="history">
        <caption>History</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">State</th>
            <th scope="col">By</th>
            <th scope="col">Why</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e, i) => (
            <tr key={i}>
              <td>{formatDate(e.at)}</td>
              <td>
                {e.owner ? (
                  <>
                    owner → <UserText text={e.owner} />
                  </>
                ) : (
                  <>
                    {e.from && (
                      <>
                        <OutcomeBadge value={e.from} /> →{" "}
                      </>
                    )}
                    <OutcomeBadge value={e.state} />
                  </>
                )}
                {e.acceptedUntil && <span className="muted"> until {formatDate(e.acceptedUntil)}</span>}
              </td>
              <td>{e.by ? <UserText text={e.by} /> : "—"}</td>
              <td className="reason">
                {e.note && <UserText text={e.note} />}
                {e.note && e.resolution && "; "}
                {e.resolution}
                {!e.note && !e.resolution && <span className="muted">—</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** One item: what blocked the file and why, where to move to, who has it, and its actions. */
function ItemView({ id, onChanged, onClose }: { id: number; onChanged: () => void; onClose: () => void }) {
  const state = useApi<RemediationItem>(`/api/v1/remediation/${id}`);
  const heading = useRef<HTMLHeadingElement>(null);
  const loaded = state.data !== undefined;
  // The item shows below the list: opening it takes keyboard and screen reader users there.
  useEffect(() => {
    if (loaded) heading.current?.focus();
  }, [loaded]);
  return (
    <Loaded state={state} label={`item #${id}`}>
      {(item) => {
        const consumers = item.consumers ?? [];
        return (
          <section className="card" aria-labelledby={`rm-item-${item.id}`}>
            <h2 id={`rm-item-${item.id}`} tabIndex={-1} ref={heading}>
              Item #{item.id}: {item.project}=={item.version}
            </h2>
            <button type="button" className="secondary" onClick={onClose}>
              Close item #{item.id}
            </button>
            <dl className="facts">
              <dt>State</dt>
              <dd>
                <OutcomeBadge value={item.state} />
                {item.stateChangedAt && (
                  <span className="muted">
                    {" "}
                    since {formatDate(item.stateChangedAt)}
                    {item.stateChangedBy ? `, by ${item.stateChangedBy}` : ""}
                  </span>
                )}
              </dd>
              {item.note && (
                <>
                  <dt>{item.state === "accepted-risk" ? "Why the risk is accepted" : "Note"}</dt>
                  <dd className="reason">
                    <UserText text={item.note} />
                  </dd>
                </>
              )}
              {item.state === "accepted-risk" && item.acceptedUntil && (
                <>
                  <dt>Accepted until</dt>
                  <dd>{formatDate(item.acceptedUntil)}</dd>
                </>
              )}
              {item.resolvedAt && (
                <>
                  <dt>Resolved</dt>
                  <dd>
                    {formatDate(item.resolvedAt)}
                    {item.resolution ? ` (${item.resolution})` : ""}
                  </dd>
                </>
              )}
              <dt>Severity</dt>
              <dd>
                <SeverityBadge value={item.severity} />
              </dd>
              <dt>Owning team</dt>
              <dd>{item.owner ?? <span className="muted">none (set one with portcullis owner set)</span>}</dd>
              <dt>Opened</dt>
              <dd>{formatDate(item.openedAt)}</dd>
              <dt>Due</dt>
              <dd>
                <Due item={item} />
              </dd>
              <dt>File</dt>
              <dd>
                <span className="filename">{item.filename ?? "—"}</span>{" "}
                <span className="muted">sha256 {shortSha(item.sha256)}</span>
              </dd>
              <dt>Why it was blocked</dt>
              <dd className="reason">
                <UserText text={item.summary || "refused by policy"} />
              </dd>
              {item.advisoryIds && item.advisoryIds.length > 0 && (
                <>
                  <dt>Advisories</dt>
                  <dd>
                    {item.advisoryIds.map((a, i) => (
                      <span key={a}>
                        {i > 0 && ", "}
                        <UserText text={a} />
                      </span>
                    ))}
                  </dd>
                </>
              )}
              <dt>Move to</dt>
              <dd>
                {item.fixedVersion ? (
                  <Link to={`/projects/${encodeURIComponent(item.project)}`}>
                    {item.project}=={item.fixedVersion}
                  </Link>
                ) : (
                  <span className="muted">no fixed or admitted version known</span>
                )}
              </dd>
            </dl>
            <StateActions
              item={item}
              onChanged={() => {
                state.reload();
                onChanged();
              }}
            />
            {item.history && item.history.length > 0 && <History events={item.history} />}
            {consumers.length === 0 ? (
              <p className="muted">Nobody had pulled the file through the gateway when the item opened.</p>
            ) : (
              <div className="table-wrap">
                <table>
                  <caption>Who pulled the file (as of opening)</caption>
                  <thead>
                    <tr>
                      <th scope="col">Identity</th>
                      <th scope="col">Team</th>
                      <th scope="col">Application</th>
                      <th scope="col">Client</th>
                      <th scope="col">Address</th>
                      <th scope="col">Last pulled</th>
                    </tr>
                  </thead>
                  <tbody>
                    {consumers.map((c, i) => (
                      <tr key={i}>
                        <td>
                          {c.identity ? (
                            <UserText text={c.identity} />
                          ) : (
                            <span className="muted">anonymous</span>
                          )}
                        </td>
                        <td>
                          <UserText text={c.team ?? "—"} />
                        </td>
                        <td>
                          <UserText text={c.application ?? "—"} />
                        </td>
                        <td className="detail">
                          <UserText text={c.client ?? "—"} />
                        </td>
                        <td>{c.ip}</td>
                        <td>{formatDate(c.lastPulled)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        );
      }}
    </Loaded>
  );
}

/**
 * Remediation items: admitted files that re-evaluation blocked, as work for the owning teams
 * (approvers and admins; the API refuses the others, and the items name who pulled what).
 */
export function RemediationPage() {
  const { query } = useLocation();
  const session = useSession();
  const state = (STATES as readonly string[]).includes(query.get("state") ?? "")
    ? query.get("state")!
    : "open";
  // Asked for while the role is still unknown; once it is known, only by an approver.
  const allowed = session.can("approver");
  const list = usePagedList<RemediationItem>(
    allowed || session.loading
      ? withQuery("/api/v1/remediation", { state: state === "all" ? undefined : state, limit: 50 })
      : null,
  );
  const [open, setOpen] = useState<number | null>(null);
  const now = Date.now();
  return (
    <>
      <h1 tabIndex={-1}>Remediation</h1>
      <p className="muted">
        An item opens when re-evaluation (a new advisory or malicious-package report, a policy change) blocks
        a file that was admitted: work for the project’s owning team, due by the severity’s SLA.
      </p>
      <RoleRequired allowed={allowed}>
        Only approvers and administrators can see and work remediation items.
      </RoleRequired>
      {allowed && (
        <nav aria-label="Filter by state" className="tabs">
          {STATES.map((s) => (
            <Link
              key={s}
              to={withQuery("/remediation", { state: s })}
              {...(s === state ? { "aria-current": "page" as const } : {})}
            >
              {s}
            </Link>
          ))}
        </nav>
      )}
      {list.error && <ApiErrorNotice error={list.error} />}
      {allowed && !list.error && !list.loading && list.items.length === 0 && (
        <p className="muted">No {state === "all" ? "" : `${state} `}remediation items.</p>
      )}
      {list.items.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Item</th>
                <th scope="col">Severity</th>
                <th scope="col">Package</th>
                <th scope="col">Owner</th>
                <th scope="col">State</th>
                <th scope="col">Due</th>
                <th scope="col">Opened</th>
                <th scope="col" className="num">
                  Consumers
                </th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((i) => (
                <tr key={i.id}>
                  <td>#{i.id}</td>
                  <td>
                    <SeverityBadge value={i.severity} />
                  </td>
                  <td>
                    <Link to={`/projects/${encodeURIComponent(i.project)}`}>
                      {i.project}=={i.version}
                    </Link>
                  </td>
                  <td>{i.owner ?? <span className="muted">none</span>}</td>
                  <td>
                    <OutcomeBadge value={i.state} />
                  </td>
                  <td>
                    <Due item={i} now={now} />
                  </td>
                  <td>{formatDate(i.openedAt)}</td>
                  <td className="num">{i.consumers ? i.consumers.length : "—"}</td>
                  <td>
                    <button
                      type="button"
                      className="secondary"
                      aria-expanded={open === i.id}
                      aria-label={`${open === i.id ? "Hide" : "Show"} item #${i.id}: ${i.project}==${i.version}`}
                      onClick={() => setOpen(open === i.id ? null : i.id)}
                    >
                      {open === i.id ? "Hide" : "Show"}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ListFooter list={list} />
      {/* Keyed by the item: another one starts with its own form, not the last one's. */}
      {allowed && open !== null && (
        <ItemView key={open} id={open} onChanged={list.reload} onClose={() => setOpen(null)} />
      )}
    </>
  );
}
