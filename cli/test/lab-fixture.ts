// Real processes for end-to-end tests: a private redis-server, `hil scheduler` on a free port and
// `hil agent` processes, all stopped by PID. Tokens: "admin" (books boards) and "ci" (submits runs).
import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { labKeys, type Run } from "@hil/contracts";
import { freePort, makeTempDir, type PrivateRedis, type Spawned, spawnHil, startPrivateRedis, waitUntil } from "@hil/test-kit";
import { Redis } from "ioredis";

export const ADMIN_TOKEN = "admin-token-e2e";
export const CI_TOKEN = "ci-token-e2e-0001";

/** Agent names the lab's scheduler knows (config tokens `name:agent:…`): an agent signs its events with its token. */
export const LAB_AGENTS: readonly string[] = ["b1", "c1", "fz", "k1", "k2", "lc", "lg", "q1", "r1", "t1", "t2", "tk", "v1", "x1", "db", "sr", "an", "o1", "o2", "h1", "h2", "rc", "m1", "m2", "cl", "s1", "s2", "pv", "ot", "cp", "ab", "u1", "u2", "u3"];
export const agentToken = (name: string) => `${name}-agent-token-e2e-0001`;

export interface Lab {
  url: string;
  redisUrl: string;
  namespace: string;
  dir: string;
  redis: Redis;
  keys: ReturnType<typeof labKeys>;
  scheduler: Spawned;
  /** Stops the scheduler and starts a new one on the same port and Redis (`env` added to the lab's scheduler settings). */
  restartScheduler(env?: Record<string, string>): Promise<Spawned>;
  /** The private redis-server (its `pid` for SIGSTOP/SIGCONT fault tests). */
  redisServer: PrivateRedis;
  /**
   * Kills redis-server (SIGKILL: no shutdown save) and starts it again on the same port, password and
   * data dir; with `persist` on, it reloads its append-only file.
   */
  restartRedis(): Promise<PrivateRedis>;
  agents: Map<string, Spawned>;
  startAgent(name: string, args: string[]): Promise<Spawned>;
  /** `hil …` with the lab's URL and the given token in the environment. */
  hil(args: string[], token?: string): Spawned;
  api<T = unknown>(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: T }>;
  getRun(id: string): Promise<Run>;
  stop(): Promise<void>;
}

/** `schedulerEnv` adds settings for the scheduler process (e.g. rate limits a test needs lifted). */
export async function startLab(opts: { schedulerEnv?: Record<string, string>; persist?: boolean } = {}): Promise<Lab> {
  const tmp = await makeTempDir("hil-e2e-");
  const started: Spawned[] = [];
  let server: PrivateRedis | undefined;
  let client: Redis | undefined;
  try {
    // as `npm run lab` runs it: Redis wants a password, each agent logs in as its own ACL user
    const redisOpts = { dir: join(tmp.dir, "redis"), persist: opts.persist === true };
    server = await startPrivateRedis({ ...redisOpts, password: true });
    const namespace = `e2e${randomUUID().slice(0, 8)}`;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    // Short leases so a killed agent's runs come back within seconds (the agents renew to the same TTL).
    const agentTokens = LAB_AGENTS.map((n) => `${n}:agent:${agentToken(n)}`);
    const env = { ...process.env, HIL_TOKENS: [`ci:${CI_TOKEN}`, ...agentTokens].join(","), HIL_ADMIN_TOKEN: ADMIN_TOKEN, REDIS_URL: server.url, HIL_TICK: "200ms", HIL_LEASE_TTL: "4s", ...opts.schedulerEnv };
    const schedulerArgs = ["scheduler", "--port", String(port), "--artifact-dir", join(tmp.dir, "artifacts"), "--namespace", namespace];
    const startScheduler = async (extra: Record<string, string> = {}) => {
      const s = spawnHil(schedulerArgs, { env: { ...env, ...extra } });
      started.push(s);
      await s.waitFor(/scheduler listening on/, 60_000);
      return s;
    };
    const scheduler = await startScheduler();
    const redis = new Redis(server.url);
    // a fault test kills redis-server: the client reconnects, and says so only through this event
    redis.on("error", () => undefined);
    client = redis;
    const agents = new Map<string, Spawned>();
    const redisUrl = server.url;
    const agentRedisUrl = server.bareUrl;
    const lab: Lab = {
      url,
      redisUrl,
      namespace,
      dir: tmp.dir,
      redis,
      keys: labKeys(namespace),
      scheduler,
      redisServer: server,
      async restartRedis() {
        const old = lab.redisServer;
        process.kill(old.pid, "SIGKILL");
        await old.stop();
        lab.redisServer = server = await startPrivateRedis({ ...redisOpts, port: old.port, password: old.password! });
        return lab.redisServer;
      },
      async restartScheduler(extra) {
        await lab.scheduler.stop();
        lab.scheduler = await startScheduler(extra);
        return lab.scheduler;
      },
      agents,
      async startAgent(name, args) {
        if (!LAB_AGENTS.includes(name)) throw new Error(`agent ${name} has no token in the lab's scheduler; add it to LAB_AGENTS`);
        const agent = spawnHil(
          ["agent", "--redis", agentRedisUrl, "--namespace", namespace, "--name", name, "--heartbeat", "500ms", "--lease-ttl", "4s", "--scheduler-url", url,
            "--cache-dir", join(tmp.dir, `cache-${name}`), "--no-discover", ...args],
          { env: { ...process.env, HIL_TOKEN: agentToken(name) } },
        );
        started.push(agent);
        agents.set(name, agent);
        await agent.waitFor(/agent \S+ ready with/, 60_000);
        return agent;
      },
      hil(args, token = CI_TOKEN) {
        const p = spawnHil(args, { env: { ...process.env, HIL_URL: url, HIL_TOKEN: token } });
        started.push(p);
        return p;
      },
      async api(method, path, body, token = ADMIN_TOKEN) {
        const res = await fetch(`${url}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const text = await res.text();
        return { status: res.status, body: (text ? JSON.parse(text) : undefined) as never };
      },
      async getRun(id) {
        const res = await lab.api<Run>("GET", `/api/v1/runs/${id}`);
        if (res.status !== 200) throw new Error(`GET run ${id}: HTTP ${res.status}`);
        return res.body;
      },
      async stop() {
        await Promise.allSettled(started.map((p) => p.stop()));
        redis.disconnect();
        await server?.stop();
        await tmp.remove();
      },
    };
    return lab;
  } catch (err) {
    await Promise.allSettled(started.map((p) => p.stop()));
    client?.disconnect();
    await server?.stop();
    await tmp.remove();
    throw err;
  }
}

/** The agent's own record of the jobs it executed ("job finished" log lines, pino JSON on stderr). */
export function executedJobs(agent: Spawned): { runId: string; attempt: number; boards: string[]; outcome: string }[] {
  const out: { runId: string; attempt: number; boards: string[]; outcome: string }[] = [];
  for (const line of agent.output().split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const rec = JSON.parse(line) as { msg?: string; runId?: string; attempt?: number; boards?: string[]; outcome?: string };
      if (rec.msg === "job finished" && rec.runId) out.push({ runId: rec.runId, attempt: rec.attempt ?? 0, boards: rec.boards ?? [], outcome: rec.outcome ?? "" });
    } catch {
      // not a log record
    }
  }
  return out;
}

export const TERMINAL = new Set(["passed", "failed", "error", "cancelled", "timed-out"]);

/** A stand-in artifact for instant boards, which skip the board work. */
export async function appFile(lab: Lab): Promise<string> {
  const file = join(lab.dir, "app.bin");
  await writeFile(file, Buffer.from("not flashed: instant boards skip the board work\n"));
  return file;
}

export function submitArgs(file: string, extra: string[] = []): string[] {
  return ["run", "--suite", "esp32-smoke", "--profile", "esp32-virtual", "--artifact", `app=${file}`, ...extra];
}

export function runIdOf(output: string): string {
  const m = /run (\S+) submitted/.exec(output);
  if (!m?.[1]) throw new Error(`no run id in output:\n${output}`);
  return m[1];
}

/**
 * Two agents with one instant board each (holding every job for `hold`) and one submitted run;
 * resolves once the run is running, with the board it runs on, the agent holding it and the other one.
 */
export async function runOnOneOfTwoAgents(
  lab: Lab,
  names: [string, string],
  hold: string,
): Promise<{ id: string; board: string; holder: Spawned; other: Spawned }> {
  const args = ["--instant-boards", "1", "--instant-hold", hold];
  const a = await lab.startAgent(names[0], args);
  const b = await lab.startAgent(names[1], args);
  const sub = lab.hil(submitArgs(await appFile(lab)));
  if ((await sub.exited) !== 0) throw new Error(`submit failed:\n${sub.output()}`);
  const id = runIdOf(sub.output());
  const board = await waitUntil("run running", async () => {
    const r = await lab.getRun(id);
    return r.state === "running" ? Object.values(r.boards)[0] : undefined;
  });
  const [holder, other] = board.startsWith(`${names[0]}-`) ? [a, b] : [b, a];
  return { id, board, holder, other };
}
