#!/usr/bin/env node
// `npm run bench -- [NAME…] [--bench-options…]`: runs bench/<NAME>.ts from sources (node --conditions=source
// --import tsx), or every bench/*.ts when no name is given. Benchmarks print their own tables with
// ratios against a reference measured in the same run; this script only runs them in turn.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT, ensureNodeModules } from "./lib/setup.mjs";

const argv = process.argv.slice(2);
// Names come first; everything from the first option on goes to the benchmark(s).
const firstOption = argv.findIndex((a) => a.startsWith("-"));
const names = firstOption === -1 ? argv : argv.slice(0, firstOption);
const passThrough = firstOption === -1 ? [] : argv.slice(firstOption).filter((a, i) => !(i === 0 && a === "--"));
const benchDir = join(ROOT, "bench");
const all = readdirSync(benchDir)
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.slice(0, -3))
  .sort();

const chosen = names.length > 0 ? names : all;
for (const name of chosen) {
  if (!existsSync(join(benchDir, `${name}.ts`))) {
    console.error(`no benchmark "${name}"; there are: ${all.join(", ")}`);
    process.exit(64);
  }
}

ensureNodeModules();
let failed = 0;
for (const name of chosen) {
  console.log(`» bench ${name}`);
  const r = spawnSync(process.execPath, ["--conditions=source", "--import", "tsx", join(benchDir, `${name}.ts`), ...passThrough], { cwd: ROOT, stdio: "inherit" });
  if (r.status !== 0) {
    failed++;
    console.error(`bench ${name} failed (exit ${r.status ?? r.signal})`);
  }
}
process.exit(failed === 0 ? 0 : 1);
