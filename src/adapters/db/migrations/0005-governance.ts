import type { Kysely } from "kysely";
import type { DialectName } from "../connect-database.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any, @typescript-eslint/no-unused-vars
export async function up(_db: Kysely<any>, _dialect: DialectName): Promise<void> {}
