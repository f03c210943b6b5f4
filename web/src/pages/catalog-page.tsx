import { useEffect, useState } from "react";
import { withQuery } from "../api";
import { ApiErrorNotice } from "../components/api-status";
import { DownloadButton } from "../components/download-button";
import { formatDate } from "../format";
import { Link, navigate, useLocation } from "../router";
import type { ProjectSummary } from "../types";
import { usePagedList } from "../use-paged-list";
import { ListFooter } from "../components/list-footer";

/** The catalog: every project the gateway knows, searchable by name. */
export function CatalogPage() {
  const { query } = useLocation();
  const q = query.get("q") ?? "";
  const [text, setText] = useState(q);
  // The address changed under the box (back, a link): show its search. The box's own navigation
  // (the same words, trimmed) leaves what the user is typing alone, trailing space included.
  useEffect(() => setText((t) => (t.trim() === q ? t : q)), [q]);
  // The search is in the address, so a search can be shared and the back button undoes it.
  useEffect(() => {
    if (text.trim() === q) return;
    const t = setTimeout(
      () => navigate(withQuery("/catalog", { q: text.trim() }), { replace: true, keepFocus: true }),
      250,
    );
    return () => clearTimeout(t);
  }, [text, q]);
  const list = usePagedList<ProjectSummary>(withQuery("/api/v1/projects", { q, limit: 50 }));
  return (
    <>
      <h1 tabIndex={-1}>Catalog</h1>
      <form role="search" className="toolbar" onSubmit={(e) => e.preventDefault()}>
        <label htmlFor="catalog-q">Search projects</label>
        <input id="catalog-q" type="search" value={text} onChange={(e) => setText(e.target.value)} />
        <DownloadButton path="/api/v1/sbom/catalog?format=cyclonedx" filename="catalog.cdx.json">
          Catalog SBOM (CycloneDX)
        </DownloadButton>
        <DownloadButton path="/api/v1/sbom/catalog?format=spdx" filename="catalog.spdx.json">
          Catalog SBOM (SPDX)
        </DownloadButton>
      </form>
      {list.error && <ApiErrorNotice error={list.error} />}
      {!list.error && !list.loading && list.items.length === 0 && (
        <p className="muted">{q ? `No project matches “${q}”.` : "The catalog is empty."}</p>
      )}
      {list.items.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Project</th>
                <th scope="col" className="num">
                  Versions
                </th>
                <th scope="col" className="num">
                  Files
                </th>
                <th scope="col">Admitted / quarantined / blocked</th>
                <th scope="col">Owner</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((p) => (
                <tr key={p.name}>
                  <td>
                    <Link to={`/projects/${encodeURIComponent(p.name)}`}>{p.displayName || p.name}</Link>
                  </td>
                  <td className="num">{p.versions}</td>
                  <td className="num">{p.files}</td>
                  <td>
                    {p.outcomes.admitted} / {p.outcomes.quarantined} / {p.outcomes.blocked}
                  </td>
                  <td>{p.owner ?? <span className="muted">none</span>}</td>
                  <td>{formatDate(p.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ListFooter list={list} />
    </>
  );
}
