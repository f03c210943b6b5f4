import type { ReactNode } from "react";
import { NOT_THE_API, type ApiError } from "../api";
import { Link } from "../router";
import { useSession } from "../session";

/** Plain words for an API refusal, with the way out when there is one. */
export function ApiErrorNotice({ error }: { error: ApiError }) {
  const session = useSession();
  // Until the gateway says who we are, a 401 may only mean "this gateway wants a login": the
  // session then shows the login page instead.
  if (error.status === 401 && session.loading) return null;
  let text: ReactNode;
  if (error.routeMissing) text = "This part of the API is not available on this gateway yet.";
  else if (error.code === NOT_THE_API) text = error.message;
  else if (error.status === 401)
    text = (
      <>
        You need to log in to see this. <Link to="/login">Log in with a token</Link>.
      </>
    );
  else if (error.status === 403) text = `Your role may not do this: ${error.message}`;
  else if (error.status === 0) text = `The gateway did not answer: ${error.message}`;
  else text = `${error.message} (${error.code}, HTTP ${error.status})`;
  return (
    <p
      className={error.routeMissing ? "notice" : "notice error"}
      role={error.routeMissing ? "status" : "alert"}
    >
      {text}
    </p>
  );
}

/** What an action came to: the done message (a `status` for screen readers), or the refusal. */
export function ActionStatus({ done, error }: { done?: string | null; error?: ApiError | null }) {
  return (
    <>
      {done && (
        <p className="notice" role="status">
          {done}
        </p>
      )}
      {error && <ApiErrorNotice error={error} />}
    </>
  );
}

/** Renders `children(data)` once loaded, else a loading line or the error. */
export function Loaded<T>(props: {
  state: { data: T | undefined; error: ApiError | undefined; loading: boolean };
  children: (data: T) => ReactNode;
  label?: string;
}) {
  const { data, error, loading } = props.state;
  if (error) return <ApiErrorNotice error={error} />;
  if (data === undefined)
    return loading ? (
      <p className="muted" role="status">
        Loading {props.label ?? ""}…
      </p>
    ) : null;
  return <>{props.children(data)}</>;
}
