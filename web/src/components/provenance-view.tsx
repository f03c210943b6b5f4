import { useState } from "react";
import { useApi } from "../use-api";
import { Loaded } from "./api-status";

interface Provenance {
  status: "verified" | "absent" | "invalid" | "unavailable";
  publisher?: string;
  detail: string;
}

/** A file's PEP 740 provenance as the gateway verified it, fetched when asked for (it may ask the upstream). */
export function ProvenanceView({ sha256 }: { sha256: string }) {
  const [open, setOpen] = useState(false);
  const state = useApi<Provenance>(open ? `/api/v1/provenance/${sha256}` : null);
  return (
    <span className="provenance">
      <button type="button" className="secondary" aria-expanded={open} onClick={() => setOpen(!open)}>
        Provenance (PEP 740)
      </button>
      {open && (
        <Loaded state={state} label="provenance">
          {(p) => (
            <span role="status">
              {" "}
              <span
                className={`badge badge-${p.status === "verified" ? "admitted" : p.status === "invalid" ? "blocked" : "other"}`}
              >
                {p.status}
              </span>{" "}
              {p.publisher ? `${p.publisher}: ` : ""}
              {p.detail}
            </span>
          )}
        </Loaded>
      )}
    </span>
  );
}
