// Time limits end to end on real processes: a run's timeout is one deadline, reported as `timed-out`
// (`hil run` exits 3, like `hil test`), never as a test failure; a queued run does not wait for ever.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildEsp32Image } from "@hil/lab-agent";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { appFile, runIdOf, startLab, submitArgs } from "./lab-fixture.js";

test("a run that outlives its timeout ends timed-out and `hil run` exits 3, not 1", async () => {
  const lab = await startLab();
  try {
    await lab.startAgent("t1", ["--virtual", "esp32=1"]);
    const app = join(lab.dir, "console.bin");
    await writeFile(app, buildEsp32Image({ scenario: { kind: "console" } }));
    // esp32-smoke watches the app for 5 s after boot: a 3 s budget runs out on the board
    const run = lab.hil(["run", "--suite", "esp32-smoke", "--profile", "esp32-virtual", "--artifact", `app=${app}`, "--timeout", "3s", "--wait"]);
    const code = await run.exited;
    const id = runIdOf(run.output());
    const done = await lab.getRun(id);
    assert.is(code, 3, `${JSON.stringify(done.error)}\n${run.output()}`);
    assert.is(done.state, "timed-out");
    assert.is(done.error?.code, "RUN_TIMEOUT");
    assert.is(done.attempts.length, 1, "a timeout is not retried");
  } finally {
    await lab.stop();
  }
});

test("a queued run whose only board's agent is gone says so, and ends timed-out at its queue timeout", async () => {
  const lab = await startLab();
  try {
    const agent = await lab.startAgent("t2", ["--instant-boards", "1"]);
    agent.child.kill("SIGKILL");
    await agent.exited;
    const run = lab.hil(submitArgs(await appFile(lab), ["--queue-timeout", "8s", "--wait"]));
    const id = runIdOf((await run.waitFor(/run \S+ submitted/, 60_000))[0]);
    const waiting = await waitUntil(
      "the run to say why it waits",
      async () => {
        const r = await lab.getRun(id);
        return r.waitingFor && /offline/.test(r.waitingFor) ? r.waitingFor : undefined;
      },
      30_000,
    );
    assert.match(waiting, /offline/);
    const code = await run.exited;
    const done = await lab.getRun(id);
    assert.is(code, 3, run.output());
    assert.is(done.state, "timed-out");
    assert.is(done.error?.code, "QUEUE_TIMEOUT");
    assert.match(done.error?.message ?? "", /offline/, "the reason says what it waited for");
  } finally {
    await lab.stop();
  }
});

test.run();
