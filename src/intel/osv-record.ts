/**
 * OSV records (https://ossf.github.io/osv-schema/) and the normalised {@link Advisory} the gateway
 * matches against.
 *
 * The schema is permissive where upstream data is known to be untidy (missing `published` or
 * `aliases`, `modified: 0001-01-01T00:00:00Z`, unknown fields, odd severity entries) and strict only
 * where a mistake would change which versions match: package names, range events and version lists.
 * A record that fails there is reported as malformed rather than half-read.
 */
import { z } from "zod";
import { normalizeProjectName } from "../domain/project-name.js";
import type { Severity } from "../policy/check.js";

/** Keeps the items of an array that parse and drops the rest: for fields that never decide a match. */
function lenientArray<T extends z.ZodTypeAny>(item: T) {
  return z
    .array(z.unknown())
    .nullish()
    .catch(undefined)
    .transform((items) =>
      (items ?? []).flatMap((value) => {
        const parsed = item.safeParse(value);
        return parsed.success ? [parsed.data as z.output<T>] : [];
      }),
    );
}

/** An optional text field: anything but a string (null included) reads as absent. */
const optionalText = z
  .string()
  .nullish()
  .catch(undefined)
  .transform((value) => value ?? undefined);
const objectOrUndefined = z
  .record(z.string(), z.unknown())
  .nullish()
  .catch(undefined)
  .transform((value) => value ?? undefined);

const SeveritySchema = z.object({ type: z.string(), score: z.string() }).passthrough();

const ReferenceSchema = z.object({ type: z.string().optional(), url: z.string() }).passthrough();

const EVENT_KINDS = ["introduced", "fixed", "last_affected", "limit"] as const;
export type RangeEventKind = (typeof EVENT_KINDS)[number];

// OSV: each event object holds exactly one of `introduced`, `fixed`, `last_affected`, `limit`.
const EventSchema = z
  .object({
    introduced: z.string().optional(),
    fixed: z.string().optional(),
    last_affected: z.string().optional(),
    limit: z.string().optional(),
  })
  .passthrough()
  .refine((event) => EVENT_KINDS.filter((kind) => event[kind] !== undefined).length === 1, {
    message: "an event must hold exactly one of introduced, fixed, last_affected, limit",
  });

const RangeSchema = z
  .object({
    type: z.string(),
    repo: optionalText,
    events: z.array(EventSchema),
    database_specific: objectOrUndefined,
  })
  .passthrough();

const PackageSchema = z
  .object({
    ecosystem: z.string(),
    name: z.string().optional(),
    purl: optionalText,
  })
  .passthrough()
  .refine((pkg) => pkg.name !== undefined || pkg.purl != null, { message: "package needs a name or a purl" });

const AffectedSchema = z
  .object({
    package: PackageSchema.optional(),
    severity: lenientArray(SeveritySchema),
    ranges: z.array(RangeSchema).nullish(),
    versions: z.array(z.string()).nullish(),
    ecosystem_specific: objectOrUndefined,
    database_specific: objectOrUndefined,
  })
  .passthrough();

/** The OSV record schema, permissive for upstream data; see the module comment. */
export const OsvRecordSchema = z
  .object({
    schema_version: optionalText,
    id: z.string().min(1),
    modified: optionalText,
    published: optionalText,
    withdrawn: optionalText,
    aliases: lenientArray(z.string()),
    related: lenientArray(z.string()),
    upstream: lenientArray(z.string()),
    summary: optionalText,
    details: optionalText,
    severity: lenientArray(SeveritySchema),
    affected: z.array(AffectedSchema).nullish(),
    references: lenientArray(ReferenceSchema),
    database_specific: objectOrUndefined,
  })
  .passthrough();

export type OsvRecord = z.output<typeof OsvRecordSchema>;
export type OsvAffected = z.output<typeof AffectedSchema>;

export type ParseOsvRecordResult = { ok: true; record: OsvRecord } | { ok: false; error: string };

/**
 * Validates one OSV record (already decoded from JSON or YAML). A failure is data, not an
 * exception: the caller counts malformed records and goes on.
 *
 * @example
 * const result = parseOsvRecord(JSON.parse(text));
 * if (result.ok) index.add(toAdvisory(result.record));
 */
export function parseOsvRecord(json: unknown): ParseOsvRecordResult {
  const parsed = OsvRecordSchema.safeParse(json);
  if (parsed.success) return { ok: true, record: parsed.data };
  const id =
    typeof json === "object" && json !== null && typeof (json as { id?: unknown }).id === "string"
      ? `${(json as { id: string }).id}: `
      : "";
  const issues = parsed.error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(record)"}: ${issue.message}`);
  return { ok: false, error: `${id}${issues.join("; ")}` };
}

// ---------------------------------------------------------------------------------------------
// The normalised advisory.

export type AdvisoryKind = "vulnerability" | "malicious";

/** One event of an ECOSYSTEM range, as written (versions are not normalised). */
export interface RangeEvent {
  kind: RangeEventKind;
  version: string;
}

/** An ECOSYSTEM range: events in the order the record gives them. */
export interface AdvisoryRange {
  events: RangeEvent[];
}

/** What an advisory says about one PyPI project (all its `affected` entries for that name, merged). */
export interface AffectedPackage {
  /** PEP 503 normalised name. */
  name: string;
  /** The name as the record writes it. */
  rawName: string;
  /** ECOSYSTEM ranges only: GIT ranges name commits, which say nothing about PyPI versions. */
  ranges: AdvisoryRange[];
  /** The explicit `versions` list, as written. */
  versions: string[];
  /** Every `fixed` event of the ECOSYSTEM ranges. */
  fixed: string[];
  /** Every `last_affected` event of the ECOSYSTEM ranges. */
  lastAffected: string[];
}

export interface CvssVector {
  /** The OSV severity type, e.g. `CVSS_V3`, `CVSS_V4`. */
  type: string;
  vector: string;
  /** Base score (v3.x exact; v4 approximated, see {@link cvss4ApproximateScore}). */
  score?: number;
}

/** The gateway's view of an OSV record: only what policy needs, with PyPI names normalised. */
export interface Advisory {
  id: string;
  aliases: string[];
  related: string[];
  /** `summary`, or the first sentence of `details` when there is no summary. */
  summary?: string;
  /** `malicious` for OpenSSF Malicious Packages reports (`MAL-` ids). */
  kind: AdvisoryKind;
  modified?: string;
  published?: string;
  /** When the record was withdrawn (as written); a withdrawn advisory never matches. */
  withdrawn?: string;
  severity?: Severity;
  cvss: CvssVector[];
  /** Affected PyPI projects; entries of other ecosystems are dropped. */
  packages: AffectedPackage[];
  references: { type?: string; url: string }[];
  /** The record's page on osv.dev. */
  url: string;
}

const SUMMARY_MAX = 200;

/**
 * Derives the normalised {@link Advisory} from a validated record.
 *
 * @example
 * const advisory = toAdvisory(record);
 * advisory.packages[0]?.name // "django"
 */
export function toAdvisory(record: OsvRecord): Advisory {
  const packages = new Map<string, AffectedPackage>();
  const cvss: CvssVector[] = [];
  for (const entry of record.severity) addCvss(cvss, entry);

  for (const affected of record.affected ?? []) {
    for (const entry of affected.severity) addCvss(cvss, entry);
    const pkg = affected.package;
    // OSV ecosystems are case-sensitive ("PyPI"), but some producers write "pypi".
    if (!pkg || pkg.ecosystem.toLowerCase() !== "pypi") continue;
    const rawName = pkg.name ?? nameFromPurl(pkg.purl ?? "");
    if (rawName === undefined || rawName.trim() === "") continue;
    const name = normalizeProjectName(rawName.trim());
    let target = packages.get(name);
    if (!target) {
      target = { name, rawName, ranges: [], versions: [], fixed: [], lastAffected: [] };
      packages.set(name, target);
    }
    target.versions.push(...(affected.versions ?? []));
    for (const range of affected.ranges ?? []) {
      if (range.type.toUpperCase() !== "ECOSYSTEM") continue;
      const events: RangeEvent[] = range.events.map((event) => {
        const kind = EVENT_KINDS.find((k) => event[k] !== undefined)!;
        return { kind, version: event[kind]! };
      });
      target.ranges.push({ events });
      for (const event of events) {
        if (event.kind === "fixed") target.fixed.push(event.version);
        else if (event.kind === "last_affected") target.lastAffected.push(event.version);
      }
    }
  }

  const advisory: Advisory = {
    id: record.id,
    aliases: record.aliases,
    related: record.related,
    kind: record.id.startsWith("MAL-") ? "malicious" : "vulnerability",
    cvss,
    packages: [...packages.values()],
    references: record.references.map((ref) =>
      ref.type ? { type: ref.type, url: ref.url } : { url: ref.url },
    ),
    url: `https://osv.dev/vulnerability/${encodeURIComponent(record.id)}`,
  };
  const summary = summarize(record);
  if (summary !== undefined) advisory.summary = summary;
  if (record.modified) advisory.modified = record.modified;
  if (record.published) advisory.published = record.published;
  if (record.withdrawn && record.withdrawn.trim() !== "") advisory.withdrawn = record.withdrawn;
  const severity = severityOf(record, cvss);
  if (severity !== undefined) advisory.severity = severity;
  return advisory;
}

function nameFromPurl(purl: string): string | undefined {
  // purl spec: pkg:pypi/<name>[@version][?qualifiers][#subpath]
  const match = /^pkg:pypi\/([^@?#/]+)/i.exec(purl);
  return match ? decodeURIComponent(match[1]!) : undefined;
}

function summarize(record: OsvRecord): string | undefined {
  const text = record.summary?.trim() || firstSentence(record.details ?? "");
  if (!text) return undefined;
  return text.length > SUMMARY_MAX ? `${text.slice(0, SUMMARY_MAX - 1)}…` : text;
}

function firstSentence(details: string): string | undefined {
  const line = details
    .split("\n")
    .map((l) => l.trim())
    .find((l) => /[A-Za-z0-9]/.test(l));
  if (!line) return undefined;
  const end = line.search(/\.(\s|$)/);
  return end === -1 ? line : line.slice(0, end + 1);
}

function addCvss(out: CvssVector[], entry: { type: string; score: string }): void {
  const type = entry.type.toUpperCase();
  if (!type.startsWith("CVSS_")) return;
  let score: number | undefined;
  if (type === "CVSS_V3") score = cvss3BaseScore(entry.score);
  else if (type === "CVSS_V4") score = cvss4ApproximateScore(entry.score);
  const vector: CvssVector = { type, vector: entry.score };
  if (score !== undefined) vector.score = score;
  if (!out.some((v) => v.type === type && v.vector === entry.score)) out.push(vector);
}

const SEVERITY_WORDS: Record<string, Severity> = {
  low: "low",
  moderate: "medium", // GitHub advisories say MODERATE
  medium: "medium",
  high: "high",
  critical: "critical",
};

const SEVERITY_RANK: Record<Severity, number> = { low: 1, medium: 2, high: 3, critical: 4 };

/**
 * The database's own word wins (`database_specific.severity`, as GitHub writes it); then the highest
 * CVSS v3.x base score; then CVSS v4 (approximated); then an `Ubuntu` severity word.
 */
function severityOf(record: OsvRecord, cvss: readonly CvssVector[]): Severity | undefined {
  const word = record.database_specific?.["severity"];
  if (typeof word === "string") {
    const mapped = SEVERITY_WORDS[word.trim().toLowerCase()];
    if (mapped) return mapped;
  }
  for (const type of ["CVSS_V3", "CVSS_V4"]) {
    const scores = cvss.filter((v) => v.type === type && v.score !== undefined).map((v) => v.score!);
    if (scores.length > 0) return severityFromScore(Math.max(...scores));
  }
  let best: Severity | undefined;
  for (const entry of [...record.severity, ...(record.affected ?? []).flatMap((a) => a.severity)]) {
    if (entry.type.toLowerCase() !== "ubuntu") continue;
    const mapped = SEVERITY_WORDS[entry.score.trim().toLowerCase()];
    if (mapped && (best === undefined || SEVERITY_RANK[mapped] > SEVERITY_RANK[best])) best = mapped;
  }
  return best;
}

/**
 * CVSS v3.1 specification, section 5 "Qualitative Severity Rating Scale": 0.1-3.9 low, 4.0-6.9
 * medium, 7.0-8.9 high, 9.0-10.0 critical. A score of 0.0 ("None") has no severity.
 */
export function severityFromScore(score: number): Severity | undefined {
  if (!(score > 0)) return undefined;
  if (score < 4) return "low";
  if (score < 7) return "medium";
  if (score < 9) return "high";
  return "critical";
}

// CVSS v3.1 specification, section 7.4 "Metric Values" (https://www.first.org/cvss/v3.1/specification-document).
const AV: Record<string, number> = { N: 0.85, A: 0.62, L: 0.55, P: 0.2 };
const AC: Record<string, number> = { L: 0.77, H: 0.44 };
const PR_UNCHANGED: Record<string, number> = { N: 0.85, L: 0.62, H: 0.27 };
const PR_CHANGED: Record<string, number> = { N: 0.85, L: 0.68, H: 0.5 };
const UI: Record<string, number> = { N: 0.85, R: 0.62 };
const CIA: Record<string, number> = { H: 0.56, L: 0.22, N: 0 };

function parseVector(vector: string, prefix: RegExp): Map<string, string> | undefined {
  const trimmed = vector.trim();
  if (!prefix.test(trimmed)) return undefined;
  const metrics = new Map<string, string>();
  for (const part of trimmed.split("/").slice(1)) {
    const [key, value, extra] = part.split(":");
    if (!key || !value || extra !== undefined || metrics.has(key)) return undefined;
    metrics.set(key, value);
  }
  return metrics;
}

/**
 * CVSS v3.1 specification, Appendix A: round up to one decimal, working in integers so that
 * floating-point noise (e.g. 4.000000000000001) does not bump a score.
 */
function roundUp(value: number): number {
  const scaled = Math.round(value * 100_000);
  return scaled % 10_000 === 0 ? scaled / 100_000 : (Math.floor(scaled / 10_000) + 1) / 10;
}

/**
 * The CVSS v3.x base score of a vector (`CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H` → 9.8), per
 * the CVSS v3.1 specification, section 7.1 "Base Metrics Equations". v3.0 vectors use the same
 * equations; only v3.0's rounding differed, by at most 0.1 in rare cases. Temporal and environmental
 * metrics are ignored. `undefined` when the vector is not a complete, valid v3.x base vector.
 */
export function cvss3BaseScore(vector: string): number | undefined {
  const m = parseVector(vector, /^CVSS:3\.[01]\//);
  if (!m) return undefined;
  const scope = m.get("S");
  const av = AV[m.get("AV") ?? ""];
  const ac = AC[m.get("AC") ?? ""];
  const pr = (scope === "C" ? PR_CHANGED : PR_UNCHANGED)[m.get("PR") ?? ""];
  const ui = UI[m.get("UI") ?? ""];
  const c = CIA[m.get("C") ?? ""];
  const i = CIA[m.get("I") ?? ""];
  const a = CIA[m.get("A") ?? ""];
  if (
    (scope !== "U" && scope !== "C") ||
    av === undefined ||
    ac === undefined ||
    pr === undefined ||
    ui === undefined ||
    c === undefined ||
    i === undefined ||
    a === undefined
  ) {
    return undefined;
  }
  const iss = 1 - (1 - c) * (1 - i) * (1 - a);
  const impact = scope === "U" ? 6.42 * iss : 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15;
  const exploitability = 8.22 * av * ac * pr * ui;
  if (impact <= 0) return 0;
  return scope === "U"
    ? roundUp(Math.min(impact + exploitability, 10))
    : roundUp(Math.min(1.08 * (impact + exploitability), 10));
}

/**
 * An approximate base score for a CVSS v4.0 vector. The real v4 score comes from a lookup table
 * of 270 "macro vectors", too large to carry for a severity band; instead the vector is mapped onto
 * v3.1 metrics and scored with {@link cvss3BaseScore}:
 * AV→AV; AC:H or AT:P → AC:H; PR→PR; UI:N → UI:N, UI:P/A → UI:R; any subsequent-system impact
 * (SC/SI/SA ≠ N) → S:C with C/I/A the higher of the vulnerable- and subsequent-system impact,
 * else S:U with VC/VI/VA. Good to about one severity band; a database's own severity word is
 * preferred when present.
 */
export function cvss4ApproximateScore(vector: string): number | undefined {
  const m = parseVector(vector, /^CVSS:4\.0\//);
  if (!m) return undefined;
  const get = (key: string, allowed: string) => {
    const value = m.get(key);
    return value !== undefined && allowed.includes(value) && value.length === 1 ? value : undefined;
  };
  const av = get("AV", "NALP");
  const ac = get("AC", "LH");
  const at = get("AT", "NP");
  const pr = get("PR", "NLH");
  const ui = get("UI", "NPA");
  const v = ["VC", "VI", "VA"].map((k) => get(k, "HLN"));
  const s = ["SC", "SI", "SA"].map((k) => get(k, "HLN"));
  if (!av || !ac || !at || !pr || !ui || v.includes(undefined) || s.includes(undefined)) return undefined;
  const changed = s.some((x) => x !== "N");
  const higher = (x: string, y: string) =>
    x === "H" || y === "H" ? "H" : x === "L" || y === "L" ? "L" : "N";
  const [c, i, a] = v.map((x, k) => (changed ? higher(x!, s[k]!) : x!));
  const v3 =
    `CVSS:3.1/AV:${av}/AC:${ac === "H" || at === "P" ? "H" : "L"}/PR:${pr}/UI:${ui === "N" ? "N" : "R"}` +
    `/S:${changed ? "C" : "U"}/C:${c}/I:${i}/A:${a}`;
  return cvss3BaseScore(v3);
}
