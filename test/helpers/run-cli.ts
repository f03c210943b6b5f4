import { runCli } from "../../src/cli/program.js";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `portcullis ARGS` in this process and returns its exit code and what it printed. Only
 * strings are captured: the test runner reports to its parent over stdout in Buffers.
 */
export async function cli(...args: string[]): Promise<CliRun> {
  const out = { stdout: "", stderr: "" };
  const capture = (stream: NodeJS.WriteStream, key: keyof typeof out) => {
    const write = stream.write.bind(stream);
    stream.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      if (typeof chunk !== "string") return write(chunk, ...rest);
      out[key] += chunk;
      return true;
    }) as typeof stream.write;
    return () => (stream.write = write);
  };
  const restore = [capture(process.stdout, "stdout"), capture(process.stderr, "stderr")];
  try {
    return { code: await runCli(["node", "portcullis", ...args]), ...out };
  } finally {
    for (const r of restore) r();
  }
}
