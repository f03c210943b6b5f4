/**
 * The contract every policy check implements. A check returns its outcome, reasons and evidence;
 * a denial is data, not an exception. An exception means the check itself broke, and the engine
 * fails closed on it.
 */

export type CheckStatus = "pass" | "fail" | "warn" | "skip" | "error";
export type Severity = "low" | "medium" | "high" | "critical";

/** Where a finding comes from: a file and line inside the artifact, an advisory, a URL. */
export interface Evidence {
  /** Path inside the distribution file. */
  file?: string;
  /** 1-based line number in `file`. */
  line?: number;
  /** A short excerpt of what was found (never more than ~200 characters). */
  excerpt?: string;
  /** Free text: the matched popular name, the advisory range, … */
  detail?: string;
  url?: string;
}

export interface Finding {
  /** Stable machine key of the kind of finding, e.g. `pth-exec`, `osv-match`, `edit-distance`. */
  kind: string;
  /** One plain sentence a user understands. */
  message: string;
  severity?: Severity;
  /** Advisory / report ids (PYSEC-…, GHSA-…, CVE-…, MAL-…). */
  ids?: string[];
  /** Versions that fix the problem, when known. */
  fixedIn?: string[];
  evidence?: Evidence[];
}

export interface CheckResult {
  /** The check's id (its folder name under `policy/checks/`). */
  check: string;
  status: CheckStatus;
  /** One plain sentence summing up the result. */
  message: string;
  findings: Finding[];
}

/** What a check may know about a file from the index alone (no bytes). */
export interface FileFacts {
  /** PEP 503 normalised project name. */
  project: string;
  version: string;
  filename: string;
  sha256: string;
  /** PEP 700 upload time (ISO 8601), when the upstream gave it. */
  uploadTime?: string;
  yanked: boolean | string;
  requiresPython?: string;
  /** PEP 792 project status. */
  projectStatus?: "active" | "archived" | "quarantined" | "deprecated";
  projectStatusReason?: string;
}
