import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// Built files go into the Python package, which serves them at /_/ (roost/apis/dashboard).
export default defineConfig({
  base: "/_/",
  plugins: [preact({ prefreshEnabled: false, devToolsEnabled: false })],
  build: {
    outDir: "../roost/apis/dashboard/www",
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: "es2020",
  },
  server: { proxy: { "/api": "http://127.0.0.1:8090" } },
});
