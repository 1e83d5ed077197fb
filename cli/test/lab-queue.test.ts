// End to end with real processes (redis-server, `hil scheduler`, `hil agent`, `hil run`), on instant
// boards: the agents' Redis/BullMQ path is real, the board work is a pass (optionally after a hold).
import type { Run } from "@hil/contracts";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { appFile, CI_TOKEN, executedJobs, runIdOf, runOnOneOfTwoAgents, startLab, submitArgs, TERMINAL } from "./lab-fixture.js";

test("20 runs on 2 boards all complete: none lost, none run twice", async () => {
  const lab = await startLab();
  try {
    const agent = await lab.startAgent("q1", ["--instant-boards", "2", "--instant-hold", "100ms"]);
    const file = await appFile(lab);
    // One submission through the CLI (uploads the artifact), the other 19 straight to the API at once.
    const first = lab.hil(submitArgs(file));
    assert.is(await first.exited, 0, first.output());
    const ids = [runIdOf(first.output())];
    const { body: firstRun } = await lab.api<Run>("GET", `/api/v1/runs/${ids[0]}`);
    const answers = await Promise.all(
      Array.from({ length: 19 }, () =>
        lab.api<Run>("POST", "/api/v1/runs", { suite: "esp32-smoke", profile: "esp32-virtual", artifacts: firstRun.request.artifacts }, CI_TOKEN),
      ),
    );
    for (const a of answers) assert.is(a.status, 201, JSON.stringify(a.body));
    ids.push(...answers.map((a) => a.body.id));
    assert.is(new Set(ids).size, 20);
    const runs = await waitUntil("all 20 runs finished", async () => {
      const all = await Promise.all(ids.map((id) => lab.getRun(id)));
      return all.every((r) => TERMINAL.has(r.state)) ? all : undefined;
    }, 90_000);
    for (const r of runs) {
      assert.is(r.state, "passed", `run ${r.id}: ${JSON.stringify(r.error)}`);
      assert.is(r.attempts.length, 1, `run ${r.id} took ${r.attempts.length} attempts`);
    }
    await waitUntil("agent logged every job", async () => executedJobs(agent).length >= 20, 10_000);
    const executed = executedJobs(agent);
    const perRun = new Map<string, number>();
    for (const e of executed) perRun.set(e.runId, (perRun.get(e.runId) ?? 0) + 1);
    assert.equal([...perRun.keys()].sort(), [...ids].sort(), "the agent executed exactly the submitted runs");
    assert.ok([...perRun.values()].every((n) => n === 1), `a run executed twice: ${JSON.stringify([...perRun])}`);
    // Both boards took work: the queue really ran two at a time.
    assert.is(new Set(executed.map((e) => e.boards[0])).size, 2);
  } finally {
    await lab.stop();
  }
});

test("SIGKILL of an agent mid-run: the run is retried on the other agent's board and completes", async () => {
  const lab = await startLab();
  try {
    const { id, board: first, holder: victim, other: survivor } = await runOnOneOfTwoAgents(lab, ["k1", "k2"], "4s");
    victim.child.kill("SIGKILL");
    await victim.exited;
    const done = await waitUntil("run finished after the retry", async () => {
      const r = await lab.getRun(id);
      return TERMINAL.has(r.state) ? r : undefined;
    }, 60_000);
    assert.is(done.state, "passed", JSON.stringify(done.attempts));
    assert.ok(done.attempts.length >= 2, `expected a retry, got ${done.attempts.length} attempt(s)`);
    assert.is(done.attempts[0]?.error?.code, "AGENT_LOST");
    const finalBoard = Object.values(done.boards)[0] ?? "";
    assert.ok(finalBoard !== first, `retried on ${finalBoard}, the dead agent's board was ${first}`);
    assert.equal(executedJobs(survivor).filter((e) => e.runId === id).map((e) => e.outcome), ["pass"]);
  } finally {
    await lab.stop();
  }
});

test.run();
