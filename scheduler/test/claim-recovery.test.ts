// The gap between a claim (the lease script: run out of pending, leases set, usage counted) and the
// dispatcher's next step (run marked leased, job added to the agent's queue). A scheduler killed in that
// gap leaves exactly the state these tests build with the real lease script; any replica's reaper must
// finish or undo it. Real redis-server, real scripts; the reaper is called with a clock a few seconds on.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomUUID } from "node:crypto";
import { RunRequestSchema, type Run } from "@hil/contracts";
import { suite } from "./support/harness.js";
import { usePartsBench, type SchedulerParts } from "./support/scheduler-parts.js";

const fileBench = usePartsBench(test, "hil-sched-claim-");

type Bench = SchedulerParts;

/** The scheduler's parts without its loops: nothing runs unless the test calls it. */
const bench = (): Bench => fileBench.parts();

/** A queued run claimed on board b1 of agent ag1 by the lease script, and nothing after it (the dispatcher died). */
async function claimedRun({ ctx }: Bench): Promise<{ id: string; token: string; at: number }> {
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
  await r.hset(keys.board("b1"), { json: JSON.stringify({ id: "b1", state: "idle" }), agent: "ag1" });
  await r.set(keys.agent("ag1"), "{}", "PX", 60_000);
  await r.hset(keys.boardOwners(), "b1", "ag1");
  const token = randomUUID();
  const out = await ctx.leases.acquire({ runId: id, submitter: "alice", agent: "ag1", attempt: 1, token, boards: { dut: "b1" }, now, until: now + 120_000, ttlMs: 60_000 });
  assert.ok(out.ok, "the lease script grants the free board");
  return { id, token, at: now };
}

test("a claim left behind by a dead dispatcher goes back to pending, with its leases and the submitter's usage", async () => {
  const b = bench();
  const { ctx, reaper } = b;
  const { id, at } = await claimedRun(b);
  assert.is(await ctx.redis.hget(ctx.keys.submitterUsage(), "alice"), "1");
  // a fresh claim belongs to a dispatcher that may still be working on it
  await reaper.sweep(at + 500);
  assert.is(await ctx.redis.zscore(ctx.keys.pending(), id), null, "a fresh claim is left alone");
  await reaper.sweep(at + 10_000);
  const s = await ctx.runs.get(id);
  assert.is(s?.run.state, "queued");
  assert.ok((await ctx.redis.zscore(ctx.keys.pending(), id)) !== null, "the run is pending again");
  assert.is(await ctx.redis.exists(ctx.keys.lease("b1")), 0, "the claim's lease is gone");
  assert.is(await ctx.redis.hget(ctx.keys.submitterUsage(), "alice"), "0", "the submitter's running count is back to zero");
  assert.is(s?.claim, undefined);
  // and it can be claimed again
  const now = Date.now();
  const again = await ctx.leases.acquire({ runId: id, submitter: "alice", agent: "ag1", attempt: 1, token: randomUUID(), boards: { dut: "b1" }, now, until: now + 120_000, ttlMs: 60_000 });
  assert.ok(again.ok);
  // a second sweep long after changes nothing more (the usage is not taken twice)
  await reaper.sweep(now + 500);
  assert.is(await ctx.redis.hget(ctx.keys.submitterUsage(), "alice"), "1");
});

test("a claim marked leased whose job never reached the agent's queue gets its job (same job id)", async () => {
  const b = bench();
  const { ctx, reaper } = b;
  const { id, at } = await claimedRun(b);
  await ctx.runs.update(id, (s) => ({ run: { ...s.run, state: "leased", boards: { dut: "b1" }, attempts: [{ attempt: 1, boards: { dut: "b1" }, agent: "ag1" }] }, pending: null }));
  await reaper.sweep(at + 10_000);
  const job = await ctx.queues.get("ag1").getJob(`${id}-a1`);
  assert.ok(job, "the job is in the agent's queue");
  assert.is(job?.data.runId, id);
  assert.is((await ctx.runs.get(id))?.run.state, "leased");
  assert.is(await ctx.redis.hget(ctx.keys.submitterUsage(), "alice"), "1", "the run is active: its usage stays");
  await reaper.sweep(at + 20_000);
  assert.is(await ctx.queues.get("ag1").count(), 1, "added once");
});

test("a claim cancelled before it was marked leased frees its board and the submitter's usage", async () => {
  const b = bench();
  const { ctx, lifecycle, reaper } = b;
  const { id, at } = await claimedRun(b);
  await lifecycle.stop(id, "cancelled", "cancelled by alice");
  await reaper.sweep(at + 10_000);
  assert.is((await ctx.runs.get(id))?.run.state, "cancelled");
  assert.is(await ctx.redis.exists(ctx.keys.lease("b1")), 0);
  assert.is(await ctx.redis.hget(ctx.keys.submitterUsage(), "alice"), "0");
});

test.run();
