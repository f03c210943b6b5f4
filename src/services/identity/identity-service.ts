import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type {
  DisabledState,
  IdentityRepository,
  IdentityRow,
  TokenRow,
} from "../../adapters/db/identity-repository.js";
import { ROLES, roleAtLeast, type Actor, type Role } from "../../domain/identity.js";
import { normalizeProjectName } from "../../domain/project-name.js";
import type { AuditRecorder, OwnerDirectory } from "../audit-entry.js";
import { hasControlCharacters } from "../../domain/control-characters.js";

/** A refused identity operation: `code` maps to an API error code and a CLI exit. */
export class IdentityError extends Error {
  constructor(
    readonly code: "VALIDATION" | "NOT_FOUND" | "CONFLICT" | "FORBIDDEN",
    message: string,
  ) {
    super(message);
    this.name = "IdentityError";
  }
}

/** Who a valid token belongs to, as the auth hook needs it. */
export interface TokenPrincipal {
  tokenId: string;
  user: string;
  role: Role;
  team: string | null;
  label: string | null;
}

export type AuthResult =
  | { ok: true; principal: TokenPrincipal }
  | {
      ok: false;
      reason: "malformed" | "unknown" | "expired" | "revoked" | "disabled";
      tokenId: string | null;
      /**
       * Whose token it is, when the secret matched (expired, revoked, disabled): the audit record
       * of the refused attempt names them ("is alice still trying?"). Never for a wrong secret.
       */
      holder?: { user: string; role: Role };
    };

export interface TokenInfo {
  id: string;
  user: string;
  role: Role;
  team: string | null;
  label: string | null;
  createdAt: string;
  createdBy: string;
  expiresAt: string | null;
  revokedAt: string | null;
  /**
   * Whether it still authenticates: `revoked`, `expired` (its expiry passed), `disabled` (its
   * identity is disabled: refused until `user enable`) or `active`.
   */
  state: "active" | "expired" | "revoked" | "disabled";
}

export interface CreatedToken {
  token: string;
  info: TokenInfo;
}

export interface CreateTokenInput {
  user: string;
  role: Role;
  team?: string | null;
  label?: string | null;
  /**
   * `service` for CI jobs and scripts (default `user` for a new identity); for an existing one it
   * must match, when given.
   */
  kind?: "user" | "service";
  /** Expiry (epoch ms); none when absent. */
  expiresAt?: number | null;
}

// `pcl_<12 hex id>_<32 random bytes, base64url>`: the id is public (listings, audit, rate limits),
// the secret part carries 256 bits, so the keyed hash needs no slow KDF to resist guessing.
const TOKEN_RE = /^pcl_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/;
/** How long a verified token stays trusted without a database read: bounds how late a revocation bites. */
export const TOKEN_CACHE_MS = 2_000;
const TOKEN_CACHE_MAX = 10_000;
/** The longest reason a disabled identity keeps (`user disable --reason`). */
export const DISABLE_REASON_MAX = 500;

export function isValidName(name: string): boolean {
  return NAME_RE.test(name);
}

export function isRole(v: string): v is Role {
  return (ROLES as readonly string[]).includes(v);
}

/** The id part of something that looks like a token, for rate limiting by prefix. */
export function tokenIdOf(token: string): string | null {
  return TOKEN_RE.exec(token)?.[1] ?? null;
}

/** A user or service account as the API and `user list --json` show it (times in ISO 8601). */
export interface UserView {
  name: string;
  kind: IdentityRow["kind"];
  role: IdentityRow["role"];
  team: string | null;
  createdAt: string;
  disabled: boolean;
  disabledAt: string | null;
  /** Why it was disabled, as given (null while enabled, or when no reason was given). */
  disabledReason: string | null;
  /** Who disabled it: a user name, or `cli:<os user>` (null while enabled). */
  disabledBy: string | null;
}

/** A team as the API and `team list --json` show it. */
export interface TeamView {
  name: string;
  members: number;
  createdAt: string;
}

/**
 * Identities (users, service accounts, teams), API tokens and project owners. Tokens are shown
 * once and stored as HMAC-SHA256 under a server key kept in the database (`meta`), compared in
 * constant time; a verified token is cached for {@link TOKEN_CACHE_MS} so a request costs a map
 * lookup and an HMAC, and a revocation takes effect on every instance within that time.
 */
export class IdentityService implements OwnerDirectory {
  private key: Buffer | undefined;
  /** Checked tokens: when, the answer, and until when a success may be served (its expiry). */
  private readonly cache = new Map<string, { at: number; result: AuthResult; validUntil: number }>();
  /**
   * Bumped by every change on this instance that makes cached answers stale (a revocation, an
   * identity disabled, enabled or moved): a check that started before one does not cache its
   * (possibly stale) answer afterwards.
   */
  private invalidations = 0;

  constructor(
    private readonly deps: {
      repo: IdentityRepository;
      now: () => number;
      audit: AuditRecorder;
    },
  ) {}

  private async hmacKey(): Promise<Buffer> {
    this.key ??= Buffer.from(await this.deps.repo.tokenHmacKey(randomBytes(32).toString("base64")), "base64");
    return this.key;
  }

  private async hashToken(token: string): Promise<string> {
    return createHmac("sha256", await this.hmacKey())
      .update(token)
      .digest("hex");
  }

  /** Creates (or finds) the identity and a token for it; the token is returned once and never stored. */
  async createToken(input: CreateTokenInput, actor: Actor): Promise<CreatedToken> {
    checkUserName(input.user);
    if (!isRole(input.role))
      throw new IdentityError(
        "VALIDATION",
        `invalid role ${JSON.stringify(input.role)} (${ROLES.join(", ")})`,
      );
    const team = input.team ?? null;
    if (team !== null) checkTeamName(team);
    const label = input.label ?? null;
    if (label !== null) checkTokenLabel(label);
    const now = this.deps.now();
    if (input.expiresAt != null && input.expiresAt <= now)
      throw new IdentityError("VALIDATION", "the expiry must be in the future");
    const { repo } = this.deps;
    if (team) await repo.ensureTeam(team, now);
    await repo.insertIdentity({
      name: input.user,
      kind: input.kind ?? "user",
      role: input.role,
      team,
      created_at: now,
      disabled_at: null,
      disabled_reason: null,
      disabled_by: null,
    });
    const id = randomBytes(6).toString("hex");
    const token = `pcl_${id}_${randomBytes(32).toString("base64url")}`;
    const hash = await this.hashToken(token);
    // The identity as it is inside the transaction that stores the token (see issueToken): an
    // identity's role is the highest its tokens were issued with (what `user list` shows); its
    // team is where all its tokens pull for, so naming another one moves the identity and them.
    const issued = await repo.issueToken(
      input.user,
      (current) => {
        if (current.disabled_at !== null)
          throw new IdentityError("CONFLICT", `identity ${input.user} is disabled`);
        if (input.kind && current.kind !== input.kind) {
          throw new IdentityError(
            "CONFLICT",
            `identity ${input.user} is a ${current.kind === "service" ? "service account" : "user"}, not a ${input.kind === "service" ? "service account" : "user"}`,
          );
        }
        const patch: { role?: Role; team?: string } = {};
        if (current.role !== input.role && isRole(current.role) && !roleAtLeast(current.role, input.role))
          patch.role = input.role;
        if (team && current.team !== team) patch.team = team;
        return patch;
      },
      {
        id,
        role: input.role,
        label,
        hash,
        created_at: now,
        created_by: actor.user ?? actor.ip,
        expires_at: input.expiresAt ?? null,
        revoked_at: null,
      },
    );
    // Removed between the two statements (an identity is only ever disabled, so not in practice).
    if (!issued) throw new IdentityError("CONFLICT", `identity ${input.user} is gone`);
    const { before } = issued;
    const movedFrom = team && before.team !== team ? before.team : undefined;
    const raisedFrom =
      before.role !== input.role && isRole(before.role) && !roleAtLeast(before.role, input.role)
        ? before.role
        : undefined;
    if (movedFrom !== undefined) {
      // This instance sees the move at once (others within TOKEN_CACHE_MS, as for a revocation).
      this.forgetUser(input.user);
    }
    const row: TokenRow = {
      id,
      identity: input.user,
      role: input.role,
      team: issued.team,
      label,
      hash,
      created_at: now,
      created_by: actor.user ?? actor.ip,
      expires_at: input.expiresAt ?? null,
      revoked_at: null,
    };
    this.deps.audit.record({
      action: "token.create",
      actor,
      outcome: "ok",
      detail: {
        tokenId: id,
        user: input.user,
        role: input.role,
        team: row.team,
        label,
        ...(raisedFrom !== undefined ? { identityRoleFrom: raisedFrom } : {}),
        ...(movedFrom !== undefined ? { movedFromTeam: movedFrom } : {}),
      },
    });
    return { token, info: tokenInfo(row, now) };
  }

  /** Checks a presented token: constant-time against the stored keyed hash, cached briefly. */
  async authenticate(token: string): Promise<AuthResult> {
    const m = TOKEN_RE.exec(token);
    if (!m) return { ok: false, reason: "malformed", tokenId: null };
    const now = this.deps.now();
    const hash = await this.hashToken(token);
    const hit = this.cache.get(hash);
    if (hit && now - hit.at < TOKEN_CACHE_MS && now < hit.validUntil) {
      if (hit.result.ok || hit.result.reason !== "unknown") return hit.result;
    }
    const invalidations = this.invalidations;
    const { result, expiresAt } = await this.lookup(m[1]!, hash, now);
    // Only hashes of tokens that exist are cached: guesses must not fill the cache.
    if ((result.ok || result.reason !== "unknown") && invalidations === this.invalidations) {
      if (this.cache.size >= TOKEN_CACHE_MAX) this.cache.clear();
      this.cache.set(hash, { at: now, result, validUntil: expiresAt ?? Infinity });
    }
    return result;
  }

  /**
   * The answer `authenticate` would give from its cache, without I/O or a promise: for a token
   * verified in the last TOKEN_CACHE_MS (revocation clears it); undefined otherwise, and then the
   * caller must `authenticate`. The warm-page fast lane uses it.
   */
  authenticateCached(token: string): AuthResult | undefined {
    if (!this.key || !TOKEN_RE.test(token)) return undefined;
    const hit = this.cache.get(createHmac("sha256", this.key).update(token).digest("hex"));
    const now = this.deps.now();
    if (!hit || now - hit.at >= TOKEN_CACHE_MS || now >= hit.validUntil) return undefined;
    return hit.result;
  }

  /** The check itself, and (for a token that exists) when it expires. */
  private async lookup(
    id: string,
    hash: string,
    now: number,
  ): Promise<{ result: AuthResult; expiresAt?: number }> {
    const row = await this.deps.repo.getToken(id);
    const presented = Buffer.from(hash, "hex");
    // Compare even when there is no row, so timing does not tell an unknown id from a wrong secret.
    const stored = Buffer.from(row?.hash ?? "0".repeat(64), "hex");
    const match = stored.length === presented.length && timingSafeEqual(stored, presented);
    if (!row || !match) return { result: { ok: false, reason: "unknown", tokenId: id } };
    const holder = { user: row.identity, role: isRole(row.role) ? row.role : "reader" } as const;
    if (row.revoked_at !== null) return { result: { ok: false, reason: "revoked", tokenId: id, holder } };
    if (row.expires_at !== null && row.expires_at <= now)
      return { result: { ok: false, reason: "expired", tokenId: id, holder } };
    const expiresAt = row.expires_at ?? undefined;
    const identity = await this.deps.repo.getIdentity(row.identity);
    if (!identity || identity.disabled_at !== null)
      return { result: { ok: false, reason: "disabled", tokenId: id, holder } };
    return {
      result: {
        ok: true,
        principal: {
          tokenId: id,
          user: row.identity,
          role: isRole(row.role) ? row.role : "reader",
          team: row.team ?? identity.team,
          label: row.label,
        },
      },
      ...(expiresAt !== undefined ? { expiresAt } : {}),
    };
  }

  /** Newest first; `page` pages on (see IdentityRepository.listTokens); every token without it. */
  async listTokens(
    user?: string,
    page: { after?: { createdAt: number; id: string }; limit?: number } = {},
  ): Promise<TokenInfo[]> {
    const now = this.deps.now();
    const rows = await this.deps.repo.listTokens(user, page);
    // The holders of the page's tokens, read once each: a disabled identity's tokens say so.
    const disabled = new Set<string>();
    for (const name of new Set(rows.map((r) => r.identity)))
      if ((await this.deps.repo.getIdentity(name))?.disabled_at != null) disabled.add(name);
    return rows.map((row) => tokenInfo(row, now, disabled.has(row.identity)));
  }

  async revokeToken(id: string, actor: Actor): Promise<TokenInfo> {
    const { repo } = this.deps;
    const row = await repo.getToken(id);
    // A refused revocation is an admin action too: audited with its outcome, as the trail's
    // access records word it ("not-found", "refused").
    const refuse = (code: "NOT_FOUND" | "CONFLICT", message: string): never => {
      this.deps.audit.record({
        action: "token.revoke",
        actor,
        outcome: code === "NOT_FOUND" ? "not-found" : "refused",
        detail: { tokenId: id, user: row?.identity ?? null, reason: message },
      });
      throw new IdentityError(code, message);
    };
    if (!row) return refuse("NOT_FOUND", `no token with id ${id}`);
    if (row.revoked_at !== null) return refuse("CONFLICT", `token ${id} was revoked already`);
    const at = this.deps.now();
    // Another revocation may have won since the read.
    if (!(await repo.revokeToken(id, at))) return refuse("CONFLICT", `token ${id} was revoked already`);
    this.invalidations++;
    // This instance forgets it at once; others within TOKEN_CACHE_MS.
    for (const [hash, entry] of this.cache)
      if (entry.result.ok && entry.result.principal.tokenId === id) this.cache.delete(hash);
    this.deps.audit.record({
      action: "token.revoke",
      actor,
      outcome: "ok",
      detail: { tokenId: id, user: row.identity },
    });
    return tokenInfo({ ...row, revoked_at: at }, at);
  }

  /**
   * Disables an identity (offboarding, a leaked credential): every token it holds is refused
   * (401) from now on, at once on this instance and within TOKEN_CACHE_MS on the others, the way
   * a revocation reaches them; its tokens are kept, so `enableIdentity` restores them. Refused:
   * an unknown name (NOT_FOUND), an identity disabled already (CONFLICT, as a second revocation
   * is), and an identity disabling itself through the API (FORBIDDEN), so the caller, an enabled
   * admin, always remains; the caller is locked with the target (see IdentityRepository
   * .setDisabled), so two admins disabling each other at once cannot both succeed. The CLI is
   * not held to that: it works on the database itself and can always make or enable an admin.
   * Every attempt past validation is audited as `user.disable`.
   */
  async disableIdentity(name: string, reason: string | null, actor: Actor): Promise<UserView> {
    checkUserName(name);
    if (reason !== null) checkDisableReason(reason);
    const refuse = this.refuser(
      "user.disable",
      name,
      actor,
      reason !== null ? { disableReason: reason } : {},
    );
    const caller = callerIdentity(actor);
    if (caller === name)
      return refuse(
        "FORBIDDEN",
        `you cannot disable your own identity ${name}: another admin must (or portcullis user disable on the gateway's database)`,
      );
    const at = this.deps.now();
    const by = actor.user ?? actor.ip;
    const before = await this.deps.repo.setDisabled(name, caller, (current, callerRow) => {
      // The caller passed its token check before the lock; another admin may have disabled it since.
      if (caller !== null && (!callerRow || callerRow.disabled_at !== null))
        refuse("FORBIDDEN", `your identity ${caller} was disabled before this took effect`);
      if (current.disabled_at !== null)
        refuse("CONFLICT", `identity ${name} was disabled already (${disabledSince(current)})`);
      return { disabled_at: at, disabled_reason: reason, disabled_by: by };
    });
    if (!before) return refuse("NOT_FOUND", `no user or service account ${JSON.stringify(name)}`);
    this.forgetUser(name);
    this.deps.audit.record({
      action: "user.disable",
      actor,
      outcome: "ok",
      detail: { user: name, kind: before.kind, role: before.role, reason },
    });
    return userView({ ...before, disabled_at: at, disabled_reason: reason, disabled_by: by });
  }

  /**
   * Enables a disabled identity: its tokens that are neither revoked nor expired work again, at
   * once on this instance and within TOKEN_CACHE_MS on the others. NOT_FOUND for an unknown name,
   * CONFLICT for an identity that is not disabled; audited as `user.enable`, naming what it lifted.
   */
  async enableIdentity(name: string, actor: Actor): Promise<UserView> {
    checkUserName(name);
    const refuse = this.refuser("user.enable", name, actor, {});
    const before = await this.deps.repo.setDisabled(name, null, (current) => {
      if (current.disabled_at === null) refuse("CONFLICT", `identity ${name} is not disabled`);
      return { disabled_at: null, disabled_reason: null, disabled_by: null };
    });
    if (!before) return refuse("NOT_FOUND", `no user or service account ${JSON.stringify(name)}`);
    this.invalidations++;
    // Refusals are cached by token only: drop every cached "disabled" answer (each costs one read).
    for (const [hash, entry] of this.cache)
      if (!entry.result.ok && entry.result.reason === "disabled") this.cache.delete(hash);
    this.deps.audit.record({
      action: "user.enable",
      actor,
      outcome: "ok",
      detail: {
        user: name,
        disabledAt: iso(before.disabled_at === null ? null : Number(before.disabled_at)),
        disabledBy: before.disabled_by,
        reason: before.disabled_reason,
      },
    });
    return userView({ ...before, disabled_at: null, disabled_reason: null, disabled_by: null });
  }

  /**
   * A refusal of an admin action on an identity, audited with its outcome as the trail words it
   * (`not-found`, `refused` for a conflict, `denied` for a forbidden one) and thrown.
   */
  private refuser(action: string, name: string, actor: Actor, extra: Record<string, unknown>) {
    return (code: "NOT_FOUND" | "CONFLICT" | "FORBIDDEN", message: string): never => {
      this.deps.audit.record({
        action,
        actor,
        outcome: code === "NOT_FOUND" ? "not-found" : code === "FORBIDDEN" ? "denied" : "refused",
        detail: { user: name, reason: message, ...extra },
      });
      throw new IdentityError(code, message);
    };
  }

  /** This instance stops trusting the user's cached successes at once (others within TOKEN_CACHE_MS). */
  private forgetUser(name: string): void {
    this.invalidations++;
    for (const [hash, entry] of this.cache)
      if (entry.result.ok && entry.result.principal.user === name) this.cache.delete(hash);
  }

  /** By name; `page` pages on; every identity without it. The API's and the CLI's shape. */
  async listUsers(page: { after?: string; limit?: number } = {}): Promise<UserView[]> {
    return (await this.deps.repo.listIdentities(page)).map(userView);
  }

  /** By name, with member counts; `page` pages on; every team without it. */
  async listTeams(page: { after?: string; limit?: number } = {}): Promise<TeamView[]> {
    return (await this.deps.repo.listTeams(page)).map((t) => ({
      name: t.name,
      members: Number(t.members),
      createdAt: new Date(Number(t.created_at)).toISOString(),
    }));
  }

  async hasIdentities(): Promise<boolean> {
    return (await this.deps.repo.countIdentities()) > 0;
  }

  /**
   * First start: with no identity at all, creates `admin` and returns its token (to print once).
   * Returns null when identities exist or another instance won the race.
   */
  async bootstrapAdmin(actor: Actor): Promise<CreatedToken | null> {
    if (await this.hasIdentities()) return null;
    const now = this.deps.now();
    const inserted = await this.deps.repo.insertIdentity({
      name: "admin",
      kind: "user",
      role: "admin",
      team: null,
      created_at: now,
      disabled_at: null,
      disabled_reason: null,
      disabled_by: null,
    });
    if (!inserted) return null;
    return this.createToken({ user: "admin", role: "admin", label: "first-start" }, actor);
  }

  async ownerOf(project: string): Promise<string | null> {
    return this.deps.repo.ownerOf(normalizeProjectName(project));
  }

  async ownersOf(projects: string[]): Promise<Map<string, string>> {
    return this.deps.repo.ownersOf(projects.map(normalizeProjectName));
  }

  async setOwner(project: string, team: string, actor: Actor): Promise<void> {
    if (!/^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/.test(project) || project.length > 200)
      throw new IdentityError("VALIDATION", `invalid project name ${JSON.stringify(project)}`);
    checkTeamName(team);
    const name = normalizeProjectName(project);
    const now = this.deps.now();
    await this.deps.repo.ensureTeam(team, now);
    await this.deps.repo.setOwner(name, team, actor.user ?? actor.ip, now);
    this.deps.audit.record({ action: "owner.set", actor, outcome: "ok", project: name, detail: { team } });
  }

  /** Every owner, or one page of them (by project name). */
  async listOwners(page: { after?: string; limit?: number } = {}) {
    return this.deps.repo.listOwners(page);
  }
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function userView(u: IdentityRow): UserView {
  return {
    name: u.name,
    kind: u.kind,
    role: u.role,
    team: u.team,
    createdAt: new Date(Number(u.created_at)).toISOString(),
    disabled: u.disabled_at !== null,
    disabledAt: iso(u.disabled_at === null ? null : Number(u.disabled_at)),
    disabledReason: u.disabled_at === null ? null : u.disabled_reason,
    disabledBy: u.disabled_at === null ? null : u.disabled_by,
  };
}

/** The identity behind an API call, which must stay enabled while it disables another; null for the CLI. */
function callerIdentity(actor: Actor): string | null {
  return actor.tokenId !== null ? actor.user : null;
}

/** "since <time>, by <who>: <reason>" for messages about a disabled identity. */
function disabledSince(row: DisabledState): string {
  const when = iso(row.disabled_at === null ? null : Number(row.disabled_at));
  return `since ${when}${row.disabled_by ? `, by ${row.disabled_by}` : ""}${row.disabled_reason ? `: ${row.disabled_reason}` : ""}`;
}

/*
 * The checks of names, labels and reasons, with the messages the API and the CLI give. Pure, so
 * the CLI makes them before it sends anything to a gateway. Each throws IdentityError VALIDATION.
 */

/** A user or service account's name. */
export function checkUserName(name: string): void {
  if (!isValidName(name))
    throw new IdentityError(
      "VALIDATION",
      `invalid user name ${JSON.stringify(name)} (letters, digits, . _ @ -)`,
    );
}

/** A team's name. */
export function checkTeamName(team: string): void {
  if (!isValidName(team)) throw new IdentityError("VALIDATION", `invalid team name ${JSON.stringify(team)}`);
}

/** A token's label: 1 to 200 characters, no control characters. */
export function checkTokenLabel(label: string): void {
  if (label.length === 0 || label.length > 200)
    throw new IdentityError("VALIDATION", "a token label has 1 to 200 characters");
  if (hasControlCharacters(label))
    throw new IdentityError(
      "VALIDATION",
      `a token label must not contain control characters (escape sequences, tabs or line breaks), got ${JSON.stringify(label)}`,
    );
}

/** A reason is one line shown in listings and the audit trail: no control characters. */
export function checkDisableReason(reason: string): void {
  if (reason.trim().length === 0 || [...reason].length > DISABLE_REASON_MAX)
    throw new IdentityError("VALIDATION", `a reason has 1 to ${DISABLE_REASON_MAX} characters`);
  if (hasControlCharacters(reason))
    throw new IdentityError(
      "VALIDATION",
      `a reason must not contain control characters (escape sequences, tabs or line breaks), got ${JSON.stringify(reason)}`,
    );
}

function tokenInfo(row: TokenRow, now: number, identityDisabled = false): TokenInfo {
  return {
    id: row.id,
    user: row.identity,
    role: isRole(row.role) ? row.role : "reader",
    team: row.team,
    label: row.label,
    createdAt: new Date(row.created_at).toISOString(),
    createdBy: row.created_by,
    expiresAt: iso(row.expires_at),
    revokedAt: iso(row.revoked_at),
    state:
      row.revoked_at !== null
        ? "revoked"
        : row.expires_at !== null && Number(row.expires_at) <= now
          ? "expired"
          : identityDisabled
            ? "disabled"
            : "active",
  };
}
