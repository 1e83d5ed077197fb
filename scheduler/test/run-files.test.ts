// Run files (junit.xml, log.jsonl, log.txt) once a run has ended: a scheduler killed between the final
// state and the files, or a full artifact filesystem (a 64 KiB tmpfs this test mounts, when it may), must
// not lose them for good: the reaper writes them later from what Redis still holds. Real redis-server.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { RunRequestSchema, type JobResult, type LogLine, type Run } from "@hil/contracts";
import type { Reporter } from "../src/dispatch/run-lifecycle.js";
import { leaseTokenHash } from "../src/leases/lease-store.js";
import { suite } from "./support/harness.js";
import { usePartsBench, type SchedulerParts } from "./support/scheduler-parts.js";

const fileBench = usePartsBench(test, "hil-sched-files-");

type Bench = SchedulerParts;

const bench = (artifactDir: string): Bench => fileBench.parts(artifactDir);

/** A run running on board b1 of agent ag1 that logged `lines` lines; returns its id and ag1 as its reporter. */
async function runningRun({ ctx, lifecycle }: Bench, lines: number, firstKept = 1): Promise<{ id: string; by: Reporter }> {
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
  assert.ok((await ctx.leases.acquire({ runId: id, submitter: "alice", agent: "ag1", attempt: 1, token, boards: { dut: "b1" }, now, until: now + 120_000, ttlMs: 60_000 })).ok);
  await ctx.runs.update(id, (s) => ({ run: { ...s.run, state: "leased", boards: { dut: "b1" }, attempts: [{ attempt: 1, boards: { dut: "b1" }, agent: "ag1" }] }, pending: null }));
  const by = { agent: "ag1", leaseHash: leaseTokenHash(token) };
  await lifecycle.started(id, 1, Date.now(), by);
  const pipe = r.pipeline();
  for (let seq = firstKept; seq <= lines; seq++) {
    const line: LogLine = { board: "b1", run: id, seq, mono: seq, wall: now + seq, stream: "serial", text: `line ${seq} ${"x".repeat(60)}` };
    pipe.xadd(keys.runLog(id), "*", "json", JSON.stringify(line));
  }
  await pipe.exec();
  return { id, by };
}

const passed = (runId: string): JobResult => ({ runId, attempt: 1, outcome: "pass", steps: [], cases: [], durationMs: 1 });

test("the final state is stored but the scheduler dies before the files: the reaper writes them", async () => {
  const dir = join(fileBench.dir, "killed");
  const b = bench(dir);
  const { ctx, reaper } = b;
  const { id } = await runningRun(b, 3);
  // what RunLifecycle.finished stores first; the process is gone before it writes the files
  await ctx.runs.update(id, (s) => ({ run: { ...s.run, state: "passed", endedAt: Date.now() }, pending: null }));
  const runDir = ctx.artifacts.runDir(id);
  assert.not.ok(existsSync(join(runDir, "junit.xml")));
  await reaper.sweep(Date.now() + 120_000);
  assert.ok(existsSync(join(runDir, "junit.xml")), "junit.xml written by the reaper");
  assert.is(readFileSync(join(runDir, "log.jsonl"), "utf8").trim().split("\n").length, 3);
  assert.is(await ctx.redis.zcard(ctx.keys.filesPending()), 0, "nothing left to write");
});

test("a full artifact filesystem keeps the run's outcome, and the files follow once there is room", async () => {
  const dir = join(fileBench.dir, "small");
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir], { stdio: "ignore" });
  } catch {
    console.log("  (skipped the full-disk case: this machine does not let the test mount a tmpfs)");
    return;
  }
  fileBench.afterTest(async () => void execFileSync("umount", [dir], { stdio: "ignore" }));
  const b = bench(dir);
  const { ctx, lifecycle, reaper } = b;
  const { id, by } = await runningRun(b, 2000); // ~200 KiB of log: more than the filesystem holds
  writeFileSync(join(dir, "filler"), Buffer.alloc(16 * 1024));
  assert.is(await lifecycle.finished(passed(id), { by }), true);
  await lifecycle.drain();
  assert.is((await ctx.runs.get(id))?.run.state, "passed", "the outcome is stored whatever the disk says");
  assert.not.ok(existsSync(join(ctx.artifacts.runDir(id), "log.jsonl")) && readFileSync(join(ctx.artifacts.runDir(id), "log.jsonl"), "utf8").split("\n").length > 2000);
  // room again (the admin grew the volume): the next sweeps write the whole log
  execFileSync("mount", ["-o", "remount,size=4m", dir], { stdio: "ignore" });
  rmSync(join(dir, "filler"));
  await reaper.sweep(Date.now() + 120_000);
  const jsonl = readFileSync(join(ctx.artifacts.runDir(id), "log.jsonl"), "utf8").trim().split("\n");
  assert.is(jsonl.length, 2000, "the full log is in the run's file");
  assert.ok(existsSync(join(ctx.artifacts.runDir(id), "junit.xml")));
  assert.is(await ctx.redis.zcard(ctx.keys.filesPending()), 0);
});

test("a run log the stream cap cut short is marked as such in log.jsonl and log.txt", async () => {
  const b = bench(join(fileBench.dir, "capped"));
  const { ctx, lifecycle } = b;
  // the run's first step began at board line 1; the stream kept only lines 401..500 (MAXLEN on the agent side)
  const { id, by } = await runningRun(b, 500, 401);
  const step = { index: 0, type: "send", name: "send", role: "dut", outcome: "pass", startedAt: Date.now(), durationMs: 1, timeoutMs: 1000, cases: [], firstSeq: 1, lastSeq: 500 } satisfies JobResult["steps"][number];
  await lifecycle.finished({ ...passed(id), steps: [step] }, { by });
  await lifecycle.drain();
  const jsonl = readFileSync(join(ctx.artifacts.runDir(id), "log.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as LogLine);
  assert.is(jsonl.length, 101, "the 100 kept lines and one marker");
  assert.match(jsonl[0]?.text ?? "", /400 log lines .*missing/);
  assert.is(jsonl[1]?.seq, 401);
  const txt = readFileSync(join(ctx.artifacts.runDir(id), "log.txt"), "utf8");
  assert.match(txt.split("\n")[0] ?? "", /400 log lines .*missing/);
});

test("a long run's log is archived while it runs: a stream capped meanwhile still leaves the whole log in log.jsonl", async () => {
  const b = bench(join(fileBench.dir, "archived"));
  const { ctx, lifecycle, reaper } = b;
  const { id, by } = await runningRun(b, 3000);
  await reaper.sweep(); // a tick while the run runs
  // the stream's cap trims its oldest lines (as MAXLEN does on the agent side), then the run logs on
  await ctx.redis.xtrim(ctx.keys.runLog(id), "MAXLEN", 500);
  const pipe = ctx.redis.pipeline();
  for (let seq = 3001; seq <= 3010; seq++) {
    const line: LogLine = { board: "b1", run: id, seq, mono: seq, wall: Date.now(), stream: "serial", text: `line ${seq}` };
    pipe.xadd(ctx.keys.runLog(id), "*", "json", JSON.stringify(line));
  }
  await pipe.exec();
  await reaper.sweep(); // archived twice over: no line may appear twice
  const step = { index: 0, type: "send", name: "send", role: "dut", outcome: "pass", startedAt: Date.now(), durationMs: 1, timeoutMs: 1000, cases: [], firstSeq: 1, lastSeq: 3010 } satisfies JobResult["steps"][number];
  await lifecycle.finished({ ...passed(id), steps: [step] }, { by });
  await lifecycle.drain();
  const jsonl = readFileSync(join(ctx.artifacts.runDir(id), "log.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as LogLine);
  assert.is(jsonl.length, 3010, "every line once, none marked missing");
  assert.equal(jsonl.map((l) => l.seq), Array.from({ length: 3010 }, (_, i) => i + 1));
});

test.run();
