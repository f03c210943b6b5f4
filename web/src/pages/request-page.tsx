import { useState, type FormEvent } from "react";
import { api, type ApiError } from "../api";
import { ActionStatus, Loaded } from "../components/api-status";
import { Findings } from "../components/decision-view";
import { NotFound } from "../components/not-found";
import { OutcomeBadge } from "../components/outcome-badge";
import { UserText } from "../components/user-text";
import { formatDate, shortSha } from "../format";
import { Link } from "../router";
import { useSession } from "../session";
import type { PackageRequest, RequestReport } from "../types";
import { useApi } from "../use-api";
import { useApiAction } from "../use-api-action";

type Action = "approve" | "deny" | "exception";

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** `YYYY-MM-DD` of `d` in the browser's time zone (what a date input shows and takes). */
function localDay(d: Date): string {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
}

/** The last second of the day `YYYY-MM-DD` in the browser's time zone, as an ISO 8601 instant. */
function endOfLocalDay(day: string): string {
  const [y = NaN, m = NaN, d = NaN] = day.split("-").map(Number);
  return new Date(y, m - 1, d, 23, 59, 59).toISOString();
}

/** The vetting report: tree per target, then every file with its findings and facts. */
function RequestReportView({ report }: { report: RequestReport }) {
  return (
    <section aria-labelledby="report-title">
      <h2 id="report-title">
        Vetting report · tree risk {report.treeScore}/100 {report.ok ? "· policy admits everything" : ""}
      </h2>
      <p className="muted">
        {report.requirement}, vetted {formatDate(report.vettedAt)}
      </p>
      {report.targets.map((t) => (
        <div key={t.target}>
          <h3>
            Dependency tree for {t.target} {t.ok ? "" : "· something is refused"}
          </h3>
          {t.error && <p className="notice error">{t.error}</p>}
          <pre className="tree">{t.tree}</pre>
        </div>
      ))}
      {report.rejected.length > 0 && (
        <>
          <h3>Versions passed over</h3>
          <ul className="plain">
            {report.rejected.map((r) => (
              <li key={`${r.project}-${r.version}`}>
                {r.project}=={r.version}: {r.reason}
              </li>
            ))}
          </ul>
        </>
      )}
      <h3>Files</h3>
      {report.files.map((f) => (
        <details key={f.sha256} className="file" open={f.outcome !== "admitted"}>
          <summary>
            <span className="filename">{f.filename}</span> <OutcomeBadge value={f.outcome} />{" "}
            <span className="muted">
              risk {f.score}/100 · licence {f.licence ?? "unknown"} ·{" "}
              {f.popularity ? `popularity rank ${f.popularity.rank}` : "not among popular projects"} ·
              provenance{" "}
              {f.provenance
                ? `${f.provenance.status}${f.provenance.publisher ? ` (${f.provenance.publisher})` : ""}`
                : "not looked at"}
            </span>
          </summary>
          <p>{f.summary}</p>
          <Findings reasons={f.reasons} />
        </details>
      ))}
    </section>
  );
}

/** Approve, deny or grant an exception, with the reason (and ticket and expiry) the audit trail keeps. */
function DecisionForm({
  request,
  onDone,
}: {
  request: PackageRequest;
  /** The request changed (decided here, or by someone else first: `conflict` says so). */
  onDone: (conflict?: ApiError) => void;
}) {
  const refused = (request.report?.files ?? []).filter((f) => f.outcome !== "admitted");
  const [action, setAction] = useState<Action | null>(null);
  const [reason, setReason] = useState("");
  const [ticket, setTicket] = useState("");
  // Thirty days from today, both counted where the approver is (not in UTC).
  const [expires, setExpires] = useState(() => {
    const d = new Date();
    d.setDate(d.getDate() + 30);
    return localDay(d);
  });
  const [scope, setScope] = useState(refused[0] ? `file:${refused[0].sha256}` : "");
  const { busy, error, run } = useApiAction();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!action) return;
    await run(
      async () => {
        const body: Record<string, string> = { reason: reason.trim() };
        if (action !== "deny") {
          if (ticket.trim()) body.ticket = ticket.trim();
          body.expiresAt = endOfLocalDay(expires);
        }
        if (action === "exception") {
          // The policy engine's exception shapes: one exact file (sha256) or one exact version.
          const [kind, value = ""] = scope.split(/:(.*)/s);
          const file = refused.find((f) => f.sha256 === value || `${f.project}==${f.version}` === value);
          if (file) body.project = file.project;
          if (kind === "file") body.sha256 = value;
          else if (file) body.version = file.version;
        }
        await api(`/api/v1/requests/${request.id}/${action}`, { method: "POST", body });
        setAction(null);
        onDone();
      },
      // Someone decided first: show the request as it now is.
      (refusal) => {
        if (refusal.status === 409) onDone(refusal);
      },
    );
  };
  const noun = action === "approve" ? "the approval" : action === "deny" ? "the denial" : "the exception";
  return (
    <div className="card">
      <h2>Decide</h2>
      <p className="muted">
        Approving grants exceptions for the refused files of the tree; an exception covers one file or one
        version.
      </p>
      <div className="row" role="group" aria-label="Decision">
        <button type="button" onClick={() => setAction("approve")} aria-pressed={action === "approve"}>
          Approve
        </button>
        <button
          type="button"
          className="danger"
          onClick={() => setAction("deny")}
          aria-pressed={action === "deny"}
        >
          Deny
        </button>
        {refused.length > 0 && (
          <button
            type="button"
            className="secondary"
            onClick={() => setAction("exception")}
            aria-pressed={action === "exception"}
          >
            Grant exception
          </button>
        )}
      </div>
      {action && (
        <form className="stack" onSubmit={(e) => void submit(e)}>
          {action === "exception" && (
            <>
              <label htmlFor="d-scope">Exception for</label>
              <select id="d-scope" value={scope} onChange={(e) => setScope(e.target.value)}>
                {refused.map((f) => (
                  <option key={`file-${f.sha256}`} value={`file:${f.sha256}`}>
                    file {f.filename} ({shortSha(f.sha256)})
                  </option>
                ))}
                {refused.map((f) => (
                  <option key={`version-${f.sha256}`} value={`version:${f.project}==${f.version}`}>
                    version {f.project}=={f.version}
                  </option>
                ))}
              </select>
            </>
          )}
          <label htmlFor="d-reason">Reason for {noun}</label>
          <textarea
            id="d-reason"
            rows={2}
            required
            value={reason}
            onChange={(e) => setReason(e.target.value)}
          />
          {action !== "deny" && (
            <>
              <label htmlFor="d-ticket">Ticket (optional)</label>
              <input id="d-ticket" value={ticket} onChange={(e) => setTicket(e.target.value)} />
              <label htmlFor="d-expires">Exceptions expire on</label>
              <input
                id="d-expires"
                type="date"
                required
                value={expires}
                onChange={(e) => setExpires(e.target.value)}
              />
            </>
          )}
          <button type="submit" disabled={busy}>
            {busy ? "Saving…" : `Confirm ${action}`}
          </button>
        </form>
      )}
      <ActionStatus error={error} />
    </div>
  );
}

/** One request: what was asked, the vetting report, and (for approvers) the decision. */
export function RequestPage({ id }: { id: string }) {
  const state = useApi<PackageRequest>(`/api/v1/requests/${encodeURIComponent(id)}`);
  const session = useSession();
  const [conflict, setConflict] = useState<ApiError | null>(null);
  const r = state.data;
  if (state.error && !state.error.routeMissing && [400, 404].includes(state.error.status))
    return <NotFound what={`request #${id}`} />;
  return (
    <>
      <p>
        <Link to="/requests">← Requests</Link>
      </p>
      <h1 tabIndex={-1}>
        Request #{id}
        {r && `: ${r.project}${r.version ? `==${r.version}` : ""}`}
      </h1>
      <Loaded state={state} label={`request ${id}`}>
        {(r) => (
          <>
            <dl className="facts">
              <dt>State</dt>
              <dd>
                <OutcomeBadge value={r.state} />
              </dd>
              <dt>Requester</dt>
              <dd>
                {r.requester}
                {r.requesterTeam ? ` (${r.requesterTeam})` : ""}
              </dd>
              <dt>Reason</dt>
              <dd className="reason">
                <UserText text={r.reason} />
              </dd>
              <dt>Opened</dt>
              <dd>{formatDate(r.createdAt)}</dd>
              {r.decidedBy && r.state !== "pending" && (
                <>
                  <dt>Decided by</dt>
                  <dd className="reason">
                    {r.decidedBy}, {formatDate(r.updatedAt)}
                    {r.decisionReason && (
                      <>
                        : <UserText text={r.decisionReason} />
                      </>
                    )}
                  </dd>
                </>
              )}
              {r.exceptions.length > 0 && (
                <>
                  <dt>Exceptions</dt>
                  <dd>
                    <ul className="plain">
                      {r.exceptions.map((x) => (
                        <li key={x.id}>
                          {x.project}
                          {x.version ? `==${x.version}` : ""}
                          {x.sha256 ? ` file ${shortSha(x.sha256)}` : ""} until {formatDate(x.expiresAt)}:{" "}
                          <UserText text={x.reason} />
                          {x.ticket && (
                            <>
                              {" "}
                              (<UserText text={x.ticket} />)
                            </>
                          )}
                        </li>
                      ))}
                    </ul>
                  </dd>
                </>
              )}
            </dl>
            {r.remaining && r.remaining.length > 0 && (
              <div className="notice error" role="status">
                Still refused:
                <ul className="plain">
                  {r.remaining.map((x) => (
                    <li key={`${x.project}-${x.version}-${x.filename ?? ""}`}>
                      {x.filename ?? `${x.project}==${x.version}`}: {x.reason}
                    </li>
                  ))}
                </ul>
              </div>
            )}
            <p>
              <Link to={`/projects/${encodeURIComponent(r.project)}`}>Project page of {r.project}</Link>
            </p>
            {conflict && (
              <p className="notice" role="status">
                Someone else changed this request first ({conflict.message}); it is shown as it is now.
              </p>
            )}
            {r.state === "pending" && session.can("approver") && (
              <DecisionForm
                request={r}
                onDone={(c) => {
                  setConflict(c ?? null);
                  state.reload();
                }}
              />
            )}
            {r.state === "pending" && !session.loading && !session.can("approver") && (
              <p className="muted">Waiting for an approver.</p>
            )}
            {r.report && <RequestReportView report={r.report} />}
          </>
        )}
      </Loaded>
    </>
  );
}
