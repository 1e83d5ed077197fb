// The agent's Redis side against a real redis-server and real BullMQ; the test plays the scheduler
// (writes leases, enqueues jobs, reads the events stream and checks each event's signature). Board
// work is an in-test executor.
import { randomUUID } from "node:crypto";
import { AgentEventSchema, labKeys, type AgentEvent, type Board, type Job, type JobResult, type LogLine } from "@hil/contracts";
import { deriveEventKey, leaseTokenHash, readEventFields, verifyEventSignature } from "@hil/lab-protocol";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type PrivateRedis, startPrivateRedis, waitUntil } from "@hil/test-kit";
import type { BoardProvider } from "./board-provider.js";
import { parseAgentConfig } from "./config.js";
import { InstantBoardProvider } from "./instant-boards.js";
import { InstantExecutor } from "./instant-executor.js";
import type { JobContext, JobExecutor } from "./job-executor.js";
import { LabAgent } from "./lab-agent.js";

let redis: PrivateRedis;
let client: Redis;

test.before(async () => {
  redis = await startPrivateRedis();
  client = new Redis(redis.url);
});
test.after(async () => {
  client.disconnect();
  await redis.stop();
});

const SUITE = { name: "s", roles: { dut: { profile: "esp32-virtual" } }, artifacts: {}, timeout: 60_000, steps: [{ type: "wait", duration: 1 }] };

/** The agent's credential: every event it appends must verify with the key derived from it (Redis login stays the URL's: no ACL users here). */
const tokenOf = (agent: string) => `${agent}-token-0123456789`;

function setup(boards = 2) {
  const ns = `t${randomUUID().slice(0, 8)}`;
  const keys = labKeys(ns);
  const name = `a-${ns}`;
  const config = parseAgentConfig({ redisUrl: redis.url, name, namespace: ns, heartbeatMs: 200, instantBoards: boards, token: tokenOf(name), redisAcl: "off" });
  const provider = new InstantBoardProvider({ agent: name, count: boards, profile: "esp32-virtual" });
  const queue = new Queue(keys.agentQueue(name), { connection: { url: redis.url }, prefix: keys.bullPrefix });
  return { ns, keys, name, config, provider, queue };
}

async function lease(keys: ReturnType<typeof labKeys>, boardId: string, runId: string, token: string) {
  await client.set(keys.lease(boardId), JSON.stringify({ runId, attempt: 1, tokenHash: leaseTokenHash(token), agent: "x" }), "PX", 15_000);
}

function job(runId: string, boardId: string, token: string): Job {
  return { runId, attempt: 1, suite: SUITE as Job["suite"], boards: { dut: boardId }, artifacts: {}, timeoutMs: 60_000, leaseToken: token };
}

/** The events stream as the scheduler reads it: each entry signed by the agent it names. */
async function events(keys: ReturnType<typeof labKeys>): Promise<AgentEvent[]> {
  const entries = await client.xrange(keys.events(), "-", "+");
  return entries.map(([id, fields]) => {
    const { json, agent, sig } = readEventFields(fields);
    const ev = AgentEventSchema.parse(JSON.parse(json ?? "{}"));
    assert.is(agent, ev.agent, `entry ${id} names its signer`);
    assert.ok(verifyEventSignature(deriveEventKey(tokenOf(ev.agent)), ev.agent, json ?? "", sig ?? ""), `entry ${id} is signed with ${ev.agent}'s token`);
    return ev;
  });
}

test("registers its boards and stays alive; a graceful stop marks them offline", async () => {
  const { keys, name, config, provider, queue } = setup(3);
  const agent = await LabAgent.start(config, { boards: provider, executor: new InstantExecutor() });
  try {
    assert.equal((await client.smembers(keys.boards())).sort(), [0, 1, 2].map((i) => `${name}-instant-${i}`));
    const hash = await client.hgetall(keys.board(`${name}-instant-0`));
    assert.is(hash.agent, name);
    assert.is(JSON.parse(hash.json ?? "{}").state, "idle");
    const hello = JSON.parse((await client.get(keys.agent(name))) ?? "null");
    assert.is(hello.boards.length, 3);
    // Liveness outlives several TTL periods only because the heartbeat refreshes it.
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(await client.exists(keys.agent(name)), "liveness key kept alive by the heartbeat");
  } finally {
    await agent.stop();
    await queue.close();
  }
  assert.is(await client.exists(keys.agent(name)), 0);
  assert.is(JSON.parse((await client.hget(keys.board(`${name}-instant-1`), "json")) ?? "{}").state, "offline");
});

test("runs a job whose lease it holds and reports started then finished; drops one without a lease", async () => {
  const { keys, name, config, provider, queue } = setup(2);
  const agent = await LabAgent.start(config, { boards: provider, executor: new InstantExecutor() });
  try {
    const board = `${name}-instant-0`;
    await lease(keys, board, "r1", "tok1");
    await queue.add("run", job("r1", board, "tok1"), { jobId: "r1-a1" });
    await queue.add("run", job("r2", `${name}-instant-1`, "tok2"), { jobId: "r2-a1" });
    const evs = await waitUntil("job-finished of r1", async () => {
      const e = await events(keys);
      return e.some((x) => x.type === "job-finished") ? e : undefined;
    });
    // r2 had no lease: wait until BullMQ says it completed, then check it left no trace.
    await waitUntil("r2 processed", async () => ((await queue.getJobState("r2-a1")) === "completed" ? true : undefined));
    const runEvents = (await events(keys)).filter((e) => e.type === "job-started" || e.type === "job-finished");
    assert.equal(
      runEvents.map((e) => (e.type === "job-started" ? `started ${e.runId}` : `finished ${e.type === "job-finished" ? e.result.runId : ""}`)),
      ["started r1", "finished r1"],
    );
    const finished = evs.find((e) => e.type === "job-finished");
    assert.is(finished?.type === "job-finished" && finished.result.outcome, "pass");
    assert.is(finished?.type === "job-finished" && finished.leaseHash, leaseTokenHash("tok1"), "the result names the lease it ran under");
    assert.is(JSON.parse((await client.hget(keys.board(board), "json")) ?? "{}").state, "idle");
  } finally {
    await agent.stop();
    await queue.close();
  }
});

test("a job it cannot read (a scheduler of another version) is reported at once as JOB_UNREADABLE naming the field, only by the lease's holder", async () => {
  const { keys, name, config, provider, queue } = setup(2);
  const agent = await LabAgent.start(config, { boards: provider, executor: new InstantExecutor() });
  try {
    const board = `${name}-instant-0`;
    await lease(keys, board, "r1", "tok1");
    // what a newer scheduler sends: a field this agent's contract does not have
    const newer = { ...job("r1", board, "tok1"), priorityClass: "gold" };
    await queue.add("run", newer, { jobId: "r1-a1" });
    // and one whose lease is not this agent's: it must say nothing about that run
    await queue.add("run", { ...job("r2", `${name}-instant-1`, "tok2"), priorityClass: "gold" }, { jobId: "r2-a1" });
    const finished = await waitUntil("job-finished of r1 (before: nothing, the lease lapsed and the run was retried as AGENT_LOST)", async () =>
      (await events(keys)).find((e) => e.type === "job-finished"),
    );
    assert.ok(finished.type === "job-finished");
    assert.is(finished.result.runId, "r1");
    assert.is(finished.result.outcome, "error");
    assert.is(finished.result.error?.code, "JOB_UNREADABLE");
    assert.match(finished.result.error?.message ?? "", /priorityClass/);
    assert.is(finished.leaseHash, leaseTokenHash("tok1"));
    await waitUntil("r2 processed", async () => ((await queue.getJobState("r2-a1")) === "completed" ? true : undefined));
    assert.equal(
      (await events(keys)).filter((e) => e.type === "job-finished" || e.type === "job-started").map((e) => (e.type === "job-finished" ? e.result.runId : e.type)),
      ["r1"],
      "nothing started, and nothing said about r2",
    );
  } finally {
    await agent.stop();
    await queue.close();
  }
});

/** Writes a few lines, then waits until aborted. */
class SlowExecutor implements JobExecutor {
  started = 0;
  async execute(j: Job, ctx: JobContext): Promise<JobResult> {
    this.started++;
    const board = j.boards.dut ?? "";
    for (let i = 0; i < 3; i++) {
      const line: LogLine = { board, run: j.runId, seq: 0, mono: i, wall: Date.now(), stream: "serial", text: `line ${i}` };
      ctx.onLog(line);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 30_000);
      const done = () => (clearTimeout(timer), resolve());
      if (ctx.signal.aborted) done();
      ctx.signal.addEventListener("abort", done, { once: true });
    });
    return { runId: j.runId, attempt: j.attempt, outcome: "pass", steps: [], cases: [], durationMs: 1 };
  }
}

test("a cancel message aborts the run; log lines get consecutive sequence numbers across runs", async () => {
  const { keys, name, config, provider, queue } = setup(1);
  const exec = new SlowExecutor();
  const agent = await LabAgent.start(config, { boards: provider, executor: exec });
  const board = `${name}-instant-0`;
  try {
    for (const runId of ["c1", "c2"]) {
      await lease(keys, board, runId, `t-${runId}`);
      await queue.add("run", job(runId, board, `t-${runId}`), { jobId: `${runId}-a1` });
      await waitUntil(`${runId} running`, async () => (agent.runningRuns.includes(runId) ? true : undefined));
      await client.publish(keys.cancelChannel(), runId);
      const fin = await waitUntil(`${runId} finished`, async () =>
        (await events(keys)).find((e) => e.type === "job-finished" && e.result.runId === runId),
      );
      assert.is(fin.type === "job-finished" && fin.result.outcome, "cancelled");
    }
    const seqs = (await client.xrange(keys.boardLog(board), "-", "+")).map(([id]) => id);
    assert.equal(seqs, ["1-0", "2-0", "3-0", "4-0", "5-0", "6-0"]);
    assert.is(await client.xlen(keys.runLog("c2")), 3);
  } finally {
    await agent.stop();
    await queue.close();
  }
});

test("a restarted agent continues its boards' log sequence where the stream stopped", async () => {
  const { keys, name, config, provider, queue } = setup(1);
  const board = `${name}-instant-0`;
  try {
    for (const runId of ["p1", "p2"]) {
      const agent = await LabAgent.start(config, { boards: provider, executor: new SlowExecutor() });
      try {
        await lease(keys, board, runId, `t-${runId}`);
        await queue.add("run", job(runId, board, `t-${runId}`), { jobId: `${runId}-a1` });
        await waitUntil(`${runId} running`, async () => (agent.runningRuns.includes(runId) ? true : undefined));
      } finally {
        await agent.stop(); // hands the running job back; its lines are flushed first
      }
    }
    const ids = (await client.xrange(keys.boardLog(board), "-", "+")).map(([id]) => id);
    assert.equal(ids, ["1-0", "2-0", "3-0", "4-0", "5-0", "6-0"]);
  } finally {
    await queue.close();
  }
});

test("a lost lease aborts the run as an infrastructure error; SIGTERM-style stop hands back a running job", async () => {
  const { keys, name, config, provider, queue } = setup(2);
  const exec = new SlowExecutor();
  const agent = await LabAgent.start(config, { boards: provider, executor: exec });
  const [b0, b1] = [`${name}-instant-0`, `${name}-instant-1`];
  try {
    await lease(keys, b0, "l1", "tl1");
    await queue.add("run", job("l1", b0, "tl1"), { jobId: "l1-a1" });
    await waitUntil("l1 running", async () => (agent.runningRuns.includes("l1") ? true : undefined));
    await client.del(keys.lease(b0));
    const fin = await waitUntil("l1 finished", async () =>
      (await events(keys)).find((e) => e.type === "job-finished" && e.result.runId === "l1"),
    );
    assert.is(fin.type === "job-finished" && fin.result.error?.code, "LEASE_LOST");

    await lease(keys, b1, "s1", "ts1");
    await queue.add("run", job("s1", b1, "ts1"), { jobId: "s1-a1" });
    await waitUntil("s1 running", async () => (agent.runningRuns.includes("s1") ? true : undefined));
  } finally {
    await agent.stop();
    await queue.close();
  }
  const stopped = (await events(keys)).find((e) => e.type === "job-finished" && e.result.runId === "s1");
  assert.ok(stopped && stopped.type === "job-finished");
  assert.is(stopped.result.outcome, "error");
  assert.is(stopped.result.error?.code, "AGENT_LOST");
});

/** One board with a fixed id, so two agents can both see it (a board moved between benches). */
class OneBoard implements BoardProvider {
  constructor(private readonly board: Board) {}
  list(): Board[] {
    return [{ ...this.board }];
  }
  onAdded() {
    return { dispose() {} };
  }
  onRemoved() {
    return { dispose() {} };
  }
  async close(): Promise<void> {}
}

test("a board another live agent holds is left alone, and taken (and announced) once that agent stops", async () => {
  const ns = `t${randomUUID().slice(0, 8)}`;
  const keys = labKeys(ns);
  const board: Board = { id: `dk-${ns}`, profile: "esp32-virtual", agent: "", identity: {}, state: "idle", labels: {}, virtual: true, health: 100, updatedAt: 0 };
  const start = (name: string) =>
    LabAgent.start(parseAgentConfig({ redisUrl: redis.url, name, namespace: ns, heartbeatMs: 200, token: tokenOf(name), redisAcl: "off" }), {
      boards: new OneBoard(board),
      executor: new InstantExecutor(),
    });
  const first = await start(`first-${ns}`);
  const second = await start(`second-${ns}`);
  try {
    assert.is(await client.hget(keys.board(board.id), "agent"), first.name, "the second agent did not take the board over");
    assert.equal(second.boards(), []);
    const announced = () => events(keys).then((e) => e.filter((x) => x.type === "board-changed").map((x) => x.agent));
    assert.equal(await announced(), [first.name]);

    await first.stop(); // marks the board offline and ends its liveness
    await waitUntil("the second agent to take the board", async () => ((await client.hget(keys.board(board.id), "agent")) === second.name ? true : undefined));
    assert.equal(second.boards().map((b) => b.id), [board.id]);
    assert.equal(await announced(), [first.name, second.name]);
  } finally {
    await first.stop();
    await second.stop();
  }
});

test.run();
