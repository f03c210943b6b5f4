import type { ReactNode } from "react";
import { Link } from "../router";

/** The page for an address that names nothing: a mistyped request number, an empty project name. */
export function NotFound({ what }: { what: ReactNode }) {
  return (
    <>
      <h1 tabIndex={-1}>Not found</h1>
      <p>
        There is no {what}. <Link to="/">Back to the overview</Link>.
      </p>
    </>
  );
}
