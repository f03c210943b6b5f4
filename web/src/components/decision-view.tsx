import type { Decision, Reason } from "../types";
import { formatDate } from "../format";
import { OutcomeBadge } from "./outcome-badge";
import { UserText } from "./user-text";

/** A decision's findings with their evidence, as the policy engine recorded them. */
export function DecisionView({ decision }: { decision: Decision }) {
  return (
    <div className="decision">
      <p>
        <OutcomeBadge value={decision.outcome} /> risk {decision.score}/100 · judged{" "}
        {formatDate(decision.decidedAt)}{" "}
        {decision.stage === "index" ? "(from the index only; bytes not judged yet)" : "(on its bytes)"} ·
        policy <code>{decision.policyVersion.slice(0, 12)}</code>
      </p>
      <Findings reasons={decision.reasons} />
    </div>
  );
}

/** What the checks found (passes and skips left out), each with its evidence. */
export function Findings({ reasons }: { reasons: Reason[] }) {
  const findings = reasons.filter((r) => r.outcome !== "pass" && r.outcome !== "skip");
  return (
    <>
      {findings.length === 0 ? (
        <p className="muted">No findings.</p>
      ) : (
        <ul className="findings">
          {findings.map((r, i) => (
            <li key={`${r.check}-${i}`}>
              <strong>{r.check}</strong>{" "}
              <span className={`action action-${r.action}`}>
                {r.action}
                {r.mode === "audit" && r.wouldHave ? ` (audit; enforcing would ${r.wouldHave})` : ""}
              </span>
              {r.severity && <span className="muted"> · {r.severity}</span>}: <UserText text={r.message} />
              {r.ids && r.ids.length > 0 && <span className="muted"> ({r.ids.join(", ")})</span>}
              {r.fixedIn && r.fixedIn.length > 0 && <span> · fixed in {r.fixedIn.join(", ")}</span>}
              {r.waivedBy && (
                <p className="muted">
                  Waived by {r.waivedBy.approver} until {formatDate(r.waivedBy.expiresAt)}:{" "}
                  <UserText text={r.waivedBy.reason} />
                  {r.waivedBy.ticket ? ` (${r.waivedBy.ticket})` : ""}
                </p>
              )}
              {r.evidence.length > 0 && (
                <ul className="evidence">
                  {r.evidence.map((ev, j) => (
                    <li key={j}>
                      {ev.file && (
                        <code>
                          {ev.file}
                          {ev.line ? `:${ev.line}` : ""}
                        </code>
                      )}{" "}
                      <UserText text={ev.detail} />
                      {ev.excerpt && (
                        <pre>
                          <UserText text={ev.excerpt} />
                        </pre>
                      )}
                      {ev.url && /^https?:\/\//.test(ev.url) && (
                        <>
                          {ev.detail || ev.file ? " · " : ""}
                          <a href={ev.url} rel="noreferrer noopener" target="_blank">
                            {ev.url}
                          </a>
                        </>
                      )}
                    </li>
                  ))}
                </ul>
              )}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
