import { useState } from "react";
import { withQuery } from "../api";
import { formatDate } from "../format";
import { useSession } from "../session";
import { useApi } from "../use-api";
import { Loaded } from "./api-status";

interface Consumer {
  identity: string | null;
  team?: string | null;
  ip: string;
  application?: string | null;
  project: string;
  version: string;
  filename: string;
  sha256: string;
  lastPulled: string;
  pulls: number;
  owner: string | null;
}

/**
 * Who pulled what `query` names (`GET /api/v1/who-has?q=`: a project, NAME==VERSION or an
 * advisory id), fetched when asked for. Approvers only: no one else is shown the button.
 */
export function WhoHas({ query, label }: { query: string; label?: string }) {
  const session = useSession();
  const [open, setOpen] = useState(false);
  const state = useApi<{ consumers: Consumer[] }>(open ? withQuery("/api/v1/who-has", { q: query }) : null);
  if (!session.can("approver")) return null;
  return (
    <div className="who-has">
      <button type="button" className="secondary" aria-expanded={open} onClick={() => setOpen(!open)}>
        {open ? "Hide who has it" : `Who has ${label ?? query}?`}
      </button>
      {open && (
        <Loaded state={state} label="consumers">
          {(d) =>
            d.consumers.length === 0 ? (
              <p className="muted">Nobody has pulled it through this gateway.</p>
            ) : (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Who</th>
                      <th scope="col">Application</th>
                      <th scope="col">File</th>
                      <th scope="col">Owner</th>
                      <th scope="col">Last pulled</th>
                      <th scope="col" className="num">
                        Pulls
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.consumers.map((c) => (
                      <tr key={`${c.identity ?? c.ip}-${c.sha256}`}>
                        <td>
                          {c.identity ?? `anonymous ${c.ip}`}
                          {c.team ? ` (${c.team})` : ""}
                        </td>
                        <td>{c.application ?? "—"}</td>
                        <td className="filename">{c.filename}</td>
                        <td>{c.owner ?? "—"}</td>
                        <td>{formatDate(c.lastPulled)}</td>
                        <td className="num">{c.pulls}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )
          }
        </Loaded>
      )}
    </div>
  );
}
