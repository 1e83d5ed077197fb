#!/usr/bin/env node
// The `hil` command runs the compiled CLI; `npm run build` (or `npm run lab` / `npm test`) produces it.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const entry = new URL("../dist/src/run.js", import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write("hil: the CLI is not built yet; run `npm run build` in the repository root first.\n");
  process.exit(2);
}
await import(entry.href);
