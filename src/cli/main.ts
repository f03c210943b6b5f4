import { runCli } from "./program.js";

// `portcullis audit export | head`: a reader that stops early closes the pipe. That is not a
// failure of the command, so stop quietly instead of dying on an unhandled EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const code = await runCli(process.argv);
// Commands set process.exitCode themselves for findings (vet, explain); errors return non-zero here.
if (code !== 0) process.exitCode = code;
