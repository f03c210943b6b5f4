import { useState, type FormEvent } from "react";
import { withQuery } from "../api";
import { ApiErrorNotice } from "../components/api-status";
import { DownloadButton } from "../components/download-button";
import { OutcomeBadge } from "../components/outcome-badge";
import { formatDate } from "../format";
import { navigate, useLocation } from "../router";
import { useSession } from "../session";
import type { AuditRecord } from "../types";
import { usePagedList } from "../use-paged-list";
import { ListFooter } from "../components/list-footer";
import { RoleRequired } from "../components/role-required";

const FILTERS = [
  { key: "identity", label: "Identity", type: "text" },
  { key: "project", label: "Project", type: "text" },
  { key: "action", label: "Action", type: "text" },
  { key: "outcome", label: "Outcome", type: "text" },
  { key: "since", label: "Since", type: "datetime-local" },
  { key: "until", label: "Until", type: "datetime-local" },
] as const;
type FilterKey = (typeof FILTERS)[number]["key"];

function who(r: AuditRecord): string {
  const name = r.identity ?? `anonymous ${r.ip}`;
  return r.role ? `${name} (${r.role})` : name;
}

/** Times go to the API as ISO 8601 (UTC); the form shows local time. */
function toApiTime(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** The filter form, started from the address's filter (it is remounted whenever that changes). */
function AuditFilters({ applied, exportPath }: { applied: Record<FilterKey, string>; exportPath: string }) {
  const [form, setForm] = useState(applied);
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    navigate(withQuery("/audit", form));
  };
  return (
    <form className="filters" onSubmit={onSubmit} aria-label="Filter the audit log">
      {FILTERS.map((f) => (
        <div className="stack" key={f.key}>
          <label htmlFor={`audit-${f.key}`}>{f.label}</label>
          <input
            id={`audit-${f.key}`}
            type={f.type}
            value={form[f.key]}
            onChange={(e) => setForm({ ...form, [f.key]: e.target.value })}
          />
        </div>
      ))}
      <div className="row">
        <button type="submit">Filter</button>
        <DownloadButton path={exportPath} filename="audit.jsonl" paged>
          Export JSONL
        </DownloadButton>
      </div>
    </form>
  );
}

/** The audit trail, filtered, paged, and exported as JSON Lines (approvers and admins). */
export function AuditPage() {
  const { query } = useLocation();
  const session = useSession();
  const applied = Object.fromEntries(FILTERS.map((f) => [f.key, query.get(f.key) ?? ""])) as Record<
    FilterKey,
    string
  >;
  const apiQuery = {
    ...applied,
    since: toApiTime(applied.since),
    until: toApiTime(applied.until),
  };
  // While the session is still being checked the list loads at once; once the role is known, only
  // an approver asks for it (the API would refuse anyone else).
  const allowed = session.can("approver");
  const list = usePagedList<AuditRecord>(
    allowed || session.loading ? withQuery("/api/v1/audit", { ...apiQuery, limit: 100 }) : null,
  );
  return (
    <>
      <h1 tabIndex={-1}>Audit log</h1>
      <RoleRequired allowed={allowed} className="muted">
        Only approvers and administrators can read the audit log.
      </RoleRequired>
      {allowed && (
        <AuditFilters
          // The form follows the address: back, forward and the Audit link all reset it.
          key={JSON.stringify(applied)}
          applied={applied}
          // The export pages itself (x-next-cursor): big pages, followed to the end.
          exportPath={withQuery("/api/v1/audit", { ...apiQuery, format: "jsonl", limit: 1000 })}
        />
      )}
      {list.error && <ApiErrorNotice error={list.error} />}
      {allowed && !list.error && !list.loading && list.items.length === 0 && (
        <p className="muted">No audit records match.</p>
      )}
      {list.items.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">Outcome</th>
                <th scope="col">Subject</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((r) => (
                <tr key={r.seq}>
                  <td>
                    {formatDate(r.time)}
                    {r.count !== undefined && (
                      <span
                        className="muted repeats"
                        title={`The same access ${r.count} times, the last at ${formatDate(r.repeatedAt?.at(-1) ?? r.time)}`}
                      >
                        {" "}
                        ×{r.count}
                      </span>
                    )}
                  </td>
                  <td>{who(r)}</td>
                  <td>{r.action}</td>
                  <td>
                    <OutcomeBadge value={r.outcome} />
                  </td>
                  <td className="subject">
                    {[r.project, r.version, r.filename].filter(Boolean).join(" ") || "—"}
                  </td>
                  <td className="detail">
                    {detailLines(r.detail).map((line, i) => (
                      <div key={i}>{line}</div>
                    ))}
                  </td>
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

/**
 * A record's detail as lines of `key: value` (`route: /api/v1/overview`, `decision: admitted`)
 * rather than one run of JSON broken at any character.
 */
function detailLines(detail: unknown): string[] {
  if (detail === null || detail === undefined) return [];
  if (typeof detail !== "object" || Array.isArray(detail)) return [JSON.stringify(detail)];
  return Object.entries(detail).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
}
