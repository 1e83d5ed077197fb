// Dispatch end to end on a real Redis with real BullMQ workers (in-test agents): outcomes, retries on
// another board, quarantine, multi-board all-or-none, cancel, and a dead agent's run retried elsewhere.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Redis } from "ioredis";
import type { Job, LogLine } from "@hil/contracts";
import { makeTempDir, sleep, waitUntil } from "@hil/test-kit";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";
import { LeaseStore, leaseTokenHash } from "../src/leases/lease-store.js";
import { asRun, BOB, freshNamespace, startScheduler, type Running } from "./support/harness.js";
import { FakeAgent, type Behaviour } from "./support/fake-agent.js";

let redis: PrivateRedis;
let tmp: { dir: string; remove(): Promise<void> };
const cleanups: (() => Promise<void>)[] = [];

test.before(async () => {
  redis = await startPrivateRedis();
  tmp = await makeTempDir("hil-sched-dispatch-");
});
test.after(async () => {
  await redis?.stop();
  await tmp?.remove();
});
test.after.each(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function setup(env: Record<string, string> = {}): Promise<{ s: Running; ns: string }> {
  const ns = freshNamespace();
  const s = await startScheduler(redis.url, ns, join(tmp.dir, ns), { HIL_LEASE_TTL: "2s", ...env });
  cleanups.push(() => s.svc.stop());
  return { s, ns };
}

async function agent(ns: string, name: string, boards: { id: string; profile: string }[], behaviour?: Behaviour): Promise<FakeAgent> {
  const a = new FakeAgent(redis.url, ns, name, boards, behaviour);
  await a.start();
  cleanups.push(() => a.stop());
  return a;
}

async function submit(s: Running, body: Record<string, unknown>, token?: string): Promise<string> {
  const r = await s.api("/api/v1/runs", { body, ...(token ? { token } : {}) });
  assert.is(r.status, 201, r.text);
  return asRun(r).id;
}

const runOf = async (s: Running, id: string) => asRun(await s.api(`/api/v1/runs/${id}`));
const finalState = (s: Running, id: string, timeoutMs = 30_000) =>
  waitUntil(`run ${id} to end`, async () => {
    const r = await runOf(s, id);
    return ["passed", "failed", "error", "cancelled", "timed-out"].includes(r.state) ? r : undefined;
  }, timeoutMs);

/**
 * One agent with two devkits and a phone whose jobs each wait for their gate; the map holds a
 * release function per started run.
 */
async function gatedPairBench(ns: string): Promise<Map<string, () => void>> {
  const gates = new Map<string, () => void>();
  await agent(
    ns,
    "bench1",
    [
      { id: "dk1", profile: "esp32-devkitc" },
      { id: "dk2", profile: "esp32-devkitc" },
      { id: "ph1", profile: "android-generic" },
    ],
    (job) => new Promise((resolve) => gates.set(job.runId, () => resolve({ outcome: "pass" }))),
  );
  return gates;
}

const waitForAbort = (signal: AbortSignal) => new Promise<void>((r) => signal.addEventListener("abort", () => r(), { once: true }));

test("a run passes on an agent's board; JUnit and the full log are written; the lease is gone", async () => {
  const { s, ns } = await setup();
  const logged = async (job: Job) => {
    const line: LogLine = { board: job.boards["dut"] ?? "", run: job.runId, seq: 1, mono: 1, wall: Date.now(), stream: "serial", text: "hello from the board" };
    const r = new Redis(redis.url);
    await r.xadd(s.svc.context.keys.runLog(job.runId), "*", "json", JSON.stringify(line));
    r.disconnect();
    return { outcome: "pass" as const, cases: [{ name: "boots", outcome: "pass" as const, durationMs: 5 }] };
  };
  await agent(ns, "bench1", [{ id: "dk1", profile: "esp32-devkitc" }], logged);
  const id = await submit(s, { suite: "smoke" });
  const run = await finalState(s, id);
  assert.is(run.state, "passed");
  assert.is(run.attempts.length, 1);
  assert.equal(run.boards, { dut: "dk1" });
  assert.is(run.attempts[0]?.outcome, "pass");
  assert.is(await s.svc.context.redis.exists(s.svc.context.keys.lease("dk1")), 0);
  // the run files are written just after the run ends
  const junit = await waitUntil("junit.xml", () => readFile(join(s.config.artifactDir, "runs", id, "junit.xml"), "utf8"));
  await waitUntil("log.txt", () => readFile(join(s.config.artifactDir, "runs", id, "log.txt"), "utf8"));
  assert.match(junit, /testcase[^>]*name="boots"/);
  assert.match(await readFile(join(s.config.artifactDir, "runs", id, "log.txt"), "utf8"), /hello from the board/);
  const log = await s.api(`/api/v1/runs/${id}/log`);
  assert.match(log.text, /hello from the board/);
  const xml = await s.api(`/api/v1/runs/${id}/junit`);
  assert.is(xml.status, 200);
});

test("a test failure is final: no retry", async () => {
  const { s, ns } = await setup();
  const a = await agent(ns, "bench1", [{ id: "dk1", profile: "esp32-devkitc" }, { id: "dk2", profile: "esp32-devkitc" }], async () => ({
    outcome: "fail",
    error: { code: "TEST_FAILED", message: "1 case failed" },
  }));
  const id = await submit(s, { suite: "smoke" });
  const run = await finalState(s, id);
  assert.is(run.state, "failed");
  assert.is(run.attempts.length, 1);
  assert.is(a.jobsSeen.length, 1);
});

test("an infrastructure failure is retried on another matching board and the board's health drops", async () => {
  const { s, ns } = await setup();
  let calls = 0;
  await agent(ns, "bench1", [{ id: "dk1", profile: "esp32-devkitc" }, { id: "dk2", profile: "esp32-devkitc" }], async () =>
    ++calls === 1 ? { outcome: "error", error: { code: "LINK_CLOSED", message: "serial port vanished" } } : { outcome: "pass" },
  );
  const id = await submit(s, { suite: "smoke" });
  const run = await finalState(s, id);
  assert.is(run.state, "passed");
  assert.is(run.attempts.length, 2);
  assert.is(run.attempts[0]?.error?.code, "LINK_CLOSED");
  const first = run.attempts[0]?.boards["dut"];
  const second = run.attempts[1]?.boards["dut"];
  assert.ok(first && second && first !== second, `retried on ${second} after failing on ${first}`);
  const boards = (await s.api("/api/v1/boards")).json as { boards: { id: string; health: number }[] };
  assert.is(boards.boards.find((b) => b.id === first)?.health, 80);
});

test("a board with repeated infrastructure failures is quarantined and gets no runs until an admin returns it", async () => {
  const { s, ns } = await setup({ HIL_QUARANTINE_AFTER: "2" });
  const a = await agent(ns, "bench1", [{ id: "dk1", profile: "esp32-devkitc" }], async () => ({
    outcome: "error",
    error: { code: "FLASH_FAILED", message: "flash write failed" },
  }));
  const id = await submit(s, { suite: "smoke", maxAttempts: 3 });
  await waitUntil("quarantine", async () => ((await s.api("/api/v1/boards/dk1")).json as { state: string }).state === "quarantined");
  await sleep(1500); // several dispatch ticks: the quarantined board must not get the third attempt
  let run = await runOf(s, id);
  assert.is(run.state, "queued");
  assert.is(run.attempts.length, 2);
  assert.is(a.jobsSeen.length, 2);
  assert.match(run.waitingFor ?? "", /quarantined/);
  const back = await s.api("/api/v1/boards/dk1/release-quarantine", { body: {} });
  assert.is(back.status, 200);
  run = await finalState(s, id);
  assert.is(run.state, "error");
  assert.is(run.attempts.length, 3);
});

test("multi-board runs lease all their boards or none; smaller runs skip ahead", async () => {
  const { s, ns } = await setup();
  const gates = await gatedPairBench(ns);
  const a = await submit(s, { suite: "pair" });
  await waitUntil("pair A running", async () => gates.has(a));
  const b = await submit(s, { suite: "pair" });
  const c = await submit(s, { suite: "smoke" });
  await waitUntil("smoke C to skip ahead", async () => gates.has(c));
  const leases = new LeaseStore(s.svc.context.redis, s.svc.context.keys);
  // B needs a phone that A holds: it must hold nothing meanwhile
  const held = await leases.getMany(["dk1", "dk2", "ph1"]);
  assert.not.ok(held.some((l) => l?.runId === b), "B holds a board while waiting");
  assert.is((await runOf(s, b)).state, "queued");
  gates.get(a)?.();
  gates.get(c)?.();
  await waitUntil("pair B running", async () => gates.has(b));
  const bRun = await runOf(s, b);
  assert.equal(Object.keys(bRun.boards).sort(), ["dut", "phone"]);
  gates.get(b)?.();
  assert.is((await finalState(s, b)).state, "passed");
});

test("a multi-board run blocked for long reserves its free boards, so small runs cannot starve it", async () => {
  const { s, ns } = await setup({ HIL_RESERVE_AFTER: "0s" });
  const gates = await gatedPairBench(ns);
  const a = await submit(s, { suite: "pair" });
  await waitUntil("pair A running", async () => gates.has(a));
  const b = await submit(s, { suite: "pair" });
  const c = await submit(s, { suite: "smoke" });
  await sleep(1500); // several passes: C must keep off dk2, which B is waiting to pair with a phone
  assert.not.ok(gates.has(c), "the small run took the board the blocked multi-board run needs");
  assert.is((await runOf(s, c)).state, "queued");
  gates.get(a)?.();
  await waitUntil("pair B running", async () => gates.has(b));
  gates.get(b)?.();
  await waitUntil("smoke C running", async () => gates.has(c));
  gates.get(c)?.();
  assert.is((await finalState(s, c)).state, "passed");
});

test("LeaseStore: all or none, renew reports lost leases, release only with the token; leases hold only its hash", async () => {
  const { s } = await setup();
  const { redis: r, keys } = s.svc.context;
  const leases = new LeaseStore(r, keys);
  await r.set(keys.agent("a1"), "{}", "PX", 10_000);
  for (const id of ["x1", "x2"]) await r.hset(keys.board(id), "json", JSON.stringify({ state: "idle" }), "agent", "a1");
  await r.zadd(keys.pending(), 1, "run1", 2, "run2");
  await r.set(keys.lease("x2"), JSON.stringify({ runId: "other", attempt: 1, tokenHash: leaseTokenHash("t0"), agent: "a1" }), "PX", 10_000);
  // the scheduler's own record must give the boards to a1, whatever their hashes say
  await r.hset(keys.boardOwners(), "x1", "a1", "x2", "someone-else");
  const base = { submitter: "s", agent: "a1", attempt: 1, now: Date.now(), until: Date.now() + 60_000, ttlMs: 10_000 };
  await r.del(keys.lease("x2"));
  const notOwned = await leases.acquire({ ...base, runId: "run1", token: "t1", boards: { a: "x1", b: "x2" } });
  assert.equal(notOwned, { ok: false, board: "x2", reason: "not owned by the agent" });
  await r.hset(keys.boardOwners(), "x2", "a1");
  await r.set(keys.lease("x2"), JSON.stringify({ runId: "other", attempt: 1, tokenHash: leaseTokenHash("t0"), agent: "a1" }), "PX", 10_000);
  const refused = await leases.acquire({ ...base, runId: "run1", token: "t1", boards: { a: "x1", b: "x2" } });
  assert.is(refused.ok, false);
  assert.is(await r.exists(keys.lease("x1")), 0, "none of the boards may be leased after a refusal");
  assert.is(await r.zscore(keys.pending(), "run1"), "1");
  await r.del(keys.lease("x2"));
  const granted = await leases.acquire({ ...base, runId: "run1", token: "t1", boards: { a: "x1", b: "x2" } });
  assert.ok(granted.ok);
  assert.is(await r.zscore(keys.pending(), "run1"), null);
  const stored = (await r.get(keys.lease("x1"))) ?? "";
  assert.not.match(stored, /t1/, "the lease JSON does not reveal the token to other agents");
  assert.is(JSON.parse(stored).tokenHash, leaseTokenHash("t1"));
  const again = await leases.acquire({ ...base, runId: "run1", token: "t9", boards: { a: "x1" } });
  assert.is(again.ok, false, "a claimed run cannot be claimed twice");
  assert.equal(await leases.renew(["x1", "x2"], "t1", 5000), []);
  assert.equal(await leases.renew(["x1", "x2"], "wrong", 5000), ["x1", "x2"]);
  assert.is(await leases.release(["x1", "x2"], "wrong"), 0);
  assert.is(await leases.release(["x1", "x2"], "t1"), 2);
  assert.is(await r.exists(keys.lease("x1")), 0);
});

test("cancel frees the board at once: lease gone, cancel published, the next run gets the board", async () => {
  const { s, ns } = await setup();
  await agent(ns, "bench1", [{ id: "dk1", profile: "esp32-devkitc" }], async (_job, signal) => {
    await waitForAbort(signal);
    return { outcome: "cancelled" };
  });
  const sub = new Redis(redis.url);
  cleanups.push(async () => void sub.disconnect());
  const published: string[] = [];
  await sub.subscribe(s.svc.context.keys.cancelChannel());
  sub.on("message", (_c, m: string) => published.push(m));
  const id = await submit(s, { suite: "smoke" });
  await waitUntil("running", async () => (await runOf(s, id)).state === "running");
  const next = await submit(s, { suite: "smoke" }, BOB);
  const r = await s.api(`/api/v1/runs/${id}/cancel`, { body: {} });
  assert.is(r.status, 200);
  assert.is(asRun(r).state, "cancelled");
  const lease = await new LeaseStore(s.svc.context.redis, s.svc.context.keys).get("dk1");
  assert.ok(lease === undefined || lease.runId !== id, "the cancelled run still holds the board");
  await waitUntil("cancel published", async () => published.includes(id), 5000);
  await waitUntil("next run on dk1", async () => (await runOf(s, next)).state === "running", 10_000);
  assert.is((await runOf(s, id)).state, "cancelled");
  await s.api(`/api/v1/runs/${next}/cancel`, { body: {} });
});

test("an agent that dies: its leases expire and the run is retried on another agent", async () => {
  const { s, ns } = await setup();
  const hang: Behaviour = (_job, signal) => waitForAbort(signal).then(() => ({ outcome: "cancelled" as const }));
  const a1 = await agent(ns, "bench1", [{ id: "dk1", profile: "esp32-devkitc" }], hang);
  const id = await submit(s, { suite: "smoke" });
  await waitUntil("running on bench1", async () => (await runOf(s, id)).state === "running");
  await agent(ns, "bench2", [{ id: "dk2", profile: "esp32-devkitc" }]);
  await a1.kill();
  const run = await finalState(s, id, 45_000);
  assert.is(run.state, "passed");
  assert.is(run.attempts[0]?.error?.code, "AGENT_LOST");
  assert.equal(run.attempts[1]?.boards, { dut: "dk2" });
});

test("a run past its timeout ends as timed-out and its board is freed", async () => {
  const { s, ns } = await setup({ HIL_TIMEOUT_GRACE: "300ms" });
  await agent(ns, "bench1", [{ id: "dk1", profile: "esp32-devkitc" }], async (_job, signal) => {
    await waitForAbort(signal);
    return { outcome: "cancelled" };
  });
  const id = await submit(s, { suite: "smoke", timeoutSec: 1 });
  const run = await finalState(s, id);
  assert.is(run.state, "timed-out");
  assert.is(run.error?.code, "RUN_TIMEOUT");
  const lease = await new LeaseStore(s.svc.context.redis, s.svc.context.keys).get("dk1");
  assert.is(lease, undefined);
});

test.run();
