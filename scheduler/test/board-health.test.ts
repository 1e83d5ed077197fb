// BoardHealth on a real Redis, the agent played by the test: the recovery ladder's commands on the agent's
// command stream, its health-check runs (marked, pinned, the known-good image), the answers it waits for in the
// board log, return to service, skips and give-up on a physical board, and two scheduler replicas ticking at once
// recording each step once.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { pino } from "pino";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { labKeys, SuiteSchema, type AgentCommand, type Board, type LabKeys, type Run } from "@hil/contracts";
import { FsArtifactStore } from "../src/artifacts/fs-artifact-store.js";
import { staticCatalog } from "../src/catalog.js";
import { loadSchedulerConfig } from "../src/config.js";
import { BoardHealth } from "../src/health/board-health.js";
import { KnownGoodImages } from "../src/health/known-good-images.js";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";
import { BoardRegistry } from "../src/store/board-registry.js";
import { RunStore } from "../src/store/run-store.js";
import { freshNamespace } from "./support/harness.js";

let server: PrivateRedis;
let redis: Redis;
let dir: string;

test.before(async () => {
  server = await startPrivateRedis();
  redis = new Redis(server.url);
  dir = await mkdtemp(join(tmpdir(), "hil-health-"));
});
test.after(async () => {
  redis.disconnect();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

const IMAGE = Uint8Array.from([0xe9, 1, 2, 3, 4, 5, 6, 7]);
const CATALOG = staticCatalog(
  [
    SuiteSchema.parse({
      name: "esp32-health",
      roles: { dut: { profile: "esp32-devkitc" } },
      artifacts: { app: { kind: "esp32-app" } },
      timeout: "2m",
      steps: [{ type: "flash", images: [{ artifact: "app" }] }, { type: "expect", pattern: "app_main" }],
    }),
  ],
  [
    { id: "esp32-virtual", kind: "esp32", healthCheck: "esp32-health", appOffset: 0x10000 },
    { id: "esp32-devkitc", kind: "esp32", healthCheck: "esp32-health", appOffset: 0x10000 },
  ],
);

interface World {
  keys: LabKeys;
  health: BoardHealth;
  registry: BoardRegistry;
  runs: RunStore;
  now: number;
  tick(h?: BoardHealth): Promise<void>;
}

async function world(board: { id: string; profile: string; virtual: boolean }): Promise<World> {
  const keys = labKeys(freshNamespace());
  const registry = new BoardRegistry(redis, keys);
  const runs = new RunStore(redis, keys);
  const config = loadSchedulerConfig({ HIL_ADMIN_TOKEN: "admin-secret-1" });
  const images = new KnownGoodImages(new FsArtifactStore(join(dir, keys.bullPrefix)), { esp32: IMAGE }, {});
  const make = () => new BoardHealth({ redis, keys, boards: registry, runs, config, log: pino({ level: "silent" }), wake: () => undefined }, CATALOG, images);
  const health = make();
  await health.load();
  const b: Board = { ...board, agent: "a1", identity: {}, state: "idle", labels: {}, health: 100, updatedAt: Date.now() };
  await redis.multi().hset(keys.board(b.id), { json: JSON.stringify(b), agent: "a1" }).sadd(keys.boards(), b.id).hset(keys.boardOwners(), b.id, "a1").set(keys.agent("a1"), "{}").exec();
  const w: World = {
    keys,
    health,
    registry,
    runs,
    now: Date.now(),
    async tick(h = health) {
      w.now += 1000;
      await h.tick(w.now);
    },
  };
  return w;
}

async function commands(w: World): Promise<AgentCommand[]> {
  return (await redis.xrange(w.keys.agentCommands("a1"), "-", "+")).map(([, f]) => JSON.parse(f[1] ?? "{}") as AgentCommand);
}

/** The agent's closing line for a lab command, as BoardConsoles writes it into the board log. */
async function answer(w: World, board: string, cmd: AgentCommand, outcome = "finished"): Promise<void> {
  const seq = (await redis.xlen(w.keys.boardLog(board))) + 1;
  const text = `command ${cmd.id} (${cmd.type}) ${outcome}${cmd.type === "power-cycle" ? ": virtual board power-cycled" : ""}`;
  await redis.xadd(w.keys.boardLog(board), `${seq}-0`, "json", JSON.stringify({ board, run: null, seq, mono: 1, wall: Date.now(), stream: "agent", text }));
}

async function checkRun(w: World, board: string): Promise<Run> {
  const id = await redis.hget(w.keys.board(board), "checkRun");
  assert.ok(id, "a health check is pending");
  const stored = await w.runs.get(id);
  assert.ok(stored);
  return stored.run;
}

/** Ends a check run as the lifecycle would (only its state matters to BoardHealth). */
async function endRun(w: World, run: Run, state: "passed" | "error"): Promise<void> {
  const ended: Run = { ...run, state, endedAt: Date.now(), ...(state === "error" ? { error: { code: "SYNC_FAILED", message: "no answer from the ROM loader" } } : {}) };
  await redis.hset(w.keys.run(run.id), "json", JSON.stringify(ended));
}

async function threeFailures(w: World, board: string): Promise<void> {
  for (let i = 1; i <= 3; i++) {
    const q = await w.registry.recordInfraFailure([board], 3, "no answer");
    await w.health.afterInfraFailure([board], q, "SYNC_FAILED: no answer", `r-${i}`);
  }
}

const labels = async (w: World, board: string) =>
  (await w.health.history.list(board, 200)).reverse().map((e) => (e.outcome ? `${e.kind} ${e.outcome}` : e.kind));

test("a virtual board: reset, its check fails, power-cycle, its check passes, back in service", async () => {
  const w = await world({ id: "v1", profile: "esp32-virtual", virtual: true });
  await threeFailures(w, "v1");
  assert.is(await redis.hget(w.keys.board("v1"), "quarantined"), "1");
  const [reset] = await commands(w);
  assert.equal([reset?.type, reset?.actor, (reset as { mode?: string }).mode], ["reset", "lab:health", "run"]);

  await w.tick();
  assert.is(await redis.hget(w.keys.board("v1"), "checkRun"), null, "no check before the agent answers the step");
  await answer(w, "v1", reset!);
  await w.tick();
  const first = await checkRun(w, "v1");
  assert.is(first.purpose, "health-check");
  assert.is(first.submitter, "lab:health");
  assert.is(first.request.board, "v1");
  const plan = await w.runs.plan(first.id);
  assert.is(plan?.healthCheck, true);
  assert.is(plan?.roles["dut"]?.board, "v1");
  assert.is(plan?.artifacts["app"]?.size, IMAGE.length, "the known-good image is the check's app");

  await endRun(w, first, "error");
  await w.tick();
  const cycle = (await commands(w))[1];
  assert.is(cycle?.type, "power-cycle");
  await answer(w, "v1", cycle!);
  await w.tick();
  const second = await checkRun(w, "v1");
  assert.not.equal(second.id, first.id);
  await endRun(w, second, "passed");
  await w.tick();

  assert.equal(await redis.hmget(w.keys.board("v1"), "quarantined", "health", "fails", "checkRun", "recovery"), ["0", "100", "0", null, null]);
  assert.equal(await labels(w, "v1"), [
    "infra-failure",
    "infra-failure",
    "infra-failure",
    "quarantined",
    "reset done",
    "health-check started",
    "health-check failed",
    "power-cycle done",
    "health-check started",
    "health-check passed",
    "returned",
  ]);
});

test("a physical board: the power-cycle is skipped with the reason, the known-good image is reflashed, then the lab gives up", async () => {
  const w = await world({ id: "p1", profile: "esp32-devkitc", virtual: false });
  await threeFailures(w, "p1");
  const fail = async (i: number) => {
    const cmd = (await commands(w))[i]!;
    await answer(w, "p1", cmd);
    await w.tick();
    await endRun(w, await checkRun(w, "p1"), "error");
    await w.tick();
    return cmd;
  };
  assert.is((await fail(0)).type, "reset");
  const reflash = (await commands(w))[1] as Extract<AgentCommand, { type: "flash" }>;
  assert.is(reflash.type, "flash");
  assert.is(reflash.offset, 0x10000);
  assert.is(reflash.artifact.size, IMAGE.length);
  await fail(1);
  assert.equal((await commands(w)).length, 2, "nothing after the last rung");
  const history = await w.health.history.list("p1", 200);
  assert.match(history.find((e) => e.kind === "power-cycle")?.detail ?? "", /usb package is not installed/);
  assert.match(history[0]?.detail ?? "", /^recovery failed/);
  assert.equal((await labels(w, "p1")).slice(3), [
    "quarantined",
    "reset done",
    "health-check started",
    "health-check failed",
    "power-cycle skipped",
    "reflash done",
    "health-check started",
    "health-check failed",
    "quarantined",
  ]);
  assert.is(await redis.hget(w.keys.board("p1"), "quarantined"), "1");
});

test("two replicas ticking at once record an answered step and an ended check once each", async () => {
  const w = await world({ id: "v2", profile: "esp32-virtual", virtual: true });
  const other = new BoardHealth(
    { redis, keys: w.keys, boards: w.registry, runs: w.runs, config: loadSchedulerConfig({ HIL_ADMIN_TOKEN: "admin-secret-1" }), log: pino({ level: "silent" }), wake: () => undefined },
    CATALOG,
    new KnownGoodImages(new FsArtifactStore(join(dir, "other")), { esp32: IMAGE }, {}),
  );
  await other.load();
  await threeFailures(w, "v2");
  await answer(w, "v2", (await commands(w))[0]!);
  w.now += 1000;
  await Promise.all([w.health.tick(w.now), other.tick(w.now)]);
  await endRun(w, await checkRun(w, "v2"), "passed");
  w.now += 1000;
  await Promise.all([w.health.tick(w.now), other.tick(w.now)]);
  assert.equal((await labels(w, "v2")).slice(3), ["quarantined", "reset done", "health-check started", "health-check passed", "returned"]);
  assert.is((await w.runs.get((await w.health.history.list("v2"))[1]?.run ?? ""))?.run.purpose, "health-check");
});

test("an admin's quarantine ends the lab's recovery: the pending check is cancelled and nothing more is done", async () => {
  const w = await world({ id: "v3", profile: "esp32-virtual", virtual: true });
  const stopped: string[] = [];
  w.health.useRunStopper(async (id) => stopped.push(id));
  await threeFailures(w, "v3");
  await answer(w, "v3", (await commands(w))[0]!);
  await w.tick();
  const pending = await w.health.pendingCheck("v3");
  assert.ok(pending);
  await w.registry.setQuarantine("v3", true, "bench rewiring");
  await w.health.adminQuarantined("v3", "admin", "bench rewiring", pending);
  assert.equal(stopped, [pending]);
  assert.equal(await redis.hmget(w.keys.board("v3"), "quarantined", "checkRun", "recovery", "autoReturn"), ["1", null, null, null]);
  await endRun(w, (await w.runs.get(pending))!.run, "passed");
  await w.tick();
  await w.tick();
  assert.equal((await labels(w, "v3")).slice(3), ["quarantined", "reset done", "health-check started", "quarantined", "health-check failed"]);
  assert.match((await w.health.history.list("v3"))[0]?.detail ?? "", /^cancelled: board v3 was quarantined by admin/);
  assert.equal((await commands(w)).length, 1);
  assert.is(await redis.hget(w.keys.board("v3"), "quarantined"), "1", "only an admin returns it");
});

test.run();
