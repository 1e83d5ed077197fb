// Faults on real processes (redis-server, `hil scheduler`, `hil agent`): every accepted run still ends
// exactly once with the right outcome, and nothing the lab counted stays counted.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Run } from "@hil/contracts";
import { buildEsp32Image } from "@hil/lab-agent";
import { waitUntil } from "@hil/test-kit";
import { appFile, executedJobs, startLab, submitArgs, TERMINAL, type Lab } from "./lab-fixture.js";

async function storedRun(lab: Lab, id: string): Promise<Run | undefined> {
  const raw = await lab.redis.hget(lab.keys.run(id), "json");
  return raw ? (JSON.parse(raw) as Run) : undefined;
}

/** The only run of the lab, read from Redis (its scheduler may be dead). */
async function onlyRunId(lab: Lab): Promise<string> {
  return waitUntil("the run to be stored", async () => (await lab.redis.zrange(lab.keys.runs(), "0", "-1"))[0]);
}

test("a scheduler killed between claim and enqueue: the next one finishes the run and the usage count drops", async () => {
  const lab = await startLab();
  try {
    await lab.startAgent("k1", ["--instant-boards", "1"]);
    await lab.restartScheduler({ HIL_TEST_STOP_AFTER_CLAIM: "1" });
    // the scheduler may die before or after it answers the submit: the run id comes from Redis
    const sub = lab.hil(submitArgs(await appFile(lab)));
    await sub.exited;
    const id = await onlyRunId(lab);
    await lab.scheduler.exited;
    const left = await storedRun(lab, id);
    assert.is(left?.state, "queued", "the claim was made and nothing after it");
    assert.is(await lab.redis.zscore(lab.keys.pending(), id), null, "the claim took the run out of pending");
    assert.is(await lab.redis.hget(lab.keys.submitterUsage(), "ci"), "1");
    await lab.restartScheduler();
    const done = await waitUntil(
      "the run to end",
      async () => {
        const r = await lab.getRun(id);
        return TERMINAL.has(r.state) ? r : undefined;
      },
      90_000,
    );
    assert.is(done.state, "passed");
    assert.is(done.attempts.length, 1, "the claim was undone, not counted as a failed attempt");
    assert.is(await lab.redis.hget(lab.keys.submitterUsage(), "ci"), "0", "the submitter's fair-share usage is back to zero");
    assert.is(await lab.redis.zcard(lab.keys.claimIntents()), 0);
  } finally {
    await lab.stop();
  }
});

/** Freezes redis-server (SIGSTOP) for `ms`, then lets it go on (SIGCONT). */
async function freezeRedis(lab: Lab, ms: number, beforeThaw = () => {}): Promise<void> {
  process.kill(lab.redisServer.pid, "SIGSTOP");
  try {
    await new Promise((r) => setTimeout(r, ms));
    beforeThaw();
  } finally {
    process.kill(lab.redisServer.pid, "SIGCONT");
  }
}

test("redis-server frozen for 20 s mid-run: the run still ends, and the board is not charged for it", async () => {
  const lab = await startLab({ schedulerEnv: { HIL_LEASE_TTL: "15s", HIL_TICK: "1s" } });
  try {
    // as the issue found it: `npm run lab`'s two virtual ESP32, an esp32-smoke run, Redis frozen 6 s in
    await lab.startAgent("q1", ["--virtual", "esp32=2", "--heartbeat", "1s", "--lease-ttl", "15s"]);
    const app = join(lab.dir, "console.bin");
    await writeFile(app, buildEsp32Image({ scenario: { kind: "console" } }));
    const run = lab.hil(["run", "--suite", "esp32-smoke", "--profile", "esp32-virtual", "--artifact", `app=${app}`, "--timeout", "2m", "--wait"]);
    const id = await onlyRunId(lab);
    await waitUntil("run running", async () => (await lab.getRun(id)).state === "running");
    await new Promise((r) => setTimeout(r, 2500));
    // Who hears from Redis first after SIGCONT is a race: the agent renewing its lease, or the reaper finding it
    // expired. The agent is held back 3 s, so the reaper always wins it (the case that stranded the run).
    const agentPid = lab.agents.get("q1")?.pid ?? -1;
    await freezeRedis(lab, 20_000, () => process.kill(agentPid, "SIGSTOP"));
    await new Promise((r) => setTimeout(r, 3000));
    process.kill(agentPid, "SIGCONT");
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([run.exited, new Promise((r) => (timer = setTimeout(() => r("still waiting"), 150_000)))]);
    clearTimeout(timer);
    const done = await lab.getRun(id);
    assert.is(code, 0, `hil run --wait: ${JSON.stringify(done)}\n${run.output()}`);
    assert.is(done.state, "passed");
    // Attempt 1's lease expired while Redis was frozen. Either its pass was decided before the agent's own lease
    // deadline, arrived late and stands (the retry withdrawn), or the agent stopped at that deadline and a retry
    // passed: the test ran to a pass once either way.
    const first = done.attempts[0];
    if (first?.outcome !== "pass") {
      assert.ok(first?.error?.code === "AGENT_LOST" || first?.error?.code === "LEASE_LOST", JSON.stringify(first));
      if (first?.error?.code === "AGENT_LOST") assert.match(first.error.message, /while Redis did not answer/);
    }
    const passes = executedJobs(lab.agents.get("q1")!).filter((j) => j.runId === id && j.outcome === "pass");
    assert.is(passes.length, 1, "the test work passed once, not again in a retry");
    assert.is(done.attempts.filter((a) => a.outcome === "pass").length, 1);
    const boards = await lab.api<{ boards: { id: string; health: number; state: string }[] }>("GET", "/api/v1/boards");
    for (const b of boards.body.boards) assert.is(b.health, 100, `a Redis outage is not ${b.id}'s fault`);
  } finally {
    for (const pid of [lab.redisServer.pid, lab.agents.get("q1")?.pid ?? -1]) {
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // already gone
      }
    }
    await lab.stop();
  }
});

test("Redis loses every key (FLUSHALL, as a restart without AOF does): the next run still completes", async () => {
  const lab = await startLab();
  try {
    await lab.startAgent("r1", ["--instant-boards", "1"]);
    const file = await appFile(lab);
    const first = lab.hil(submitArgs(file, ["--wait"]));
    assert.is(await first.exited, 0, first.output());
    await lab.redis.flushall();
    // the agents announce their boards again on their own; the scheduler must take them back and read events again
    await waitUntil(
      "the board to be registered again",
      async () => {
        const r = await lab.api<{ boards: { id: string; state: string }[] }>("GET", "/api/v1/boards");
        return r.body.boards.some((b) => b.state === "idle");
      },
      60_000,
    );
    const second = lab.hil(submitArgs(file, ["--wait"]));
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([second.exited, new Promise((r) => (timer = setTimeout(() => r("still waiting"), 60_000)))]);
    clearTimeout(timer);
    assert.is(code, 0, `${second.output()}\n--- scheduler:\n${lab.scheduler.output().slice(-3000)}`);
  } finally {
    await lab.stop();
  }
});

test.run();
