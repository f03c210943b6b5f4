/**
 * Who is asking. Roles are ordered: each includes the ones before it.
 * `reader` installs, `requester` asks for packages, `approver` (the security team) decides,
 * `admin` manages identities, owners, webhooks and keys.
 */
export const ROLES = ["reader", "requester", "approver", "admin"] as const;
export type Role = (typeof ROLES)[number];

export function roleAtLeast(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/** The client parsed from a User-Agent (pip and uv send JSON after the product token). */
export interface ClientInfo {
  installer?: string;
  installerVersion?: string;
  python?: string;
  os?: string;
  distro?: string;
  cpu?: string;
  ci?: boolean;
  /** The raw User-Agent, truncated. */
  userAgent: string;
}

/**
 * The actor behind a request or a CLI action, as the audit trail records it. Anonymous readers
 * have no `user` and are known by their address only.
 */
export interface Actor {
  /** User or service-account name; null when anonymous. */
  user: string | null;
  role: Role;
  team: string | null;
  /** Token id (never the secret), when a token was used. */
  tokenId: string | null;
  /** Client IP address, or "cli" for local commands. */
  ip: string;
  /** `X-Portcullis-Project` header or the token's label: the application pulling. */
  application: string | null;
  client: ClientInfo | null;
}

export const CLI_ACTOR: Actor = {
  user: "cli",
  role: "admin",
  team: null,
  tokenId: null,
  ip: "cli",
  application: null,
  client: null,
};
