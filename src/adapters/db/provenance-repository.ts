import type { Kysely } from "kysely";
import type { ProvenanceTable } from "./schema-proof.js";
import type { Database } from "./schema.js";

/** What the upstream's PEP 740 provenance said about each file, once checked. */
export class ProvenanceRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async get(sha256: string): Promise<ProvenanceTable | undefined> {
    return this.db.selectFrom("provenance").selectAll().where("sha256", "=", sha256).executeTakeFirst();
  }

  async getMany(sha256s: readonly string[]): Promise<Map<string, ProvenanceTable>> {
    const out = new Map<string, ProvenanceTable>();
    for (let i = 0; i < sha256s.length; i += 500) {
      const rows = await this.db
        .selectFrom("provenance")
        .selectAll()
        .where("sha256", "in", sha256s.slice(i, i + 500))
        .execute();
      for (const r of rows) out.set(r.sha256, r);
    }
    return out;
  }

  async byProject(project: string): Promise<ProvenanceTable[]> {
    return this.db.selectFrom("provenance").selectAll().where("project", "=", project).execute();
  }

  async put(row: ProvenanceTable): Promise<void> {
    const { sha256: _key, ...update } = row;
    await this.db
      .insertInto("provenance")
      .values(row)
      .onConflict((oc) => oc.column("sha256").doUpdateSet(update))
      .execute();
  }
}
