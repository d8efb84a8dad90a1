// Builds the dashboard into src/v2xcloud/web/dist (served by the API process).
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "v2xcloud", "web", "dist");
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(here, "src", "main.js")],
  bundle: true,
  minify: true,
  sourcemap: false,
  format: "esm",
  target: ["es2022"],
  outfile: join(out, "app.js"),
  logLevel: "warning",
});
copyFileSync(join(here, "index.html"), join(out, "index.html"));
copyFileSync(join(here, "src", "style.css"), join(out, "style.css"));
copyFileSync(join(here, "node_modules", "maplibre-gl", "dist", "maplibre-gl.css"), join(out, "maplibre-gl.css"));
// Swagger UI for /docs, served by the app itself (no CDN: the console works offline)
const swagger = join(out, "swagger-ui");
mkdirSync(swagger, { recursive: true });
for (const name of ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"]) {
  copyFileSync(join(here, "node_modules", "swagger-ui-dist", name), join(swagger, name));
}
console.log(`dashboard built into ${out}`);
