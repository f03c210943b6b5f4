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
 * The gateway's Ed25519 signing key (attestations, audit checkpoints) and the public keys of the
 * keys it replaced, kept so that old signatures still verify.
 *
 * Layout under `dir`: `active.pem` (PKCS#8, mode 0600) and `retired/<keyid>.pem` (SPKI). A key
 * supplied from outside (`--signing-key FILE`) is used as is and never written.
 */
export class KeyRing {
  private constructor(
    private readonly dir: string,
    private privateKey: KeyObject,
    private publicKey: KeyObject,
    private active: string,
    private readonly retired: Map<string, KeyObject>,
    private readonly external: boolean,
  ) {}

  /** Opens the key ring, generating the key on first start unless one is supplied. */
  static open(dir: string, suppliedKeyFile = ""): KeyRing {
    mkdirSync(join(dir, "retired"), { recursive: true, mode: 0o700 });
    const retired = new Map<string, KeyObject>();
    for (const name of readdirSync(join(dir, "retired"))) {
      if (!name.endsWith(".pem")) continue;
      const key = createPublicKey(readFileSync(join(dir, "retired", name)));
      retired.set(keyIdOf(key), key);
    }
    let privateKey: KeyObject;
    if (suppliedKeyFile) {
      privateKey = loadEd25519(suppliedKeyFile);
    } else {
      const file = join(dir, "active.pem");
      if (!existsSync(file)) writeKey(file, generateKeyPairSync("ed25519").privateKey);
      privateKey = loadEd25519(file);
    }
    const publicKey = createPublicKey(privateKey);
    const active = keyIdOf(publicKey);
    retired.delete(active);
    return new KeyRing(dir, privateKey, publicKey, active, retired, Boolean(suppliedKeyFile));
  }

  get keyid(): string {
    return this.active;
  }

  /**
   * The active key itself, for a signer on another thread of this process (the audit writer
   * thread signs its checkpoints); a rotation reaches it at the next restart, as it does the rest.
   */
  activeSigningKey(): { keyid: string; privateKey: KeyObject; publicKeyPem: string } {
    return {
      keyid: this.active,
      privateKey: this.privateKey,
      publicKeyPem: this.publicKey.export({ type: "spki", format: "pem" }).toString(),
    };
  }

  sign(data: Uint8Array): { keyid: string; sig: Buffer } {
    return { keyid: this.active, sig: edSign(null, data, this.privateKey) };
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

  publicKeys(): PublishedKey[] {
    const pem = (k: KeyObject) => k.export({ type: "spki", format: "pem" }).toString();
    return [
      { keyid: this.active, algorithm: "ed25519", pem: pem(this.publicKey), status: "active" },
      ...[...this.retired].map(([keyid, k]) => ({
        keyid,
        algorithm: "ed25519" as const,
        pem: pem(k),
        status: "retired" as const,
      })),
    ];
  }

  /** Generates a new active key; the old public key stays for verification. Returns the new keyid. */
  rotate(): string {
    if (this.external)
      throw new Error("the signing key is supplied from outside (--signing-key); rotate it there");
    const old = this.publicKey;
    writeFileSync(
      join(this.dir, "retired", `${this.active}.pem`),
      old.export({ type: "spki", format: "pem" }),
    );
    const fresh = generateKeyPairSync("ed25519").privateKey;
    const tmp = join(this.dir, "active.pem.tmp");
    writeKey(tmp, fresh);
    renameSync(tmp, join(this.dir, "active.pem"));
    this.retired.set(this.active, old);
    this.privateKey = fresh;
    this.publicKey = createPublicKey(fresh);
    this.active = keyIdOf(this.publicKey);
    return this.active;
  }
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
