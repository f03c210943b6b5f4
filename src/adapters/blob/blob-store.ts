import type { Readable, Writable } from "node:stream";

/**
 * Content-addressed storage for distribution files and extracted metadata, keyed by sha256
 * (lowercase hex). Implementations: local disk (`fs-blob-store.ts`); S3-compatible stores later.
 */
export interface BlobStore {
  /** Size in bytes, or `undefined` when the blob is absent. */
  stat(sha256: string): Promise<{ size: number } | undefined>;
  /** Read a blob, optionally a byte range (inclusive `end`, as in HTTP Range). */
  read(sha256: string, range?: { start: number; end: number }): Readable;
  /** A local path to the blob when the store is on disk (the artifact reader opens zips by path). */
  localPath(sha256: string): string | undefined;
  /**
   * Start writing a blob whose digest is not yet known to be right. Nothing is visible under
   * any key until `commit` is called with the verified digest; `abort` leaves nothing behind.
   */
  beginWrite(): Promise<BlobWriter>;
  delete(sha256: string): Promise<void>;
}

export interface BlobWriter {
  readonly stream: Writable;
  /** A path to the pending bytes (temp file), for checks that need the whole file. */
  readonly tempPath: string;
  /** Flush to disk and publish under `sha256` atomically. */
  commit(sha256: string): Promise<void>;
  abort(): Promise<void>;
}

/** Lowercase hex sha256, exactly 64 characters: the only key a blob store accepts. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;

export function assertSha256(sha256: string): void {
  if (!SHA256_HEX.test(sha256))
    throw new Error(`not a sha256 hex digest: ${JSON.stringify(sha256.slice(0, 80))}`);
}
