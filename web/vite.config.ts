import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/** The dashboard: built into web/dist, which the gateway serves at `/`. */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // One script and one stylesheet: on loopback a second round trip costs more than the bytes.
    cssCodeSplit: false,
    // The gateway sends a strict CSP: nothing inline, so no module-preload polyfill either.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
