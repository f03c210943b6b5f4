import { useState, type FormEvent } from "react";
import { api, ApiError } from "../api";
import { ActionStatus, ApiErrorNotice, Loaded } from "../components/api-status";
import { OutcomeBadge } from "../components/outcome-badge";
import { formatDate } from "../format";
import { Link } from "../router";
import { useSession } from "../session";
import type { ActivePolicy, DryRun, DryRunJob, PolicyVersion } from "../types";
import { useApi } from "../use-api";
import { useApiAction } from "../use-api-action";
import { usePagedList } from "../use-paged-list";

/** "What would change": a draft policy judged against the catalog before anyone enforces it. */
function DryRunForm({ source }: { source: string }) {
  const [draft, setDraft] = useState(source);
  const [result, setResult] = useState<DryRun | null>(null);
  const { busy, error, run } = useApiAction();
  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    await run(async () => {
      // A refused run must not leave the last one's result under its error, as if it were its own.
      setResult(null);
      // The gateway judges the catalog in the background: start the job, then follow it.
      let job = await api<DryRunJob>("/api/v1/policy/dry-run", { method: "POST", body: { source: draft } });
      while (job.state === "running") {
        await new Promise((r) => setTimeout(r, 500));
        job = await api<DryRunJob>(`/api/v1/policy/dry-run/${job.id}`);
      }
      if (job.state === "failed" || !job.result)
        throw new ApiError(500, "INTERNAL", job.error ?? "the dry run failed");
      setResult(job.result);
    });
  };
  return (
    <section aria-labelledby="dry-run-title">
      <h2 id="dry-run-title">What would change</h2>
      <form className="stack" onSubmit={(e) => void onSubmit(e)}>
        <label htmlFor="draft">Draft policy (YAML)</label>
        <textarea
          id="draft"
          className="code"
          rows={14}
          spellCheck={false}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
        />
        <button type="submit" disabled={busy}>
          {busy ? "Judging the catalog…" : "Dry run against the catalog"}
        </button>
      </form>
      <ActionStatus error={error} />
      {result && (
        <div role="status">
          <p>
            {result.changed} of {result.checked} files would change. Admitted {result.counts.current.admitted}{" "}
            → {result.counts.draft.admitted}, quarantined {result.counts.current.quarantined} →{" "}
            {result.counts.draft.quarantined}, blocked {result.counts.current.blocked} →{" "}
            {result.counts.draft.blocked}.
          </p>
          {result.changes.length > 0 && (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">File</th>
                    <th scope="col">Now</th>
                    <th scope="col">With the draft</th>
                    <th scope="col">Why</th>
                  </tr>
                </thead>
                <tbody>
                  {result.changes.map((c) => (
                    <tr key={c.sha256}>
                      <td>
                        <Link to={`/projects/${encodeURIComponent(c.project)}`}>{c.filename}</Link>
                      </td>
                      <td>
                        <OutcomeBadge value={c.from} />
                      </td>
                      <td>
                        <OutcomeBadge value={c.to} />
                      </td>
                      <td>{c.reasons.join("; ")}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      )}
    </section>
  );
}

/** The policy in force, its history, and a dry run of a draft. */
export function PolicyPage() {
  const active = useApi<ActivePolicy>("/api/v1/policy");
  const history = usePagedList<PolicyVersion>("/api/v1/policy/history?limit=20");
  const session = useSession();
  const [shown, setShown] = useState<string | null>(null);
  return (
    <>
      <h1 tabIndex={-1}>Policy</h1>
      <Loaded state={active} label="the policy">
        {(p) => (
          <>
            <p>
              In force since {formatDate(p.activatedAt)} · version <code>{p.digest.slice(0, 12)}</code> ·
              intel {p.intel.missing ? <strong>missing</strong> : <code>{p.intel.snapshot}</code>}
            </p>
            <details>
              <summary>Active policy</summary>
              <pre className="code">{p.source}</pre>
            </details>
            {session.can("approver") ? (
              <DryRunForm source={p.source} />
            ) : (
              <p className="muted">Approvers can dry-run a draft policy here.</p>
            )}
          </>
        )}
      </Loaded>
      <h2>History</h2>
      {history.error && <ApiErrorNotice error={history.error} />}
      <ol className="plain">
        {history.items.map((v) => (
          <li key={v.digest + v.activatedAt}>
            {formatDate(v.activatedAt)} <code>{v.digest.slice(0, 12)}</code>{" "}
            {v.active && <strong>(active)</strong>}{" "}
            <button
              type="button"
              className="linkish"
              aria-expanded={shown === v.digest}
              onClick={() => setShown(shown === v.digest ? null : v.digest)}
            >
              {shown === v.digest ? "hide" : "show"}
            </button>
            {shown === v.digest && <pre className="code">{v.source}</pre>}
          </li>
        ))}
      </ol>
      {history.hasMore && !history.loading && (
        <button type="button" className="secondary" onClick={history.loadMore}>
          Load more
        </button>
      )}
    </>
  );
}
