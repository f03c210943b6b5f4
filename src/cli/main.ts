import { runCli } from "./program.js";

const code = await runCli(process.argv);
// `serve` keeps running; every other command ends here.
if (code !== 0 || !process.argv.includes("serve")) process.exitCode = code;
