#!/usr/bin/env node
// Bundles the CLI and gateway into dist/bundle/ with esbuild, so start-up reads a few files
// instead of resolving and compiling hundreds of modules under node_modules (start-up to ready
// must stay under 1 s). Lazily imported features become separate chunks, loaded when used.
// The bundle sits two levels below the repository root, like every module under src/<dir>/, so
// paths computed from import.meta.url (the shipped policy, assets) resolve the same way.
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
await build({
  // The audit writer thread's entry is its own file (src/adapters/db/audit-writer-thread.ts finds
  // it next to the chunks); the two share chunks.
  entryPoints: {
    portcullis: `${root}src/cli/main.ts`,
    "audit-writer": `${root}src/adapters/db/audit-writer-worker.ts`,
  },
  outdir: `${root}dist/bundle`,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20.19",
  sourcemap: true,
  logLevel: "warning",
  // Native addons, packages that read their own files at run time, and CommonJS loaded through
  // createRequire stay in node_modules.
  external: [
    "better-sqlite3",
    "pg",
    "pg-native",
    "pino",
    "thread-stream",
    "@fastify/swagger-ui",
    "@fastify/static",
    "@cyclonedx/cyclonedx-library",
    "@sigstore/*",
    "playwright-core",
    "vite",
    "esbuild",
    "spdx-expression-parse",
    "spdx-license-ids",
    "spdx-exceptions",
  ],
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
});
