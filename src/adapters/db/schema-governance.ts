/**
 * Tables for owners, remediation and webhooks (migration 0005-governance). Merged into `Database` in `schema.ts`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface GovernanceTables {}
