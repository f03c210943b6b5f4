import { Loaded } from "../components/api-status";
import { BarChart, LineChart } from "../components/charts";
import { OutcomeBadge } from "../components/outcome-badge";
import { formatDate } from "../format";
import { storedToken } from "../api";
import { Link } from "../router";
import { useSession } from "../session";
import type { Overview } from "../types";
import { useApi, type ApiState } from "../use-api";

const SEVERITIES = ["critical", "high", "medium", "low"] as const;

/** `GET /api/v1/remediation/report`: open items counted by age bucket and severity. */
interface RemediationReport {
  open: { bucket: string; severity: string; count: number }[];
  openTotal: number;
  overdue: number;
  acceptedRisk: number;
  fixed: number;
  meanTimeToRemediateHours: number | null;
}

function sumBy(rows: RemediationReport["open"], key: "bucket" | "severity"): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of rows) out.set(r[key], (out.get(r[key]) ?? 0) + r.count);
  return out;
}

function RemediationCharts({ state }: { state: ApiState<RemediationReport> }) {
  return (
    <Loaded state={state} label="remediation">
      {(r) => {
        const bySeverity = sumBy(r.open, "severity");
        const ordered = [
          ...SEVERITIES,
          ...[...bySeverity.keys()].filter((k) => !(SEVERITIES as readonly string[]).includes(k)),
        ];
        return (
          <>
            <p>
              {r.openTotal} open remediation item{r.openTotal === 1 ? "" : "s"}, {r.overdue} overdue,{" "}
              {r.acceptedRisk} accepted as risk, {r.fixed} fixed
              {r.meanTimeToRemediateHours !== null &&
                ` · mean time to remediate ${formatHours(r.meanTimeToRemediateHours)}`}
              . <Link to="/remediation">Work the items</Link>
            </p>
            <div className="grid2">
              <BarChart
                title="Open remediation items by severity"
                bars={ordered.map((s) => ({
                  label: s,
                  value: bySeverity.get(s) ?? 0,
                  className: `sev-${s}`,
                }))}
              />
              <BarChart
                title="Open remediation items by age"
                bars={[...sumBy(r.open, "bucket")].map(([label, value]) => ({ label, value }))}
                empty="Nothing open."
              />
            </div>
          </>
        );
      }}
    </Loaded>
  );
}

/** The security team's first page: posture now and over time. */
export function OverviewPage() {
  const session = useSession();
  const state = useApi<Overview>("/api/v1/overview");
  // Remediation is for approvers. Both requests start at once (no waterfall behind the first
  // paint) when a token may turn out to be an approver's; the section shows once the role is known.
  const approver = session.can("approver");
  const remediation = useApi<RemediationReport>(
    approver || (session.loading && storedToken() !== null) ? "/api/v1/remediation/report" : null,
  );
  return (
    <>
      <h1 tabIndex={-1}>Overview</h1>
      <Loaded state={state} label="the overview">
        {(o) => (
          <>
            <ul className="tiles" aria-label="Files in the catalog by outcome">
              {(["admitted", "quarantined", "blocked", "pending"] as const).map((k) => (
                <li key={k} className={`tile tile-${k}`}>
                  <span className="tile-value">{o.counts[k]}</span> <span className="tile-label">{k}</span>
                </li>
              ))}
              <li className="tile">
                <Link to="/requests">
                  <span className="tile-value">{o.requests.pending}</span>{" "}
                  <span className="tile-label">requests waiting</span>
                </Link>
              </li>
            </ul>
            <div className="grid2">
              <LineChart
                title="Decisions per day"
                labels={o.history.map((h) => h.day)}
                series={[
                  {
                    name: "admitted",
                    className: "series-admitted",
                    values: o.history.map((h) => h.admitted),
                  },
                  {
                    name: "quarantined",
                    className: "series-quarantined",
                    values: o.history.map((h) => h.quarantined),
                  },
                  { name: "blocked", className: "series-blocked", values: o.history.map((h) => h.blocked) },
                ]}
              />
              <BarChart
                title="Top block reasons"
                bars={o.topReasons.map((r) => ({
                  label: r.code,
                  value: r.count,
                  className: "series-blocked",
                }))}
                empty="Nothing blocked."
              />
            </div>
            {approver && (
              <>
                <h2>Remediation</h2>
                <RemediationCharts state={remediation} />
              </>
            )}
            <h2>Recent blocks</h2>
            {o.recentBlocks.length === 0 ? (
              <p className="muted">Nothing blocked recently.</p>
            ) : (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">File</th>
                      <th scope="col">Outcome</th>
                      <th scope="col">Why</th>
                    </tr>
                  </thead>
                  <tbody>
                    {o.recentBlocks.map((b, i) => (
                      <tr key={`${b.sha256}-${i}`}>
                        <td>{formatDate(b.at)}</td>
                        <td>
                          <Link to={`/projects/${encodeURIComponent(b.project)}`}>{b.filename}</Link>
                        </td>
                        <td>
                          <OutcomeBadge value={b.outcome} />
                          {b.now !== null && b.now !== b.outcome && (
                            <span className="muted">
                              {" "}
                              now <OutcomeBadge value={b.now} />
                            </span>
                          )}
                        </td>
                        <td>{b.reasons.join("; ")}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </>
        )}
      </Loaded>
    </>
  );
}

/** 0.4 h, 7.5 h, 36 h, 9.5 d: a short time keeps its tenths rather than rounding to 0 h. */
function formatHours(h: number): string {
  if (h < 10) return `${h.toFixed(1)} h`;
  if (h < 72) return `${Math.round(h)} h`;
  return `${(h / 24).toFixed(1)} d`;
}
