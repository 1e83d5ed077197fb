#!/usr/bin/env node
// `npm test`: install what is missing, type-check (tsc -b), then run every uvu test file in its own
// process and end with one line "N passed, N failed[, N skipped]" over all of them.
//   npm test [-- PATTERN…]     run only test files whose path contains one of the patterns
// Env: HIL_TEST_JOBS (parallel files, default 2), HIL_TEST_TIMEOUT_S (per file, default 600),
//      HIL_HARDWARE=1 to include *.hil.test.ts (needs real boards).
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { ROOT, build, ensureNodeModules } from "./lib/setup.mjs";
import { ensureSystemDeps } from "./sysdeps.mjs";

const PACKAGES = ["contracts", "lab-protocol", "test-kit", "device-profiles", "test-suites", "scheduler", "lab-agent", "dashboard", "cli", "scripts"];
const patterns = process.argv.slice(2);
const jobs = Math.max(1, Number(process.env.HIL_TEST_JOBS ?? 2));
const timeoutMs = Number(process.env.HIL_TEST_TIMEOUT_S ?? 600) * 1000;
const hardware = process.env.HIL_HARDWARE === "1";

function findTests(dir, out = []) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.name === "node_modules" || e.name === "dist" || e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) findTests(p, out);
    else if (e.name.endsWith(".test.ts") || e.name.endsWith(".test.mjs")) out.push(p);
  }
  return out;
}

const ANSI = /\x1b\[[0-9;]*m/g;

function parseSummary(output) {
  const text = output.replace(ANSI, "");
  const total = /Total:\s+(\d+)/.exec(text);
  const passed = /Passed:\s+(\d+)/.exec(text);
  const skipped = /Skipped:\s+(\d+)/.exec(text);
  if (!total || !passed) return null;
  const t = Number(total[1]);
  const p = Number(passed[1]);
  return { passed: p, failed: t - p, skipped: skipped ? Number(skipped[1]) : 0 };
}

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", file], {
      cwd: ROOT,
      env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      // Kill anything the test file left behind in its process group.
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
      let summary = parseSummary(output);
      // a file that cannot run here (a tool it drives is missing) says so with "[skip] why" and exits 0
      if (!summary && code === 0 && /^\[skip\] /m.test(output)) summary = { passed: 0, failed: 0, skipped: 1 };
      if (!summary) summary = { passed: 0, failed: 1, skipped: 0 };
      else if (code !== 0 && summary.failed === 0) summary.failed = 1;
      if (timedOut) output += `\n[test runner] killed after ${timeoutMs / 1000} s\n`;
      resolve({ file, code, output, summary, seconds: (Date.now() - started) / 1000 });
    });
  });
}

async function main() {
  ensureNodeModules();
  if (!ensureSystemDeps({ purpose: "test" })) return 1;
  if (build() !== 0) {
    console.log("type-check failed");
    console.log("0 passed, 1 failed");
    return 1;
  }
  let files = PACKAGES.flatMap((p) => findTests(join(ROOT, p))).sort();
  let skippedFiles = 0;
  if (!hardware) {
    const before = files.length;
    files = files.filter((f) => !f.endsWith(".hil.test.ts"));
    skippedFiles = before - files.length;
  }
  if (patterns.length > 0) files = files.filter((f) => patterns.some((p) => relative(ROOT, f).includes(p)));
  console.log(`» running ${files.length} test files, ${jobs} at a time`);

  const results = [];
  const queue = [...files];
  await Promise.all(
    Array.from({ length: jobs }, async () => {
      for (let f = queue.shift(); f; f = queue.shift()) {
        const r = await runFile(f);
        results.push(r);
        const s = r.summary;
        const mark = s.failed > 0 ? "FAIL" : s.skipped > 0 && s.passed === 0 ? "skip" : "ok  ";
        console.log(`${mark} ${relative(ROOT, f)}  (${s.passed} passed, ${s.failed} failed, ${r.seconds.toFixed(1)} s)`);
        if (s.failed > 0) console.log(r.output.replace(/^/gm, "    | "));
        else if (mark === "skip") console.log(`    | ${/^\[skip\] (.*)$/m.exec(r.output)?.[1] ?? ""}`);
      }
    }),
  );
  const total = results.reduce(
    (a, r) => ({ passed: a.passed + r.summary.passed, failed: a.failed + r.summary.failed, skipped: a.skipped + r.summary.skipped }),
    { passed: 0, failed: 0, skipped: skippedFiles },
  );
  if (files.length === 0) total.failed += 1;
  console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
  return total.failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    console.log("0 passed, 1 failed");
    process.exit(1);
  },
);
