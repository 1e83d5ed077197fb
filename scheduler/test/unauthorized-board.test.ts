// A board its agent reports `unauthorized` (an Android device that refuses the agent's adb key) is shown with that
// state and gets no run while it lasts, without losing its owner; back to idle, it takes the waiting run.
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Redis } from "ioredis";
import { labKeys } from "@hil/contracts";
import { makeTempDir, sleep, waitUntil } from "@hil/test-kit";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";
import { asRun, freshNamespace, startScheduler } from "./support/harness.js";
import { FakeAgent } from "./support/fake-agent.js";

let redis: PrivateRedis;
let tmp: { dir: string; remove(): Promise<void> };

test.before(async () => {
  redis = await startPrivateRedis();
  tmp = await makeTempDir("hil-sched-unauthorized-");
});
test.after(async () => {
  await redis?.stop();
  await tmp?.remove();
});

test("an unauthorized board shows as unauthorized, is not dispatched to, and takes the run once it is idle again", async () => {
  const ns = freshNamespace();
  const s = await startScheduler(redis.url, ns, join(tmp.dir, ns), { HIL_LEASE_TTL: "2s" });
  const agent = new FakeAgent(redis.url, ns, "bench1", [{ id: "dk1", profile: "esp32-devkitc" }]);
  const client = new Redis(redis.url);
  try {
    await agent.start();
    await waitUntil("dk1 idle", async () => ((await s.api("/api/v1/boards/dk1")).json as { state?: string }).state === "idle");
    // what the agent's registry writes for such a board: its hash, then a signed board-changed
    const board = { ...agent.board({ id: "dk1", profile: "esp32-devkitc" }), state: "unauthorized" as const };
    await client.hset(labKeys(ns).board("dk1"), "json", JSON.stringify(board));
    await agent.emit({ type: "board-changed", agent: "bench1", board });
    await waitUntil("dk1 unauthorized", async () => ((await s.api("/api/v1/boards/dk1")).json as { state?: string }).state === "unauthorized");
    const listed = (await s.api("/api/v1/boards?state=unauthorized")).json as { boards: { id: string }[] };
    assert.equal(listed.boards.map((b) => b.id), ["dk1"]);
    const submitted = await s.api("/api/v1/runs", { body: { suite: "smoke" } });
    assert.is(submitted.status, 201, submitted.text);
    const id = asRun(submitted).id;
    await sleep(1500); // several dispatch ticks
    const waiting = asRun(await s.api(`/api/v1/runs/${id}`));
    assert.is(waiting.state, "queued");
    assert.is(waiting.attempts.length, 0);
    assert.is(agent.jobsSeen.length, 0);
    const command = await s.api("/api/v1/boards/dk1/reset", { body: { mode: "run" } });
    assert.is(command.status, 409, command.text);
    assert.match(command.text, /adb key/);
    await agent.register();
    const done = await waitUntil("the run passed on dk1", async () => {
      const r = asRun(await s.api(`/api/v1/runs/${id}`));
      return r.state === "passed" ? r : undefined;
    }, 30_000);
    assert.equal(done.attempts.map((a) => a.boards["dut"]), ["dk1"]);
  } finally {
    client.disconnect();
    await agent.stop();
    await s.svc.stop();
  }
});

test.run();
