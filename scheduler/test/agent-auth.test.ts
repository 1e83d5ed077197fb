// Agents prove who they are: every event on the shared stream is signed with a key derived from the
// agent's token, and a job report counts only under the run's current claim (agent + lease token).
// Forged events are XADDed straight into the real Redis the scheduler reads, as any Redis client could.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { Redis } from "ioredis";
import { pino } from "pino";
import { labKeys, type AgentEvent, type LabKeys } from "@hil/contracts";
import { EventWriter, parseLease } from "@hil/lab-protocol";
import { makeTempDir, sleep, waitUntil } from "@hil/test-kit";
import { CONSUMER_GROUP } from "../src/dispatch/event-consumer.js";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";
import { agentToken, asRun, freshNamespace, startScheduler, type Running } from "./support/harness.js";
import { FakeAgent } from "./support/fake-agent.js";

let redis: PrivateRedis;
let client: Redis;
let tmp: { dir: string; remove(): Promise<void> };
const cleanups: (() => Promise<void>)[] = [];

test.before(async () => {
  redis = await startPrivateRedis();
  client = new Redis(redis.url);
  tmp = await makeTempDir("hil-sched-agent-auth-");
});
test.after(async () => {
  client?.disconnect();
  await redis?.stop();
  await tmp?.remove();
});
test.after.each(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

interface Bench {
  s: Running;
  keys: LabKeys;
  /** Warnings and errors the scheduler logged (pino JSON lines). */
  logs: { msg: string; run?: string; agent?: string; reason?: string }[];
}

async function setup(env: Record<string, string> = {}): Promise<Bench> {
  const ns = freshNamespace();
  const logs: Bench["logs"] = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const s = await startScheduler(redis.url, ns, join(tmp.dir, ns), env, { logger });
  cleanups.push(() => s.svc.stop());
  return { s, keys: labKeys(ns), logs };
}

/** One agent bench1 with board dk1 whose job waits for the returned gate; resolves once the run is running. */
async function runningOnGatedAgent(b: Bench): Promise<{ id: string; release(): void; agent: FakeAgent }> {
  let release!: () => void;
  const agent = new FakeAgent(redis.url, b.s.config.namespace, "bench1", [{ id: "dk1", profile: "esp32-devkitc" }], () =>
    new Promise((resolve) => (release = () => resolve({ outcome: "pass" }))),
  );
  await agent.start();
  cleanups.push(() => agent.stop());
  const r = await b.s.api("/api/v1/runs", { body: { suite: "smoke" } });
  assert.is(r.status, 201, r.text);
  const id = asRun(r).id;
  await waitUntil("the run to be running", async () => (await runOf(b.s, id)).state === "running");
  return { id, release: () => release(), agent };
}

const runOf = async (s: Running, id: string) => asRun(await s.api(`/api/v1/runs/${id}`));

/** Resolves once the schedulers' consumer group has read and acknowledged the entry. */
async function consumed(keys: LabKeys, id: string): Promise<void> {
  await waitUntil(`event ${id} consumed`, async () => {
    const groups = (await client.xinfo("GROUPS", keys.events())) as unknown[][];
    const g = groups.map((row) => Object.fromEntries(pairs(row))).find((x) => x.name === CONSUMER_GROUP);
    if (!g || compareIds(String(g["last-delivered-id"]), id) < 0) return false;
    const pending = (await client.xpending(keys.events(), CONSUMER_GROUP, id, id, 1)) as unknown[];
    return pending.length === 0;
  });
}

function pairs(row: unknown[]): [unknown, unknown][] {
  const out: [unknown, unknown][] = [];
  for (let i = 0; i + 1 < row.length; i += 2) out.push([row[i], row[i + 1]]);
  return out;
}

function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split("-").map(Number);
  const [bm = 0, bs = 0] = b.split("-").map(Number);
  return am - bm || as - bs;
}

async function deadLetter(keys: LabKeys, id: string): Promise<string | undefined> {
  for (const [, fields] of await client.xrange(keys.deadLetters(), "-", "+")) {
    const f = Object.fromEntries(pairs(fields)) as Record<string, string>;
    if (f.id === id) return f.reason;
  }
  return undefined;
}

function forgedFinish(agent: string, runId: string, leaseHash: string): AgentEvent {
  return {
    type: "job-finished",
    agent,
    leaseHash,
    result: { runId, attempt: 1, outcome: "fail", steps: [], cases: [], error: { code: "TEST_FAILED", message: "forged" }, durationMs: 1 },
  };
}

/** The run is untouched by whatever was forged: still running its first attempt, no outcome, no steps. */
async function untouched(s: Running, id: string): Promise<void> {
  const run = await runOf(s, id);
  assert.is(run.state, "running");
  assert.is(run.attempts.length, 1);
  assert.is(run.attempts[0]?.outcome, undefined);
  assert.equal(run.steps, []);
}

test("forged job-finished events (unsigned, signed by another agent, wrong lease token) change nothing; the real one does", async () => {
  const b = await setup();
  const { s, keys } = b;
  const { id, release } = await runningOnGatedAgent(b);
  // What any agent can read: the lease names the token only by hash.
  const leaseHash = parseLease(await client.get(keys.lease("dk1")))?.tokenHash ?? "";
  assert.match(leaseHash, /^[0-9a-f]{40}$/);

  // (a) no signature at all, claiming to be bench1 with the right lease hash
  const unsigned = await client.xadd(keys.events(), "*", "json", JSON.stringify(forgedFinish("bench1", id, leaseHash)));
  // (a') a signature field, but not made with any agent's key
  const garbage = await client.xadd(keys.events(), "*", "json", JSON.stringify(forgedFinish("bench1", id, leaseHash)), "agent", "bench1", "sig", "0".repeat(64));
  // (b) another valid agent (bench2 has its own token) signs a report as itself...
  const bench2 = new EventWriter(client, keys, "bench2", agentToken("bench2"));
  const asItself = await bench2.publish(forgedFinish("bench2", id, leaseHash));
  // ...or signs one that names bench1
  const asOther = bench2.sign(forgedFinish("bench2", id, leaseHash));
  const namingBench1 = await client.xadd(keys.events(), "*", "json", JSON.stringify(forgedFinish("bench1", id, leaseHash)), "agent", "bench1", "sig", asOther.sig);
  // (c) the right agent's key, but a lease token that is not the run's claim (a step report too)
  const bench1 = new EventWriter(client, keys, "bench1", agentToken("bench1"));
  const wrongLease = await bench1.publish(forgedFinish("bench1", id, "f".repeat(40)));
  const step = { index: 0, type: "send", name: "send hi", outcome: "pass" as const, startedAt: Date.now(), durationMs: 1, cases: [] };
  const wrongLeaseStep = await bench1.publish({ type: "step-finished", runId: id, attempt: 1, agent: "bench1", leaseHash: "f".repeat(40), step });

  for (const entry of [unsigned, garbage, asItself, namingBench1, wrongLease, wrongLeaseStep]) await consumed(keys, entry ?? "");
  await untouched(s, id);

  // the entries that do not prove their author are moved aside with the reason
  assert.match((await deadLetter(keys, unsigned ?? "")) ?? "", /unsigned/);
  assert.match((await deadLetter(keys, garbage ?? "")) ?? "", /bad signature/);
  assert.match((await deadLetter(keys, namingBench1 ?? "")) ?? "", /bad signature/);
  // authentic events from the wrong claim are logged with run and agent, not applied
  const ignored = b.logs.filter((l) => l.run === id && /current claim/.test(l.msg));
  assert.ok(ignored.some((l) => l.agent === "bench2"), "bench2's report is logged as not from the claim");
  assert.is(ignored.filter((l) => l.agent === "bench1").length, 2, "bench1's wrong-lease finish and step are logged");

  release();
  const done = await waitUntil("the real job-finished", async () => {
    const r = await runOf(s, id);
    return r.state === "passed" ? r : undefined;
  });
  assert.is(done.attempts.length, 1);
  assert.is(done.attempts[0]?.outcome, "pass");
});

test("an agent token created in the store signs events; once revoked, that agent's events go to the dead letters", async () => {
  const { s, keys } = await setup();
  const { token, record } = await s.svc.context.tokens.create({ name: "bench7", role: "agent", scope: {}, createdBy: "admin" });
  assert.match(record.eventKey ?? "", /^[0-9a-f]{64}$/, "the derived key is stored, not the token");
  const listed = await s.api("/api/v1/tokens");
  assert.not.match(listed.text, new RegExp(record.eventKey ?? "-"), "the event key is never shown by the API");

  const agent = new FakeAgent(redis.url, s.config.namespace, "bench7", [{ id: "b7", profile: "esp32-devkitc" }], undefined, token);
  await agent.start();
  cleanups.push(() => agent.stop());
  const r = await s.api("/api/v1/runs", { body: { suite: "smoke", board: "b7" } });
  assert.is(r.status, 201, r.text);
  await waitUntil("the run on the stored-token agent to pass", async () => (await runOf(s, asRun(r).id)).state === "passed");

  await s.svc.context.tokens.revoke(record.id, "admin");
  const writer = new EventWriter(client, keys, "bench7", token);
  const after = await writer.publish({ type: "board-gone", agent: "bench7", boardId: "b7", reason: "unplugged" });
  await consumed(keys, after ?? "");
  assert.match((await deadLetter(keys, after ?? "")) ?? "", /unknown or revoked agent bench7/);
  assert.is(await client.hget(keys.boardOwners(), "b7"), "bench7", "the revoked agent's event did not release its board");
});

test("HIL_AGENT_AUTH=off applies unsigned events (a lab that trusts its Redis)", async () => {
  const { s } = await setup({ HIL_AGENT_AUTH: "off" });
  const agent = new FakeAgent(redis.url, s.config.namespace, "bench9", [{ id: "b9", profile: "esp32-devkitc" }], async () => {
    await sleep(10);
    return { outcome: "pass" };
  }, null);
  await agent.start();
  cleanups.push(() => agent.stop());
  const r = await s.api("/api/v1/runs", { body: { suite: "smoke", board: "b9" } });
  assert.is(r.status, 201, r.text);
  await waitUntil("the unsigned agent's run to pass", async () => (await runOf(s, asRun(r).id)).state === "passed");
});

test.run();
