// An agent cut off from Redis mid-run (redis-server frozen with SIGSTOP for 30 s), on real processes: the run
// ends once, its board work is done once, the board is not left `running`, and no log line is lost or doubled.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { LogLine } from "@hil/contracts";
import { buildEsp32Image } from "@hil/lab-agent";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { executedJobs, runIdOf, startLab, TERMINAL, type Lab } from "./lab-fixture.js";

/** A run's lines in the board streams (what a follower of each board was shown), oldest first per board. */
async function boardLines(lab: Lab, boards: string[], runId: string): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for (const board of boards) {
    const entries = (await lab.redis.xrange(lab.keys.boardLog(board), "-", "+")) as [string, string[]][];
    for (const [, fields] of entries) {
      const line = JSON.parse(fields[fields.indexOf("json") + 1] ?? "{}") as LogLine;
      if (line.run === runId) out.push(line);
    }
  }
  return out;
}

const key = (l: LogLine) => `${l.board}#${l.seq}`;

test("redis-server frozen 30 s mid-run: one final state, the board work done once, board not left running, every line once and in order", async () => {
  const lab = await startLab();
  const pids: number[] = [];
  try {
    const o1 = await lab.startAgent("o1", ["--virtual", "esp32=1"]);
    const o2 = await lab.startAgent("o2", ["--virtual", "esp32=1"]);
    pids.push(lab.redisServer.pid, o1.pid, o2.pid);
    // an app that logs 50 lines a second: lines keep coming while Redis is away
    const app = join(lab.dir, "logger.bin");
    await writeFile(app, buildEsp32Image({ scenario: { kind: "logger", intervalMs: 20 } }));
    const sub = lab.hil(["run", "--suite", "esp32-smoke", "--profile", "esp32-virtual", "--artifact", `app=${app}`, "--timeout", "2m"]);
    assert.is(await sub.exited, 0, sub.output());
    const id = runIdOf(sub.output());
    // Frozen once the app has booted: the smoke suite then watches it for 5 s more, so the board work is under way.
    const first = await waitUntil("the run's third step to finish", async () => {
      const r = await lab.getRun(id);
      return r.steps.length >= 3 ? r : undefined;
    });
    const notPassed = first.steps.filter((st) => st.outcome !== "pass");
    assert.equal(notPassed.map((st) => `${st.name}: ${st.outcome} ${st.message ?? ""}`), [], "the board work went well up to the freeze");
    const board = Object.values(first.boards)[0] ?? "";
    const holder = board.startsWith("o1-") ? o1 : o2;
    const before = await boardLines(lab, [board], id);
    assert.ok(before.length > 0, "the board streamed lines of the run before the freeze");

    process.kill(lab.redisServer.pid, "SIGSTOP");
    await new Promise((r) => setTimeout(r, 30_000));
    // The agent is held 3 s after Redis comes back, so the scheduler always finds the expired lease first.
    process.kill(holder.pid, "SIGSTOP");
    process.kill(lab.redisServer.pid, "SIGCONT");
    await new Promise((r) => setTimeout(r, 3000));
    process.kill(holder.pid, "SIGCONT");

    const done = await waitUntil(
      "the run to end",
      async () => {
        const r = await lab.getRun(id);
        return TERMINAL.has(r.state) ? r : undefined;
      },
      90_000,
    );
    assert.is(done.state, "passed", JSON.stringify({ attempts: done.attempts, steps: done.steps.map((st) => `${st.name}: ${st.outcome} ${st.message ?? ""}`) }));
    // one final state: it stays what it is
    await new Promise((r) => setTimeout(r, 2000));
    assert.is((await lab.getRun(id)).state, "passed");

    const executed = [...executedJobs(o1), ...executedJobs(o2)].filter((j) => j.runId === id);
    const finishedWork = executed.filter((j) => j.outcome === "pass" || j.outcome === "fail");
    assert.is(finishedWork.length, 1, `the board work was done and reported once: ${JSON.stringify(executed)}`);
    const stopped = executed.find((j) => j.attempt === 1);
    assert.is(stopped?.outcome, "error", "attempt 1 stopped as an infrastructure error when its lease ran out unseen");

    const boards = await waitUntil("no board running", async () => {
      const r = await lab.api<{ boards: { id: string; state: string }[] }>("GET", "/api/v1/boards");
      return r.body.boards.every((b) => b.state !== "running" && b.state !== "leased") ? r.body.boards : undefined;
    });
    assert.ok(boards.length === 2);

    // Every line the board stream had before the freeze, and every line of the run it has now, is in the stored log
    // once, in each board's order.
    const runBoards = [...new Set(done.attempts.flatMap((a) => Object.values(a.boards)))];
    const streamed = await boardLines(lab, runBoards, id);
    const stored = (await lab.api<LogLine[]>("GET", `/api/v1/runs/${id}/log?format=json`)).body.filter((l) => l.stream !== "agent");
    const count = new Map<string, number>();
    for (const l of stored) count.set(key(l), (count.get(key(l)) ?? 0) + 1);
    const doubled = [...count].filter(([, n]) => n > 1);
    assert.equal(doubled.slice(0, 5), [], `${doubled.length} lines stored twice`);
    const missing = [...before, ...streamed].filter((l) => !count.has(key(l)));
    assert.equal(missing.slice(0, 5).map(key), [], `${missing.length} lines a follower had are not in the stored log`);
    for (const b of runBoards) {
      const seqs = stored.filter((l) => l.board === b).map((l) => l.seq);
      assert.equal(seqs, [...seqs].sort((x, y) => x - y), `${b}'s lines are stored in order`);
    }
  } finally {
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // already gone
      }
    }
    await lab.stop();
  }
});

test.run();
