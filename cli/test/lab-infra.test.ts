// End to end with real processes: what the lab does when an agent goes away. A run the lab cannot
// finish (its only agent killed, no attempts left) ends as an infrastructure error and `hil run` exits
// 2, never 1 (a test failure); a SIGTERM-ed agent hands its running job back and leaves cleanly.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { appFile, runIdOf, runOnOneOfTwoAgents, startLab, submitArgs, TERMINAL } from "./lab-fixture.js";


test("a lab failure with no attempts left exits 2, not 1", async () => {
  const lab = await startLab();
  try {
    const agent = await lab.startAgent("x1", ["--instant-boards", "1", "--instant-hold", "30s"]);
    const file = await appFile(lab);
    const run = lab.hil(submitArgs(file, ["--wait", "--max-attempts", "1"]));
    const id = runIdOf((await run.waitFor(/run \S+ submitted/, 60_000))[0]);
    await waitUntil("run running", async () => (await lab.getRun(id)).state === "running");
    agent.child.kill("SIGKILL");
    assert.is(await run.exited, 2, run.output());
    const done = await lab.getRun(id);
    assert.is(done.state, "error");
    assert.is(done.attempts[0]?.error?.code, "AGENT_LOST");
  } finally {
    await lab.stop();
  }
});

test("SIGTERM: the agent exits 0, hands its running job back (retried on the other agent) and its boards go offline", async () => {
  const lab = await startLab();
  try {
    const { id, board: first, holder: leaving, other: staying } = await runOnOneOfTwoAgents(lab, ["t1", "t2"], "3s");
    leaving.child.kill("SIGTERM");
    assert.is(await leaving.exited, 0, leaving.output());
    const done = await waitUntil("run finished", async () => {
      const r = await lab.getRun(id);
      return TERMINAL.has(r.state) ? r : undefined;
    });
    assert.is(done.state, "passed");
    assert.is(done.attempts[0]?.error?.code, "AGENT_LOST");
    assert.match(done.attempts[0]?.error?.message ?? "", /agent stopped/);
    assert.ok(Object.values(done.boards)[0] !== first);
    // the other agent ran it: its "job finished" line names the run, but it is printed after Redis took the
    // result, so the scheduler may already call the run passed before the line reaches this test
    await waitUntil("the other agent's log to name the run", () => staying.output().includes(id) || undefined, 30_000);
    const boards = await lab.api<{ boards: { id: string; state: string }[] }>("GET", "/api/v1/boards");
    assert.is(boards.body.boards.find((x) => x.id === first)?.state, "offline");
  } finally {
    await lab.stop();
  }
});

test.run();
