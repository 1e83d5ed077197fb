#!/usr/bin/env node
// Bundles the browser app (dashboard/web/main.tsx) with esbuild into dashboard/dist/web/, beside the
// page that loads it. Run by `npm run build`, `npm run lab` and `npm test` after tsc -b (which type-checks it).
//   node dashboard/scripts/build-web.mjs [--dev]   (--dev: no minifying)
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const out = join(root, "dist", "web");
const dev = process.argv.includes("--dev");

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>HIL Lab</title>
<link rel="icon" href="/ui/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/ui/main.css">
<script type="module" src="/ui/main.js"></script>
</head>
<body>
<div id="app"><p class="loading">Loading the dashboard…</p></div>
<noscript>The HIL Lab dashboard needs JavaScript. The API is at /api/v1/openapi.json.</noscript>
</body>
</html>
`;

const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f6f5c"/><path d="M4 4v8M12 4v8M4 8h8" stroke="#fff" stroke-width="2"/></svg>`;

export async function buildWeb({ minify = !dev } = {}) {
  mkdirSync(out, { recursive: true });
  const result = await esbuild.build({
    entryPoints: [join(root, "web", "main.tsx")],
    outdir: out,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["chrome110", "firefox115", "safari16"],
    jsx: "automatic",
    jsxImportSource: "preact",
    minify,
    sourcemap: true,
    legalComments: "linked",
    logLevel: "warning",
    metafile: true,
  });
  writeFileSync(join(out, "index.html"), PAGE);
  writeFileSync(join(out, "favicon.svg"), ICON);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildWeb().then(
    (r) => {
      const bytes = Object.entries(r.metafile.outputs).filter(([f]) => !f.endsWith(".map")).reduce((n, [, o]) => n + o.bytes, 0);
      console.log(`» dashboard bundle: ${(bytes / 1024).toFixed(0)} KiB in dashboard/dist/web`);
    },
    (err) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
