#!/usr/bin/env node
// `npm run soak -- --minutes N`: the fault soak (cli/test/soak/) from sources, on real processes.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT, ensureNodeModules } from "./lib/setup.mjs";
import { ensureSystemDeps } from "./sysdeps.mjs";

ensureNodeModules();
if (!ensureSystemDeps({ purpose: "test" })) process.exit(1);
const args = process.argv.slice(2).filter((a, i) => !(i === 0 && a === "--"));
const r = spawnSync(process.execPath, ["--conditions=source", "--import", "tsx", join(ROOT, "cli", "test", "soak", "main.ts"), ...args], { cwd: ROOT, stdio: "inherit" });
process.exit(r.status ?? 1);
