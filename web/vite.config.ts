import { defineConfig } from "vitest/config";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The server embeds `dist/` (crates/webclient/build.rs passes --outDir).
// `npm run dev` proxies the API and gateway to a local server on :8080.
export default defineConfig({
  plugins: [svelte()],
  build: {
    target: "es2022",
    // Hashed file names under /assets/ are served as immutable.
    assetsDir: "assets",
    // No inline <script>: the page's CSP allows scripts from 'self' only.
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:8080",
      "^/\\?v=10.*": { target: "ws://127.0.0.1:8080", ws: true },
    },
  },
  test: {
    include: ["tests/**/*.test.ts"],
    environment: "node",
  },
});
