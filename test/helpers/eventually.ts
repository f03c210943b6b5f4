import { setTimeout as sleep } from "node:timers/promises";

/**
 * Asks `check` again every `stepMs` until it says true or `ms` have passed; resolves to its last
 * answer. For what another thread, process or timer does in its own time (a writer thread's
 * commit, a sink's retry, a log line after a child process exits).
 */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  ms = 5_000,
  stepMs = 20,
): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await sleep(stepMs);
  }
}
