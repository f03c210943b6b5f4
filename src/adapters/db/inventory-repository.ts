import { sql, type Kysely, type Selectable } from "kysely";
import type { Database } from "./schema.js";
import type { InventoryTable } from "./schema-identity.js";

export type InventoryRow = Selectable<InventoryTable>;

/** Reads of the inventory aggregate (written with the audit batches, see AuditRepository). */
export class InventoryRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async bySha256(sha256s: string[]): Promise<InventoryRow[]> {
    const out: InventoryRow[] = [];
    const unique = [...new Set(sha256s)];
    for (let i = 0; i < unique.length; i += 500) {
      const rows = await this.db
        .selectFrom("inventory")
        .selectAll()
        .where("sha256", "in", unique.slice(i, i + 500))
        .execute();
      out.push(...rows);
    }
    return out.map(normalise).sort((a, b) => b.last_pulled - a.last_pulled);
  }

  async byProject(project: string, versions?: string[]): Promise<InventoryRow[]> {
    if (versions?.length === 0) return [];
    let q = this.db.selectFrom("inventory").selectAll().where("project", "=", project);
    if (versions !== undefined) q = q.where("version", "in", versions);
    const rows = await q.execute();
    return rows.map(normalise);
  }

  /** The versions of a project anyone pulled (an index-only read). */
  async versionsOf(project: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom("inventory")
      .select("version")
      .distinct()
      .where("project", "=", project)
      .execute();
    return rows.map((r) => r.version);
  }

  /**
   * Every row of the consumers that pulled something new since `since` (for drift). A consumer
   * is as `driftConsumerKey` (inventory-service.ts) says: identity and application, and the
   * address only for an anonymous caller without an application; so an identity's rows from
   * every address are read, and its pulls from a new address are not new to it.
   */
  async rowsOfConsumersActiveSince(since: number): Promise<InventoryRow[]> {
    const address = (t: "inventory" | "i") =>
      sql<string>`case when ${sql.ref(`${t}.identity`)} = '' and ${sql.ref(`${t}.application`)} = '' then ${sql.ref(`${t}.ip`)} else '' end`;
    const active = this.db
      .selectFrom("inventory")
      .select(["identity", "application", address("inventory").as("address")])
      .where("first_pulled", ">=", since)
      .distinct();
    const rows = await this.db
      .selectFrom("inventory as i")
      .selectAll("i")
      .innerJoin(active.as("a"), (j) =>
        j
          .onRef("a.identity", "=", "i.identity")
          .onRef("a.application", "=", "i.application")
          .on((eb) => eb(eb.ref("a.address"), "=", address("i"))),
      )
      .execute();
    return rows.map(normalise);
  }
}

// PostgreSQL BIGINT is parsed to a number (connect-database.ts) and SQLite integers are numbers:
// only `pulls` (a sum) may come back as a string from some drivers.
function normalise(r: InventoryRow): InventoryRow {
  if (typeof r.pulls !== "number") r.pulls = Number(r.pulls);
  return r;
}
