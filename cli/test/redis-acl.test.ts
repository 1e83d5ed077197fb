// Agents log in to Redis as their own ACL user (password = their token), made by a real scheduler
// from the agent token's hash: the agent does its whole job with it, and is refused everything else.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { agentRedisUser, labKeys, SuiteSchema } from "@hil/contracts";
import { createSchedulerApp, loadSchedulerConfig, schedulerAclRules, staticCatalog, type SchedulerApp } from "@hil/scheduler";
import { makeTempDir, type PrivateRedis, startPrivateRedis, waitUntil } from "@hil/test-kit";
import { Redis } from "ioredis";
import { pino } from "pino";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseAgentConfig, silentLogger, startConfiguredAgent, type LabAgent } from "@hil/lab-agent";

const ADMIN = `admin-${randomBytes(12).toString("hex")}`;
const CATALOG = staticCatalog(
  [SuiteSchema.parse({ name: "smoke", roles: { dut: { profile: "esp32-virtual" } }, timeout: "1m", steps: [{ type: "send", role: "dut", text: "hi" }] })],
  [{ id: "esp32-virtual", kind: "esp32" }],
);

interface Bench {
  redis: PrivateRedis;
  admin: Redis;
  dir: string;
  ns: string;
  scheduler: SchedulerApp;
  url: string;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  agents: LabAgent[];
  clients: Redis[];
  close(): Promise<void>;
}

async function startBench(schedulerRedisUrl: (redis: PrivateRedis, admin: Redis, ns: string) => Promise<string>, agentTokens: string): Promise<Bench> {
  const tmp = await makeTempDir("hil-acl-");
  // persisted like the lab's: a restart keeps the data (tokens included) and loses the ACL users
  const redis = await startPrivateRedis({ password: true, dir: join(tmp.dir, "redis"), persist: true });
  const admin = new Redis(redis.url);
  const ns = `acl${randomBytes(4).toString("hex")}`;
  const config = loadSchedulerConfig({
    REDIS_URL: await schedulerRedisUrl(redis, admin, ns),
    HIL_NAMESPACE: ns,
    HIL_ADMIN_TOKEN: ADMIN,
    HIL_TOKENS: agentTokens,
    HIL_ARTIFACT_DIR: tmp.dir,
    HIL_PORT: "0",
    HIL_TICK: "200ms",
  });
  const scheduler = createSchedulerApp(config, { catalog: CATALOG, logger: pino({ level: "silent" }) });
  const { url } = await scheduler.start();
  const bench: Bench = {
    redis,
    admin,
    dir: tmp.dir,
    ns,
    scheduler,
    url,
    agents: [],
    clients: [admin],
    async api(method, path, body) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    async close() {
      await Promise.all(bench.agents.map((a) => a.stop().catch(() => {})));
      await scheduler.stop();
      for (const c of bench.clients) c.disconnect();
      await bench.redis.stop();
      await tmp.remove();
    },
  };
  return bench;
}

function agentConfig(bench: Bench, name: string, token: string) {
  return parseAgentConfig({ redisUrl: bench.redis.bareUrl, name, namespace: bench.ns, token, instantBoards: 1, heartbeatMs: 300, leaseTtlMs: 5000, discover: false });
}

/** A client logged in as an agent's Redis user; no retries, so a refusal surfaces at once. */
async function loginAs(bench: Bench, agent: string, token: string): Promise<{ client: Redis; errors: string[] }> {
  const errors: string[] = [];
  const client = new Redis(bench.redis.bareUrl, {
    username: agentRedisUser(bench.ns, agent),
    password: token,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on("error", (err: Error) => errors.push(err.message));
  bench.clients.push(client);
  await client.connect().catch(() => {});
  return { client, errors };
}

async function refused(what: string, op: Promise<unknown>): Promise<void> {
  try {
    await op;
  } catch (err) {
    assert.match((err as Error).message, /^NOPERM/, `${what}: ${(err as Error).message}`);
    return;
  }
  assert.unreachable(`${what} was allowed`);
}

/** Every ACL denial Redis logged, as "user: reason object" lines. */
async function aclDenials(admin: Redis): Promise<string[]> {
  const entries = (await admin.call("ACL", "LOG")) as unknown[][];
  return entries.map((e) => {
    const f = new Map<string, unknown>();
    for (let i = 0; i + 1 < e.length; i += 2) f.set(String(e[i]), e[i + 1]);
    return `${String(f.get("username"))}: ${String(f.get("reason"))} ${String(f.get("object"))}`;
  });
}

async function usersConnected(admin: Redis): Promise<string[]> {
  const list = (await admin.call("CLIENT", "LIST")) as string;
  return list.split("\n").map((l) => /\buser=(\S+)/.exec(l)?.[1] ?? "").filter(Boolean);
}

test("an agent's own Redis user runs a job end to end and is refused what is not its business", async () => {
  const token = randomBytes(24).toString("base64url");
  const schedulerPassword = randomBytes(16).toString("hex");
  // The scheduler logs in as hil-scheduler with exactly the rules docs/security.md tells an operator to grant.
  const bench = await startBench(async (redis, admin, ns) => {
    await admin.call("ACL", "SETUSER", "hil-scheduler", "reset", "on", `>${schedulerPassword}`, ...schedulerAclRules(labKeys(ns)));
    return `redis://hil-scheduler:${schedulerPassword}@127.0.0.1:${redis.port}`;
  }, `lab-1:agent:${token}`);
  try {
    assert.is(bench.scheduler.context.redisAcl.status, "active");
    const user = agentRedisUser(bench.ns, "lab-1");
    const agent = await startConfiguredAgent(agentConfig(bench, "lab-1", token), silentLogger);
    bench.agents.push(agent);
    assert.ok((await usersConnected(bench.admin)).includes(user), "the agent is logged in as its own user");

    const submitted = await bench.api("POST", "/api/v1/runs", { suite: "smoke" });
    assert.is(submitted.status, 201, JSON.stringify(submitted.body));
    const id = String(submitted.body["id"]);
    const state = await waitUntil("the run to pass", async () => {
      const r = await bench.api("GET", `/api/v1/runs/${id}`);
      const s = String(r.body["state"]);
      return ["passed", "failed", "error"].includes(s) ? s : undefined;
    });
    assert.is(state, "passed");
    await agent.stop();
    bench.agents.length = 0;
    assert.equal(await aclDenials(bench.admin), [], "nothing the agent or the scheduler did was refused");

    const keys = labKeys(bench.ns);
    const { client } = await loginAs(bench, "lab-1", token);
    await refused("reading the tokens", client.hgetall(keys.tokens()));
    await refused("reading the users", client.hgetall(keys.users()));
    await refused("writing a run", client.hset(keys.run(id), "json", "{}"));
    await refused("reading a run", client.get(keys.run(id)));
    await refused("the pending set", client.zadd(keys.pending(), 0, "x"));
    await refused("the audit stream", client.xadd(keys.audit(), "*", "a", "b"));
    await refused("a booking", client.hset(keys.booking("b1"), "json", "{}"));
    await refused("another agent's queue", client.lpush(`${keys.bullPrefix}:${keys.agentQueue("lab-2")}:wait`, "job"));
    await refused("another agent's liveness", client.set(keys.agent("lab-2"), "{}"));
    await refused("another namespace", client.set("{other}:board:x", "1"));
    await refused("listing keys", client.keys("*"));
    await refused("flushing", client.flushall());
    await refused("configuring", client.call("CONFIG", "GET", "requirepass"));
    await refused("cancelling runs", client.publish(keys.cancelChannel(), id));
    await refused("managing users", client.call("ACL", "SETUSER", user, "+@all", "~*"));
    // and what it needs still works; another agent's liveness it may read, not write (claiming a dead agent's board)
    assert.is(await client.set(keys.agent("lab-1"), "{}"), "OK");
    assert.is(await client.get(keys.agent("lab-2")), null);
  } finally {
    await bench.close();
  }
});

test("a revoked agent token is locked out at once; a Redis restart gets the users back", async () => {
  const bench = await startBench(async (redis) => redis.url, "");
  try {
    const created = await bench.api("POST", "/api/v1/tokens", { name: "lab-2", role: "agent" });
    assert.is(created.status, 201, JSON.stringify(created.body));
    const token = String(created.body["token"]);
    const user = agentRedisUser(bench.ns, "lab-2");
    const agent = await startConfiguredAgent(agentConfig(bench, "lab-2", token), silentLogger);
    bench.agents.push(agent);
    assert.ok((await usersConnected(bench.admin)).includes(user));

    // Redis restarts (same port and password, no data): ACL users are in memory only.
    const port = bench.redis.port;
    const password = bench.redis.password;
    await bench.redis.stop();
    bench.redis = await startPrivateRedis({ port, password: password ?? true, dir: join(bench.dir, "redis"), persist: true });
    const admin = new Redis(bench.redis.url);
    bench.clients.push(admin);
    bench.admin = admin;
    await waitUntil("the scheduler to make the agent's user again", async () => (await admin.call("ACL", "GETUSER", user)) !== null);
    const keys = labKeys(bench.ns);
    await waitUntil("the agent's heartbeat through its user again", async () => (await admin.exists(keys.agent("lab-2"))) === 1);

    const revoked = await bench.api("POST", `/api/v1/tokens/${String(created.body["id"])}/revoke`);
    assert.is(revoked.status, 200, JSON.stringify(revoked.body));
    assert.is(await admin.call("ACL", "GETUSER", user), null, "the user is gone");
    assert.not.ok((await usersConnected(admin)).includes(user), "its connections were killed");
    const { errors } = await loginAs(bench, "lab-2", token);
    assert.ok(errors.some((m) => m.startsWith("WRONGPASS")), `a new login is refused: ${errors.join("; ")}`);
    // the agent keeps trying and keeps being refused; it still stops when asked
    await new Promise((r) => setTimeout(r, 1000));
    assert.not.ok((await usersConnected(admin)).includes(user), "it cannot get back in");
    await agent.stop();
    bench.agents.length = 0;
  } finally {
    await bench.close();
  }
});

test.run();
