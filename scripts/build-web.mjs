#!/usr/bin/env node
// Builds the dashboard (web/) into web/dist, which the gateway serves at `/`: first a type check
// of web/ (its own tsconfig: DOM, JSX; the root `npm run typecheck` covers Node code only), then
// `vite build`. `--no-check` skips the type check (the e2e test's quick rebuild).
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const config = `${root}web/vite.config.ts`;
if (!existsSync(config)) process.exit(0);

function run(args) {
  const res = spawnSync(process.execPath, args, { stdio: "inherit", cwd: root });
  if (res.status !== 0) process.exit(res.status ?? 1);
}

if (!process.argv.includes("--no-check")) {
  run([`${root}node_modules/typescript/bin/tsc`, "-p", `${root}web/tsconfig.json`]);
}
run([`${root}node_modules/vite/bin/vite.js`, "build", "--config", config, "--logLevel", "warn"]);
