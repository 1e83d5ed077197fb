// Two `hil scheduler` processes on one Redis race over many runs and few boards. In-test agents (real
// BullMQ workers) record when each run held each board: no board may ever be held by two runs at once,
// and every run must run exactly once.
import { test } from "uvu";
import { Redis } from "ioredis";
import { labKeys } from "@hil/contracts";
import * as assert from "uvu/assert";
import { makeTempDir, sleep, type Spawned, spawnHil, waitUntil } from "@hil/test-kit";
import { startPrivateRedis } from "../src/redis/index.js";
import { ADMIN, ALICE, BOB, agentTokens, apiClient, asRun, freshNamespace } from "./support/harness.js";
import { FakeAgent, type Holding } from "./support/fake-agent.js";

const RUNS = 90;

test("two scheduler processes never lease one board twice", async () => {
  const redis = await startPrivateRedis();
  const tmp = await makeTempDir("hil-sched-race-");
  const ns = freshNamespace();
  const procs: Spawned[] = [];
  const agents: FakeAgent[] = [];
  try {
    const env = { ...process.env, HIL_TOKENS: `alice:${ALICE},bob:${BOB},${agentTokens()}`, HIL_ADMIN_TOKEN: ADMIN, HIL_TICK: "300ms", HIL_LEASE_TTL: "5s" };
    for (let i = 0; i < 2; i++) {
      procs.push(spawnHil(["scheduler", "--port", "0", "--redis", redis.url, "--namespace", ns, "--artifact-dir", tmp.dir], { env }));
    }
    const urls = await Promise.all(procs.map(async (p) => (await p.waitFor(/listening on (http:\/\/\S+)/, 60_000))[1] ?? ""));
    const apis = urls.map((u) => apiClient(u));
    const slow = async () => {
      await sleep(10 + Math.floor(Math.random() * 40));
      return { outcome: "pass" as const };
    };
    for (let a = 0; a < 2; a++) {
      const agent = new FakeAgent(redis.url, ns, `bench${a}`, [0, 1].map((b) => ({ id: `dk${a}${b}`, profile: "esp32-virtual" })), slow);
      await agent.start();
      agents.push(agent);
    }
    const up = await fetch(`${urls[0]}/api/v1/artifacts`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/octet-stream" }, body: Buffer.from("app image") });
    const app = (await up.json()) as { sha256: string; size: number };
    const ids = await Promise.all(
      Array.from({ length: RUNS }, async (_, i) => {
        const api = apis[i % 2];
        if (!api) throw new Error("no api");
        const r = await api("/api/v1/runs", {
          body: { suite: "esp32-smoke", profile: "esp32-virtual", artifacts: { app }, priority: 30 + (i % 3) * 10 },
          token: i % 3 === 0 ? BOB : ALICE,
        });
        assert.is(r.status, 201, r.text);
        return asRun(r).id;
      }),
    );
    const api0 = apis[0];
    if (!api0) throw new Error("no api");
    await waitUntil(
      "every run to pass",
      async () => {
        for (const id of ids) if (asRun(await api0(`/api/v1/runs/${id}`)).state !== "passed") return false;
        return true;
      },
      120_000,
    );
    // fair share counts boards held per submitter: back to zero once everything has ended
    const probe = new Redis(redis.url);
    try {
      const keys = labKeys(ns);
      await waitUntil("usage back to zero", async () => Object.values(await probe.hgetall(keys.submitterUsage())).every((v) => v === "0"), 10_000);
      assert.is(await probe.zcard(keys.activeRuns()), 0);
    } finally {
      probe.disconnect();
    }
    const holdings: Holding[] = agents.flatMap((a) => a.holdings);
    // every run ran exactly once (attempt 1)
    const perRun = new Map<string, number>();
    for (const h of holdings) perRun.set(h.runId, (perRun.get(h.runId) ?? 0) + 1);
    assert.is(perRun.size, RUNS);
    assert.ok([...perRun.values()].every((n) => n === 1), "a run ran twice");
    // no two runs held one board at overlapping times
    const byBoard = new Map<string, Holding[]>();
    for (const h of holdings) byBoard.set(h.board, [...(byBoard.get(h.board) ?? []), h]);
    let overlaps = 0;
    for (const list of byBoard.values()) {
      list.sort((a, b) => a.start - b.start);
      for (let i = 1; i < list.length; i++) if ((list[i]?.start ?? 0) < (list[i - 1]?.end ?? 0)) overlaps++;
    }
    assert.is(overlaps, 0, "a board was held by two runs at once");
    // both schedulers took part in dispatching: each ran passes over the shared pending set
    assert.ok(byBoard.size === 4, "every board was used");
  } finally {
    for (const a of agents) await a.stop().catch(() => {});
    for (const p of procs) await p.stop();
    await redis.stop();
    await tmp.remove();
  }
});

test.run();
