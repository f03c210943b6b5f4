import { useEffect, useRef, useState, type FormEvent } from "react";
import { api, type ApiError, withQuery } from "../api";
import { ActionStatus, ApiErrorNotice } from "../components/api-status";
import { ListFooter } from "../components/list-footer";
import { UserText } from "../components/user-text";
import { formatDate } from "../format";
import { Link, navigate, useLocation } from "../router";
import { ROLES, useSession } from "../session";
import type { ApiToken, CreatedApiToken } from "../types";
import { useApiAction } from "../use-api-action";
import { usePagedList } from "../use-paged-list";
import { RoleRequired } from "../components/role-required";

/**
 * The expiry as typed, for the API: a number when it reads as one, else the text as it is. The
 * API is the one judge of what is valid (whole days, 1–3650) and says why it refuses, so 0 or
 * 1.5 are sent as typed rather than rounded or stopped here.
 */
function expiryForApi(text: string): number | string {
  const n = Number(text);
  return Number.isFinite(n) ? n : text;
}

/**
 * Makes a token: `POST /api/v1/tokens`. The answer (the secret with it) goes straight to
 * `onCreated` and is never kept here: the form only resets.
 */
function CreateToken({ onCreated }: { onCreated: (created: CreatedApiToken) => void }) {
  const [user, setUser] = useState("");
  const [service, setService] = useState(false);
  const [role, setRole] = useState<string>("reader");
  const [team, setTeam] = useState("");
  const [label, setLabel] = useState("");
  const [days, setDays] = useState("");
  const { busy, error, run } = useApiAction();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    // Optional fields left empty are left out: the API takes "no team", "no label", "no expiry".
    const body = {
      user: user.trim(),
      role,
      ...(team.trim() ? { team: team.trim() } : {}),
      ...(label.trim() ? { label: label.trim() } : {}),
      // Unticked sends no kind: an existing service account keeps its kind, a new name is a user.
      ...(service ? { kind: "service" } : {}),
      ...(days.trim() ? { expiresInDays: expiryForApi(days.trim()) } : {}),
    };
    await run(async () => {
      const created = await api<CreatedApiToken>("/api/v1/tokens", { method: "POST", body });
      setUser("");
      setService(false);
      setRole("reader");
      setTeam("");
      setLabel("");
      setDays("");
      onCreated(created);
    });
  };

  return (
    <form className="card stack narrow" onSubmit={(e) => void submit(e)} aria-labelledby="token-create">
      <h2 id="token-create">Create a token</h2>
      <label htmlFor="token-user">User</label>
      <input
        id="token-user"
        required
        maxLength={100}
        autoComplete="off"
        aria-describedby="token-user-hint"
        value={user}
        onChange={(e) => setUser(e.target.value)}
      />
      <p id="token-user-hint" className="muted">
        Letters, digits and <code>. _ @ -</code>. A name the gateway does not know yet becomes a new identity.
      </p>
      <label>
        <input type="checkbox" checked={service} onChange={(e) => setService(e.target.checked)} /> service
        account (CI job, scheduled script)
      </label>
      <label htmlFor="token-role">Role</label>
      <select id="token-role" value={role} onChange={(e) => setRole(e.target.value)}>
        {ROLES.map((r) => (
          <option key={r} value={r}>
            {r}
          </option>
        ))}
      </select>
      <label htmlFor="token-team">Team (optional)</label>
      <input
        id="token-team"
        maxLength={100}
        autoComplete="off"
        value={team}
        onChange={(e) => setTeam(e.target.value)}
      />
      <label htmlFor="token-label">Label (optional)</label>
      <input
        id="token-label"
        maxLength={200}
        autoComplete="off"
        aria-describedby="token-label-hint"
        value={label}
        onChange={(e) => setLabel(e.target.value)}
      />
      <p id="token-label-hint" className="muted">
        The application this token pulls for: the audit trail and drift name it.
      </p>
      <label htmlFor="token-days">Expires after (days, optional)</label>
      {/* Text, not a number field: the browser would stop 0 or 1.5 without saying the API's reason. */}
      <input
        id="token-days"
        inputMode="numeric"
        autoComplete="off"
        placeholder="never"
        aria-describedby="token-days-hint"
        value={days}
        onChange={(e) => setDays(e.target.value)}
      />
      <p id="token-days-hint" className="muted">
        Whole days, 1–3650. Left empty, the token does not expire.
      </p>
      <button type="submit" disabled={busy}>
        {busy ? "Creating…" : "Create token"}
      </button>
      <ActionStatus error={error} />
    </form>
  );
}

/**
 * The new token, this once: the gateway keeps only a keyed hash of it, so nobody can show it
 * again. It lives in the page's state only (never the address, storage or the list) until "Done".
 */
function NewToken({ created, onDone }: { created: CreatedApiToken; onDone: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  const secret = useRef<HTMLElement>(null);
  const [copied, setCopied] = useState<"copied" | "selected" | null>(null);
  const { token, info } = created;
  // The box shows above the list: keyboard and screen reader users are taken to it.
  useEffect(() => {
    heading.current?.focus();
  }, []);
  const pipUrl = `${window.location.protocol}//__token__:${token}@${window.location.host}/simple/`;

  const select = () => {
    const el = secret.current;
    const selection = window.getSelection();
    if (!el || !selection) return;
    const range = document.createRange();
    range.selectNodeContents(el);
    selection.removeAllRanges();
    selection.addRange(range);
  };
  const copy = async () => {
    try {
      // Only on HTTPS or localhost, and the browser may still refuse: then the text is selected
      // for Ctrl+C instead.
      if (!navigator.clipboard) throw new Error("no clipboard");
      await navigator.clipboard.writeText(token);
      setCopied("copied");
    } catch {
      select();
      setCopied("selected");
    }
  };

  return (
    <section className="card secret-once" aria-labelledby="token-new">
      <h2 id="token-new" tabIndex={-1} ref={heading}>
        New token for <UserText text={info.user} /> — shown once
      </h2>
      <p>
        Store it now (a CI secret, a password manager): it is never shown again, here or anywhere. Token{" "}
        <code>{info.id}</code>, role {info.role}
        {info.team && (
          <>
            , team <UserText text={info.team} />
          </>
        )}
        {info.label && (
          <>
            , label <UserText text={info.label} />
          </>
        )}
        , {info.expiresAt ? `expires ${formatDate(info.expiresAt)}` : "does not expire"}.
      </p>
      <code className="secret" ref={secret} aria-label="The new token">
        {token}
      </code>
      <div className="row">
        <button type="button" onClick={() => void copy()}>
          Copy
        </button>
        {copied && (
          <span role="status">
            {copied === "copied" ? "Copied." : "Selected: press Ctrl+C (⌘C on a Mac) to copy it."}
          </span>
        )}
      </div>
      <p>pip and uv take it in the index address:</p>
      <code className="secret">pip install --index-url {pipUrl} PACKAGE</code>
      <button
        type="button"
        className="secondary"
        onClick={() => {
          window.getSelection()?.removeAllRanges();
          onDone();
        }}
      >
        Done — I have stored it
      </button>
    </section>
  );
}

/** Revoke, after a confirmation step: `DELETE /api/v1/tokens/{id}`. */
function RevokeToken({
  token,
  onRevoked,
  onChanged,
}: {
  token: ApiToken;
  onRevoked: (id: string) => void;
  /** Revoked or gone meanwhile: the page says so (this row and its message go with the reload). */
  onChanged: (refusal: ApiError) => void;
}) {
  const [confirming, setConfirming] = useState(false);
  const { busy, error, run, clear } = useApiAction();
  const revoke = () =>
    run(
      async () => {
        await api(`/api/v1/tokens/${encodeURIComponent(token.id)}`, { method: "DELETE" });
        onRevoked(token.id);
      },
      // Revoked (409) or gone (404) meanwhile: the list shows it as it now is.
      (refusal) => {
        if (refusal.status === 404 || refusal.status === 409) onChanged(refusal);
      },
    );
  if (!confirming)
    return (
      <button
        type="button"
        className="danger"
        aria-label={`Revoke token ${token.id}`}
        onClick={() => {
          setConfirming(true);
          clear();
        }}
      >
        Revoke
      </button>
    );
  return (
    <div className="stack" role="group" aria-label={`Confirm revoking token ${token.id}`}>
      <span>
        Revoke token {token.id} of <UserText text={token.user} />? Whatever uses it gets 401 from then on;
        this cannot be undone.
      </span>
      <div className="row">
        <button type="button" className="danger" disabled={busy} onClick={() => void revoke()}>
          {busy ? "Revoking…" : "Confirm revoke"}
        </button>
        <button type="button" className="secondary" disabled={busy} onClick={() => setConfirming(false)}>
          Cancel
        </button>
      </div>
      <ActionStatus error={error} />
    </div>
  );
}

const STATE_BADGES: Record<ApiToken["state"], string> = {
  active: "badge-admitted",
  expired: "badge-other",
  revoked: "badge-blocked",
  disabled: "badge-pending",
};

/** A token's state in words: whether it still authenticates, and why not. */
function TokenState({ t }: { t: ApiToken }) {
  return (
    <>
      <span className={`badge ${STATE_BADGES[t.state] ?? "badge-other"}`}>{t.state}</span>
      {t.state === "revoked" && t.revokedAt && <span className="muted"> {formatDate(t.revokedAt)}</span>}
      {t.state === "disabled" && <span className="muted"> its identity is disabled</span>}
    </>
  );
}

/** The user filter, started from the address's (remounted whenever that changes). */
function TokenFilter({ applied }: { applied: string }) {
  const [user, setUser] = useState(applied);
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    navigate(withQuery("/tokens", { user: user.trim() }));
  };
  return (
    <form className="filters" onSubmit={onSubmit} aria-label="Filter tokens">
      <div className="stack">
        <label htmlFor="tokens-filter-user">User</label>
        <input
          id="tokens-filter-user"
          maxLength={100}
          value={user}
          onChange={(e) => setUser(e.target.value)}
        />
      </div>
      <div className="row">
        <button type="submit">Filter</button>
        {applied && (
          <Link to="/tokens" className="button-link">
            All tokens
          </Link>
        )}
      </div>
    </form>
  );
}

/**
 * API tokens (admins): make one for a user or service account (its secret shown once), list them
 * newest first (never a secret), filtered by user in the address, and revoke one after a
 * confirmation.
 */
export function TokensPage() {
  const session = useSession();
  const { query } = useLocation();
  const allowed = session.can("admin");
  const applied = query.get("user") ?? "";
  const list = usePagedList<ApiToken>(
    allowed ? withQuery("/api/v1/tokens", { user: applied, limit: 50 }) : null,
  );
  // The new token: in this state only, until "Done" (or leaving the page) drops it.
  const [created, setCreated] = useState<CreatedApiToken | null>(null);
  const [revoked, setRevoked] = useState<string | null>(null);
  // A revoke refused because someone else revoked (or removed) the token first.
  const [refused, setRefused] = useState<ApiError | null>(null);
  return (
    <>
      <h1 tabIndex={-1}>Tokens</h1>
      <p className="muted">
        API tokens for people and for service accounts (CI jobs, scheduled scripts): what pip, uv and the API
        authenticate with. Disabling an identity on the <Link to="/users">Users</Link> page refuses all of its
        tokens at once.
      </p>
      <RoleRequired allowed={allowed}>Only administrators can see, create and revoke tokens.</RoleRequired>
      {allowed && (
        <CreateToken
          onCreated={(c) => {
            setRevoked(null);
            setRefused(null);
            setCreated(c);
            list.reload();
          }}
        />
      )}
      {allowed && created && (
        <NewToken
          // Keyed by the token: a second one made before "Done" starts its own box.
          key={created.info.id}
          created={created}
          onDone={() => {
            setCreated(null);
            document.querySelector<HTMLElement>("main h1")?.focus();
          }}
        />
      )}
      {allowed && (
        <>
          <h2>Issued tokens</h2>
          <TokenFilter key={applied} applied={applied} />
        </>
      )}
      <ActionStatus done={revoked} error={refused} />
      {list.error && <ApiErrorNotice error={list.error} />}
      {allowed && !list.error && !list.loading && list.items.length === 0 && (
        <p className="muted">
          {applied ? (
            <>
              No tokens for <UserText text={applied} />.
            </>
          ) : (
            "No tokens yet."
          )}
        </p>
      )}
      {list.items.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption>
              Tokens
              {applied && (
                <>
                  {" "}
                  of <UserText text={applied} />
                </>
              )}
              , newest first
            </caption>
            <thead>
              <tr>
                <th scope="col">Token</th>
                <th scope="col">User</th>
                <th scope="col">Role</th>
                <th scope="col">Team</th>
                <th scope="col">Label</th>
                <th scope="col">State</th>
                <th scope="col">Expires</th>
                <th scope="col">Created</th>
                <th scope="col">Revoke</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((t) => (
                <tr key={t.id}>
                  <td>
                    <code>{t.id}</code>
                  </td>
                  <td>
                    <UserText text={t.user} />
                  </td>
                  <td>{t.role}</td>
                  <td>{t.team ? <UserText text={t.team} /> : "—"}</td>
                  <td>{t.label ? <UserText text={t.label} /> : "—"}</td>
                  <td>
                    <TokenState t={t} />
                  </td>
                  <td>{t.expiresAt ? formatDate(t.expiresAt) : "never"}</td>
                  <td>
                    {formatDate(t.createdAt)}
                    {t.createdBy && (
                      <>
                        {" "}
                        by <UserText text={t.createdBy} />
                      </>
                    )}
                  </td>
                  <td>
                    {/* A disabled identity's token comes back when the identity is enabled: it
                        can be revoked too. Revoked and expired ones never work again. */}
                    {t.state === "active" || t.state === "disabled" ? (
                      <RevokeToken
                        token={t}
                        onRevoked={(id) => {
                          setRefused(null);
                          setRevoked(`Token ${id} revoked: it is refused (401) from now on.`);
                          list.reload();
                        }}
                        onChanged={(refusal) => {
                          setRevoked(null);
                          setRefused(refusal);
                          list.reload();
                        }}
                      />
                    ) : (
                      "—"
                    )}
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
