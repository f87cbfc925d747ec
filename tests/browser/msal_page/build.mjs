// Bundles the msal-browser test page into the directory given as the first argument (esbuild from node_modules).
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) throw new Error("usage: node build.mjs OUTDIR");
await mkdir(out, { recursive: true });
await build({
  entryPoints: [join(here, "main.ts")],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  outfile: join(out, "app.js"),
  logLevel: "warning",
});
await copyFile(join(here, "index.html"), join(out, "index.html"));
