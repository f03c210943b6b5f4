/**
 * Tables for identity, audit and inventory (migration 0004-identity). Merged into `Database` in `schema.ts`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface IdentityTables {}
