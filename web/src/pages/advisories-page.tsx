import { ApiErrorNotice } from "../components/api-status";
import { OutcomeBadge } from "../components/outcome-badge";
import { UserText } from "../components/user-text";
import { WhoHas } from "../components/who-has";
import { formatDate } from "../format";
import { Link } from "../router";
import type { Advisory } from "../types";
import { usePagedList } from "../use-paged-list";
import { ListFooter } from "../components/list-footer";

/** Advisories that affect files in the catalog, with owners and who has the files. */
export function AdvisoriesPage() {
  const list = usePagedList<Advisory>("/api/v1/advisories?limit=50");
  return (
    <>
      <h1 tabIndex={-1}>Advisories affecting the catalog</h1>
      {list.error && <ApiErrorNotice error={list.error} />}
      {!list.error && !list.loading && list.items.length === 0 && (
        <p className="muted">No known advisory affects a file in the catalog.</p>
      )}
      {list.items.map((a) => (
        <article key={a.id} className="card" aria-labelledby={`adv-${a.id}`}>
          <h2 id={`adv-${a.id}`}>
            {/^https?:\/\//.test(a.url) ? (
              <a href={a.url} rel="noreferrer noopener" target="_blank">
                {a.id}
              </a>
            ) : (
              a.id
            )}{" "}
            <span className={`badge sev-${a.severity ?? "unrated"}`}>{a.severity ?? "unrated"}</span>{" "}
            <span className="muted">{a.kind}</span>
          </h2>
          {a.summary && (
            <p className="reason">
              <UserText text={a.summary} />
            </p>
          )}
          <p className="muted">
            Published {formatDate(a.published)}
            {a.aliases.length > 0 && <> · also {a.aliases.join(", ")}</>}
          </p>
          {a.projects.map((p) => (
            <section key={p.project} className="affected">
              <h3>
                <Link to={`/projects/${encodeURIComponent(p.project)}`}>{p.project}</Link>{" "}
                <span className="muted">
                  owner {p.owner ?? "nobody"} · {p.consumers} consumer{p.consumers === 1 ? "" : "s"}
                  {p.fixedIn.length > 0 && <> · fixed in {p.fixedIn.join(", ")}</>}
                </span>
              </h3>
              <ul className="plain">
                {p.files.map((f) => (
                  <li key={f.sha256}>
                    {f.filename} <OutcomeBadge value={f.outcome ?? "not judged"} />
                  </li>
                ))}
              </ul>
              <WhoHas query={p.project} />
            </section>
          ))}
        </article>
      ))}
      <ListFooter list={list} />
    </>
  );
}
