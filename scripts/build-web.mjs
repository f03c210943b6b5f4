#!/usr/bin/env node
// Builds the dashboard (web/) with Vite into web/dist, which the gateway serves at `/`.
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;
const config = `${root}web/vite.config.ts`;
if (!existsSync(config)) process.exit(0);
const res = spawnSync(
  process.execPath,
  [`${root}node_modules/vite/bin/vite.js`, "build", "--config", config],
  {
    stdio: "inherit",
    cwd: root,
  },
);
process.exit(res.status ?? 1);
