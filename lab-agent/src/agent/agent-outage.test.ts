// The agent while Redis is away, on real redis-servers and real BullMQ (the test plays the scheduler: it writes
// leases and enqueues jobs). A lease the agent cannot renew stops the run before it would expire, as an
// infrastructure error; job-finished is written once Redis is back, so the board is not left running; a reconnect
// registers the boards again at once with what the agent is doing on them.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentEventSchema, labKeys, type AgentEvent, type Job, type JobResult } from "@hil/contracts";
import { leaseTokenHash, readEventFields } from "@hil/lab-protocol";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { connectionsTo, type PrivateRedis, startPrivateRedis, waitUntil } from "@hil/test-kit";
import { parseAgentConfig } from "./config.js";
import { InstantBoardProvider } from "./instant-boards.js";
import type { JobContext, JobExecutor } from "./job-executor.js";
import { LabAgent } from "./lab-agent.js";

const SUITE = { name: "s", roles: { dut: { profile: "esp32-virtual" } }, artifacts: {}, timeout: 60_000, steps: [{ type: "wait", duration: 1 }] };

/** Holds the board until released (then passes) or aborted; says when each happened. */
class HeldExecutor implements JobExecutor {
  startedAt: number | undefined;
  abortedAt: number | undefined;
  abortCode: string | undefined;
  private release: (() => void) | undefined;

  pass(): void {
    this.release?.();
  }

  async execute(job: Job, ctx: JobContext): Promise<JobResult> {
    this.startedAt = Date.now();
    await new Promise<void>((resolve) => {
      this.release = resolve;
      ctx.signal.addEventListener(
        "abort",
        () => {
          this.abortedAt = Date.now();
          this.abortCode = (ctx.signal.reason as { code?: string } | undefined)?.code;
          resolve();
        },
        { once: true },
      );
    });
    return { runId: job.runId, attempt: job.attempt, outcome: "pass", steps: [], cases: [], durationMs: Date.now() - this.startedAt };
  }
}

interface Setup {
  server: PrivateRedis;
  client: Redis;
  keys: ReturnType<typeof labKeys>;
  board: string;
  executor: HeldExecutor;
  agent: LabAgent;
  queue: Queue;
}

async function setup(server: PrivateRedis, opts: { heartbeatMs: number; leaseTtlMs: number }): Promise<Setup> {
  const ns = `t${randomUUID().slice(0, 8)}`;
  const keys = labKeys(ns);
  const name = `a-${ns}`;
  const config = parseAgentConfig({ redisUrl: server.url, name, namespace: ns, ...opts, instantBoards: 1, token: `${name}-token-0123456789`, redisAcl: "off" });
  const executor = new HeldExecutor();
  const agent = await LabAgent.start(config, { boards: new InstantBoardProvider({ agent: name, count: 1, profile: "esp32-virtual" }), executor });
  const client = new Redis(server.url, { maxRetriesPerRequest: null });
  client.on("error", () => {});
  const queue = new Queue(keys.agentQueue(name), { connection: { url: server.url }, prefix: keys.bullPrefix });
  queue.on("error", () => {});
  return { server, client, keys, board: `${name}-instant-0`, executor, agent, queue };
}

/** Leases the board (as the scheduler would, with its own TTL) and enqueues the job; resolves once it runs. */
async function startRun(s: Setup, runId: string): Promise<void> {
  const token = `tok-${runId}`;
  await s.client.set(s.keys.lease(s.board), JSON.stringify({ runId, attempt: 1, tokenHash: leaseTokenHash(token), agent: "x" }), "PX", 15_000);
  const job: Job = { runId, attempt: 1, suite: SUITE as Job["suite"], boards: { dut: s.board }, artifacts: {}, timeoutMs: 60_000, leaseToken: token };
  await s.queue.add("run", job, { jobId: `${runId}-a1` });
  await waitUntil("the job to start", async () => (s.executor.startedAt !== undefined ? true : undefined));
}

async function events(s: Setup): Promise<AgentEvent[]> {
  const entries = await s.client.xrange(s.keys.events(), "-", "+");
  return entries.map(([, fields]) => AgentEventSchema.parse(JSON.parse(readEventFields(fields).json ?? "{}")));
}

async function boardJson(s: Setup): Promise<{ state?: string; currentRun?: string }> {
  return JSON.parse((await s.client.hget(s.keys.board(s.board), "json")) ?? "{}") as { state?: string; currentRun?: string };
}

async function teardown(s: Setup | undefined): Promise<void> {
  if (!s) return;
  await Promise.race([s.agent.stop(), new Promise((r) => setTimeout(r, 20_000))]).catch(() => undefined);
  await s.queue.close().catch(() => undefined);
  s.client.disconnect();
}

test("a lease the agent cannot renew (redis-server frozen) stops the run before it expires, reported as an infrastructure error", async () => {
  const server = await startPrivateRedis();
  let s: Setup | undefined;
  try {
    // the agent renews to 2 s every 200 ms: unconfirmed for 1.5 s (2 s less the margin of a quarter), it stops
    s = await setup(server, { heartbeatMs: 200, leaseTtlMs: 2000 });
    await startRun(s, "r1");
    await new Promise((r) => setTimeout(r, 600));
    const frozenAt = Date.now();
    process.kill(server.pid, "SIGSTOP");
    let thawedAt: number;
    try {
      await new Promise((r) => setTimeout(r, 5000));
    } finally {
      thawedAt = Date.now();
      process.kill(server.pid, "SIGCONT");
    }
    const { abortedAt, abortCode } = s.executor;
    assert.ok(abortedAt !== undefined && abortedAt < thawedAt, `the board work stopped while Redis was frozen (aborted ${abortedAt === undefined ? "never" : `${abortedAt - frozenAt} ms after the freeze`})`);
    assert.ok(abortedAt - frozenAt < 2500, `stopped within the lease (${abortedAt - frozenAt} ms after the freeze)`);
    assert.is(abortCode, "LEASE_LOST");
    const finished = await waitUntil("job-finished", async () => (await events(s!)).find((e) => e.type === "job-finished"));
    assert.ok(finished.type === "job-finished");
    assert.is(finished.result.outcome, "error", "never a pass (or fail) for a lease it no longer holds");
    assert.is(finished.result.error?.code, "LEASE_LOST");
    assert.match(finished.result.error?.message ?? "", /could not renew the lease/);
    assert.is((await boardJson(s)).state, "idle");
  } finally {
    try {
      process.kill(server.pid, "SIGCONT");
    } catch {
      // gone
    }
    await teardown(s);
    await server.stop();
  }
});

test("job-finished written while redis-server is down is written once it is back: the board is not left running", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hil-agent-outage-"));
  let server = await startPrivateRedis({ dir, persist: true });
  let s: Setup | undefined;
  try {
    s = await setup(server, { heartbeatMs: 200, leaseTtlMs: 15_000 });
    await startRun(s, "r1");
    assert.is((await boardJson(s)).state, "running");
    await server.stop();
    s.executor.pass();
    // long enough for the agent's connection to give up on the write
    await new Promise((r) => setTimeout(r, 2000));
    server = await startPrivateRedis({ dir, persist: true, port: server.port });
    s.server = server;
    const finished = await waitUntil("job-finished", async () => {
      const found = (await events(s!)).filter((e) => e.type === "job-finished");
      return found.length > 0 ? found : undefined;
    });
    await new Promise((r) => setTimeout(r, 1000));
    assert.is((await events(s)).filter((e) => e.type === "job-finished").length, 1, "written once");
    const ev = finished[0];
    assert.ok(ev?.type === "job-finished" && ev.result.outcome === "pass");
    assert.is((await boardJson(s)).state, "idle");
  } finally {
    await teardown(s);
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test("after a reconnect the agent registers its boards again at once, with what it is doing on them", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hil-agent-outage-"));
  let server = await startPrivateRedis({ dir, persist: true });
  let s: Setup | undefined;
  try {
    // the periodic announcement (every 10th heartbeat) would come only after 30 s
    s = await setup(server, { heartbeatMs: 3000, leaseTtlMs: 15_000 });
    await startRun(s, "r1");
    // a state write that was lost: Redis says idle while the board runs r1
    const wrong = { ...(await boardJson(s)), state: "idle" };
    delete wrong.currentRun;
    await s.client.hset(s.keys.board(s.board), "json", JSON.stringify(wrong));
    await server.stop();
    server = await startPrivateRedis({ dir, persist: true, port: server.port });
    s.server = server;
    const json = await waitUntil(
      "the board registered again as running r1",
      async () => {
        const b = await boardJson(s!);
        return b.state === "running" ? b : undefined;
      },
      8000,
    );
    assert.is(json.currentRun, "r1");
  } finally {
    s?.executor.pass();
    await teardown(s);
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test("an agent stopped while its Redis is gone for good still stops, and leaves no connection retrying", async () => {
  const server = await startPrivateRedis();
  const s = await setup(server, { heartbeatMs: 200, leaseTtlMs: 2000 });
  const port = server.port;
  // the test's own clients go first: only the agent's may be left to reconnect
  await s.queue.close();
  s.client.disconnect();
  await server.stop();
  // before: the stop waited on Redis for ever (marking its boards offline), and its clients kept reconnecting
  let timer: NodeJS.Timeout | undefined;
  const stopped = await Promise.race([s.agent.stop().then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), 90_000)))]);
  clearTimeout(timer);
  assert.ok(stopped, "the stop ended");
  // a client still retrying would connect to whatever listens on Redis's port now
  const connections = await connectionsTo(port, 5000);
  assert.is(connections, 0, "nothing of the stopped agent reconnects");
});

// Agents stopped while their Redis restarted once (1 run in about 10, on a loaded machine) left a connection
// retrying after every test had passed: a stop that waited on Redis for ever (fixed; the test above holds it).
// This file still exits once its tests are done, keeping their verdict, so a leak of another kind shows as a
// slow file rather than a runner timeout.
test.after(() => {
  setTimeout(() => process.exit(process.exitCode ?? 0), 5_000).unref();
});

test.run();
