import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The Sigstore production trusted root shipped with Portcullis (`assets/sigstore/`), found from
 * the sources, the compiled `dist/` and the bundle alike by walking up to the package root.
 */
export function shippedTrustedRootPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, "assets", "sigstore", "trusted_root.production.json");
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(
    "the shipped Sigstore trusted root (assets/sigstore/trusted_root.production.json) is missing",
  );
}

/** The trusted root in force: `sigstore.trusted-root` when set, else the shipped one. */
export function trustedRootPath(configured: string, dataDir: string): string {
  if (configured) return configured;
  // A root refreshed with `portcullis provenance refresh-root` lives in the data directory.
  const refreshed = join(dataDir, "sigstore", "trusted_root.json");
  return existsSync(refreshed) ? refreshed : shippedTrustedRootPath();
}
