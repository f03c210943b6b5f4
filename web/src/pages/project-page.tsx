import { useState } from "react";
import { api } from "../api";
import { ActionStatus, Loaded } from "../components/api-status";
import { DecisionView } from "../components/decision-view";
import { DownloadButton } from "../components/download-button";
import { NotFound } from "../components/not-found";
import { OutcomeBadge } from "../components/outcome-badge";
import { ProvenanceView } from "../components/provenance-view";
import { UserText } from "../components/user-text";
import { WhoHas } from "../components/who-has";
import { formatBytes, formatDate, shortSha } from "../format";
import { Link } from "../router";
import { useSession } from "../session";
import type { ProjectDetail } from "../types";
import { useApi } from "../use-api";
import { useApiAction } from "../use-api-action";

interface VetAnswer {
  ok: boolean;
  reports: { target: string; tree: string; treeScore: number; ok: boolean; error?: string }[];
}

/** The resolved dependency tree of one version, as `POST /api/v1/vet` judges it (on demand: it resolves). */
function DependencyTree({ project, version }: { project: string; version: string }) {
  const [answer, setAnswer] = useState<VetAnswer | null>(null);
  const { busy, error, run } = useApiAction();
  const resolve = () =>
    run(async () => {
      const body = { requirements: [`${project}==${version}`] };
      setAnswer(await api<VetAnswer>("/api/v1/vet", { method: "POST", body }));
    });
  return (
    <div>
      <button type="button" className="secondary" onClick={() => void resolve()} disabled={busy}>
        {busy ? "Resolving…" : `Dependency tree of ${version}`}
      </button>
      <ActionStatus error={error} />
      {answer?.reports.map((r) => {
        const tree = r.error ? withoutFailureLine(r.tree, r.error) : r.tree;
        return (
          <div key={r.target} className="tree-report">
            <p>
              {r.target}: tree risk {r.treeScore}/100{" "}
              {r.ok ? "· everything admitted" : "· something is refused"}
            </p>
            {r.error && (
              <p className="notice error" role="alert">
                {r.error}
              </p>
            )}
            {tree && <pre className="tree">{tree}</pre>}
          </div>
        );
      })}
    </div>
  );
}

/**
 * A failed resolution's tree without its first line, "Resolution failed (CODE): <error>", when the
 * notice above it already says that error: what is left (conflicts, rejected versions) or nothing.
 */
function withoutFailureLine(tree: string, error: string): string {
  const [first = "", ...rest] = tree.split("\n");
  if (!first.startsWith("Resolution failed") || !first.endsWith(`: ${error}`)) return tree;
  return rest.join("\n").trim() ? rest.join("\n") : "";
}

/** One project: its versions and files with their decisions, consumers and owner. */
export function ProjectPage({ name }: { name: string }) {
  const state = useApi<ProjectDetail>(`/api/v1/projects/${encodeURIComponent(name)}`);
  const session = useSession();
  if (state.error && !state.error.routeMissing && [400, 404].includes(state.error.status))
    return (
      <NotFound
        what={
          <>
            project <code>{name}</code> in the catalog
          </>
        }
      />
    );
  return (
    <>
      <h1 tabIndex={-1}>{state.data?.displayName ?? name}</h1>
      <Loaded state={state} label={name}>
        {(p) => (
          <>
            {p.summary && (
              <p>
                <UserText text={p.summary} />
              </p>
            )}
            <dl className="facts">
              <dt>Owner</dt>
              <dd>{p.owner ?? <span className="muted">nobody yet</span>}</dd>
              <dt>Updated</dt>
              <dd>{formatDate(p.updatedAt)}</dd>
            </dl>
            {session.can("requester") && (
              <p>
                <Link to={`/requests?project=${encodeURIComponent(p.name)}`}>
                  Request a version of {p.name}
                </Link>
              </p>
            )}
            {/* Who pulled it is who-has data: the API gives it to approvers and admins only. */}
            {p.consumers !== undefined && <h2>Consumers</h2>}
            {p.consumers === undefined ? null : p.consumers.length === 0 ? (
              <p className="muted">Nobody has pulled it through this gateway.</p>
            ) : (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Who</th>
                      <th scope="col">Team</th>
                      <th scope="col">Version</th>
                      <th scope="col">Last pulled</th>
                      <th scope="col" className="num">
                        Pulls
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {p.consumers.map((c, i) => (
                      <tr key={i}>
                        <td>{c.identity ?? "anonymous"}</td>
                        <td>{c.team ?? "—"}</td>
                        <td>{c.version}</td>
                        <td>{formatDate(c.lastPulled)}</td>
                        <td className="num">{c.pulls}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            <WhoHas query={p.name} />
            <h2>Versions</h2>
            {p.versions.length === 0 && <p className="muted">No versions known yet.</p>}
            {p.versions.map((v) => (
              <section key={v.version} className="version" aria-labelledby={`v-${v.version}`}>
                <h3 id={`v-${v.version}`}>{v.version}</h3>
                <p className="muted">
                  Python {v.requiresPython ?? "any"} · licence {v.licence ?? "unknown"}
                  {v.requires.length > 0 && <> · depends on {v.requires.join(", ")}</>}
                  {v.extras.length > 0 && (
                    <> · extras: {v.extras.map((e) => `${e.name} (${e.dependencies.length})`).join(", ")}</>
                  )}
                </p>
                {v.extras.length > 0 && (
                  <details className="extras">
                    <summary>What the extras add</summary>
                    <ul>
                      {v.extras.map((e) => (
                        <li key={e.name}>
                          <code>{e.name}</code>: {e.dependencies.join(", ")}
                        </li>
                      ))}
                    </ul>
                  </details>
                )}
                {v.files.map((f) => (
                  <details
                    key={f.sha256}
                    className="file"
                    open={f.decision !== null && f.decision.outcome !== "admitted"}
                  >
                    <summary>
                      <span className="filename">{f.filename}</span>{" "}
                      <OutcomeBadge value={f.decision?.outcome ?? "not judged"} />{" "}
                      <span className="muted">
                        {formatBytes(f.size)} · sha256 {shortSha(f.sha256)}
                      </span>
                    </summary>
                    {f.decision ? (
                      <DecisionView decision={f.decision} />
                    ) : (
                      <p className="muted">Not judged yet.</p>
                    )}
                    <p className="links">
                      <DownloadButton path={f.links.attestation} filename={`${f.filename}.intoto.jsonl`}>
                        Attestation (signed decision)
                      </DownloadButton>{" "}
                      <ProvenanceView sha256={f.sha256} />{" "}
                      <DownloadButton path={f.links.decision} filename={`${f.filename}.decision.json`}>
                        Decision JSON
                      </DownloadButton>
                    </p>
                  </details>
                ))}
                <DependencyTree project={p.name} version={v.version} />
              </section>
            ))}
          </>
        )}
      </Loaded>
    </>
  );
}
