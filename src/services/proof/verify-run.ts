import { parseDistFilename } from "../../domain/wheel-filename.js";
import type { AttestationSource } from "./attestation-source.js";
import { verifyDecisionAttestation, type TrustedKey } from "./attestation-verifier.js";
import { differencesFromWheel, type InstalledDistribution } from "./installed-distributions.js";

function list(items: readonly string[]): string {
  return `${items.slice(0, 5).join(", ")}${items.length > 5 ? ` and ${items.length - 5} more` : ""}`;
}

/** What one verified item came to: a file, a pinned hash, or an installed distribution. */
export interface VerifyOutcome {
  /** What the user named: a file name, `name==version`, or an installed `name==version`. */
  item: string;
  ok: boolean;
  /** Why it failed, or what was verified. */
  detail: string;
  sha256?: string;
  envelope?: unknown;
}

async function verifyOne(
  source: AttestationSource,
  keys: ReadonlyMap<string, TrustedKey>,
  sha256: string,
  check: (subject: string) => string | undefined,
  filename: string | undefined,
): Promise<{ ok: true; subject: string; keyid: string; envelope: unknown } | { ok: false; reason: string }> {
  const got = await source.bySha256(sha256);
  if ("missing" in got) return { ok: false, reason: `missing attestation: ${got.missing}` };
  // A file is checked by name too; a bare digest (requirements) by the release its subject names.
  let subject = filename;
  if (subject === undefined) {
    try {
      const env = got.envelope as { payload?: string };
      const st = JSON.parse(Buffer.from(env.payload ?? "", "base64").toString("utf8")) as {
        subject?: { name?: string }[];
      };
      subject = st.subject?.[0]?.name ?? "";
    } catch {
      subject = "";
    }
  }
  const result = verifyDecisionAttestation(got.envelope, keys, { filename: subject, sha256 });
  if (!result.ok) return result;
  const wrong = check(subject);
  if (wrong) return { ok: false, reason: wrong };
  return { ok: true, subject, keyid: result.keyid, envelope: got.envelope };
}

/** Files on disk: each file's sha256 and name must match a gateway-signed attestation. */
export async function verifyFiles(
  source: AttestationSource,
  keys: ReadonlyMap<string, TrustedKey>,
  files: { filename: string; sha256: string }[],
): Promise<VerifyOutcome[]> {
  const out: VerifyOutcome[] = [];
  for (const f of files) {
    const r = await verifyOne(source, keys, f.sha256, () => undefined, f.filename);
    out.push(
      r.ok
        ? {
            item: f.filename,
            ok: true,
            detail: `attested (key ${r.keyid.slice(0, 12)})`,
            sha256: f.sha256,
            envelope: r.envelope,
          }
        : { item: f.filename, ok: false, detail: r.reason, sha256: f.sha256 },
    );
  }
  return out;
}

/**
 * Pinned requirements (`name==version --hash=sha256:...`): every hash must have an attestation
 * whose subject is a file of that release. A pin without hashes cannot name a file: it fails.
 */
export async function verifyPins(
  source: AttestationSource,
  keys: ReadonlyMap<string, TrustedKey>,
  pins: { project: string; version: string | undefined; hashes: string[]; line: number }[],
): Promise<VerifyOutcome[]> {
  const out: VerifyOutcome[] = [];
  for (const pin of pins) {
    const item = `${pin.project}${pin.version ? `==${pin.version}` : ""}`;
    const sha = pin.hashes.filter((h) => h.startsWith("sha256:")).map((h) => h.slice(7).toLowerCase());
    if (!pin.version || sha.length === 0) {
      out.push({
        item,
        ok: false,
        detail: `line ${pin.line}: needs an exact pin and --hash=sha256:... to name the files to verify`,
      });
      continue;
    }
    for (const h of sha) {
      const r = await verifyOne(
        source,
        keys,
        h,
        (subject) => {
          const dist = parseDistFilename(subject);
          return dist && dist.project === pin.project && dist.version === pin.version
            ? undefined
            : `the attestation for ${h} is for ${subject}, not a file of ${item}`;
        },
        undefined,
      );
      out.push(
        r.ok
          ? {
              item: `${item} (${r.subject})`,
              ok: true,
              detail: `attested (key ${r.keyid.slice(0, 12)})`,
              sha256: h,
              envelope: r.envelope,
            }
          : { item: `${item} (sha256:${h.slice(0, 12)}…)`, ok: false, detail: r.reason, sha256: h },
      );
    }
  }
  return out;
}

/**
 * An installed environment. Installed distributions keep no wheel hash, so what can honestly be
 * verified is: (1) the gateway signed an attestation for a file of exactly this name==version,
 * (2) the installed files still match the RECORD the installer wrote, and (3) where the source
 * can hand over the attested wheel (online), every installed file is one of that wheel's files
 * with the same sha256. Offline, (3) is not possible: then it does not prove these bytes came from
 * that file (another index could serve a different file of the same version).
 */
export async function verifyInstalled(
  source: AttestationSource,
  keys: ReadonlyMap<string, TrustedKey>,
  dists: InstalledDistribution[],
): Promise<VerifyOutcome[]> {
  const out: VerifyOutcome[] = [];
  for (const d of dists) {
    const item = `${d.name}==${d.version} (installed)`;
    if (d.modified.length > 0) {
      out.push({
        item,
        ok: false,
        detail: `installed files differ from RECORD: ${list(d.modified)}`,
      });
      continue;
    }
    const shas = await source.filesOfRelease(d.project, d.version);
    let verified:
      { subject: string; keyid: string; envelope: unknown; sha256: string; detail: string } | undefined;
    let lastReason = `no attested file of ${d.name}==${d.version} on ${source.description}`;
    for (const sha of shas) {
      const r = await verifyOne(
        source,
        keys,
        sha,
        (subject) => {
          const dist = parseDistFilename(subject);
          return dist && dist.project === d.project && dist.version === d.version
            ? undefined
            : `the attestation for ${sha} is for ${subject}`;
        },
        undefined,
      );
      if (!r.ok) {
        lastReason = r.reason;
        continue;
      }
      if (source.wheelRecord && r.subject.endsWith(".whl")) {
        // Online the attested wheel itself is at hand: the installed files must be its files.
        const differ = differencesFromWheel(d.files, await source.wheelRecord(sha, r.subject));
        if (differ.length > 0) {
          lastReason = `installed files are not those of the attested ${r.subject}: ${list(differ)}`;
          continue;
        }
        verified = { ...r, sha256: sha, detail: `installed files are those of the attested ${r.subject}` };
        break;
      }
      verified = {
        ...r,
        sha256: sha,
        detail: `release attested by ${r.subject}; ${d.checked} installed files match RECORD`,
      };
      break;
    }
    out.push(
      verified
        ? {
            item,
            ok: true,
            detail: verified.detail,
            sha256: verified.sha256,
            envelope: verified.envelope,
          }
        : { item, ok: false, detail: lastReason },
    );
  }
  return out;
}
