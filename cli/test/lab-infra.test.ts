// End to end with real processes: a run the lab cannot finish (its only agent killed, no attempts
// left) ends as an infrastructure error and `hil run` exits 2 — never 1, which means a test failed.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startLab, waitUntil, type Lab } from "./lab-fixture.js";


async function appFile(lab: Lab): Promise<string> {
  const file = join(lab.dir, "app.bin");
  await writeFile(file, Buffer.from("not flashed: instant boards skip the board work\n"));
  return file;
}

function submitArgs(file: string, extra: string[] = []): string[] {
  return ["run", "--suite", "esp32-smoke", "--profile", "esp32-virtual", "--artifact", `app=${file}`, ...extra];
}

function runIdOf(output: string): string {
  const m = /run (\S+) submitted/.exec(output);
  if (!m?.[1]) throw new Error(`no run id in output:\n${output}`);
  return m[1];
}

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

test.run();
