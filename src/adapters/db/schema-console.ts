/**
 * Tables for requests and approvals (migration 0008-console). Merged into `Database` in `schema.ts`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ConsoleTables {}
