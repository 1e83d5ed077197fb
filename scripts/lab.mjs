#!/usr/bin/env node
// `npm run lab`: one command to a working lab on this machine. Installs what is missing, builds,
// starts a private Redis (unless REDIS_URL is set), the scheduler (HTTP API + /healthz) and one
// agent hosting virtual boards, writes .hil/lab.env for the `hil` CLI, and stops everything it
// started on Ctrl-C / SIGTERM.
//
// Env: LAB_PORT (default 8080), REDIS_URL, HIL_DATA_DIR (default .hil), HIL_LAB_VIRTUAL
// (default "esp32=2"), HIL_LAB_SKIP_SETUP=1 (skip npm ci / apt / build: tests use it).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync, openSync, closeSync } from "node:fs";
import { join, resolve } from "node:path";
import { ROOT, build, ensureNodeModules } from "./lib/setup.mjs";
import { ensureSystemDeps } from "./sysdeps.mjs";

const env = process.env;
const port = Number(env.LAB_PORT ?? 8080);
const dataDir = resolve(ROOT, env.HIL_DATA_DIR ?? ".hil");
const virtual = env.HIL_LAB_VIRTUAL ?? "esp32=2";
const hilBin = join(ROOT, "cli", "bin", "hil.js");

const children = [];
let redis = null;
let stopping = false;

function log(msg) {
  process.stdout.write(`» ${msg}\n`);
}

function adminToken() {
  const file = join(dataDir, "admin-token");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const token = `hil_${randomBytes(24).toString("base64url")}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

/** Each service runs in its own process group so a shutdown reaches its children (socat, …) too. */
function startService(name, args) {
  const logFile = join(dataDir, "logs", `${name}.log`);
  const fd = openSync(logFile, "a");
  const child = spawn(process.execPath, [hilBin, ...args], {
    cwd: ROOT,
    env: { ...env, HIL_DATA_DIR: dataDir },
    stdio: ["ignore", fd, fd],
    detached: true,
  });
  closeSync(fd);
  const entry = { name, child, logFile, exited: new Promise((r) => child.once("exit", (code, sig) => r(code ?? sig))) };
  entry.exited.then((code) => {
    if (!stopping) {
      console.error(`✗ ${name} exited unexpectedly (${code}); see ${logFile}`);
      shutdown(1);
    }
  });
  children.push(entry);
  log(`${name} started (pid ${child.pid}, log ${logFile})`);
  return entry;
}

async function waitForHealth(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline && !stopping) {
    try {
      const res = await fetch(url);
      const body = await res.json();
      if (res.ok && body?.redis?.reachable) return body;
      last = JSON.stringify(body);
    } catch (err) {
      last = err.message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not become healthy within ${timeoutMs / 1000} s (last: ${last})`);
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {}
  }
}

async function shutdown(code = 0) {
  if (stopping) return;
  stopping = true;
  log("stopping the lab");
  for (const c of [...children].reverse()) killGroup(c.child.pid, "SIGTERM");
  await Promise.all(
    children.map(async (c) => {
      const timer = setTimeout(() => killGroup(c.child.pid, "SIGKILL"), 8000);
      await c.exited;
      clearTimeout(timer);
      // Anything left in the group (e.g. a socat whose parent died) goes too.
      killGroup(c.child.pid, "SIGKILL");
    }),
  );
  if (redis) await redis.stop();
  log("lab stopped");
  process.exit(code);
}

async function main() {
  process.on("SIGINT", () => shutdown(0));
  process.on("SIGTERM", () => shutdown(0));
  if (env.HIL_LAB_SKIP_SETUP !== "1") {
    ensureNodeModules();
    if (!ensureSystemDeps({ purpose: "lab" })) process.exit(1);
    if (build() !== 0) throw new Error("build failed");
  }
  mkdirSync(join(dataDir, "logs"), { recursive: true });
  mkdirSync(join(dataDir, "artifacts"), { recursive: true });

  let redisUrl = env.REDIS_URL;
  if (!redisUrl) {
    const { startPrivateRedis } = await import(join(ROOT, "scheduler", "dist", "src", "redis", "index.js"));
    redis = await startPrivateRedis({ dir: join(dataDir, "redis"), persist: true });
    redisUrl = redis.url;
    log(`redis-server started (pid ${redis.pid}, ${redisUrl}, AOF in ${join(dataDir, "redis")})`);
  }
  const token = adminToken();
  const url = `http://127.0.0.1:${port}`;
  const common = ["--redis", redisUrl];

  startService("scheduler", ["scheduler", ...common, "--port", String(port), "--artifact-dir", join(dataDir, "artifacts"), "--token", token]);
  const health = await waitForHealth(`${url}/healthz`, 60_000);
  startService("agent", [
    "agent", ...common, "--name", "lab-1", "--virtual", virtual,
    "--scheduler-url", url, "--token", token, "--cache-dir", join(dataDir, "agent-cache"),
  ]);

  writeFileSync(join(dataDir, "lab.env"), `HIL_URL=${url}\nHIL_TOKEN=${token}\nREDIS_URL=${redisUrl}\n`, { mode: 0o600 });
  const pids = { lab: process.pid, redis: redis?.pid ?? null, services: Object.fromEntries(children.map((c) => [c.name, c.child.pid])) };
  writeFileSync(join(dataDir, "lab.pids.json"), JSON.stringify(pids));
  process.stdout.write(
    [
      "",
      `HIL Lab is up (Redis ${health.redis.version ?? "?"}).`,
      `  Lab URL:      ${url}`,
      `  Admin token:  ${token}`,
      `  CLI config:   ${join(dataDir, "lab.env")} (the hil command reads it; no flags needed)`,
      `  Try:          npx hil boards`,
      "Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );
}

main().catch((err) => {
  console.error(`✗ ${err.message}`);
  shutdown(1);
});
