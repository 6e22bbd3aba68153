/**
 * The web front end (setup wizard, admin login, later the dashboard): one Preact single-page app,
 * built into dist/web by `npm run build`. Served by the pool: the page at /setup/ui and /admin/*,
 * the hashed assets under /setup/assets/ (open while setup is pending). No CDN: works air-gapped.
 * JSX is compiled by Vite's own esbuild transform for Preact (no Babel preset needed).
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root: here,
  base: "/setup/",
  publicDir: false,
  logLevel: "warn",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: fileURLToPath(new URL("../dist/web", import.meta.url)),
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2020",
    sourcemap: false,
    reportCompressedSize: false,
  },
});
