import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  type ReactNode,
} from "react";
import { api, ApiError, storedToken, storeToken, TOKEN_REFUSED } from "./api";
import { onNavigation } from "./router";

export const ROLES = ["reader", "requester", "approver", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** `GET /api/v1/me`. */
export interface Me {
  user: string | null;
  role: Role;
  team: string | null;
  anonymous: boolean;
}

/** `GET /api/v1/me` as the gateway answers it: also whether it serves anonymous callers at all. */
type MeAnswer = Partial<Me> & { anonymousAccess?: string };

export function roleAtLeast(have: Role | undefined, need: Role): boolean {
  return have !== undefined && ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export interface Session {
  /** Who the gateway says we are; null while unknown or when it wants a login. */
  me: Me | null;
  /** The gateway refuses anonymous access: only the login page works. */
  loginRequired: boolean;
  loading: boolean;
  /** `/api/v1/me` did not answer (network, 5xx): who we are is unknown until `retry` succeeds. */
  unreachable: boolean;
  /** Why the gateway ended the session by itself (the token expired or was revoked), until the next login. */
  ended: string | null;
  /** Changes whenever the identity changes (log in, log out, a refused token): pages then load again. */
  epoch: number;
  /** Checks the token with the gateway and keeps it only when it is accepted. */
  login(token: string): Promise<void>;
  logout(): void;
  /** Asks the gateway again who we are. */
  retry(): void;
  /** Whether the user's role reaches `need`; the API checks again whatever the UI shows. */
  can(need: Role): boolean;
}

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}

function normalizeMe(raw: MeAnswer): Me {
  // Fail closed: a role the UI does not know grants nothing beyond reading.
  const role = ROLES.includes(raw.role as Role) ? (raw.role as Role) : "reader";
  return { user: raw.user ?? null, role, team: raw.team ?? null, anonymous: raw.anonymous ?? !raw.user };
}

/** The gateway's reason for refusing a token (`token expired`, `token revoked` …) in a sentence. */
export function tokenRefusal(error: ApiError): string {
  if (/expired/i.test(error.message)) return "Your token expired: log in again.";
  if (/revoked/i.test(error.message)) return "Your token was revoked: log in again.";
  return `The gateway no longer accepts your token (${error.message}): log in again.`;
}

/** A token the gateway refuses outright (401), or after too many failures (429, which still says why). */
function refusesToken(err: unknown): err is ApiError {
  return err instanceof ApiError && (err.status === 401 || err.status === 429);
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [loginRequired, setLoginRequired] = useState(false);
  const [loading, setLoading] = useState(true);
  const [unreachable, setUnreachable] = useState(false);
  const [ended, setEnded] = useState<string | null>(null);
  const [epoch, setEpoch] = useState(0);
  // Only the latest check counts: a slow answer for a token since dropped must not come back.
  const latest = useRef(0);

  const load = useCallback(async (token: string | null) => {
    const seq = ++latest.current;
    setLoading(true);
    let sent = token;
    for (;;) {
      try {
        const raw = await api<MeAnswer>("/api/v1/me", { token: sent });
        if (seq !== latest.current) return;
        const who = normalizeMe(raw);
        const closed = who.anonymous && raw.anonymousAccess === "off";
        setMe(closed ? null : who);
        setLoginRequired(closed);
        setUnreachable(false);
      } catch (err) {
        if (seq !== latest.current) return;
        if (sent && refusesToken(err)) {
          // The stored token no longer works: forget it, say why, and ask again as nobody in
          // particular (whether this gateway lets anonymous visitors read is another question).
          storeToken(null);
          setEnded(tokenRefusal(err));
          setEpoch((n) => n + 1);
          sent = null;
          continue;
        }
        setMe(
          err instanceof ApiError && err.routeMissing
            ? // A gateway without identity: everyone is an anonymous reader.
              { user: null, role: "reader", team: null, anonymous: true }
            : null,
        );
        // Without a token, 401 is the gateway saying it serves nobody anonymously.
        setLoginRequired(err instanceof ApiError && err.status === 401);
        // Not an answer about who we are (network, 5xx): asked again on the next navigation.
        setUnreachable(!(err instanceof ApiError) || err.status === 0 || err.status >= 500);
      }
      setLoading(false);
      return;
    }
  }, []);

  useEffect(() => {
    void load(storedToken());
  }, [load]);

  // Any API call refused with the stored token ends the session, with the gateway's reason.
  useEffect(() => {
    const onRefused = (e: Event) => {
      storeToken(null);
      setEnded(tokenRefusal((e as CustomEvent<ApiError>).detail));
      setMe(null);
      setEpoch((n) => n + 1);
      void load(null);
    };
    window.addEventListener(TOKEN_REFUSED, onRefused);
    return () => window.removeEventListener(TOKEN_REFUSED, onRefused);
  }, [load]);

  useEffect(
    () =>
      onNavigation(() => {
        if (unreachable) void load(storedToken());
      }),
    [unreachable, load],
  );

  const value = useMemo<Session>(
    () => ({
      me,
      loginRequired,
      loading,
      unreachable,
      ended,
      epoch,
      async login(token: string) {
        let raw: MeAnswer;
        try {
          raw = await api<MeAnswer>("/api/v1/me", { token });
        } catch (err) {
          // The gateway's reason ("token expired", "token revoked") is what the user needs to hear.
          if (err instanceof ApiError && err.status === 401)
            throw new ApiError(401, err.code, `The gateway did not accept this token: ${err.message}.`);
          throw err;
        }
        const who = normalizeMe(raw);
        if (who.anonymous)
          throw new ApiError(401, "UNAUTHENTICATED", "The gateway did not accept this token.");
        latest.current++;
        storeToken(token);
        setMe(who);
        setLoginRequired(false);
        setUnreachable(false);
        setLoading(false);
        setEnded(null);
        setEpoch((n) => n + 1);
      },
      logout() {
        // Everything shown was fetched as the user: the page starts over as an anonymous visitor.
        storeToken(null);
        setMe(null);
        setEnded(null);
        setEpoch((n) => n + 1);
        void load(null);
      },
      retry: () => void load(storedToken()),
      can: (need: Role) => roleAtLeast(me?.role, need),
    }),
    [me, loginRequired, loading, unreachable, ended, epoch, load],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}
