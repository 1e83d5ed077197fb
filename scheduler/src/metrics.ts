import { ERROR_CODES, TERMINAL_RUN_STATES, type LabKeys, type Run } from "@hil/contracts";
import type { RedisClient } from "@hil/lab-protocol/redis";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { BoardRegistry } from "./store/board-registry.js";
import { derivedState } from "./store/board-registry.js";

/** Runs read per scrape for the per-state and per-profile gauges (a bigger queue is counted in `hil_queue_depth` only). */
const SCAN_LIMIT = 5000;
const INFRA_CODES = Object.entries(ERROR_CODES).flatMap(([code, c]) => (c.infra ? [code] : []));
/** Seconds from a few to many hours: runs and waits span flash-and-boot smoke tests to overnight soaks. */
const RUN_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21_600];

/** The profiles a run asks for (one per role; a run pinned to a board by id counts as "pinned"). */
export function requestedProfiles(run: Pick<Run, "request">): string[] {
  const r = run.request;
  const out = new Set<string>();
  if (r.profile) out.add(r.profile);
  for (const role of Object.values(r.roles ?? {})) if (role.profile) out.add(role.profile);
  if (out.size === 0) out.add(r.board || Object.values(r.roles ?? {}).some((x) => x.board) ? "pinned" : "any");
  return [...out];
}

/** Runs' JSON for ids, in one pipeline; ids whose run is gone are skipped. */
async function readRuns(redis: RedisClient, keys: LabKeys, ids: string[]): Promise<Run[]> {
  if (ids.length === 0) return [];
  const pipe = redis.pipeline();
  for (const id of ids) pipe.hget(keys.run(id), "json");
  const out: Run[] = [];
  for (const [, raw] of (await pipe.exec()) ?? []) if (typeof raw === "string") out.push(JSON.parse(raw) as Run);
  return out;
}

/**
 * Prometheus metrics (docs/metrics.md). Gauges are read from Redis at scrape time so every replica
 * reports the same lab; counters and histograms count what this process did (sum them over replicas).
 */
export class SchedulerMetrics {
  readonly registry = new Registry();
  private readonly dispatchLatency = new Histogram({
    name: "hil_dispatch_latency_seconds",
    help: "From submit to the board lease and job enqueue (first attempt).",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120],
    registers: [this.registry],
  });
  private readonly ended = new Counter({ name: "hil_runs_ended_total", help: "Runs ended, by final state.", labelNames: ["state"], registers: [this.registry] });
  private readonly waited = new Histogram({
    name: "hil_run_wait_seconds",
    help: "From submit to the run's start on a board (or to its end, for a run that never started), by requested profile.",
    labelNames: ["profile"],
    buckets: RUN_BUCKETS,
    registers: [this.registry],
  });
  private readonly ran = new Histogram({
    name: "hil_run_duration_seconds",
    help: "From the run's start on a board to its end, by final state (runs that started only).",
    labelNames: ["state"],
    buckets: RUN_BUCKETS,
    registers: [this.registry],
  });
  private readonly infra = new Counter({
    name: "hil_infra_failures_total",
    help: "Attempts that ended in an infrastructure failure (retried or not), by error code.",
    labelNames: ["code"],
    registers: [this.registry],
  });

  constructor(redis: RedisClient, keys: LabKeys, boards: BoardRegistry) {
    // zero series from the start: rate() sees the first increase, dashboards show 0 rather than "no data"
    for (const state of TERMINAL_RUN_STATES) this.ended.inc({ state }, 0);
    for (const code of INFRA_CODES) this.infra.inc({ code }, 0);
    new Gauge({
      name: "hil_queue_depth",
      help: "Runs waiting in the pending set.",
      registers: [this.registry],
      async collect() {
        this.set(await redis.zcard(keys.pending()));
      },
    });
    new Gauge({
      name: "hil_queue_depth_by_profile",
      help: `Runs waiting, by the board profile they ask for (a multi-board run counts once per profile; the first ${SCAN_LIMIT} runs of the queue).`,
      labelNames: ["profile"],
      registers: [this.registry],
      async collect() {
        this.reset();
        const runs = await readRuns(redis, keys, await redis.zrange(keys.pending(), "0", String(SCAN_LIMIT - 1)));
        for (const run of runs) for (const profile of requestedProfiles(run)) this.inc({ profile });
      },
    });
    new Gauge({
      name: "hil_runs",
      help: "Runs not yet ended, by state (queued, leased, running).",
      labelNames: ["state"],
      registers: [this.registry],
      async collect() {
        this.reset();
        this.set({ state: "queued" }, await redis.zcard(keys.pending()));
        const counts = new Map<string, number>();
        for (const run of await readRuns(redis, keys, await redis.zrange(keys.activeRuns(), "0", String(SCAN_LIMIT - 1)))) {
          if (run.state === "leased" || run.state === "running") counts.set(run.state, (counts.get(run.state) ?? 0) + 1);
        }
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });
    new Gauge({
      name: "hil_runs_active",
      help: "Runs holding boards (leased or running).",
      registers: [this.registry],
      async collect() {
        this.set(await redis.zcard(keys.activeRuns()));
      },
    });
    new Gauge({
      name: "hil_agents_alive",
      help: "Agents whose liveness key exists.",
      registers: [this.registry],
      async collect() {
        const names = await redis.smembers(keys.agents());
        if (names.length === 0) return this.set(0);
        const n = await redis.exists(...names.map((a) => keys.agent(a)));
        this.set(n);
      },
    });
    new Gauge({
      name: "hil_boards",
      help: "Boards by derived state.",
      labelNames: ["state"],
      registers: [this.registry],
      async collect() {
        const now = Date.now();
        this.reset();
        for (const v of await boards.snapshot(now)) this.inc({ state: derivedState(v, now) });
      },
    });
    new Gauge({
      name: "hil_leases",
      help: "Boards currently leased.",
      registers: [this.registry],
      async collect() {
        this.set((await boards.snapshot()).filter((v) => v.lease).length);
      },
    });
    new Gauge({
      name: "hil_board_state",
      help: "1 for each board's current derived state (one series per board); the board's profile and agent as labels.",
      labelNames: ["board", "profile", "agent", "state"],
      registers: [this.registry],
      async collect() {
        const now = Date.now();
        this.reset();
        for (const v of await boards.snapshot(now)) this.set({ board: v.board.id, profile: v.board.profile, agent: v.agent, state: derivedState(v, now) }, 1);
      },
    });
    new Gauge({
      name: "hil_board_busy",
      help: "1 while a run holds the board's lease, else 0; avg_over_time of it is the board's utilisation.",
      labelNames: ["board", "profile"],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const v of await boards.snapshot()) this.set({ board: v.board.id, profile: v.board.profile }, v.lease ? 1 : 0);
      },
    });
    new Gauge({
      name: "hil_redis_round_trip_seconds",
      help: "Time of one PING to Redis, measured at scrape time.",
      registers: [this.registry],
      async collect() {
        const started = process.hrtime.bigint();
        await redis.ping();
        this.set(Number(process.hrtime.bigint() - started) / 1e9);
      },
    });
  }

  dispatched(latencyMs: number): void {
    this.dispatchLatency.observe(latencyMs / 1000);
  }

  /** A run reached its final state: counted by state, its wait and (if it started) its run time observed. */
  runEnded(run: Pick<Run, "state" | "request" | "createdAt" | "startedAt" | "endedAt">): void {
    this.ended.inc({ state: run.state });
    const end = run.endedAt ?? Date.now();
    const waitedUntil = run.startedAt ?? end;
    for (const profile of requestedProfiles(run)) this.waited.observe({ profile }, Math.max(0, waitedUntil - run.createdAt) / 1000);
    if (run.startedAt !== undefined) this.ran.observe({ state: run.state }, Math.max(0, end - run.startedAt) / 1000);
  }

  /** An attempt ended in an infrastructure failure; a code outside the known set counts as OTHER (bounded labels). */
  infraFailure(code: string | undefined): void {
    this.infra.inc({ code: code !== undefined && INFRA_CODES.includes(code) ? code : "OTHER" });
  }
}

