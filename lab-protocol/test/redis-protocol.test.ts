// The agent's side of the protocol on a real redis-server: leases compared by token hash in Lua,
// the start-job script with its signed event, board claims that leave a live agent's board alone.
import { randomUUID } from "node:crypto";
import { labKeys, type Board, type LabKeys } from "@hil/contracts";
import { Redis } from "ioredis";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { claimBoards, deriveEventKey, EventWriter, LeaseStore, leaseTokenHash, readEventFields, startJob, verifyEventSignature } from "../src/index.js";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";

let redis: PrivateRedis;
let client: Redis;

test.before(async () => {
  redis = await startPrivateRedis();
  client = new Redis(redis.url);
});
test.after(async () => {
  client?.disconnect();
  await redis?.stop();
});

const fresh = (): LabKeys => labKeys(`p${randomUUID().slice(0, 8)}`);

function board(id: string, agent: string, state: Board["state"] = "idle"): Board {
  return { id, profile: "esp32-virtual", agent, identity: {}, state, labels: {}, virtual: true, health: 100, updatedAt: 1 };
}

async function lease(keys: LabKeys, boardId: string, token: string): Promise<void> {
  await client.set(keys.lease(boardId), JSON.stringify({ runId: "r1", attempt: 1, tokenHash: leaseTokenHash(token), agent: "lab-1" }), "PX", 10_000);
}

test("leases are renewed, held and released with the plaintext token only; their JSON holds just its hash", async () => {
  const keys = fresh();
  const store = new LeaseStore(client, keys);
  await lease(keys, "b1", "secret-token");
  assert.is(leaseTokenHash("secret-token"), (await store.get("b1"))?.tokenHash, "Lua's sha1hex and node agree");
  assert.not.match((await client.get(keys.lease("b1"))) ?? "", /secret-token/);
  assert.equal(await store.renew(["b1", "b2"], "secret-token", 5000), ["b2"]);
  assert.ok(await store.holds(["b1"], "secret-token"));
  assert.not.ok(await store.holds(["b1"], leaseTokenHash("secret-token")), "the hash read from the lease is not the token");
  assert.equal(await store.renew(["b1"], leaseTokenHash("secret-token"), 5000), ["b1"]);
  assert.is(await store.release(["b1"], leaseTokenHash("secret-token")), 0);
  assert.is(await store.release(["b1"], "secret-token"), 1);
  assert.is(await client.exists(keys.lease("b1")), 0);
});

test("start-job writes the running boards and the signed job-started only while the lease holds the token", async () => {
  const keys = fresh();
  const writer = new EventWriter(client, keys, "lab-1", "lab-1-token");
  const event = writer.sign({ type: "job-started", runId: "r1", attempt: 1, agent: "lab-1", leaseHash: leaseTokenHash("t1"), at: 1 });
  const req = { boardIds: ["b1"], boardJson: [JSON.stringify(board("b1", "lab-1", "running"))], leaseToken: "t1", event };
  assert.not.ok(await startJob(client, keys, req), "no lease: nothing starts");
  await lease(keys, "b1", "t1");
  assert.not.ok(await startJob(client, keys, { ...req, leaseToken: "t2" }), "another token: nothing starts");
  assert.is(await client.xlen(keys.events()), 0);
  assert.ok(await startJob(client, keys, req));
  assert.is(JSON.parse((await client.hget(keys.board("b1"), "json")) ?? "{}").state, "running");
  const [[, fields] = ["", []]] = await client.xrange(keys.events(), "-", "+");
  const f = readEventFields(fields);
  assert.is(f.agent, "lab-1");
  assert.ok(verifyEventSignature(deriveEventKey("lab-1-token"), "lab-1", f.json ?? "", f.sig ?? ""));
});

test("an agent signs only events that name it", () => {
  const writer = new EventWriter(client, fresh(), "lab-1", "lab-1-token");
  assert.throws(() => writer.sign({ type: "board-gone", agent: "lab-2", boardId: "b1", reason: "x" }), /names agent "lab-2"/);
});

test("board claims leave a live agent's board alone; a gone agent's or an offline board is free", async () => {
  const keys = fresh();
  assert.equal(await claimBoards(client, keys, "a", [board("b1", "a"), board("b2", "a")]), []);
  await client.set(keys.agent("a"), "{}", "PX", 10_000);
  assert.equal(await claimBoards(client, keys, "b", [board("b1", "b"), board("b3", "b")]), ["b1"]);
  assert.is(await client.hget(keys.board("b1"), "agent"), "a");
  assert.equal((await client.smembers(keys.boards())).sort(), ["b1", "b2", "b3"]);
  // a reports b2 offline (moved away): b may take it while a still runs
  await client.hset(keys.board("b2"), "json", JSON.stringify(board("b2", "a", "offline")));
  assert.equal(await claimBoards(client, keys, "b", [board("b2", "b")]), []);
  // a stops: its liveness key goes, and so does its hold on b1
  await client.del(keys.agent("a"));
  assert.equal(await claimBoards(client, keys, "b", [board("b1", "b")]), []);
  assert.is(await client.hget(keys.board("b1"), "agent"), "b");
});

test.run();
