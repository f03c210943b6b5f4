import type { Kysely } from "kysely";
import type { Database } from "./schema.js";

export interface StoredAdvisory {
  id: string;
  kind: string;
  modified?: string;
  withdrawn?: string;
  /** The OSV record as imported (JSON text). */
  recordJson: string;
  /** The validated, digested advisory (JSON text), what the index is built from. */
  advisoryJson: string;
  /** Normalised PyPI project names it names. */
  projects: string[];
}

export interface IntelImportRecord {
  source: string;
  kind: "osv" | "malicious-names" | "popular";
  added: number;
  skipped: number;
  etag?: string;
  at: string;
}

/**
 * The intel store: advisories (OSV, including OpenSSF MAL reports), malicious names and popular
 * names. Each import adds a row to `intel_imports`; its id is the generation every gateway
 * instance watches to reload and re-judge.
 */
export class IntelRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Inserts or replaces advisories in batches; one transaction per batch keeps memory flat. */
  /**
   * Stores advisories by id. Where one id comes twice (in the batch, or already stored), the
   * record `modified` last wins: an older copy of a record (an old archive imported after a newer
   * one) never replaces a newer one. Returns how many were stored.
   */
  async upsertAdvisories(batch: StoredAdvisory[]): Promise<number> {
    const newest = new Map<string, StoredAdvisory>();
    for (const a of batch) {
      const seen = newest.get(a.id);
      if (!seen || !isOlder(a.modified, seen.modified)) newest.set(a.id, a);
    }
    if (newest.size === 0) return 0;
    const unique = [...newest.values()];
    let stored = 0;
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < unique.length; i += 100) {
        const candidates = unique.slice(i, i + 100);
        const present = await trx
          .selectFrom("advisories")
          .select(["id", "modified"])
          .where(
            "id",
            "in",
            candidates.map((a) => a.id),
          )
          .execute();
        const storedModified = new Map(present.map((r) => [r.id, r.modified]));
        const chunk = candidates.filter((a) => !isOlder(a.modified, storedModified.get(a.id) ?? null));
        if (chunk.length === 0) continue;
        stored += chunk.length;
        const ids = chunk.map((a) => a.id);
        await trx.deleteFrom("advisory_packages").where("advisory_id", "in", ids).execute();
        await trx
          .insertInto("advisories")
          .values(
            chunk.map((a) => ({
              id: a.id,
              kind: a.kind,
              modified: a.modified ?? null,
              withdrawn: a.withdrawn ?? null,
              record_json: a.recordJson,
              advisory_json: a.advisoryJson,
            })),
          )
          .onConflict((oc) =>
            oc.column("id").doUpdateSet((eb) => ({
              kind: eb.ref("excluded.kind"),
              modified: eb.ref("excluded.modified"),
              withdrawn: eb.ref("excluded.withdrawn"),
              record_json: eb.ref("excluded.record_json"),
              advisory_json: eb.ref("excluded.advisory_json"),
            })),
          )
          .execute();
        const pkgs = chunk.flatMap((a) =>
          [...new Set(a.projects)].map((project) => ({ advisory_id: a.id, project })),
        );
        for (let j = 0; j < pkgs.length; j += 200) {
          await trx
            .insertInto("advisory_packages")
            .values(pkgs.slice(j, j + 200))
            .execute();
        }
      }
    });
    return stored;
  }

  /**
   * Every advisory, streamed in pages so a large database never sits in memory twice: the
   * digested form when stored, else the raw record to validate again.
   */
  async *allAdvisories(pageSize = 1000): AsyncGenerator<{ advisoryJson?: string; recordJson: string }> {
    let after = "";
    for (;;) {
      const rows = await this.db
        .selectFrom("advisories")
        .select(["id", "advisory_json", "record_json"])
        .where("id", ">", after)
        .orderBy("id")
        .limit(pageSize)
        .execute();
      for (const r of rows)
        yield r.advisory_json
          ? { advisoryJson: r.advisory_json, recordJson: "" }
          : { recordJson: r.record_json };
      if (rows.length < pageSize) return;
      after = rows.at(-1)!.id;
    }
  }

  async replaceMaliciousNames(names: ReadonlyMap<string, string>): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom("malicious_names").execute();
      const rows = [...names].map(([name, report_id]) => ({ name, report_id }));
      for (let i = 0; i < rows.length; i += 400)
        await trx
          .insertInto("malicious_names")
          .values(rows.slice(i, i + 400))
          .execute();
    });
  }

  async maliciousNames(): Promise<Map<string, string>> {
    const rows = await this.db.selectFrom("malicious_names").selectAll().execute();
    return new Map(rows.map((r) => [r.name, r.report_id]));
  }

  async replacePopular(projects: { name: string; downloads?: number }[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom("popular_projects").execute();
      const seen = new Set<string>();
      const rows = [];
      for (const [i, p] of projects.entries()) {
        if (seen.has(p.name)) continue;
        seen.add(p.name);
        rows.push({ name: p.name, rank: i + 1, downloads: p.downloads ?? null });
      }
      for (let i = 0; i < rows.length; i += 300)
        await trx
          .insertInto("popular_projects")
          .values(rows.slice(i, i + 300))
          .execute();
    });
  }

  async popular(): Promise<{ name: string; downloads?: number }[]> {
    const rows = await this.db.selectFrom("popular_projects").selectAll().orderBy("rank").execute();
    return rows.map((r) => ({
      name: r.name,
      ...(r.downloads !== null ? { downloads: Number(r.downloads) } : {}),
    }));
  }

  async recordImport(rec: IntelImportRecord): Promise<number> {
    const row = await this.db
      .insertInto("intel_imports")
      .values({
        source: rec.source,
        kind: rec.kind,
        imported_at: rec.at,
        added: rec.added,
        skipped: rec.skipped,
        etag: rec.etag ?? null,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    return Number(row.id);
  }

  /** The newest import's id: 0 when no intel was ever imported. */
  async generation(): Promise<number> {
    const row = await this.db
      .selectFrom("intel_imports")
      .select((eb) => eb.fn.max("id").as("g"))
      .executeTakeFirst();
    return Number(row?.g ?? 0);
  }

  async lastEtag(source: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom("intel_imports")
      .select("etag")
      .where("source", "=", source)
      .orderBy("id", "desc")
      .limit(1)
      .executeTakeFirst();
    return row?.etag ?? undefined;
  }

  async imports(): Promise<{ kind: string; source: string; at: string; added: number }[]> {
    const rows = await this.db
      .selectFrom("intel_imports")
      .selectAll()
      .orderBy("id", "desc")
      .limit(50)
      .execute();
    return rows.map((r) => ({ kind: r.kind, source: r.source, at: r.imported_at, added: r.added }));
  }
}

/** Whether OSV `modified` time `a` is strictly before `b` (an unknown time is never older). */
function isOlder(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return false;
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  return Number.isFinite(ta) && Number.isFinite(tb) && ta < tb;
}
