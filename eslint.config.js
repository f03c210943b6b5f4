import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "web/dist/", "test-output/", "data/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // The dashboard (web/src) runs in the browser: it gets browser globals, not Node's.
  { ignores: ["web/src/**"], languageOptions: { globals: { ...globals.node } } },
  { files: ["web/src/**/*.{ts,tsx}"], languageOptions: { globals: { ...globals.browser } } },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
);
