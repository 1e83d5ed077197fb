import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Redis } from "ioredis";
import type { LabKeys, RunState } from "@hil/contracts";
import type { BoardRegistry } from "./store/board-registry.js";
import { derivedState } from "./store/board-registry.js";

/** Prometheus metrics; gauges are read from Redis at scrape time so every replica reports the same lab. */
export class SchedulerMetrics {
  readonly registry = new Registry();
  private readonly dispatchLatency = new Histogram({
    name: "hil_dispatch_latency_seconds",
    help: "From submit to the board lease and job enqueue (first attempt).",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120],
    registers: [this.registry],
  });
  private readonly ended = new Counter({ name: "hil_runs_ended_total", help: "Runs ended, by final state.", labelNames: ["state"], registers: [this.registry] });

  constructor(redis: Redis, keys: LabKeys, boards: BoardRegistry) {
    new Gauge({
      name: "hil_queue_depth",
      help: "Runs waiting in the pending set.",
      registers: [this.registry],
      async collect() {
        this.set(await redis.zcard(keys.pending()));
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
        const ids = await redis.zrange(keys.activeRuns(), "0", "4999");
        if (ids.length === 0) return;
        const pipe = redis.pipeline();
        for (const id of ids) pipe.hget(keys.run(id), "json");
        const counts = new Map<string, number>();
        for (const [, raw] of (await pipe.exec()) ?? []) {
          if (typeof raw !== "string") continue;
          const state = (JSON.parse(raw) as { state: RunState }).state;
          if (state === "leased" || state === "running") counts.set(state, (counts.get(state) ?? 0) + 1);
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
  }

  dispatched(latencyMs: number): void {
    this.dispatchLatency.observe(latencyMs / 1000);
  }

  runEnded(state: RunState): void {
    this.ended.inc({ state });
  }
}
