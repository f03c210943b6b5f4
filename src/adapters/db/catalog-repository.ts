import { createHash } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type { ProjectPage } from "../../domain/distribution.js";
import type { CachedPage, PageCache } from "../upstream/upstream.js";
import type { Database, DistFilesTable } from "./schema.js";

export interface KnownFile {
  sha256: string;
  project: string;
  filename: string;
  version: string;
  url: string;
  size: number | null;
  uploadTime: string | null;
  storedAt: number | null;
  metadataSha256: string | null;
}

export interface RecordedFile {
  sha256: string;
  filename: string;
  version: string;
  url: string;
  size?: number;
  uploadTime?: string;
}

/**
 * What the gateway knows about projects and files, in the database. Writes happen only when an
 * upstream page changes, so serving a warm page never touches the database.
 */
export class CatalogRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Records a project page the upstream served: bumps the project's serial when the page differs
   * from the last one recorded, and remembers every hashed file so `/files/<sha256>/…` can find it.
   * Returns the project's serial.
   */
  async recordPage(
    name: string,
    displayName: string,
    digest: string,
    files: RecordedFile[],
    now: number,
  ): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const existing = await trx
        .selectFrom("projects")
        .select(["last_serial", "display_name"])
        .where("name", "=", name)
        .executeTakeFirst();
      const knownDigest = await trx
        .selectFrom("meta")
        .select("value")
        .where("key", "=", `page-digest:${name}`)
        .executeTakeFirst();
      if (existing && knownDigest?.value === digest) return existing.last_serial;
      const serial = await nextSerial(trx);
      if (existing) {
        await trx
          .updateTable("projects")
          .set({ last_serial: serial, updated_at: now, display_name: displayName })
          .where("name", "=", name)
          .execute();
      } else {
        await trx
          .insertInto("projects")
          .values({ name, display_name: displayName, last_serial: serial, created_at: now, updated_at: now })
          .execute();
      }
      await upsertMeta(trx, `page-digest:${name}`, digest);
      // Chunked: SQLite caps bound parameters per statement.
      for (let i = 0; i < files.length; i += 50) {
        const rows: DistFilesTable[] = files.slice(i, i + 50).map((f) => ({
          sha256: f.sha256,
          project: name,
          filename: f.filename,
          version: f.version,
          url: f.url,
          size: f.size ?? null,
          upload_time: f.uploadTime ?? null,
          stored_at: null,
          metadata_sha256: null,
          first_seen: now,
        }));
        await trx
          .insertInto("dist_files")
          .values(rows)
          .onConflict((oc) =>
            // The upstream may move a file (new URL) but the bytes are pinned by the digest.
            oc.column("sha256").doUpdateSet((eb) => ({ url: eb.ref("excluded.url") })),
          )
          .execute();
      }
      return serial;
    });
  }

  async findFile(sha256: string): Promise<KnownFile | undefined> {
    const row = await this.db
      .selectFrom("dist_files")
      .selectAll()
      .where("sha256", "=", sha256)
      .executeTakeFirst();
    return row && toKnownFile(row);
  }

  async markStored(sha256: string, size: number, now: number): Promise<void> {
    await this.db
      .updateTable("dist_files")
      .set({ stored_at: now, size })
      .where("sha256", "=", sha256)
      .execute();
  }

  async setMetadataDigest(sha256: string, metadataSha256: string): Promise<void> {
    await this.db
      .updateTable("dist_files")
      .set({ metadata_sha256: metadataSha256 })
      .where("sha256", "=", sha256)
      .execute();
  }

  /**
   * What the gateway verified about the files among `sha256s` it has stored: the true size and,
   * once extracted, the METADATA digest. Chunked: SQLite caps the parameters of one statement.
   */
  async storedFacts(
    sha256s: readonly string[],
  ): Promise<Map<string, { size?: number; metadataSha256?: string }>> {
    const facts = new Map<string, { size?: number; metadataSha256?: string }>();
    for (let i = 0; i < sha256s.length; i += 500) {
      const rows = await this.db
        .selectFrom("dist_files")
        .select(["sha256", "size", "metadata_sha256"])
        .where("sha256", "in", sha256s.slice(i, i + 500))
        .where("stored_at", "is not", null)
        .execute();
      for (const r of rows)
        facts.set(r.sha256, {
          ...(r.size !== null ? { size: Number(r.size) } : {}),
          ...(r.metadata_sha256 ? { metadataSha256: r.metadata_sha256 } : {}),
        });
    }
    return facts;
  }

  async listProjects(): Promise<{ name: string; displayName: string; lastSerial: number }[]> {
    const rows = await this.db
      .selectFrom("projects")
      .select(["name", "display_name", "last_serial"])
      .orderBy("name")
      .execute();
    return rows.map((r) => ({ name: r.name, displayName: r.display_name, lastSerial: r.last_serial }));
  }

  async projectSerial(name: string): Promise<number | undefined> {
    const row = await this.db
      .selectFrom("projects")
      .select("last_serial")
      .where("name", "=", name)
      .executeTakeFirst();
    return row?.last_serial;
  }

  /** The highest serial handed out so far (the index-wide `X-PyPI-Last-Serial`). */
  async lastSerial(): Promise<number> {
    const row = await this.db
      .selectFrom("meta")
      .select("value")
      .where("key", "=", "serial")
      .executeTakeFirst();
    return row ? Number(row.value) : 0;
  }

  async countFiles(): Promise<number> {
    const row = await this.db
      .selectFrom("dist_files")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }
}

function toKnownFile(row: DistFilesTable): KnownFile {
  return {
    sha256: row.sha256,
    project: row.project,
    filename: row.filename,
    version: row.version,
    url: row.url,
    size: row.size,
    uploadTime: row.upload_time,
    storedAt: row.stored_at,
    metadataSha256: row.metadata_sha256,
  };
}

async function upsertMeta(db: Kysely<Database>, key: string, value: string): Promise<void> {
  await db
    .insertInto("meta")
    .values({ key, value })
    .onConflict((oc) => oc.column("key").doUpdateSet({ value }))
    .execute();
}

async function nextSerial(db: Kysely<Database>): Promise<number> {
  await db
    .insertInto("meta")
    .values({ key: "serial", value: "0" })
    .onConflict((oc) => oc.column("key").doNothing())
    .execute();
  // Incremented in the database so several gateway instances never hand out the same serial.
  const row = await db
    .updateTable("meta")
    .set({ value: sql<string>`cast(cast(value as bigint) + 1 as text)` })
    .where("key", "=", "serial")
    .returning("value")
    .executeTakeFirstOrThrow();
  return Number(row.value);
}

/** The raw upstream cache in the database (shared by every gateway instance). */
export class DbPageCache implements PageCache {
  constructor(private readonly db: Kysely<Database>) {}

  async get(name: string): Promise<CachedPage | undefined> {
    const row = await this.db
      .selectFrom("upstream_pages")
      .selectAll()
      .where("name", "=", name)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      page: JSON.parse(row.page_json) as ProjectPage,
      fetchedAt: row.fetched_at,
      ...(row.etag ? { etag: row.etag } : {}),
      ...(row.last_modified ? { lastModified: row.last_modified } : {}),
    };
  }

  async put(name: string, entry: CachedPage): Promise<void> {
    const pageJson = JSON.stringify(entry.page);
    const values = {
      name,
      page_json: pageJson,
      digest: createHash("sha256").update(pageJson).digest("hex"),
      etag: entry.etag ?? null,
      last_modified: entry.lastModified ?? null,
      fetched_at: entry.fetchedAt,
    };
    await this.db
      .insertInto("upstream_pages")
      .values(values)
      .onConflict((oc) =>
        oc.column("name").doUpdateSet({
          page_json: values.page_json,
          digest: values.digest,
          etag: values.etag,
          last_modified: values.last_modified,
          fetched_at: values.fetched_at,
        }),
      )
      .execute();
  }
}
