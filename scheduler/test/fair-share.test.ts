// Fair share across the whole pending queue (real Redis, real BullMQ, an in-test agent with one board):
// a submitter whose runs were queued behind a long backlog of another's gets its turn at once, a
// higher priority still goes first, and the per-submitter pending index moves with the global one.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import type { Job } from "@hil/contracts";
import { makeTempDir, waitUntil } from "@hil/test-kit";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";
import { ALICE, asRun, BOB, freshNamespace, startScheduler, type Running } from "./support/harness.js";
import { FakeAgent } from "./support/fake-agent.js";

let redis: PrivateRedis;
let tmp: { dir: string; remove(): Promise<void> };

test.before(async () => {
  redis = await startPrivateRedis();
  tmp = await makeTempDir("hil-sched-fair-");
});
test.after(async () => {
  await redis?.stop();
  await tmp?.remove();
});

async function submit(s: Running, token: string, body: Record<string, unknown> = {}): Promise<string> {
  const r = await s.api("/api/v1/runs", { body: { suite: "smoke", ...body }, token });
  assert.is(r.status, 201, r.text);
  return asRun(r).id;
}

// Deeper than anything a pass reads from the global pending set (500 on an explaining pass), so
// the old head-only dispatch could not see the later submitter until 100+ of these had run.
const BACKLOG = 620;

test("a later submitter's runs start long before an earlier submitter's backlog drains; priority still wins", async () => {
  const ns = freshNamespace();
  const s = await startScheduler(redis.url, ns, join(tmp.dir, ns), { HIL_LEASE_TTL: "5s", HIL_SUBMIT_LIMIT: "1000000" });
  let agent: FakeAgent | undefined;
  try {
    const started: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    // The first job holds the only board until every run is queued, so the order after it is the dispatcher's choice.
    agent = new FakeAgent(redis.url, ns, "fair1", [{ id: "dk1", profile: "esp32-devkitc" }], async (job: Job) => {
      started.push(job.runId);
      if (started.length === 1) await gate;
      return { outcome: "pass" };
    });
    await agent.start();

    const alice: string[] = [];
    for (let i = 0; i < BACKLOG; i += 20) {
      const batch = await Promise.all(Array.from({ length: Math.min(20, BACKLOG - i) }, () => submit(s, ALICE)));
      alice.push(...batch);
    }
    const bob = [await submit(s, BOB), await submit(s, BOB), await submit(s, BOB)];
    // a token of alice's allowed to jump the queue (the default cap is the default priority)
    const minted = await s.api("/api/v1/tokens", { body: { name: "alice", role: "ci", maxPriority: 100 } });
    assert.is(minted.status, 201, minted.text);
    const urgent = await submit(s, (minted.json as { token: string }).token, { priority: 90 });
    await waitUntil("the first run to hold the board", async () => started.length >= 1);

    const { redis: r, keys } = s.svc.context;
    // the per-submitter index holds exactly the pending runs, split by submitter
    const pendingNow = await r.zcard(keys.pending());
    assert.is((await r.zcard(keys.pendingBySubmitter("alice"))) + (await r.zcard(keys.pendingBySubmitter("bob"))), pendingNow);
    assert.equal((await r.smembers(keys.pendingSubmitters())).sort(), ["alice", "bob"]);

    // a cancelled queued run leaves both indexes
    const cancelled = alice[alice.length - 1] ?? "";
    assert.is((await s.api(`/api/v1/runs/${cancelled}/cancel`, { method: "POST", token: ALICE })).status, 200);
    assert.is(await r.zscore(keys.pending(), cancelled), null);
    assert.is(await r.zscore(keys.pendingBySubmitter("alice"), cancelled), null);

    open();
    await waitUntil("bob's runs to start", async () => bob.every((id) => started.includes(id)), 60_000);
    const firstAlice = started[0] ?? "";
    assert.ok(alice.includes(firstAlice), "the board's first run was alice's (queued first)");
    assert.is(started[1], urgent, "the higher-priority run goes first, although it was queued last");
    const bobAt = bob.map((id) => started.indexOf(id));
    // Fair share: bob holds no board and alice holds one, so bob's runs alternate with alice's.
    assert.ok(Math.max(...bobAt) < 12, `bob's runs started at positions ${bobAt.join(", ")} of ${started.length}`);
    await waitUntil("bob's runs to leave the pending index", async () => (await r.zcard(keys.pendingBySubmitter("bob"))) === 0 || undefined);
    await waitUntil("bob to leave the pending submitters", async () => !(await r.sismember(keys.pendingSubmitters(), "bob")) || undefined);
  } finally {
    await agent?.stop();
    await s.svc.stop();
  }
});

test.run();
