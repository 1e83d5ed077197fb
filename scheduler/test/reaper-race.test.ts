// The reaper against a clean job end handled at the same moment (another replica applying
// job-finished): the interleavings are forced from the test by holding one Redis call, so the
// outcome never depends on timing. Real redis-server, real scripts.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync } from "node:fs";
import { Redis } from "ioredis";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { RunRequestSchema, type JobResult, type Run } from "@hil/contracts";
import { waitUntil } from "@hil/test-kit";
import type { Reporter } from "../src/dispatch/run-lifecycle.js";
import { CONSUMER_GROUP } from "../src/dispatch/event-consumer.js";
import { leaseTokenHash } from "../src/leases/lease-store.js";
import type { RedisClient } from "../src/redis/index.js";
import { suite } from "./support/harness.js";
import { usePartsBench, type SchedulerParts } from "./support/scheduler-parts.js";

const fileBench = usePartsBench(test, "hil-sched-reaper-");

type Bench = SchedulerParts;

/** The scheduler's parts without its loops: nothing runs unless the test calls it. */
const bench = (): Bench => fileBench.parts();

/** A run leased on `board` (b1) of agent ag1 and reported running; returns its id, lease token and ag1 as its reporter. */
async function runningRun({ ctx, lifecycle }: Bench, board = "b1"): Promise<{ id: string; token: string; by: Reporter }> {
  const { redis: r, keys } = ctx;
  const now = Date.now();
  const id = `r-${randomUUID()}`;
  const run: Run = { id, request: RunRequestSchema.parse({ suite: "smoke" }), submitter: "alice", state: "queued", boards: {}, attempts: [], createdAt: now, steps: [], cases: [] };
  await ctx.runs.create(run, {
    submitter: "alice",
    priority: 50,
    suite: suite("smoke", { dut: "esp32-devkitc" }),
    roles: { dut: { profile: "esp32-devkitc", labels: {} } },
    artifacts: {},
    timeoutMs: 120_000,
    maxAttempts: 3,
  });
  await r.hset(keys.board(board), { json: JSON.stringify({ id: board, state: "idle" }), agent: "ag1" });
  await r.set(keys.agent("ag1"), "{}", "PX", 60_000);
  await r.hset(keys.boardOwners(), board, "ag1"); // what a verified board-changed from ag1 records
  const token = randomUUID();
  const out = await ctx.leases.acquire({ runId: id, submitter: "alice", agent: "ag1", attempt: 1, token, boards: { dut: board }, now, until: now + 120_000, ttlMs: 60_000 });
  assert.ok(out.ok, "the lease script grants the free board");
  await ctx.runs.update(id, (s) => ({ run: { ...s.run, state: "leased", boards: { dut: board }, attempts: [{ attempt: 1, boards: { dut: board }, agent: "ag1" }] }, pending: null }));
  const by = { agent: "ag1", leaseHash: leaseTokenHash(token) };
  await lifecycle.started(id, 1, Date.now(), by);
  return { id, token, by };
}

const passed = (runId: string, attempt: number): JobResult => ({ runId, attempt, outcome: "pass", steps: [], cases: [], durationMs: 1 });

/**
 * Holds the next EVALSHA that touches `key` until the returned `release()` is called (the command is
 * not sent to Redis meanwhile). `held` resolves once such a call has been made.
 */
function holdNextScriptOn(r: RedisClient, key: string): { held: Promise<void>; release(): void } {
  const original = r.evalsha.bind(r) as (...a: unknown[]) => Promise<unknown>;
  let gate!: () => void;
  const open = new Promise<void>((res) => (gate = res));
  let seen!: () => void;
  const held = new Promise<void>((res) => (seen = res));
  let armed = true;
  const patched = (...a: unknown[]): Promise<unknown> => {
    if (armed && a.includes(key)) {
      armed = false;
      seen();
      return open.then(() => original(...a));
    }
    return original(...a);
  };
  Object.assign(r, { evalsha: patched });
  return { held, release: gate };
}

test("a sweep while another replica is recording a pass leaves the pass alone (no AGENT_LOST, no second attempt)", async () => {
  const b = bench();
  const { ctx, lifecycle, reaper } = b;
  const { id, by } = await runningRun(b);
  // the job-finished handler's state write is held in flight; a full sweep runs in that gap
  const hold = holdNextScriptOn(ctx.redis, ctx.keys.run(id));
  const finishing = lifecycle.finished(passed(id, 1), { by });
  await hold.held;
  await reaper.sweep();
  hold.release();
  const applied = await finishing;
  const s = await ctx.runs.get(id);
  assert.is(s?.run.state, "passed");
  assert.is(s?.run.attempts.length, 1);
  assert.is(s?.run.attempts[0]?.outcome, "pass");
  assert.is(applied, true, "the agent's report is applied");
  assert.is(await ctx.redis.zscore(ctx.keys.pending(), id), null, "not queued again");
  assert.is(await ctx.redis.exists(ctx.keys.lease("b1")), 0, "the lease went with the state change");
  assert.is(await ctx.redis.hget(ctx.keys.submitterUsage(), "alice"), "0", "the submitter's running count is back to zero once");
});

test("the reaper does not give up on a run whose lease is still held when it writes", async () => {
  const b = bench();
  const { ctx, reaper } = b;
  const { id, token } = await runningRun(b);
  // the lease is gone when the reaper looks, and back (renewed under the same token) before it writes:
  // the write itself must check, not the earlier read
  const lease = await ctx.redis.get(ctx.keys.lease("b1"));
  await ctx.redis.del(ctx.keys.lease("b1"));
  const hold = holdNextScriptOn(ctx.redis, ctx.keys.run(id));
  const sweeping = reaper.sweep();
  await hold.held;
  await ctx.redis.set(ctx.keys.lease("b1"), lease ?? "", "PX", 60_000);
  hold.release();
  await sweeping;
  const s = await ctx.runs.get(id);
  assert.is(s?.run.state, "running");
  assert.is(s?.run.attempts.length, 1);
  assert.is(s?.claim?.token, token);
});

/** Attempt 2 of a run whose attempt 1 the reaper declared lost: leased on b1 to ag1 and reported running. */
async function retryRunning({ ctx, lifecycle }: Bench, id: string): Promise<{ token: string; by: Reporter }> {
  const now = Date.now();
  const token = randomUUID();
  const out = await ctx.leases.acquire({ runId: id, submitter: "alice", agent: "ag1", attempt: 2, token, boards: { dut: "b1" }, now, until: now + 120_000, ttlMs: 60_000 });
  assert.ok(out.ok);
  await ctx.runs.update(id, (cur) => ({ run: { ...cur.run, state: "leased", boards: { dut: "b1" }, attempts: [...cur.run.attempts, { attempt: 2, boards: { dut: "b1" }, agent: "ag1" }] }, pending: null }));
  const by = { agent: "ag1", leaseHash: leaseTokenHash(token) };
  await lifecycle.started(id, 2, Date.now(), by);
  return { token, by };
}

test("a pass the agent decided under its lease stands when it arrives after the reaper declared the attempt lost: the queued retry is withdrawn", async () => {
  const b = bench();
  const { ctx, lifecycle, reaper } = b;
  const { id, by } = await runningRun(b);
  await ctx.redis.del(ctx.keys.lease("b1")); // the lease lapsed while Redis was frozen; the agent finished meanwhile
  await reaper.sweep();
  let s = await ctx.runs.get(id);
  assert.is(s?.run.state, "queued");
  assert.is(s?.run.attempts[0]?.error?.code, "AGENT_LOST");
  assert.is(await ctx.redis.hget(ctx.keys.submitterUsage(), "alice"), "0");
  // the agent's report for attempt 1 arrives once Redis answers again (before: ignored, and the test ran twice)
  assert.is(await lifecycle.finished(passed(id, 1), { by }), true);
  s = await ctx.runs.get(id);
  assert.is(s?.run.state, "passed");
  assert.is(s?.run.attempts.length, 1, "no second attempt");
  assert.is(s?.run.attempts[0]?.outcome, "pass");
  assert.is(s?.run.attempts[0]?.error, undefined);
  assert.equal(s?.run.boards, { dut: "b1" });
  assert.is(s?.run.waitingFor, undefined);
  assert.is(await ctx.redis.zscore(ctx.keys.pending(), id), null, "out of the queue");
  assert.is(await ctx.redis.zscore(ctx.keys.activeRuns(), id), null);
  assert.is(await ctx.redis.hget(ctx.keys.submitterUsage(), "alice"), "0", "the usage dropped once, with the lost attempt");
  await lifecycle.drain();
  assert.ok(existsSync(join(ctx.artifacts.runDir(id), "junit.xml")), "its files are written");
  // said twice (the agent's retry of a write it could not confirm): nothing changes the second time
  assert.is(await lifecycle.finished(passed(id, 1), { by }), false);
});

test("a late pass of a lost attempt stops the retry already running, and frees the retry's lease", async () => {
  const b = bench();
  const { ctx, lifecycle, reaper } = b;
  const { id, by } = await runningRun(b);
  await ctx.redis.del(ctx.keys.lease("b1"));
  await reaper.sweep();
  const retry = await retryRunning(b, id);
  assert.is(await ctx.redis.hget(ctx.keys.submitterUsage(), "alice"), "1");
  const cancels: string[] = [];
  const sub = new Redis(fileBench.redisUrl);
  fileBench.afterTest(async () => void sub.disconnect());
  await sub.subscribe(ctx.keys.cancelChannel());
  sub.on("message", (_c: string, runId: string) => cancels.push(runId));
  assert.is(await lifecycle.finished(passed(id, 1), { by }), true);
  const s = await ctx.runs.get(id);
  assert.is(s?.run.state, "passed");
  assert.is(s?.run.attempts[0]?.outcome, "pass");
  assert.is(s?.run.attempts[1]?.outcome, "cancelled");
  assert.match(s?.run.attempts[1]?.error?.message ?? "", /attempt 1's pass arrived after its leases lapsed/);
  assert.is(await ctx.redis.exists(ctx.keys.lease("b1")), 0, "attempt 2's lease is released");
  assert.is(await ctx.redis.hget(ctx.keys.submitterUsage(), "alice"), "0");
  await waitUntil("the cancel to reach the retry's agent", async () => cancels.includes(id) || undefined, 5_000, 20);
  // the retry's own report (it was stopped) changes nothing now
  assert.is(await lifecycle.finished({ runId: id, attempt: 2, outcome: "cancelled", steps: [], cases: [], durationMs: 1 }, { by: retry.by }), false);
  assert.is((await ctx.runs.get(id))?.run.state, "passed");
});

test("a lost attempt's late report counts only as a test outcome and only under the lost claim's own lease token", async () => {
  const b = bench();
  const { ctx, lifecycle, reaper } = b;
  const { id, by } = await runningRun(b);
  await ctx.redis.del(ctx.keys.lease("b1"));
  await reaper.sweep();
  // another token, or an error (the agent stopped at its lease deadline): the retry stays queued
  assert.is(await lifecycle.finished(passed(id, 1), { by: { agent: "ag1", leaseHash: leaseTokenHash(randomUUID()) } }), false);
  assert.is(await lifecycle.finished({ ...passed(id, 1), outcome: "error", error: { code: "LEASE_LOST", message: "stopped" } }, { by }), false);
  let s = await ctx.runs.get(id);
  assert.is(s?.run.state, "queued");
  assert.ok((await ctx.redis.zscore(ctx.keys.pending(), id)) !== null);
  // the retry runs and passes; attempt 1's pass arriving after that is too late to count
  const retry = await retryRunning(b, id);
  assert.is(await lifecycle.finished(passed(id, 2), { by: retry.by }), true);
  assert.is(await lifecycle.finished(passed(id, 1), { by }), false);
  s = await ctx.runs.get(id);
  assert.is(s?.run.state, "passed");
  assert.is(s?.run.attempts.length, 2);
  assert.is(s?.run.attempts[0]?.outcome, "error");
  assert.is(s?.run.attempts[1]?.outcome, "pass");
});

test("a job-finished waiting in the event stream keeps the reaper from declaring its attempt lost: held by a dead scheduler, or not read yet", async () => {
  const b = bench();
  const { ctx, lifecycle, reaper } = b;
  const { redis: r, keys } = ctx;
  await r.xgroup("CREATE", keys.events(), CONSUMER_GROUP, "0", "MKSTREAM").catch(() => undefined);
  const held = await runningRun(b);
  const unread = await runningRun(b, "b2");
  const event = (id: string, by: Reporter) => JSON.stringify({ type: "job-finished", agent: by.agent, leaseHash: by.leaseHash, result: passed(id, 1) });
  // one scheduler read the first run's job-finished and died before applying it; the second run's is not read at all
  await r.xadd(keys.events(), "*", "json", event(held.id, held.by));
  await r.xreadgroup("GROUP", CONSUMER_GROUP, "a-dead-scheduler", "COUNT", 10, "STREAMS", keys.events(), ">");
  await r.xadd(keys.events(), "*", "json", event(unread.id, unread.by));
  // the agents stopped renewing once their jobs ended: the leases lapse before any scheduler applies the events
  await r.del(keys.lease("b1"), keys.lease("b2"));
  await reaper.sweep();
  for (const { id } of [held, unread]) {
    const s = await ctx.runs.get(id);
    assert.is(s?.run.state, "running", "not declared lost (before: queued again with AGENT_LOST, and the test ran twice)");
    assert.is(s?.run.attempts.length, 1);
  }
  // once the events are applied, the runs end with their outcome
  for (const { id, by } of [held, unread]) assert.is(await lifecycle.finished(passed(id, 1), { by }), true);
  assert.is((await ctx.runs.get(held.id))?.run.state, "passed");
  // the check names runs, it does not stop the reaper: a run with no event waiting is still declared lost
  const pend = (await r.xpending(keys.events(), CONSUMER_GROUP, "-", "+", 10)) as [string][];
  await r.xack(keys.events(), CONSUMER_GROUP, ...pend.map(([id]) => id));
  await r.xreadgroup("GROUP", CONSUMER_GROUP, "a-live-scheduler", "COUNT", 10, "STREAMS", keys.events(), ">");
  const silent = await runningRun(b, "b3");
  await r.del(keys.lease("b3"));
  await reaper.sweep();
  assert.is((await ctx.runs.get(silent.id))?.run.state, "queued");
});

test("a late step-finished for an attempt declared lost leaves the run pending (a Redis stall used to strand it)", async () => {
  const b = bench();
  const { ctx, lifecycle, reaper } = b;
  const { id, by } = await runningRun(b);
  await ctx.redis.del(ctx.keys.lease("b1")); // expired while Redis was frozen; the agent kept going
  await reaper.sweep();
  assert.is((await ctx.runs.get(id))?.run.state, "queued");
  assert.ok((await ctx.redis.zscore(ctx.keys.pending(), id)) !== null);
  // the agent, back in touch, reports the step it finished meanwhile under attempt 1's claim
  const step = { index: 0, type: "send", name: "send", role: "dut", outcome: "pass", startedAt: Date.now(), durationMs: 1, timeoutMs: 1000, cases: [] } as Run["steps"][number];
  await lifecycle.stepFinished(id, 1, step, by);
  const s = await ctx.runs.get(id);
  assert.is(s?.run.state, "queued");
  assert.ok((await ctx.redis.zscore(ctx.keys.pending(), id)) !== null, "the run is still pending (before: taken out of pending, queued for ever)");
  assert.is(s?.run.steps.length, 0, "the lost attempt's step is not recorded on the queued run");
});

test("an infrastructure error drops the submitter's usage in the same step as the retry, before the health bookkeeping", async () => {
  const b = bench();
  const { ctx, lifecycle } = b;
  const { id, by } = await runningRun(b);
  // the health script is held: a scheduler killed here must not leave the usage raised for good
  const hold = holdNextScriptOn(ctx.redis, ctx.keys.board("b1"));
  const finishing = lifecycle.finished({ runId: id, attempt: 1, outcome: "error", steps: [], cases: [], error: { code: "LINK_CLOSED", message: "gone" }, durationMs: 1 }, { by });
  await hold.held;
  assert.is((await ctx.runs.get(id))?.run.state, "queued", "the retry is stored");
  assert.is(await ctx.redis.hget(ctx.keys.submitterUsage(), "alice"), "0", "with the usage already dropped (before: 1 until after the bookkeeping)");
  hold.release();
  assert.is(await finishing, true);
  assert.is(await ctx.redis.hget(ctx.keys.submitterUsage(), "alice"), "0", "dropped once");
  assert.is(await ctx.redis.exists(ctx.keys.lease("b1")), 0, "the board is freed after the bookkeeping");
});

test.run();
