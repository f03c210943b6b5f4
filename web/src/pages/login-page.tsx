import { useState, type FormEvent } from "react";
import { ApiErrorNotice } from "../components/api-status";
import { navigate } from "../router";
import { useSession } from "../session";
import { useApiAction } from "../use-api-action";

/** Log in with an API token; it is checked with the gateway before it is kept. */
export function LoginPage() {
  const session = useSession();
  const [token, setToken] = useState("");
  const { busy, error, run } = useApiAction();
  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    await run(async () => {
      await session.login(token.trim());
      navigate("/", { replace: true });
    });
  };
  return (
    <section className="narrow">
      <h1 tabIndex={-1}>Log in</h1>
      {session.loginRequired && (
        <p className="notice" role="status">
          This gateway does not allow anonymous access: log in to use it.
        </p>
      )}
      <p>
        Paste an API token (from <code>portcullis token create</code> or your administrator). It is kept in
        this browser tab only and sent to this gateway alone.
      </p>
      <form onSubmit={(e) => void onSubmit(e)} className="stack">
        <label htmlFor="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          required
          value={token}
          onChange={(e) => setToken(e.target.value)}
        />
        <button type="submit" disabled={busy || !token.trim()}>
          {busy ? "Checking…" : "Log in"}
        </button>
      </form>
      {error &&
        (error.status === 401 ? (
          <p className="notice error" role="alert">
            {error.message}
          </p>
        ) : (
          <ApiErrorNotice error={error} />
        ))}
    </section>
  );
}
