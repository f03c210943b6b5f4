import type { Kysely, Selectable } from "kysely";
import type { Database } from "./schema.js";
import type { RemediationState } from "../../services/governance/remediation-rules.js";
import { eventRow } from "./remediation-repository.js";
import type { ApiTokensTable, IdentitiesTable, TeamsTable } from "./schema-identity.js";

export type IdentityRow = Selectable<IdentitiesTable>;
export type TokenRow = Selectable<ApiTokensTable>;
export type TeamRow = Selectable<TeamsTable>;
/** Whether, since when, why and by whom an identity is disabled (all null while it is enabled). */
export type DisabledState = Pick<IdentityRow, "disabled_at" | "disabled_reason" | "disabled_by">;

const HMAC_KEY = "identity.token-hmac-key";

/** Users, service accounts, teams, API tokens (hashes only) and project owners. */
export class IdentityRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * The server key tokens are hashed under, created once and shared through the database so that
   * every instance on one PostgreSQL computes the same hash. `fresh` is used only when none exists.
   */
  async tokenHmacKey(fresh: string): Promise<string> {
    await this.db
      .insertInto("meta")
      .values({ key: HMAC_KEY, value: fresh })
      .onConflict((oc) => oc.column("key").doNothing())
      .execute();
    const row = await this.db
      .selectFrom("meta")
      .select("value")
      .where("key", "=", HMAC_KEY)
      .executeTakeFirstOrThrow();
    return row.value;
  }

  async countIdentities(): Promise<number> {
    const row = await this.db
      .selectFrom("identities")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async getIdentity(name: string): Promise<IdentityRow | undefined> {
    return this.db.selectFrom("identities").selectAll().where("name", "=", name).executeTakeFirst();
  }

  /** Inserts the identity unless it exists; returns whether it was inserted. */
  async insertIdentity(row: IdentityRow): Promise<boolean> {
    const res = await this.db
      .insertInto("identities")
      .values(row)
      .onConflict((oc) => oc.column("name").doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /**
   * Issues a token for an existing identity, in one transaction: the identity's row is locked
   * first (a no-op update; PostgreSQL holds a row lock and SQLite its write lock until commit),
   * `decide` sees it as it is now and returns the change to make (a higher role; a new team, which
   * takes all its tokens along) or throws, and the token is stored with the identity's team after
   * that change. So two `token create`s at once (two instances, or a CLI command beside a gateway)
   * never leave a token in a team its identity has left, nor lower a role the other raised.
   * Returns the identity as it was and the team the token was given; undefined when there is no
   * such identity.
   */
  async issueToken(
    name: string,
    decide: (current: IdentityRow) => { role?: string; team?: string },
    token: Omit<TokenRow, "team" | "identity">,
  ): Promise<{ before: IdentityRow; team: string | null } | undefined> {
    return this.db.transaction().execute(async (tx) => {
      const before = await tx
        .updateTable("identities")
        .set((eb) => ({ kind: eb.ref("kind") }))
        .where("name", "=", name)
        .returningAll()
        .executeTakeFirst();
      if (!before) return undefined;
      const patch = decide(before);
      if (patch.role !== undefined || patch.team !== undefined)
        await tx.updateTable("identities").set(patch).where("name", "=", name).execute();
      if (patch.team !== undefined)
        await tx.updateTable("api_tokens").set({ team: patch.team }).where("identity", "=", name).execute();
      const team = patch.team ?? before.team;
      await tx
        .insertInto("api_tokens")
        .values({ ...token, identity: name, team })
        .execute();
      return { before, team };
    });
  }

  /**
   * Disables or enables an identity, in one transaction: its row, and the row of `caller` (the
   * identity asking through the API; null for the CLI), are locked first by no-op updates (as in
   * issueToken), always in name order, so two admins disabling each other at the same moment
   * queue instead of deadlocking. `decide` then sees both as they are now (the second sees the
   * first's commit) and returns the state to store, or throws to change nothing. Returns the
   * identity as it was before; undefined (nothing changed, `decide` not asked) when there is no
   * such identity.
   */
  async setDisabled(
    name: string,
    caller: string | null,
    decide: (current: IdentityRow, caller: IdentityRow | undefined) => DisabledState,
  ): Promise<IdentityRow | undefined> {
    return this.db.transaction().execute(async (tx) => {
      const locked = new Map<string, IdentityRow>();
      for (const n of [...new Set([name, caller ?? name])].sort()) {
        const row = await tx
          .updateTable("identities")
          .set((eb) => ({ kind: eb.ref("kind") }))
          .where("name", "=", n)
          .returningAll()
          .executeTakeFirst();
        if (row) locked.set(n, row);
      }
      const current = locked.get(name);
      if (!current) return undefined;
      const next = decide(current, caller === null ? undefined : locked.get(caller));
      await tx.updateTable("identities").set(next).where("name", "=", name).execute();
      return current;
    });
  }

  /** By name; `after` (the last name of the previous page) and `limit` page on. */
  async listIdentities(page: { after?: string; limit?: number } = {}): Promise<IdentityRow[]> {
    let q = this.db.selectFrom("identities").selectAll().orderBy("name");
    if (page.after !== undefined) q = q.where("name", ">", page.after);
    if (page.limit !== undefined) q = q.limit(page.limit);
    return q.execute();
  }

  async ensureTeam(name: string, at: number): Promise<void> {
    await this.db
      .insertInto("teams")
      .values({ name, created_at: at })
      .onConflict((oc) => oc.column("name").doNothing())
      .execute();
  }

  /** By name, with member counts; `after` (the last name of the previous page) and `limit` page on. */
  async listTeams(page: { after?: string; limit?: number } = {}): Promise<(TeamRow & { members: number })[]> {
    let q = this.db.selectFrom("teams").selectAll().orderBy("name");
    if (page.after !== undefined) q = q.where("name", ">", page.after);
    if (page.limit !== undefined) q = q.limit(page.limit);
    const teams = await q.execute();
    if (teams.length === 0) return [];
    const counts = await this.db
      .selectFrom("identities")
      .select(["team", (eb) => eb.fn.countAll<number>().as("n")])
      .where(
        "team",
        "in",
        teams.map((t) => t.name),
      )
      .groupBy("team")
      .execute();
    const byTeam = new Map(counts.map((c) => [c.team, Number(c.n)]));
    return teams.map((t) => ({ ...t, members: byTeam.get(t.name) ?? 0 }));
  }

  async getToken(id: string): Promise<TokenRow | undefined> {
    return this.db.selectFrom("api_tokens").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /**
   * Newest first (then by id); `after` (the last token of the previous page) and `limit` page on.
   */
  async listTokens(
    identity?: string,
    page: { after?: { createdAt: number; id: string }; limit?: number } = {},
  ): Promise<TokenRow[]> {
    let q = this.db.selectFrom("api_tokens").selectAll();
    if (identity) q = q.where("identity", "=", identity);
    const after = page.after;
    if (after)
      q = q.where((eb) =>
        eb.or([
          eb("created_at", "<", after.createdAt),
          eb.and([eb("created_at", "=", after.createdAt), eb("id", ">", after.id)]),
        ]),
      );
    if (page.limit !== undefined) q = q.limit(page.limit);
    return q.orderBy("created_at", "desc").orderBy("id").execute();
  }

  /** Marks the token revoked; returns false when there is no such token or it was revoked already. */
  async revokeToken(id: string, at: number): Promise<boolean> {
    const res = await this.db
      .updateTable("api_tokens")
      .set({ revoked_at: at })
      .where("id", "=", id)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async ownerOf(project: string): Promise<string | null> {
    const row = await this.db
      .selectFrom("project_owners")
      .select("team")
      .where("project", "=", project)
      .executeTakeFirst();
    return row?.team ?? null;
  }

  async ownersOf(projects: string[]): Promise<Map<string, string>> {
    if (projects.length === 0) return new Map();
    const rows = await this.db
      .selectFrom("project_owners")
      .select(["project", "team"])
      .where("project", "in", [...new Set(projects)])
      .execute();
    return new Map(rows.map((r) => [r.project, r.team]));
  }

  /**
   * Sets a project's owning team. The project's unresolved remediation items move with it (the
   * team that owns the project now is the one to fix it), each with an owner change in its
   * history; fixed ones keep the owner they had.
   */
  async setOwner(project: string, team: string, by: string, at: number): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx
        .insertInto("project_owners")
        .values({ project, team, set_by: by, set_at: at })
        .onConflict((oc) => oc.column("project").doUpdateSet({ team, set_by: by, set_at: at }))
        .execute();
      const moving = await tx
        .selectFrom("remediation_items")
        .select(["id", "state", "owner"])
        .where("project", "=", project)
        .where("state", "!=", "fixed")
        .where((eb) => eb.or([eb("owner", "is", null), eb("owner", "!=", team)]))
        .execute();
      if (moving.length === 0) return;
      await tx
        .updateTable("remediation_items")
        .set({ owner: team })
        .where(
          "id",
          "in",
          moving.map((i) => i.id),
        )
        .where("state", "!=", "fixed")
        .execute();
      const state = (s: string) => s as RemediationState;
      await tx
        .insertInto("remediation_events")
        .values(
          moving.map((i) =>
            eventRow(Number(i.id), {
              at,
              from: state(i.state),
              state: state(i.state),
              by,
              note: `previously ${i.owner ?? "nobody"}`,
              acceptedUntil: null,
              resolution: null,
              owner: team,
            }),
          ),
        )
        .execute();
    });
  }

  /** Owners by project name; a page of `limit` after the project `after` when given. */
  async listOwners(
    page: { after?: string; limit?: number } = {},
  ): Promise<{ project: string; team: string; set_by: string; set_at: number }[]> {
    let q = this.db.selectFrom("project_owners").selectAll().orderBy("project");
    if (page.after !== undefined) q = q.where("project", ">", page.after);
    if (page.limit !== undefined) q = q.limit(page.limit);
    return q.execute();
  }
}
