import { useState, type FormEvent } from "react";
import { api, withQuery } from "../api";
import { ActionStatus, ApiErrorNotice, Loaded } from "../components/api-status";
import { OutcomeBadge } from "../components/outcome-badge";
import { formatDate } from "../format";
import { navigate, useLocation } from "../router";
import { useSession } from "../session";
import { useApi } from "../use-api";
import { useApiAction } from "../use-api-action";
import { usePagedList } from "../use-paged-list";
import { ListFooter } from "../components/list-footer";

/** An environment reported by `portcullis scan` (`GET /api/v1/environments`). */
interface Environment {
  id: number;
  host: string;
  path: string;
  kind: string;
  pythonVersion?: string | null;
  owner?: string | null;
  reportedBy?: string;
  reportedAt?: string;
  total: number;
  ungoverned: number;
  counts?: Record<string, number>;
}

interface EnvironmentDetail extends Environment {
  distributions: { name: string; version: string; status: string; reason: string; sha256?: string }[];
}

function OwnerForm({ env, onDone }: { env: Environment; onDone: () => void }) {
  const [owner, setOwner] = useState(env.owner ?? "");
  const { busy, error, run } = useApiAction();
  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    await run(async () => {
      await api(`/api/v1/environments/${env.id}/owner`, { method: "POST", body: { owner: owner.trim() } });
      onDone();
    });
  };
  return (
    <form className="row" onSubmit={(e) => void onSubmit(e)}>
      <div className="stack">
        <label htmlFor={`owner-${env.id}`}>Owning team</label>
        <input id={`owner-${env.id}`} required value={owner} onChange={(e) => setOwner(e.target.value)} />
      </div>
      <button type="submit" disabled={busy}>
        {busy ? "Setting…" : "Set owner"}
      </button>
      <ActionStatus error={error} />
    </form>
  );
}

function EnvironmentView({ id, onChanged }: { id: number; onChanged: () => void }) {
  const state = useApi<EnvironmentDetail>(`/api/v1/environments/${id}`);
  const session = useSession();
  return (
    <Loaded state={state} label="the environment">
      {(env) => {
        const outside = env.distributions.filter((d) => d.status !== "admitted");
        return (
          <section className="card" aria-labelledby={`env-${id}`}>
            <h2 id={`env-${id}`}>
              {env.host}:{env.path}
            </h2>
            <p className="muted">
              {env.kind}, Python {env.pythonVersion ?? "unknown"}, reported by {env.reportedBy ?? "—"}{" "}
              {formatDate(env.reportedAt)}; {env.total} distributions, {env.ungoverned} ungoverned
            </p>
            {session.can("approver") && (
              <OwnerForm
                env={env}
                onDone={() => {
                  state.reload();
                  onChanged();
                }}
              />
            )}
            {outside.length === 0 ? (
              <p>Everything in it came through the gate.</p>
            ) : (
              <div className="table-wrap">
                <table>
                  <caption>Distributions that did not pass the gate</caption>
                  <thead>
                    <tr>
                      <th scope="col">Distribution</th>
                      <th scope="col">Status</th>
                      <th scope="col">Why</th>
                    </tr>
                  </thead>
                  <tbody>
                    {outside.map((d) => (
                      <tr key={`${d.name}-${d.version}`}>
                        <td>
                          {d.name}=={d.version}
                        </td>
                        <td>
                          <OutcomeBadge value={d.status} />
                        </td>
                        <td>{d.reason}</td>
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

/** Python environments found by `portcullis scan`, and what in them did not come through the gate. */
export function EnvironmentsPage() {
  const { query } = useLocation();
  const session = useSession();
  const unowned = query.get("unowned") === "true";
  // Approvers only (the API refuses the others): asked for while the role is still unknown.
  const allowed = session.can("approver");
  const list = usePagedList<Environment>(
    allowed || session.loading
      ? withQuery("/api/v1/environments", { limit: 100, unowned: unowned ? "true" : undefined })
      : null,
  );
  const [open, setOpen] = useState<number | null>(null);
  return (
    <>
      <h1 tabIndex={-1}>Environments</h1>
      <p className="muted">
        Reported by <code>portcullis scan</code>. “Ungoverned” counts the distributions that did not pass the
        gate (blocked, not in the catalog, or with a different hash).
      </p>
      {!session.loading && !allowed && (
        <p className="muted">Only approvers and administrators can see the environments.</p>
      )}
      {allowed && (
        <label className="row">
          <input
            type="checkbox"
            checked={unowned}
            onChange={(e) =>
              navigate(withQuery("/environments", { unowned: e.target.checked ? "true" : undefined }))
            }
          />
          Only environments no team owns
        </label>
      )}
      {list.error && <ApiErrorNotice error={list.error} />}
      {allowed && !list.error && !list.loading && list.items.length === 0 && (
        <p className="muted">No scan has reported an environment.</p>
      )}
      {list.items.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Environment</th>
                <th scope="col">Owner</th>
                <th scope="col" className="num">
                  Ungoverned
                </th>
                <th scope="col" className="num">
                  Total
                </th>
                <th scope="col">Reported</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((e) => (
                <tr key={e.id}>
                  <td className="filename">
                    {e.host}:{e.path}
                  </td>
                  <td>{e.owner ?? <span className="muted">nobody</span>}</td>
                  <td className="num">{e.ungoverned}</td>
                  <td className="num">{e.total}</td>
                  <td>{formatDate(e.reportedAt)}</td>
                  <td>
                    <button
                      type="button"
                      className="secondary"
                      aria-expanded={open === e.id}
                      aria-label={`${open === e.id ? "Hide" : "Show"} ${e.host}:${e.path}`}
                      onClick={() => setOpen(open === e.id ? null : e.id)}
                    >
                      {open === e.id ? "Hide" : "Show"}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {open !== null && <EnvironmentView id={open} onChanged={list.reload} />}
      <ListFooter list={list} />
    </>
  );
}
