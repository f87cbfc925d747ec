// Builds the client into dist/: esbuild compiles each module to ESM JavaScript (not bundled, so the
// app's bundler resolves @azure/communication-common once), tsc writes the .d.ts files and type-checks.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { readdir, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
const src = join(root, "src");
const dist = join(root, "dist");

await rm(dist, { recursive: true, force: true });
const entries = (await readdir(src)).filter((name) => name.endsWith(".ts")).map((name) => join(src, name));
await build({
  entryPoints: entries,
  outdir: dist,
  format: "esm",
  platform: "neutral",
  target: ["es2020"],
  sourcemap: true,
  logLevel: "warning",
});
// typescript's package.json exports no bin path: find the package, then its bin/tsc beside it.
const tsc = join(dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin", "tsc");
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.json")], { stdio: "inherit" });
console.log(`token client built in ${dist}`);
