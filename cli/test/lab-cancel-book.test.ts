// End to end with real processes: cancelling (Ctrl-C on `hil run --wait`, and the API) frees the board;
// a booking keeps CI runs off its board until it ends. Instant boards that hold each job a while.
import { join } from "node:path";
import type { Run } from "@hil/contracts";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { ADMIN_TOKEN, appFile, type Lab, runIdOf, startLab, submitArgs } from "./lab-fixture.js";

test("hil run --wait exits 0 and writes JUnit; Ctrl-C cancels the run, exits 3 and frees the board", async () => {
  const lab = await startLab();
  try {
    await lab.startAgent("c1", ["--instant-boards", "1", "--instant-hold", "30s"]);
    const file = await appFile(lab);
    const junit = join(lab.dir, "out.xml");

    const waiting = lab.hil(submitArgs(file, ["--wait"]));
    const id = runIdOf((await waiting.waitFor(/run \S+ submitted/, 60_000))[0]);
    const board = await waitUntil("run running", async () => {
      const r = await lab.getRun(id);
      return r.state === "running" ? Object.values(r.boards)[0] : undefined;
    });
    waiting.child.kill("SIGINT");
    assert.is(await waiting.exited, 3, waiting.output());
    assert.match(waiting.output(), /cancelling it/);
    assert.is((await lab.getRun(id)).state, "cancelled");
    await waitUntil("lease released and board idle", async () => {
      const lease = await lab.redis.exists(lab.keys.lease(board));
      const json = JSON.parse((await lab.redis.hget(lab.keys.board(board), "json")) ?? "{}") as { state?: string };
      return lease === 0 && json.state === "idle";
    }, 20_000);

    // The freed board takes the next run straight away (it holds 30 s, so cancel that one too).
    const next = lab.hil(submitArgs(file, ["--wait", "--junit", junit]));
    const nextId = runIdOf((await next.waitFor(/run \S+ submitted/, 60_000))[0]);
    await waitUntil("next run running on the freed board", async () => (await lab.getRun(nextId)).state === "running");
    const cancel = await lab.api<Run>("POST", `/api/v1/runs/${nextId}/cancel`);
    assert.is(cancel.status, 200);
    assert.is(await next.exited, 3, next.output());
  } finally {
    await lab.stop();
  }
});

test("a booking keeps CI runs off its board for its window; they run after it ends", async () => {
  const lab = await startLab();
  try {
    await lab.startAgent("b1", ["--instant-boards", "1"]);
    const board = "b1-instant-0";
    // long enough that the run is surely submitted inside the window on a loaded machine (6 s was not, once)
    const book = lab.hil(["book", "--board", board, "--for", "20s"], ADMIN_TOKEN);
    assert.is(await book.exited, 0, book.output());
    const m = /booking (\S+): board (\S+) held by (\S+) from \S+ to (\S+)/.exec(book.output());
    assert.ok(m, book.output());
    const bookingEnd = Date.parse(m?.[4] ?? "");

    const file = await appFile(lab);
    const sub = lab.hil(submitArgs(file, ["--board", board, "--wait"]));
    const id = runIdOf((await sub.waitFor(/run \S+ submitted/, 60_000))[0]);
    // While the booking holds the board, the run waits and says why.
    assert.ok((await lab.getRun(id)).createdAt < bookingEnd, "the run was submitted inside the booking's window");
    await waitUntil("run queued with a reason", async () => {
      const r = (await lab.getRun(id)) as Run & { queue?: { waitingFor?: string } };
      return r.state === "queued" && (r.queue?.waitingFor ?? r.waitingFor) ? true : undefined;
    }, 20_000);
    assert.is(await sub.exited, 0, sub.output());
    const run = await lab.getRun(id);
    assert.is(run.state, "passed");
    assert.ok((run.startedAt ?? 0) >= bookingEnd, `run started ${run.startedAt}, before the booking ended at ${bookingEnd}`);
    assert.match(sub.output(), /queued/);
  } finally {
    await lab.stop();
  }
});

test("hil release ends a booking early and the waiting CI run starts", async () => {
  const lab = await startLab();
  try {
    await lab.startAgent("r1", ["--instant-boards", "1"]);
    const board = "r1-instant-0";
    const book = lab.hil(["book", "--board", board, "--for", "10m"], ADMIN_TOKEN);
    assert.is(await book.exited, 0, book.output());
    const bookingId = /booking (\S+):/.exec(book.output())?.[1] ?? "";
    const file = await appFile(lab);
    const sub = lab.hil(submitArgs(file, ["--board", board]));
    assert.is(await sub.exited, 0, sub.output());
    const id = runIdOf(sub.output());
    await waitUntil("run waiting for the booked board", async () => (await lab.getRun(id)).state === "queued");
    const release = lab.hil(["release", bookingId], ADMIN_TOKEN);
    assert.is(await release.exited, 0, release.output());
    assert.match(release.output(), /\(released\)/);
    const done = await waitUntil("run passed", async () => {
      const r = await lab.getRun(id);
      return r.state === "passed" ? r : undefined;
    }, 30_000);
    assert.is(done.boards.dut ?? Object.values(done.boards)[0], board);
  } finally {
    await lab.stop();
  }
});

test.run();
