import { spawn } from "node:child_process";
import { Redis } from "ioredis";
import { startPrivateRedis, type PrivateRedis } from "./redis-server.js";

export interface PrivateRedisClusterOptions {
  /** Primaries (no replicas); Redis wants at least 3. */
  primaries?: number;
  /** As for startPrivateRedis: `true` makes one up; every node gets the same one. */
  password?: boolean | string;
  /** How long the cluster may take to report `cluster_state:ok` on every node. */
  readyTimeoutMs?: number;
  redisCli?: string;
}

export interface PrivateRedisCluster {
  /** `redis+cluster://:PASSWORD@127.0.0.1:P1,127.0.0.1:P2,…` (every node is a seed). */
  readonly url: string;
  /** The same seeds without credentials: for an agent that logs in as its own ACL user. */
  readonly bareUrl: string;
  readonly password?: string;
  /** One redis-server per primary, each in its own temp dir, stopped by PID. */
  readonly nodes: readonly PrivateRedis[];
  stop(): Promise<void>;
}

/** Why a private cluster could not be made because a tool is missing (a test skips on it, naming it). */
export class RedisClusterToolMissingError extends Error {
  override name = "RedisClusterToolMissingError";
}

/**
 * A Redis Cluster of our own on loopback: N cluster-enabled redis-servers on free ports, joined with
 * `redis-cli --cluster create` (the password reaches redis-cli through REDISCLI_AUTH, not its command line),
 * ready once every node reports `cluster_state:ok`.
 */
export async function startPrivateRedisCluster(opts: PrivateRedisClusterOptions = {}): Promise<PrivateRedisCluster> {
  const primaries = opts.primaries ?? 3;
  if (primaries < 3) throw new Error("a Redis Cluster needs at least 3 primaries");
  const cli = opts.redisCli ?? "redis-cli";
  await checkClusterCli(cli);
  const nodes: PrivateRedis[] = [];
  const stop = async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
  };
  try {
    const first = await startPrivateRedis({ password: opts.password ?? false, clusterNode: true });
    nodes.push(first);
    const password = first.password;
    for (let i = 1; i < primaries; i++) nodes.push(await startPrivateRedis({ password: password ?? false, clusterNode: true }));
    const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run(cli, ["--cluster", "create", ...addrs, "--cluster-replicas", "0", "--cluster-yes"], password);
    await waitClusterOk(nodes, opts.readyTimeoutMs ?? 30_000);
    const seeds = addrs.join(",");
    return {
      url: password === undefined ? `redis+cluster://${seeds}` : `redis+cluster://:${encodeURIComponent(password)}@${seeds}`,
      bareUrl: `redis+cluster://${seeds}`,
      ...(password === undefined ? {} : { password }),
      nodes,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function checkClusterCli(cli: string): Promise<void> {
  let out: string;
  try {
    out = await run(cli, ["--cluster", "help"], undefined, true);
  } catch (err) {
    throw new RedisClusterToolMissingError(`${cli} is not usable (${(err as Error).message}); install the redis-tools package`);
  }
  if (!/create/.test(out)) throw new RedisClusterToolMissingError(`${cli} has no --cluster create (Redis 5 or later has)`);
}

function run(cmd: string, args: string[], password: string | undefined, anyExit = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...(password === undefined ? {} : { REDISCLI_AUTH: password }) };
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 || anyExit ? resolve(out) : reject(new Error(`${cmd} ${args.slice(0, 2).join(" ")} exited with ${code}: ${out.trim()}`))));
  });
}

async function waitClusterOk(nodes: readonly PrivateRedis[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const clients = nodes.map((n) => new Redis(n.url, { maxRetriesPerRequest: 1 }).on("error", () => {}));
  try {
    for (;;) {
      const infos = await Promise.all(clients.map((c) => c.cluster("INFO").catch((e: Error) => e.message)));
      if (infos.every((i) => /cluster_state:ok/.test(String(i)))) return;
      if (Date.now() > deadline) throw new Error(`the cluster did not reach cluster_state:ok within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    for (const c of clients) c.disconnect();
  }
}
