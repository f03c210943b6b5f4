import { createHash } from "node:crypto";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Logger } from "pino";
import type { BlobStore } from "../adapters/blob/blob-store.js";
import type { CatalogRepository, KnownFile } from "../adapters/db/catalog-repository.js";
import {
  UpstreamForbiddenUrlError,
  UpstreamUnavailableError,
  type Upstream,
} from "../adapters/upstream/upstream.js";
import { readWheelMetadata } from "../artifact/wheel-info.js";
import { GatewayError } from "./gateway-error.js";

export interface StoredFile {
  file: KnownFile;
  size: number;
}

/**
 * Brings distribution files into the blob store: fetched once from the upstream, hashed while
 * streaming to a temp file, and published under their sha256 only when the digest matches what
 * the upstream index declared. Nothing is sent to a client before that.
 */
export class FileStoreService {
  private readonly inflight = new Map<string, Promise<StoredFile>>();
  private readonly metaInflight = new Map<string, Promise<ExtractedMetadata>>();

  constructor(
    private readonly deps: {
      upstream: Upstream;
      repo: CatalogRepository;
      blobs: BlobStore;
      log: Logger;
      now: () => number;
      /** Refuse files larger than this many bytes (default 4 GiB). */
      maxFileSize?: number;
      /** Aborts downloads when the gateway stops. */
      shutdown?: AbortSignal;
    },
  ) {}

  /**
   * Looks up a file the gateway has seen on an upstream page, by digest and name. A digest is
   * recorded under the first name it was listed with; `otherName` decides whether another name is
   * one the upstream lists for the same bytes (the file comes back under that name).
   */
  async lookup(
    sha256: string,
    filename: string,
    otherName?: (file: KnownFile) => Promise<boolean>,
  ): Promise<KnownFile> {
    const file = await this.deps.repo.findFile(sha256);
    if (file && file.filename !== filename && otherName && (await otherName(file)))
      return { ...file, filename };
    // The name must match too: a digest is never served under a name it was not listed with.
    if (!file || file.filename !== filename) {
      throw new GatewayError(
        "FILE_NOT_FOUND",
        `no file ${filename} with sha256 ${sha256} is known to this gateway`,
      );
    }
    return file;
  }

  /** Makes sure the verified bytes are in the blob store; concurrent callers share one download. */
  async ensureStored(file: KnownFile): Promise<StoredFile> {
    const have = await this.deps.blobs.stat(file.sha256);
    if (have) return { file, size: have.size };
    let pending = this.inflight.get(file.sha256);
    if (!pending) {
      pending = this.download(file).finally(() => this.inflight.delete(file.sha256));
      this.inflight.set(file.sha256, pending);
    }
    return pending;
  }

  private async download(file: KnownFile): Promise<StoredFile> {
    const { upstream, blobs, log } = this.deps;
    const max = this.deps.maxFileSize ?? 4 * 1024 ** 3;
    const started = Date.now();
    const writer = await blobs.beginWrite();
    const hash = createHash("sha256");
    let size = 0;
    try {
      const opened = await upstream.openFile(
        {
          filename: file.filename,
          url: file.url,
          hashes: { sha256: file.sha256 },
          yanked: false,
          coreMetadata: false,
        },
        this.deps.shutdown,
      );
      if (opened.size !== undefined && opened.size > max) {
        opened.stream.destroy();
        throw new GatewayError(
          "FILE_TOO_LARGE",
          `${file.filename} is ${opened.size} bytes, over the ${max}-byte limit`,
        );
      }
      const meter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          size += chunk.length;
          if (size > max) {
            cb(new GatewayError("FILE_TOO_LARGE", `${file.filename} exceeds the ${max}-byte limit`));
            return;
          }
          hash.update(chunk);
          cb(null, chunk);
        },
      });
      await pipeline(opened.stream, meter, writer.stream);
      const digest = hash.digest("hex");
      if (digest !== file.sha256) {
        log.error(
          {
            event: "hash_mismatch",
            file: file.filename,
            declared: file.sha256,
            actual: digest,
            url: file.url,
            size,
          },
          "upstream bytes do not match the declared sha256; nothing stored",
        );
        throw new GatewayError(
          "HASH_MISMATCH",
          `${file.filename}: upstream sent bytes with sha256 ${digest}, but its index declared ${file.sha256}`,
        );
      }
      // PEP 700: a declared size is a claim about these bytes like the digest; one that does not
      // hold is refused, so no page ever advertises a size other than the bytes served.
      if (file.size !== null && file.size !== size) {
        log.error(
          { event: "size_mismatch", file: file.filename, declared: file.size, actual: size, url: file.url },
          "upstream bytes do not match the declared size; nothing stored",
        );
        throw new GatewayError(
          "SIZE_MISMATCH",
          `${file.filename}: upstream sent ${size} bytes, but its index declared ${file.size}`,
        );
      }
      await writer.commit(digest);
    } catch (err) {
      await writer.abort();
      throw toGatewayError(err, file);
    }
    await this.deps.repo.markStored(file.sha256, size, this.deps.now());
    log.info(
      { event: "file_stored", file: file.filename, sha256: file.sha256, size, ms: Date.now() - started },
      "file stored",
    );
    return { file, size };
  }

  /**
   * PEP 658 core metadata of a stored wheel: the exact METADATA bytes, kept as a blob of their
   * own. When the caller's page promised a digest, the METADATA must match it (else HASH_MISMATCH),
   * whether it was extracted now, by a concurrent caller, or earlier.
   */
  async ensureMetadata(file: KnownFile, promisedSha256?: string): Promise<{ sha256: string; size: number }> {
    if (!file.filename.endsWith(".whl")) {
      throw new GatewayError(
        "METADATA_UNAVAILABLE",
        `${file.filename} is not a wheel; no core metadata is served for it`,
      );
    }
    if (file.metadataSha256) {
      const st = await this.deps.blobs.stat(file.metadataSha256);
      if (st) {
        checkMetadataPromise(file, file.metadataSha256, promisedSha256);
        return { sha256: file.metadataSha256, size: st.size };
      }
    }
    // Concurrent callers share the extraction, not each other's promise: each checks its own.
    let pending = this.metaInflight.get(file.sha256);
    if (!pending) {
      pending = this.extractMetadata(file).finally(() => this.metaInflight.delete(file.sha256));
      this.metaInflight.set(file.sha256, pending);
    }
    const extracted = await pending;
    checkMetadataPromise(file, extracted.sha256, promisedSha256);
    // Kept only once some caller's promise held: a digest refused for every caller is never
    // recorded, so the page goes on advertising what the upstream declared (and refusing it).
    extracted.kept ??= this.keepMetadata(file, extracted);
    await extracted.kept;
    return { sha256: extracted.sha256, size: extracted.bytes.length };
  }

  /** Whether the gateway recorded its own METADATA digest for `file` (read afresh if not in hand). */
  async recordedMetadataDigest(file: KnownFile): Promise<string | undefined> {
    if (file.metadataSha256) return file.metadataSha256;
    return (await this.deps.repo.findFile(file.sha256))?.metadataSha256 ?? undefined;
  }

  private async extractMetadata(file: KnownFile): Promise<ExtractedMetadata> {
    await this.ensureStored(file);
    const path = this.deps.blobs.localPath(file.sha256);
    if (!path) throw new Error("blob store has no local path for metadata extraction");
    let bytes: Buffer;
    try {
      bytes = (await readWheelMetadata(path, { filename: file.filename })).metadataBytes;
    } catch (err) {
      throw new GatewayError("METADATA_UNAVAILABLE", `${file.filename}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return { sha256: createHash("sha256").update(bytes).digest("hex"), bytes };
  }

  private async keepMetadata(file: KnownFile, extracted: ExtractedMetadata): Promise<void> {
    const writer = await this.deps.blobs.beginWrite();
    try {
      writer.stream.end(extracted.bytes);
      await writer.commit(extracted.sha256);
    } catch (err) {
      await writer.abort();
      throw err;
    }
    await this.deps.repo.setMetadataDigest(file.sha256, extracted.sha256);
  }
}

/** METADATA extracted from a verified wheel; `kept` once stored and recorded. */
interface ExtractedMetadata {
  sha256: string;
  bytes: Buffer;
  kept?: Promise<void>;
}

function checkMetadataPromise(file: KnownFile, sha256: string, promisedSha256: string | undefined): void {
  if (promisedSha256 && promisedSha256 !== sha256) {
    throw new GatewayError(
      "HASH_MISMATCH",
      `${file.filename}: extracted METADATA has sha256 ${sha256}, but the index declared ${promisedSha256}`,
    );
  }
}

function toGatewayError(err: unknown, file: KnownFile): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err instanceof UpstreamForbiddenUrlError) {
    return new GatewayError("UPSTREAM_FORBIDDEN_URL", `${file.filename}: ${err.message}`, { cause: err });
  }
  if (err instanceof UpstreamUnavailableError) {
    return new GatewayError("UPSTREAM_UNAVAILABLE", `${file.filename}: ${err.message}`, { cause: err });
  }
  if ((err as { code?: string }).code === "UPSTREAM_FILE_NOT_FOUND") {
    return new GatewayError("UPSTREAM_FILE_MISSING", `${file.filename}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return new GatewayError("DOWNLOAD_FAILED", `${file.filename}: ${(err as Error).message}`, { cause: err });
}
