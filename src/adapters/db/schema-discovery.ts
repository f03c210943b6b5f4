/**
 * Tables for reported environments (scan) (migration 0007-discovery). Merged into `Database` in `schema.ts`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface DiscoveryTables {}
