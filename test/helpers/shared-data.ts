import { fileURLToPath } from "node:url";
import { join, resolve } from "node:path";

/**
 * The real third-party test data (`../shared/data` beside the checkout), read in place, never
 * copied into the repository. `PORTCULLIS_SHARED_DATA` points elsewhere.
 */
export function sharedDataDir(): string {
  return (
    process.env.PORTCULLIS_SHARED_DATA ??
    resolve(join(fileURLToPath(new URL(".", import.meta.url)), "..", "..", "..", "shared", "data"))
  );
}
