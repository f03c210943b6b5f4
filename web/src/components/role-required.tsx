import type { ReactNode } from "react";
import { Link } from "../router";
import { useSession } from "../session";

/**
 * Why a page shows this session nothing (`children`: who may), with the way to log in for a
 * visitor without a token. Nothing while the session loads, or when `allowed`.
 */
export function RoleRequired({
  allowed,
  className = "notice",
  children,
}: {
  allowed: boolean;
  className?: "notice" | "muted";
  children: ReactNode;
}) {
  const session = useSession();
  if (session.loading || allowed) return null;
  return (
    <p className={className}>
      {children} {!session.me || session.me.anonymous ? <Link to="/login">Log in</Link> : null}
    </p>
  );
}
