/**
 * Tables for attestations and upstream provenance (migration 0006-proof). Merged into `Database` in `schema.ts`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ProofTables {}
