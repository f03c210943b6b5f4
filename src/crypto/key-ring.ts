import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as edSign,
  verify as edVerify,
  type KeyObject,
} from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

export interface PublishedKey {
  keyid: string;
  algorithm: "ed25519";
  pem: string;
  status: "active" | "retired";
}

/** The hex sha256 of a public key's SPKI DER: the keyid of `/.well-known/portcullis/keys` and DSSE. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("hex");
}

/**
 * What signing is asked of a process that has no key of its own (a CLI command run without the
 * gateway's key): it signs nothing. The audit trail writes its records unsigned on this.
 */
export class SigningKeyMissing extends Error {
  override readonly name = "SigningKeyMissing";
}

/** How to open a key ring. */
export interface KeyRingOptions {
  /**
   * Generate the key (and the directory) when there is none and none is supplied: a gateway's
   * first start (the default). CLI commands pass false: a key of their own would sign audit
   * checkpoints no gateway trusts.
   */
  create?: boolean;
}

/**
 * The gateway's Ed25519 signing key (attestations, audit checkpoints) and the public keys of the
 * keys it replaced, kept so that old signatures still verify.
 *
 * Layout under `dir`: `active.pem` (PKCS#8, mode 0600) and `retired/<keyid>.pem` (SPKI). A key
 * supplied from outside (`--signing-key FILE`) is used as is and never written. Opened without
 * `create`, a directory holding no key (or none at all) gives a ring that only verifies: the
 * public keys in `retired/` and no active key (`canSign` false).
 */
export class KeyRing {
  private constructor(
    private readonly dir: string,
    private privateKey: KeyObject | undefined,
    private publicKey: KeyObject | undefined,
    private active: string | undefined,
    private readonly retired: Map<string, KeyObject>,
    private readonly external: boolean,
  ) {}

  /** Opens the key ring; on first start (see KeyRingOptions) generates the key unless one is supplied. */
  static open(dir: string, suppliedKeyFile = "", options: KeyRingOptions = {}): KeyRing {
    const create = options.create ?? true;
    if (create) mkdirSync(join(dir, "retired"), { recursive: true, mode: 0o700 });
    const retired = readRetired(join(dir, "retired"));
    let privateKey: KeyObject | undefined;
    if (suppliedKeyFile) {
      privateKey = loadEd25519(suppliedKeyFile);
    } else {
      const file = join(dir, "active.pem");
      if (create && !existsSync(file)) writeKey(file, generateKeyPairSync("ed25519").privateKey);
      if (existsSync(file)) privateKey = loadEd25519(file);
    }
    const publicKey = privateKey && createPublicKey(privateKey);
    const active = publicKey && keyIdOf(publicKey);
    if (active) retired.delete(active);
    return new KeyRing(dir, privateKey, publicKey, active, retired, Boolean(suppliedKeyFile));
  }

  /** Whether it holds a private key (false: a ring opened without `create` that found none). */
  get canSign(): boolean {
    return this.privateKey !== undefined;
  }

  /** The active key's id; throws SigningKeyMissing when there is none. */
  get keyid(): string {
    return this.signingKey().keyid;
  }

  /**
   * The active key itself, for a signer on another thread of this process (the audit writer
   * thread signs its checkpoints); a rotation reaches it at the next restart, as it does the rest.
   */
  activeSigningKey(): { keyid: string; privateKey: KeyObject; publicKeyPem: string } {
    const { keyid, privateKey, publicKey } = this.signingKey();
    return {
      keyid,
      privateKey,
      publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    };
  }

  /** Signs with the active key; throws SigningKeyMissing when there is none. */
  sign(data: Uint8Array): { keyid: string; sig: Buffer } {
    const { keyid, privateKey } = this.signingKey();
    return { keyid, sig: edSign(null, data, privateKey) };
  }

  private signingKey(): { keyid: string; privateKey: KeyObject; publicKey: KeyObject } {
    if (!this.privateKey || !this.publicKey || !this.active)
      throw new SigningKeyMissing(
        `no signing key: none supplied (--signing-key, PORTCULLIS_SIGNING_KEY) and none in ${this.dir}`,
      );
    return { keyid: this.active, privateKey: this.privateKey, publicKey: this.publicKey };
  }

  /** Verifies with the active or a retired key; an unknown keyid never verifies. */
  verify(keyid: string, data: Uint8Array, sig: Uint8Array): boolean {
    const key = keyid === this.active ? this.publicKey : this.retired.get(keyid);
    if (!key) return false;
    try {
      return edVerify(null, data, key, sig);
    } catch {
      return false;
    }
  }

  /** The active key (when there is one) and the retired ones. */
  publicKeys(): PublishedKey[] {
    const pem = (k: KeyObject) => k.export({ type: "spki", format: "pem" }).toString();
    const retired = [...this.retired].map(([keyid, k]) => ({
      keyid,
      algorithm: "ed25519" as const,
      pem: pem(k),
      status: "retired" as const,
    }));
    if (!this.active || !this.publicKey) return retired;
    return [
      { keyid: this.active, algorithm: "ed25519", pem: pem(this.publicKey), status: "active" },
      ...retired,
    ];
  }

  /**
   * Generates a new active key; the old public key stays for verification. Returns the new keyid.
   * Refused for a key supplied from outside, and without an active key (nothing to rotate: the
   * gateway makes its key at its first start).
   */
  rotate(): string {
    if (this.external)
      throw new Error("the signing key is supplied from outside (--signing-key); rotate it there");
    const { keyid: oldId, publicKey: old } = this.signingKey();
    mkdirSync(join(this.dir, "retired"), { recursive: true, mode: 0o700 });
    writeFileSync(join(this.dir, "retired", `${oldId}.pem`), old.export({ type: "spki", format: "pem" }));
    const fresh = generateKeyPairSync("ed25519").privateKey;
    const tmp = join(this.dir, "active.pem.tmp");
    writeKey(tmp, fresh);
    renameSync(tmp, join(this.dir, "active.pem"));
    this.retired.set(oldId, old);
    this.privateKey = fresh;
    this.publicKey = createPublicKey(fresh);
    this.active = keyIdOf(this.publicKey);
    return this.active;
  }
}

/** The public keys under `retired/` (none when it does not exist), by keyid. */
function readRetired(dir: string): Map<string, KeyObject> {
  const retired = new Map<string, KeyObject>();
  if (!existsSync(dir)) return retired;
  for (const name of readdirSync(dir)) {
    if (!name.endsWith(".pem")) continue;
    const key = createPublicKey(readFileSync(join(dir, name)));
    retired.set(keyIdOf(key), key);
  }
  return retired;
}

function writeKey(file: string, key: KeyObject): void {
  writeFileSync(file, key.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  chmodSync(file, 0o600);
}

function loadEd25519(file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(file));
  } catch (err) {
    throw new Error(`cannot read the signing key ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (key.asymmetricKeyType !== "ed25519")
    throw new Error(`the signing key ${file} is ${key.asymmetricKeyType ?? "unknown"}, expected ed25519`);
  return key;
}
