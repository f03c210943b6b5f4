import { withQuery } from "../api";
import { Loaded } from "../components/api-status";
import { UserText } from "../components/user-text";
import { formatDate } from "../format";
import { Link, useLocation } from "../router";
import { useSession } from "../session";
import type { ConsumerDrift, DriftAnswer, DriftChange } from "../types";
import { useApi } from "../use-api";
import { RoleRequired } from "../components/role-required";

/** The windows offered, in days; the first is the API's own default. */
const WINDOWS = [7, 30, 90] as const;

/** Each kind of change in words (the badge's colour only repeats them). */
const KINDS: Record<string, { label: string; className: string }> = {
  "new-project": { label: "new project", className: "badge-other" },
  "new-version": { label: "new version", className: "badge-other" },
  downgrade: { label: "downgrade", className: "badge-blocked" },
};

function ChangeKind({ change }: { change: DriftChange }) {
  const kind = KINDS[change.kind] ?? { label: change.kind, className: "badge-other" };
  return <span className={`badge ${kind.className}`}>{kind.label}</span>;
}

/** What the consumer had before, said the way the change reads: up from, down from, or nothing. */
function Before({ change }: { change: DriftChange }) {
  if (!change.previous) return <span className="muted">first pull of the project</span>;
  return (
    <>
      {change.kind === "downgrade" ? "down from " : "up from "}
      {change.previous}
    </>
  );
}

/**
 * Who the consumer is, as `portcullis drift` names it: an identity with its application; an
 * anonymous caller by its application, or by its address when it names none.
 */
function consumerName(d: ConsumerDrift): string {
  const who = d.identity ?? (d.application ? "anonymous" : `anonymous at ${d.ip}`);
  return d.application ? `${who} [${d.application}]` : who;
}

function Consumer({ drift, index }: { drift: ConsumerDrift; index: number }) {
  const downgrades = drift.changes.filter((c) => c.kind === "downgrade").length;
  const heading = `drift-consumer-${index}`;
  return (
    <section className="card" aria-labelledby={heading}>
      <h2 id={heading}>
        <UserText text={consumerName(drift)} />
      </h2>
      <dl className="facts">
        <dt>Identity</dt>
        <dd>
          {drift.identity ? <UserText text={drift.identity} /> : <span className="muted">anonymous</span>}
        </dd>
        <dt>Application</dt>
        <dd>
          {drift.application ? (
            <UserText text={drift.application} />
          ) : (
            <span className="muted">none named</span>
          )}
        </dd>
        <dt>Team</dt>
        <dd>{drift.team ? <UserText text={drift.team} /> : <span className="muted">none</span>}</dd>
        <dt>Address</dt>
        <dd>
          {drift.ip} <span className="muted">(latest)</span>
        </dd>
      </dl>
      <div className="table-wrap">
        <table className="nowrap">
          <caption>
            {drift.changes.length} {drift.changes.length === 1 ? "change" : "changes"}
            {downgrades > 0 && `, ${downgrades} ${downgrades === 1 ? "downgrade" : "downgrades"}`}
          </caption>
          <thead>
            <tr>
              <th scope="col">Change</th>
              <th scope="col">Package</th>
              <th scope="col">Before</th>
              <th scope="col">File</th>
              <th scope="col">First pulled</th>
            </tr>
          </thead>
          <tbody>
            {drift.changes.map((c) => (
              <tr key={`${c.project}==${c.version}`}>
                <td>
                  <ChangeKind change={c} />
                </td>
                <td>
                  <Link to={`/projects/${encodeURIComponent(c.project)}`}>
                    {c.project}=={c.version}
                  </Link>
                </td>
                <td>
                  <Before change={c} />
                </td>
                <td>
                  <span className="filename">{c.filename}</span>
                </td>
                <td>{formatDate(c.firstPulled)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** The drift over one window; keyed by it, so another window never shows this one's answer. */
function DriftWindow({ days, ask }: { days: number; ask: boolean }) {
  const state = useApi<DriftAnswer>(ask ? withQuery("/api/v1/inventory/drift", { days }) : null);
  return (
    <Loaded state={state} label="drift">
      {(drift) =>
        drift.items.length === 0 ? (
          <p className="notice">
            No drift in the last {days} days (since {formatDate(drift.since)}): nobody pulled a project or a
            version they had not pulled before.
          </p>
        ) : (
          <>
            <p>
              {drift.items.length} {drift.items.length === 1 ? "consumer" : "consumers"} pulled something new
              since {formatDate(drift.since)}.
            </p>
            {drift.items.map((d, i) => (
              <Consumer
                key={`${d.identity ?? ""}\u0000${d.application ?? ""}\u0000${d.ip}`}
                drift={d}
                index={i}
              />
            ))}
          </>
        )
      }
    </Loaded>
  );
}

/**
 * Posture drift per consumer (approvers and admins; the API refuses the others): what each one
 * started pulling in the window that it never pulled before, downgrades marked in words.
 */
export function DriftPage() {
  const { query } = useLocation();
  const session = useSession();
  const asked = Number(query.get("days"));
  const days = (WINDOWS as readonly number[]).includes(asked) ? asked : WINDOWS[0];
  // Asked for while the role is still unknown; once it is known, only by an approver.
  const allowed = session.can("approver");
  return (
    <>
      <h1 tabIndex={-1}>Drift</h1>
      <p className="muted">
        What each consumer (an identity with its application, or an anonymous caller) started pulling in the
        window that it never pulled before: a new project, a newer version, or a downgrade to an older one.
      </p>
      <RoleRequired allowed={allowed}>Only approvers and administrators can see drift.</RoleRequired>
      {allowed && (
        <nav aria-label="Drift window" className="tabs">
          {WINDOWS.map((w) => (
            <Link
              key={w}
              to={withQuery("/drift", { days: w })}
              {...(w === days ? { "aria-current": "page" as const } : {})}
            >
              {w} days
            </Link>
          ))}
        </nav>
      )}
      <DriftWindow key={days} days={days} ask={allowed || session.loading} />
    </>
  );
}
