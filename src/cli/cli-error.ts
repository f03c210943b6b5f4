/** A failure to report to the user as one message with an exit code, without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/**
 * A database failure a person can act on, as one sentence (no stack trace): SQLite's write lock
 * held by another process past busy_timeout. Undefined for anything else (a bug keeps its stack;
 * a database that does not answer is reported where it is opened).
 */
export function explainDatabaseError(err: unknown): string | undefined {
  const e = err as { code?: unknown; errcode?: unknown; message?: unknown } | null;
  if (!e || typeof e !== "object") return undefined;
  const message = typeof e.message === "string" ? e.message : "";
  // better-sqlite3 names the code (SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT); node:sqlite gives the number.
  const sqliteBusy =
    (typeof e.code === "string" && e.code.startsWith("SQLITE_BUSY")) ||
    (typeof e.errcode === "number" && (e.errcode & 0xff) === 5);
  if (sqliteBusy || /^database is locked\b/.test(message)) {
    return "the database is busy: another process (a gateway or a CLI command) held its write lock too long; try again";
  }
  return undefined;
}
