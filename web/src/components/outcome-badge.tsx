const KNOWN = new Set([
  "admitted",
  "approved",
  "quarantined",
  "blocked",
  "pending",
  "denied",
  "open",
  "resolved",
]);

/** An outcome or state as a labelled badge (colour is never the only signal: the word is shown). */
export function OutcomeBadge({ value }: { value: string | null | undefined }) {
  const v = value ?? "unknown";
  return <span className={`badge badge-${KNOWN.has(v) ? v : "other"}`}>{v}</span>;
}
