import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openArchive } from "../../artifact/open-archive.js";
import { parseRecord } from "../../artifact/record.js";
import { parseDistFilename } from "../../domain/wheel-filename.js";
import { parseKeysDocument, type TrustedKey } from "./attestation-verifier.js";

/** Where `portcullis verify` gets attestations and keys: a gateway, or a directory (offline). */
export interface AttestationSource {
  readonly description: string;
  keys(): Promise<Map<string, TrustedKey>>;
  /** The envelope for a file digest, or why there is none. */
  bySha256(sha256: string): Promise<{ envelope: unknown } | { missing: string }>;
  /** Digests of the attested files of one release (for installed environments, which have no file hash). */
  filesOfRelease(project: string, version: string): Promise<string[]>;
  /**
   * The RECORD of an attested wheel (path → urlsafe-base64 sha256), fetched and checked against
   * its digest; absent where the source has no files (offline).
   */
  wheelRecord?(sha256: string, filename: string): Promise<Map<string, string>>;
}

export class SourceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SourceError";
  }
}

/** A running gateway: `/.well-known/portcullis/keys`, `/attestations/<sha256>`, `/api/v1/decisions`. */
export class GatewayAttestationSource implements AttestationSource {
  readonly description: string;
  private readonly base: URL;

  constructor(
    gateway: string,
    private readonly token: string | undefined,
  ) {
    try {
      this.base = new URL(gateway.endsWith("/") ? gateway : `${gateway}/`);
    } catch {
      throw new SourceError(`--gateway must be a URL, got ${JSON.stringify(gateway)}`);
    }
    this.description = this.base.origin;
  }

  private async get(path: string): Promise<{ status: number; body: string }> {
    const url = new URL(path, this.base);
    try {
      const res = await fetch(url, {
        headers: {
          accept: "application/json",
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        signal: AbortSignal.timeout(60_000),
      });
      return { status: res.status, body: await res.text() };
    } catch (err) {
      throw new SourceError(`cannot reach ${url.origin}: ${(err as Error).message}`, { cause: err });
    }
  }

  async keys(): Promise<Map<string, TrustedKey>> {
    const { status, body } = await this.get(".well-known/portcullis/keys");
    if (status !== 200) throw new SourceError(`${this.description} answered HTTP ${status} for its keys`);
    try {
      return parseKeysDocument(JSON.parse(body));
    } catch (err) {
      throw new SourceError(`the gateway's keys document: ${(err as Error).message}`, { cause: err });
    }
  }

  async bySha256(sha256: string): Promise<{ envelope: unknown } | { missing: string }> {
    const { status, body } = await this.get(`attestations/${sha256}`);
    if (status === 200) {
      try {
        return { envelope: JSON.parse(body) };
      } catch {
        return { missing: "the gateway's attestation is not JSON" };
      }
    }
    if (status === 401 || status === 403)
      throw new SourceError(`${this.description} refused access (HTTP ${status}); pass --token`);
    let reason = `HTTP ${status}`;
    try {
      reason = (JSON.parse(body) as { error?: { message?: string } }).error?.message ?? reason;
    } catch {
      // plain-text error
    }
    return { missing: `no attestation (${reason})` };
  }

  async filesOfRelease(project: string, version: string): Promise<string[]> {
    const { status, body } = await this.get(
      `api/v1/decisions?project=${encodeURIComponent(project)}&version=${encodeURIComponent(version)}`,
    );
    if (status === 404) return [];
    if (status !== 200)
      throw new SourceError(`${this.description} answered HTTP ${status} for ${project}==${version}`);
    const decisions =
      (JSON.parse(body) as { decisions?: { sha256: string; outcome: string }[] }).decisions ?? [];
    return decisions.filter((d) => d.outcome === "admitted").map((d) => d.sha256);
  }

  async wheelRecord(sha256: string, filename: string): Promise<Map<string, string>> {
    const url = new URL(`files/${sha256}/${encodeURIComponent(filename)}`, this.base);
    let bytes: Buffer;
    try {
      const res = await fetch(url, {
        headers: this.token ? { authorization: `Bearer ${this.token}` } : {},
        signal: AbortSignal.timeout(600_000),
      });
      if (!res.ok) throw new SourceError(`${url.pathname} answered HTTP ${res.status}`);
      bytes = Buffer.from(await res.arrayBuffer());
    } catch (err) {
      if (err instanceof SourceError) throw err;
      throw new SourceError(`cannot download ${filename}: ${(err as Error).message}`, { cause: err });
    }
    // The bytes must be the attested file's, or their RECORD proves nothing.
    if (createHash("sha256").update(bytes).digest("hex") !== sha256)
      throw new SourceError(`${filename} from ${this.description} does not match its sha256`);
    const dir = await mkdtemp(join(tmpdir(), "portcullis-verify-"));
    try {
      const path = join(dir, "wheel.whl");
      await writeFile(path, bytes);
      const archive = await openArchive(path, { filename });
      try {
        const recordName = archive
          .entries()
          .map((e) => e.name)
          .find((n) => /^[^/]+\.dist-info\/RECORD$/.test(n));
        if (!recordName) throw new SourceError(`${filename} has no RECORD`);
        const out = new Map<string, string>();
        for (const row of parseRecord(await archive.read(recordName), recordName).entries) {
          if (row.hash?.algorithm === "sha256") out.set(row.path, row.hash.digest.replace(/=+$/, ""));
        }
        return out;
      } finally {
        await archive.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** Offline: `<dir>/<sha256>.json` envelopes and a keys document file. */
export class DirectoryAttestationSource implements AttestationSource {
  readonly description: string;
  private index: Promise<Map<string, string[]>> | undefined;

  constructor(
    private readonly dir: string,
    private readonly keysFile: string,
  ) {
    this.description = dir;
  }

  async keys(): Promise<Map<string, TrustedKey>> {
    let text: string;
    try {
      text = await readFile(this.keysFile, "utf8");
    } catch (err) {
      throw new SourceError(`cannot read --keys ${this.keysFile}: ${(err as Error).message}`, { cause: err });
    }
    try {
      return parseKeysDocument(JSON.parse(text));
    } catch (err) {
      throw new SourceError(`--keys ${this.keysFile}: ${(err as Error).message}`, { cause: err });
    }
  }

  async bySha256(sha256: string): Promise<{ envelope: unknown } | { missing: string }> {
    let text: string;
    try {
      text = await readFile(join(this.dir, `${sha256}.json`), "utf8");
    } catch {
      return { missing: `no attestation ${sha256}.json in ${this.dir}` };
    }
    try {
      return { envelope: JSON.parse(text) };
    } catch {
      return { missing: `${sha256}.json is not JSON` };
    }
  }

  /** Indexes the directory by the (signed, re-verified later) subject name of each envelope. */
  async filesOfRelease(project: string, version: string): Promise<string[]> {
    this.index ??= (async () => {
      const out = new Map<string, string[]>();
      let names: string[];
      try {
        names = await readdir(this.dir);
      } catch (err) {
        throw new SourceError(`cannot read --attestations ${this.dir}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      for (const name of names) {
        const m = /^([0-9a-f]{64})\.json$/.exec(name);
        if (!m) continue;
        try {
          const env = JSON.parse(await readFile(join(this.dir, name), "utf8")) as { payload?: string };
          const statement = JSON.parse(Buffer.from(env.payload ?? "", "base64").toString("utf8")) as {
            subject?: { name?: string }[];
          };
          const dist = parseDistFilename(statement.subject?.[0]?.name ?? "");
          if (!dist) continue;
          const key = `${dist.project}==${dist.version}`;
          out.set(key, [...(out.get(key) ?? []), m[1]!]);
        } catch {
          // Unreadable envelopes are reported when a file names them, not here.
        }
      }
      return out;
    })();
    return (await this.index).get(`${project}==${version}`) ?? [];
  }
}
