import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, ApiError, storedToken, storeToken } from "./api";

export const ROLES = ["reader", "requester", "approver", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** `GET /api/v1/me`. */
export interface Me {
  user: string | null;
  role: Role;
  team: string | null;
  anonymous: boolean;
}

export function roleAtLeast(have: Role | undefined, need: Role): boolean {
  return have !== undefined && ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export interface Session {
  /** Who the gateway says we are; null while unknown or when it wants a login. */
  me: Me | null;
  /** The gateway refuses anonymous access: only the login page works. */
  loginRequired: boolean;
  loading: boolean;
  /** Checks the token with the gateway and keeps it only when it is accepted. */
  login(token: string): Promise<void>;
  logout(): void;
  /** Whether the user's role reaches `need`; the API checks again whatever the UI shows. */
  can(need: Role): boolean;
}

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionProvider");
  return session;
}

function normalizeMe(raw: Partial<Me>): Me {
  // Fail closed: a role the UI does not know grants nothing beyond reading.
  const role = ROLES.includes(raw.role as Role) ? (raw.role as Role) : "reader";
  return { user: raw.user ?? null, role, team: raw.team ?? null, anonymous: raw.anonymous ?? !raw.user };
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [loginRequired, setLoginRequired] = useState(false);
  const [loading, setLoading] = useState(true);

  const load = useCallback(async (token: string | null) => {
    try {
      const raw = await api<Partial<Me>>("/api/v1/me", { token });
      setMe(normalizeMe(raw));
      setLoginRequired(false);
    } catch (err) {
      // 429: too many failed checks from here; a stored token is then as good as refused.
      if (err instanceof ApiError && (err.status === 401 || (err.status === 429 && token))) {
        setMe(null);
        setLoginRequired(true);
        if (token) storeToken(null);
      } else if (err instanceof ApiError && err.routeMissing) {
        // A gateway without identity: everyone is an anonymous reader.
        setMe({ user: null, role: "reader", team: null, anonymous: true });
      } else {
        setMe(null);
      }
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void load(storedToken());
  }, [load]);

  const value = useMemo<Session>(
    () => ({
      me,
      loginRequired,
      loading,
      async login(token: string) {
        const raw = await api<Partial<Me>>("/api/v1/me", { token });
        const who = normalizeMe(raw);
        if (who.anonymous)
          throw new ApiError(401, "UNAUTHENTICATED", "the gateway did not accept this token");
        storeToken(token);
        setMe(who);
        setLoginRequired(false);
      },
      logout() {
        storeToken(null);
        setLoading(true);
        void load(null);
      },
      can: (need: Role) => roleAtLeast(me?.role, need),
    }),
    [me, loginRequired, loading, load],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}
