// The agent's board registry on a real Redis: a re-registration (after Redis came back) that is still in
// flight when a job ends must not put the job's "running" back. It used to: register() stored the
// snapshot it took before its claim round trip, so the board stayed "running" in memory, every later
// heartbeat wrote that to Redis, and the scheduler's acquire script refused the board for ever.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Redis } from "ioredis";
import { BoardSchema, labKeys, type Board } from "@hil/contracts";
import { EventWriter, leaseTokenHash } from "@hil/lab-protocol";
import { startPrivateRedis, type PrivateRedis } from "@hil/test-kit";
import { BoardRegistry } from "./board-registry.js";

let server: PrivateRedis;
let redis: Redis;

test.before(async () => {
  server = await startPrivateRedis();
  redis = new Redis(server.url);
});
test.after(async () => {
  redis?.disconnect();
  await server?.stop();
});

test("a job that ends while the boards are being registered again stays ended, here and in Redis", async () => {
  const keys = labKeys("reg");
  const registry = new BoardRegistry(redis, keys, "a1", new EventWriter(redis, keys, "a1", undefined));
  const board: Board = BoardSchema.parse({ id: "a1-b0", profile: "esp32-virtual", agent: "a1", identity: { mac: "24:0a:c4:00:00:01" }, state: "idle", updatedAt: Date.now() });
  assert.equal(await registry.register([board]), []);
  await redis.set(keys.lease("a1-b0"), JSON.stringify({ tokenHash: leaseTokenHash("tok"), runId: "r1" }));
  assert.ok(await registry.startJob(["a1-b0"], "r1", "tok", { type: "job-started", runId: "r1", attempt: 1, agent: "a1", leaseHash: leaseTokenHash("tok"), at: Date.now() }));
  assert.is(registry.get("a1-b0")?.state, "running");

  // Redis came back: the boards are announced again; the job ends before that round trip answers
  const announced = registry.announce();
  registry.jobEnded(["a1-b0"]);
  await announced;
  assert.is(registry.get("a1-b0")?.state, "idle", "the registry keeps the state the job left");
  assert.is(registry.get("a1-b0")?.currentRun, undefined);
  const stored = JSON.parse((await redis.hget(keys.board("a1-b0"), "json")) ?? "{}") as Board;
  assert.is(stored.state, "idle", "and Redis has it too, not the snapshot the re-registration took");
});

test.run();
