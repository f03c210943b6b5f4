import { useState, type FormEvent } from "react";
import { api, withQuery } from "../api";
import { ActionStatus, ApiErrorNotice } from "../components/api-status";
import { OutcomeBadge } from "../components/outcome-badge";
import { UserText } from "../components/user-text";
import { formatDate } from "../format";
import { Link, navigate, useLocation } from "../router";
import { useSession } from "../session";
import type { PackageRequest } from "../types";
import { useApiAction } from "../use-api-action";
import { usePagedList } from "../use-paged-list";
import { ListFooter } from "../components/list-footer";

const STATES = ["pending", "approved", "denied", "all"] as const;

/** Ask for a package; the gateway vets it at once and answers approved or pending. */
function RequestForm({
  initialProject,
  onCreated,
}: {
  initialProject: string;
  onCreated: (r: PackageRequest) => void;
}) {
  const [project, setProject] = useState(initialProject);
  const [version, setVersion] = useState("");
  const [reason, setReason] = useState("");
  const { busy, error, run } = useApiAction();
  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    await run(async () => {
      const created = await api<PackageRequest>("/api/v1/requests", {
        method: "POST",
        body: {
          project: project.trim(),
          ...(version.trim() ? { version: version.trim() } : {}),
          reason: reason.trim(),
        },
      });
      onCreated(created);
    });
  };
  return (
    <form className="card stack" onSubmit={(e) => void onSubmit(e)} aria-labelledby="request-form-title">
      <h2 id="request-form-title">Request a package</h2>
      <div className="row">
        <div className="stack">
          <label htmlFor="rq-project">Project</label>
          <input id="rq-project" required value={project} onChange={(e) => setProject(e.target.value)} />
        </div>
        <div className="stack">
          <label htmlFor="rq-version">Version (optional)</label>
          <input id="rq-version" value={version} onChange={(e) => setVersion(e.target.value)} />
        </div>
      </div>
      <label htmlFor="rq-reason">Why you need it</label>
      <textarea id="rq-reason" required rows={2} value={reason} onChange={(e) => setReason(e.target.value)} />
      <button type="submit" disabled={busy}>
        {busy ? "Vetting…" : "Request"}
      </button>
      <ActionStatus error={error} />
    </form>
  );
}

/** The requests queue: what waits for an approver, and what was decided. */
export function RequestsPage() {
  const { query } = useLocation();
  const session = useSession();
  const state = (STATES as readonly string[]).includes(query.get("state") ?? "")
    ? query.get("state")!
    : "pending";
  const list = usePagedList<PackageRequest>(
    withQuery("/api/v1/requests", { state: state === "all" ? undefined : state, limit: 50 }),
  );
  const [created, setCreated] = useState<PackageRequest | null>(null);
  return (
    <>
      <h1 tabIndex={-1}>Requests</h1>
      {session.can("requester") && (
        <RequestForm
          // The form follows the address: a link with ?project= fills it, the Requests link empties it.
          key={query.get("project") ?? ""}
          initialProject={query.get("project") ?? ""}
          onCreated={(r) => {
            setCreated(r);
            list.reload();
          }}
        />
      )}
      {created && (
        <p className="notice" role="status">
          Request <Link to={`/requests/${encodeURIComponent(String(created.id))}`}>{String(created.id)}</Link>{" "}
          for {created.project}
          {created.version ? `==${created.version}` : ""}: <OutcomeBadge value={created.state} />
          {created.state === "approved"
            ? " — policy admits it; install it now."
            : " — an approver will review it."}
        </p>
      )}
      <nav aria-label="Filter by state" className="tabs">
        {STATES.map((s) => (
          <Link
            key={s}
            to={withQuery("/requests", { state: s })}
            {...(s === state ? { "aria-current": "page" as const } : {})}
          >
            {s}
          </Link>
        ))}
      </nav>
      {list.error && <ApiErrorNotice error={list.error} />}
      {!list.error && !list.loading && list.items.length === 0 && (
        <p className="muted">No {state === "all" ? "" : state} requests.</p>
      )}
      {list.items.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Request</th>
                <th scope="col">Package</th>
                <th scope="col">State</th>
                <th scope="col">Requester</th>
                <th scope="col">Reason</th>
                <th scope="col">Opened</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((r) => (
                <tr key={String(r.id)}>
                  <td>
                    <Link
                      to={`/requests/${encodeURIComponent(String(r.id))}`}
                      aria-label={`Review request ${String(r.id)} for ${r.project}`}
                    >
                      Review #{String(r.id)}
                    </Link>
                  </td>
                  <td>
                    {r.project}
                    {r.version ? `==${r.version}` : ""}
                  </td>
                  <td>
                    <OutcomeBadge value={r.state} />
                  </td>
                  <td>{r.requester}</td>
                  <td className="reason">
                    <UserText text={r.reason} />
                  </td>
                  <td>{formatDate(r.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ListFooter list={list} />
      {!session.can("requester") && (
        <p className="muted">
          Your role cannot request packages.{" "}
          <button type="button" className="linkish" onClick={() => navigate("/login")}>
            Log in
          </button>{" "}
          with a requester token to ask for one.
        </p>
      )}
    </>
  );
}
