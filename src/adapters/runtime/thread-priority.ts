import { execFile } from "node:child_process";
import { readFileSync, readlinkSync } from "node:fs";

/**
 * A thread's CPU scheduling policy on Linux, for background work that should use only CPU time
 * nothing else wants (the audit writer thread): SCHED_IDLE runs a thread only when a core would
 * otherwise sit idle, and any normal thread that wakes (the event loop serving pip, the load it
 * answers) takes the core from it at once. A lower nice value does not do that: the thread
 * still takes its time slices beside the serving thread.
 *
 * Hand-written around util-linux's `chrt`: Node has no binding for sched_setscheduler(2), and a
 * native addon for one system call is more to build and ship than one short-lived process per
 * thread start. Where there is no `/proc/thread-self` or no `chrt` (not Linux, a minimal image),
 * the calls report failure and the thread keeps its normal policy.
 */
export type ThreadPolicy = "idle" | "normal";

/** The policies as /proc/<pid>/task/<tid>/stat gives them (field 41). */
const POLICY_NUMBER = { normal: 0, idle: 5 } as const;

/** The calling thread's kernel thread id (Linux), or undefined where /proc does not say. */
export function ownThreadId(): number | undefined {
  try {
    // "/proc/<pid>/task/<tid>" for the thread that reads it.
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    return Number.isSafeInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sets thread `tid`'s scheduling policy with `chrt` (`command`: its path; tests pass a stand-in).
 * Resolves to undefined on success, or to why not: any process may lower its own threads to
 * SCHED_IDLE, but raising one back to normal needs CAP_SYS_NICE (root) or an RLIMIT_NICE that
 * allows it.
 */
export function setThreadPolicy(
  tid: number,
  policy: ThreadPolicy,
  command = "chrt",
): Promise<string | undefined> {
  if (!Number.isSafeInteger(tid) || tid <= 0) return Promise.resolve(`not a thread id: ${tid}`);
  const args = [policy === "idle" ? "--idle" : "--other", "--pid", "0", String(tid)];
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 5_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve(undefined);
      const said = String(stderr).trim().split("\n")[0];
      resolve(said || err.message);
    });
  });
}

/** Thread `tid` of this process's policy, read from /proc (undefined: gone, or not Linux). */
export function threadPolicy(tid: number, pid = process.pid): ThreadPolicy | "other" | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const policy = Number(fields[41 - 3]);
  if (policy === POLICY_NUMBER.idle) return "idle";
  if (policy === POLICY_NUMBER.normal) return "normal";
  return "other";
}
