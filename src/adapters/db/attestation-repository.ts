import type { Kysely } from "kysely";
import type { AttestationsTable } from "./schema-proof.js";
import type { Database } from "./schema.js";

/** Stored decision attestations, one per file digest. */
export class AttestationRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async get(sha256: string): Promise<AttestationsTable | undefined> {
    return this.db.selectFrom("attestations").selectAll().where("sha256", "=", sha256).executeTakeFirst();
  }

  /** Stores (or replaces, after a re-judgement under another policy) a file's attestation. */
  async put(row: AttestationsTable): Promise<void> {
    const { sha256: _key, ...update } = row;
    await this.db
      .insertInto("attestations")
      .values(row)
      .onConflict((oc) => oc.column("sha256").doUpdateSet(update))
      .execute();
  }

  /** Stores many in one transaction (a batch of newly admitted files). Extra keys are ignored. */
  async putMany(rows: readonly AttestationsTable[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows.length; i += 100) {
        const values = rows.slice(i, i + 100).map((r) => ({
          sha256: r.sha256,
          project: r.project,
          version: r.version,
          filename: r.filename,
          keyid: r.keyid,
          policy_version: r.policy_version,
          envelope_json: r.envelope_json,
          signed_at: r.signed_at,
        }));
        await trx
          .insertInto("attestations")
          .values(values)
          .onConflict((oc) =>
            oc.column("sha256").doUpdateSet((eb) => ({
              keyid: eb.ref("excluded.keyid"),
              policy_version: eb.ref("excluded.policy_version"),
              envelope_json: eb.ref("excluded.envelope_json"),
              signed_at: eb.ref("excluded.signed_at"),
            })),
          )
          .execute();
      }
    });
  }

  /** Which of these digests have an attestation (for the project page's links). */
  async existing(sha256s: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < sha256s.length; i += 500) {
      const rows = await this.db
        .selectFrom("attestations")
        .select("sha256")
        .where("sha256", "in", sha256s.slice(i, i + 500))
        .execute();
      for (const r of rows) out.add(r.sha256);
    }
    return out;
  }
}
