#!/usr/bin/env node
// `npm run lab`: one command to a working lab on this machine. Installs what is missing, builds,
// starts a private Redis (unless REDIS_URL is set), the scheduler (HTTP API + /healthz) and one
// agent hosting virtual boards, writes .hil/lab.env for the `hil` CLI, and stops everything it
// started on Ctrl-C / SIGTERM.
//
// Secrets (admin token, the agent's token, the Redis password) live in 0600 files under the data dir
// and reach the services through their environment or those files, never a command line (ps shows
// every process's argv to every local user). The private Redis wants a password; the agent logs in
// to it as its own ACL user, whose password is its token (the scheduler makes that user).
//
// Env: LAB_PORT (default 8080), REDIS_URL (any form in docs/redis.md: one server, redis+cluster://,
// redis+sentinel://, rediss://), HIL_DATA_DIR (default .hil), HIL_LAB_VIRTUAL
// (default "esp32=2,android=1"), HIL_LAB_SKIP_SETUP=1 (skip npm ci / apt / build: tests use it).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync, openSync, closeSync } from "node:fs";
import { join, resolve } from "node:path";
import { ROOT, build, ensureNodeModules } from "./lib/setup.mjs";
import { ensureSystemDeps } from "./sysdeps.mjs";

const env = process.env;
const port = Number(env.LAB_PORT ?? 8080);
const dataDir = resolve(ROOT, env.HIL_DATA_DIR ?? ".hil");
const virtual = env.HIL_LAB_VIRTUAL ?? "esp32=2,android=1";
const hilBin = join(ROOT, "cli", "bin", "hil.js");

const children = [];
let redis = null;
let stopping = false;

function log(msg) {
  process.stdout.write(`» ${msg}\n`);
}

/** A secret kept in the data dir (owner-only): made once, then the same across restarts. */
function secret(name, make) {
  const file = join(dataDir, name);
  if (existsSync(file)) {
    chmodSync(file, 0o600);
    const value = readFileSync(file, "utf8").trim();
    if (value) return { file, value };
  }
  const value = make();
  writeSecret(file, value);
  return { file, value };
}

function writeSecret(file, value) {
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}

// What a service inherits must not override the files the lab hands it.
const INHERITED_SECRETS = ["REDIS_URL", "REDIS_URL_FILE", "HIL_ADMIN_TOKEN", "HIL_ADMIN_TOKEN_FILE", "HIL_TOKEN", "HIL_TOKEN_FILE"];

/** Each service runs in its own process group so a shutdown reaches its children (socat, …) too. */
function startService(name, args, serviceEnv) {
  const logFile = join(dataDir, "logs", `${name}.log`);
  const fd = openSync(logFile, "a");
  const childEnv = { ...env, HIL_DATA_DIR: dataDir };
  for (const k of INHERITED_SECRETS) delete childEnv[k];
  const child = spawn(process.execPath, [hilBin, ...args], {
    cwd: ROOT,
    env: { ...childEnv, ...serviceEnv },
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
    const password = secret("redis.password", () => randomBytes(32).toString("base64url")).value;
    redis = await startPrivateRedis({ dir: join(dataDir, "redis"), persist: true, password });
    redisUrl = redis.url;
    log(`redis-server started (pid ${redis.pid}, ${redis.bareUrl}, password in ${join(dataDir, "redis.password")}, AOF in ${join(dataDir, "redis")})`);
  }
  const redisUrlFile = join(dataDir, "redis.url");
  writeSecret(redisUrlFile, redisUrl);
  const token = secret("admin-token", () => `hil_${randomBytes(24).toString("base64url")}`);
  // The agent's own credential (role agent): artifact downloads, and its Redis user's password.
  const agentToken = secret("agent-token", () => randomBytes(32).toString("base64url"));
  const agentName = "lab-1";
  const url = `http://127.0.0.1:${port}`;

  startService("scheduler", ["scheduler", "--port", String(port), "--artifact-dir", join(dataDir, "artifacts")], {
    REDIS_URL_FILE: redisUrlFile,
    HIL_ADMIN_TOKEN_FILE: token.file,
    HIL_TOKENS: [env.HIL_TOKENS, `${agentName}:agent:${agentToken.value}`].filter(Boolean).join(","),
  });
  const health = await waitForHealth(`${url}/healthz`, 60_000);
  // A private Redis with ACL (6 or later): the agent gets the URL without the password and logs in
  // as its own user; otherwise (an older Redis, or one of the operator's) the URL as given.
  const aclCapable = Number(/^(\d+)/.exec(health.redis.version ?? "")?.[1] ?? 0) >= 6;
  const agentRedis = redis && aclCapable ? { REDIS_URL: redis.bareUrl } : { REDIS_URL_FILE: redisUrlFile };
  startService("agent", [
    "agent", "--name", agentName, "--virtual", virtual,
    "--scheduler-url", url, "--cache-dir", join(dataDir, "agent-cache"),
  ], { ...agentRedis, HIL_TOKEN_FILE: agentToken.file });

  writeSecret(join(dataDir, "lab.env"), `HIL_URL=${url}\nHIL_TOKEN=${token.value}\nREDIS_URL=${redisUrl}`);
  const pids = { lab: process.pid, redis: redis?.pid ?? null, services: Object.fromEntries(children.map((c) => [c.name, c.child.pid])) };
  writeFileSync(join(dataDir, "lab.pids.json"), JSON.stringify(pids));
  process.stdout.write(
    [
      "",
      `HIL Lab is up (Redis ${health.redis.version ?? "?"}).`,
      `  Dashboard:    ${url}  (sign in on the "API token" tab with the admin token below)`,
      `  API:          ${url}/api/v1/openapi.json`,
      `  Admin token:  ${token.value} (also in ${token.file})`,
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
