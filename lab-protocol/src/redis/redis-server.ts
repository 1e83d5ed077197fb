import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./free-port.js";

export interface PrivateRedisOptions {
  /** Data directory; a fresh temp dir (removed on stop) when absent. */
  dir?: string;
  /**
   * Append-only file on (the lab's data dir), fsynced before Redis answers a write (`appendfsync
   * always`), so nothing the lab acknowledged (an accepted run, a log line a follower saw) is lost to a
   * crash of redis-server or the machine; off for tests.
   */
  persist?: boolean;
  port?: number;
  /** How long to wait for PING to answer. */
  startTimeoutMs?: number;
  binary?: string;
  /**
   * Require a password: `true` makes one up (32 random bytes, base64url), a string is used as is (the
   * lab keeps its own across restarts). It reaches redis-server through a 0600 redis.conf in `dir`,
   * never its command line, and `url` carries it.
   */
  password?: boolean | string;
  /** A Redis Cluster node (`cluster-enabled`, its nodes file in `dir`): startPrivateRedisCluster joins several. */
  clusterNode?: boolean;
}

export interface PrivateRedis {
  /** With the password, when there is one: `redis://:PASSWORD@127.0.0.1:PORT`. */
  readonly url: string;
  /** No credentials: for an agent that logs in as its own ACL user. */
  readonly bareUrl: string;
  readonly password?: string;
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  stop(): Promise<void>;
}

/**
 * Starts a redis-server of our own on a free loopback port, waits until it answers PING, and
 * stops it by PID. Nothing here assumes a Redis is already running.
 */
export async function startPrivateRedis(opts: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "hil-redis-")));
  await mkdir(dir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const password = opts.password === true ? randomBytes(32).toString("base64url") : opts.password || undefined;
  const conf = join(dir, "redis.conf");
  await writeRedisConf(conf, [
    ["port", String(port)],
    ["bind", "127.0.0.1"],
    ["dir", dir],
    ["save", ""],
    ["appendonly", opts.persist ? "yes" : "no"],
    ...(opts.persist ? [["appendfsync", "always"] as [string, string]] : []),
    ["daemonize", "no"],
    ["protected-mode", "yes"],
    ["loglevel", "warning"],
    ["logfile", ""],
    ...(password === undefined ? [] : [["requirepass", password] as [string, string]]),
    ...(opts.clusterNode
      ? ([
          ["cluster-enabled", "yes"],
          ["cluster-config-file", join(dir, "nodes.conf")],
          ["cluster-node-timeout", "5000"],
          // a replica added later authenticates to its primary with the same password
          ...(password === undefined ? [] : [["masterauth", password]]),
        ] as [string, string][])
      : []),
  ]);
  const binary = opts.binary ?? "redis-server";
  const child = spawn(binary, [conf], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));

  const bareUrl = `redis://127.0.0.1:${port}`;
  const url = password === undefined ? bareUrl : `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  for (;;) {
    const early = await Promise.race([
      spawnError.then((e) => `could not start ${binary}: ${e.message} (install the redis-server package)`),
      exited.then((code) => `${binary} exited with code ${code}: ${stderr.trim()}`),
      ping(url).then((ok) => (ok ? null : undefined)),
    ]);
    if (early === null) break;
    if (typeof early === "string") throw new Error(early);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${binary} on port ${port} did not answer PING within ${opts.startTimeoutMs ?? 10_000} ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const pid = child.pid ?? -1;
  return {
    url,
    bareUrl,
    ...(password === undefined ? {} : { password }),
    port,
    pid,
    dir,
    async stop() {
      await stopChild(child, exited);
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Written fresh with mode 0600 (it may hold the password); values quoted the way redis.conf reads them. */
async function writeRedisConf(file: string, lines: [string, string][]): Promise<void> {
  const quote = (v: string) => `"${v.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, "\\n").replace(/\r/g, "\\r")}"`;
  await rm(file, { force: true });
  await writeFile(file, lines.map(([k, v]) => `${k} ${quote(v)}\n`).join(""), { mode: 0o600, flag: "wx" });
}

async function ping(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
  client.on("error", () => {});
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** SIGTERM, then SIGKILL after a grace period; resolves when the process is gone. */
export async function stopChild(child: ChildProcess, exited?: Promise<unknown>, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = exited ?? new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await done;
  clearTimeout(timer);
}
