import { runCli } from "./program.js";

const code = await runCli(process.argv);
// Commands set process.exitCode themselves for findings (vet, explain); errors return non-zero here.
if (code !== 0) process.exitCode = code;
