import { useEffect, type ReactNode } from "react";
import { Link, useLocation } from "./router";
import { useSession } from "./session";
import { AdvisoriesPage } from "./pages/advisories-page";
import { AuditPage } from "./pages/audit-page";
import { CatalogPage } from "./pages/catalog-page";
import { EnvironmentsPage } from "./pages/environments-page";
import { LoginPage } from "./pages/login-page";
import { OverviewPage } from "./pages/overview-page";
import { PolicyPage } from "./pages/policy-page";
import { ProjectPage } from "./pages/project-page";
import { RequestPage } from "./pages/request-page";
import { RequestsPage } from "./pages/requests-page";

const NAV = [
  { to: "/", label: "Overview" },
  { to: "/catalog", label: "Catalog" },
  { to: "/requests", label: "Requests" },
  { to: "/advisories", label: "Advisories" },
  { to: "/audit", label: "Audit" },
  { to: "/environments", label: "Environments" },
  { to: "/policy", label: "Policy" },
] as const;

function route(path: string): { page: ReactNode; title: string } {
  if (path === "/") return { page: <OverviewPage />, title: "Overview" };
  if (path === "/login") return { page: <LoginPage />, title: "Log in" };
  if (path === "/catalog") return { page: <CatalogPage />, title: "Catalog" };
  if (path.startsWith("/projects/")) {
    const name = decodeURIComponent(path.slice("/projects/".length).replace(/\/$/, ""));
    return { page: <ProjectPage name={name} />, title: name };
  }
  if (path === "/requests") return { page: <RequestsPage />, title: "Requests" };
  if (path.startsWith("/requests/")) {
    const id = decodeURIComponent(path.slice("/requests/".length));
    return { page: <RequestPage id={id} />, title: `Request ${id}` };
  }
  if (path === "/advisories") return { page: <AdvisoriesPage />, title: "Advisories" };
  if (path === "/audit") return { page: <AuditPage />, title: "Audit log" };
  if (path === "/environments") return { page: <EnvironmentsPage />, title: "Environments" };
  if (path === "/policy") return { page: <PolicyPage />, title: "Policy" };
  return {
    page: (
      <>
        <h1 tabIndex={-1}>Not found</h1>
        <p>
          There is no page at <code>{path}</code>. <Link to="/">Back to the overview</Link>.
        </p>
      </>
    ),
    title: "Not found",
  };
}

function Identity() {
  const session = useSession();
  if (session.loading) return null;
  if (!session.me || session.me.anonymous)
    return (
      <div className="identity">
        <span className="muted">{session.me ? "Anonymous (read only)" : ""}</span>{" "}
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
            {NAV.map((n) => (
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
      <main id="main">{page}</main>
    </>
  );
}
