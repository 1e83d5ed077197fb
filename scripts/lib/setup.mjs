// Shared by `npm run lab`, `npm test` and `npm run bench`: make a fresh clone runnable.
// Plain Node with no dependencies, because it runs before `npm ci` has.
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: "inherit", ...opts });
  if (r.error) throw new Error(`${cmd} could not start: ${r.error.message}`);
  return r.status ?? 1;
}

/** npm ci when node_modules is missing or older than the lock file. */
export function ensureNodeModules() {
  const marker = join(ROOT, "node_modules", ".package-lock.json");
  const lock = join(ROOT, "package-lock.json");
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  console.log("» installing npm dependencies (npm ci)");
  if (run("npm", ["ci", "--no-audit", "--no-fund"]) !== 0) throw new Error("npm ci failed");
}

export function build() {
  console.log("» building (tsc -b, then the dashboard's browser bundle)");
  const status = run(join(ROOT, "node_modules", ".bin", "tsc"), ["-b"]);
  if (status !== 0) return status;
  return run(process.execPath, [join(ROOT, "dashboard", "scripts", "build-web.mjs")]);
}
