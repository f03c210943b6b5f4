import { useEffect, type ReactNode } from "react";
import { NotFound } from "./components/not-found";
import { Link, useLocation } from "./router";
import { useSession, type Role } from "./session";
import { AdvisoriesPage } from "./pages/advisories-page";
import { AuditPage } from "./pages/audit-page";
import { CatalogPage } from "./pages/catalog-page";
import { DriftPage } from "./pages/drift-page";
import { EnvironmentsPage } from "./pages/environments-page";
import { LoginPage } from "./pages/login-page";
import { OverviewPage } from "./pages/overview-page";
import { PolicyPage } from "./pages/policy-page";
import { ProjectPage } from "./pages/project-page";
import { RemediationPage } from "./pages/remediation-page";
import { RequestPage } from "./pages/request-page";
import { RequestsPage } from "./pages/requests-page";
import { TokensPage } from "./pages/tokens-page";
import { UsersPage } from "./pages/users-page";
import { WebhooksPage } from "./pages/webhooks-page";

/** The sections; `role`: shown only to that role and above (the page's API refuses the others). */
const NAV: { to: string; label: string; role?: Role }[] = [
  { to: "/", label: "Overview" },
  { to: "/catalog", label: "Catalog" },
  { to: "/requests", label: "Requests" },
  { to: "/advisories", label: "Advisories" },
  { to: "/remediation", label: "Remediation", role: "approver" },
  { to: "/drift", label: "Drift", role: "approver" },
  { to: "/audit", label: "Audit" },
  { to: "/environments", label: "Environments", role: "approver" },
  { to: "/users", label: "Users", role: "admin" },
  { to: "/tokens", label: "Tokens", role: "admin" },
  { to: "/webhooks", label: "Webhooks", role: "admin" },
  { to: "/policy", label: "Policy" },
];

// PEP 508 project names; anything else cannot be in the catalog.
const PROJECT_NAME = /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;
const REQUEST_ID = /^[1-9][0-9]{0,15}$/;

function param(path: string, prefix: string): string | null {
  try {
    return decodeURIComponent(path.slice(prefix.length).replace(/\/$/, ""));
  } catch {
    return null; // a malformed %-escape
  }
}

function route(path: string): { page: ReactNode; title: string } {
  if (path === "/") return { page: <OverviewPage />, title: "Overview" };
  if (path === "/login") return { page: <LoginPage />, title: "Log in" };
  if (path === "/catalog") return { page: <CatalogPage />, title: "Catalog" };
  if (path.startsWith("/projects/")) {
    const name = param(path, "/projects/");
    if (name === null || !PROJECT_NAME.test(name))
      return { page: <NotFound what="such project" />, title: "Not found" };
    return { page: <ProjectPage name={name} />, title: name };
  }
  if (path === "/requests") return { page: <RequestsPage />, title: "Requests" };
  if (path.startsWith("/requests/")) {
    const id = param(path, "/requests/");
    if (id === null || !REQUEST_ID.test(id))
      return { page: <NotFound what="such request" />, title: "Not found" };
    return { page: <RequestPage id={id} />, title: `Request ${id}` };
  }
  if (path === "/advisories") return { page: <AdvisoriesPage />, title: "Advisories" };
  if (path === "/remediation") return { page: <RemediationPage />, title: "Remediation" };
  if (path === "/drift") return { page: <DriftPage />, title: "Drift" };
  if (path === "/audit") return { page: <AuditPage />, title: "Audit log" };
  if (path === "/environments") return { page: <EnvironmentsPage />, title: "Environments" };
  if (path === "/users") return { page: <UsersPage />, title: "Users" };
  if (path === "/tokens") return { page: <TokensPage />, title: "Tokens" };
  if (path === "/webhooks") return { page: <WebhooksPage />, title: "Webhooks" };
  if (path === "/policy") return { page: <PolicyPage />, title: "Policy" };
  return {
    page: (
      <NotFound
        what={
          <>
            page at <code>{path}</code>
          </>
        }
      />
    ),
    title: "Not found",
  };
}

function Identity() {
  const session = useSession();
  if (session.loading) return null;
  if (session.unreachable)
    return (
      <div className="identity">
        <span className="muted">Could not check who you are.</span>{" "}
        <button type="button" className="secondary" onClick={session.retry}>
          Retry
        </button>
      </div>
    );
  if (!session.me || session.me.anonymous)
    return (
      <div className="identity">
        {session.me && !session.loginRequired && (
          <>
            <span className="muted">Anonymous (read only)</span>{" "}
          </>
        )}
        <Link to="/login" className="button-link">
          Log in
        </Link>
      </div>
    );
  return (
    <div className="identity">
      <span>
        {session.me.user} <span className="muted">({session.me.role})</span>
      </span>{" "}
      <button type="button" className="secondary" onClick={session.logout}>
        Log out
      </button>
    </div>
  );
}

export function App() {
  const { path } = useLocation();
  const session = useSession();
  const mustLogIn = session.loginRequired && path !== "/login";
  const { page, title } = mustLogIn ? { page: <LoginPage />, title: "Log in" } : route(path);
  useEffect(() => {
    document.title = `${title} · Portcullis`;
  }, [title]);
  const section = (to: string) => (to === "/" ? path === "/" : path.startsWith(to));
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to="/" className="brand">
          Portcullis
        </Link>
        <nav aria-label="Sections">
          <ul>
            {NAV.filter((n) => !session.loginRequired && (!n.role || session.can(n.role))).map((n) => (
              <li key={n.to}>
                <Link
                  to={n.to}
                  {...(section(n.to) || (n.to === "/catalog" && path.startsWith("/projects/"))
                    ? { "aria-current": "page" as const }
                    : {})}
                >
                  {n.label}
                </Link>
              </li>
            ))}
            <li>
              <a href="/setup">Setup</a>
            </li>
          </ul>
        </nav>
        <Identity />
      </header>
      {/* The page loads its data while /api/v1/me answers (in parallel, not one after the other):
          role-gated buttons appear once the role is known. */}
      {/* A new identity (log in, log out, a refused token) starts the page over: nothing fetched
          as the previous one stays on screen. */}
      <main id="main" key={session.epoch}>
        {session.ended && (
          <p className="notice error" role="alert">
            {session.ended} {path !== "/login" && !mustLogIn && <Link to="/login">Log in</Link>}
          </p>
        )}
        {page}
      </main>
    </>
  );
}
