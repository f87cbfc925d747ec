// Bundles the demo page into web/dist with esbuild (from node_modules; no global tools needed).
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const web = dirname(fileURLToPath(import.meta.url));
const dist = join(web, "dist");

await mkdir(dist, { recursive: true });
await build({
  entryPoints: [join(web, "src", "main.ts")],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020"],
  sourcemap: true,
  minify: true,
  outfile: join(dist, "app.js"),
  logLevel: "warning",
});
await Promise.all(["index.html", "style.css"].map((name) => copyFile(join(web, name), join(dist, name))));
console.log(`demo page built in ${dist}`);
