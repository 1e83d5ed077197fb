// A board belongs to the agent that announced it first (verified board-changed), until that agent stops
// or reports it gone. Another agent that registers or even overwrites the board's hash does not get it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { Redis } from "ioredis";
import { BoardSchema, labKeys, type LabKeys } from "@hil/contracts";
import { makeTempDir, sleep, waitUntil } from "@hil/test-kit";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";
import { asRun, freshNamespace, startScheduler, type Running } from "./support/harness.js";
import { FakeAgent } from "./support/fake-agent.js";

let redis: PrivateRedis;
let client: Redis;
let tmp: { dir: string; remove(): Promise<void> };
const cleanups: (() => Promise<void>)[] = [];

test.before(async () => {
  redis = await startPrivateRedis();
  client = new Redis(redis.url);
  tmp = await makeTempDir("hil-sched-owner-");
});
test.after(async () => {
  client?.disconnect();
  await redis?.stop();
  await tmp?.remove();
});
test.after.each(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

const quick = async () => {
  await sleep(20);
  return { outcome: "pass" as const };
};

async function setup(): Promise<{ s: Running; keys: LabKeys; a: FakeAgent; b: FakeAgent }> {
  const ns = freshNamespace();
  const s = await startScheduler(redis.url, ns, join(tmp.dir, ns));
  cleanups.push(() => s.svc.stop());
  const a = new FakeAgent(redis.url, ns, "bench1", [{ id: "dk1", profile: "esp32-devkitc" }], quick);
  const b = new FakeAgent(redis.url, ns, "bench2", [{ id: "dk1", profile: "esp32-devkitc" }], quick);
  cleanups.push(() => a.stop(), () => b.stop());
  await a.start();
  const keys = labKeys(ns);
  await waitUntil("bench1 to own dk1", async () => (await client.hget(keys.boardOwners(), "dk1")) === "bench1");
  return { s, keys, a, b };
}

async function submit(s: Running): Promise<string> {
  const r = await s.api("/api/v1/runs", { body: { suite: "smoke", board: "dk1" } });
  assert.is(r.status, 201, r.text);
  return asRun(r).id;
}

const passedOn = (s: Running, id: string) =>
  waitUntil(`run ${id} to pass`, async () => {
    const r = asRun(await s.api(`/api/v1/runs/${id}`));
    return r.state === "passed" ? r.attempts[0]?.agent : undefined;
  });

async function boardView(s: Running) {
  const r = await s.api("/api/v1/boards/dk1");
  assert.is(r.status, 200, r.text);
  return BoardSchema.passthrough().parse(r.json);
}

test("a second agent registering a live agent's board does not get it; runs still go to the owner; once it stops the board moves", async () => {
  const { s, keys, a, b } = await setup();
  await b.start();
  assert.equal(await b.register(), ["dk1"], "the agent's own registration leaves a live agent's board alone");
  assert.is(await passedOn(s, await submit(s)), "bench1");
  assert.is(b.jobsSeen.length, 0);

  await a.kill(); // no more heartbeats: its liveness key expires
  await waitUntil("bench1's liveness to expire", async () => (await client.exists(keys.agent("bench1"))) === 0, 10_000);
  assert.equal(await b.register(), [], "the board of a gone agent is free to register");
  await waitUntil("bench2 to own dk1", async () => (await client.hget(keys.boardOwners(), "dk1")) === "bench2");
  assert.is(await passedOn(s, await submit(s)), "bench2");
});

test("a board hash overwritten by another agent, with a signed announcement, does not move the board; it shows offline", async () => {
  const { s, keys, a, b } = await setup();
  await b.start();
  // bench2 skips the courtesy check and writes the hash itself, then announces it (signed: it is a valid agent)
  const stolen = b.board({ id: "dk1", profile: "esp32-devkitc" });
  await client.hset(keys.board("dk1"), "json", JSON.stringify(stolen), "agent", "bench2");
  await b.emit({ type: "board-changed", agent: "bench2", board: stolen });
  await sleep(500); // the consumer applies the announcement within milliseconds

  assert.is(await client.hget(keys.boardOwners(), "dk1"), "bench1", "ownership stays with the live owner");
  const view = await boardView(s);
  assert.is(view.state, "offline");
  assert.match(String(view.note), /belongs to agent bench1/);
  const id = await submit(s);
  await sleep(1500);
  assert.is(asRun(await s.api(`/api/v1/runs/${id}`)).state, "queued", "no run goes to the board while its hash names another agent");
  assert.is(b.jobsSeen.length, 0);

  // the owner reports the board gone (moved to the other bench): the next announcement takes it
  await a.emit({ type: "board-gone", agent: "bench1", boardId: "dk1", reason: "unplugged" });
  await waitUntil("bench1 to give dk1 up", async () => (await client.hexists(keys.boardOwners(), "dk1")) === 0);
  await b.emit({ type: "board-changed", agent: "bench2", board: stolen });
  assert.is(await passedOn(s, id), "bench2");
  assert.is(a.jobsSeen.length, 0);
});

test("an admin can free a live agent's board for the next agent that announces it", async () => {
  const { s, keys, b } = await setup();
  await b.start();
  assert.equal(await b.register(), ["dk1"]);
  const r = await s.api("/api/v1/boards/dk1/release-owner", { body: {} });
  assert.is(r.status, 200, r.text);
  assert.is(await client.hexists(keys.boardOwners(), "dk1"), 0);
  assert.equal(await b.register(), [], "a board whose hash names no agent is free to register");
  await waitUntil("bench2 to own dk1", async () => (await client.hget(keys.boardOwners(), "dk1")) === "bench2");
  assert.is(await passedOn(s, await submit(s)), "bench2");
});

test.run();
