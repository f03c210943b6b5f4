import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sharedDataDir } from "./shared-data.js";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/**
 * pip must not see this machine's configured extra indexes, or a test proves nothing:
 * `--isolated`, no config file, no PIP_* variables, and an explicit `--index-url` always.
 */
export function isolatedPipEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("PIP_") && !k.startsWith("UV_")) env[k] = v;
  }
  env.PIP_CONFIG_FILE = "/dev/null";
  env.PIP_DISABLE_PIP_VERSION_CHECK = "1";
  env.PIP_NO_INPUT = "1";
  env.PYTHONDONTWRITEBYTECODE = "1";
  return env;
}

/**
 * The real interpreter behind `python3` (a pyenv shim costs seconds per call), or
 * `PORTCULLIS_TEST_PYTHON`.
 */
export const PYTHON =
  process.env.PORTCULLIS_TEST_PYTHON ??
  (spawnSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).stdout?.trim() ||
    "python3");

/** A fresh venv without pip inside (fast); pip runs from outside with `--python`. */
export async function makeVenv(): Promise<string> {
  const dir = join(mkdtempSync(join(tmpdir(), "portcullis-venv-")), "venv");
  const res = await run(PYTHON, ["-m", "venv", "--without-pip", dir]);
  if (res.code !== 0) throw new Error(`python3 -m venv failed: ${res.stderr}`);
  return dir;
}

/** The modern pip (26.x, with --uploaded-prior-to) from shared data, run straight from its wheel. */
export function pip26Wheel(): string | undefined {
  const p = join(sharedDataDir(), "wheels", "pip-26.2.1-py3-none-any.whl");
  return existsSync(p) ? p : undefined;
}

/**
 * Runs `pip install` into `venv` through `indexUrl` only. `pipWheel` picks a pip run from its
 * wheel (pip 26); by default the machine's pip (23.x) is used with `--python`.
 */
export async function pipInstall(
  venv: string,
  indexUrl: string,
  args: string[],
  opts: { pipWheel?: string } = {},
): Promise<RunResult> {
  const common = [
    "install",
    "--isolated",
    "--no-cache-dir",
    "--no-compile",
    "--index-url",
    indexUrl,
    "--disable-pip-version-check",
    ...args,
  ];
  const py = join(venv, "bin", "python");
  if (opts.pipWheel) return run(py, [join(opts.pipWheel, "pip"), ...common], { env: isolatedPipEnv() });
  return run(PYTHON, ["-m", "pip", "--python", py, ...common], { env: isolatedPipEnv() });
}

/** `name==version` of every distribution installed in the venv. */
export async function installed(venv: string): Promise<Map<string, string>> {
  const res = await run(join(venv, "bin", "python"), [
    "-c",
    "import importlib.metadata as m\nfor d in m.distributions(): print(d.metadata['Name'].lower().replace('_','-') + '==' + d.version)",
  ]);
  if (res.code !== 0) throw new Error(res.stderr);
  return new Map(
    res.stdout
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split("==") as [string, string]),
  );
}
