import { mkdir } from "node:fs/promises";
import type { Server } from "node:http";
import express, { type Express } from "express";
import { Redis } from "ioredis";
import { pino, type Logger } from "pino";
import { labKeys } from "@hil/contracts";
import { artifactsRoutes } from "./api/artifacts-routes.js";
import { requireToken } from "./api/auth.js";
import { bookingsRoutes, scheduleBookingEnd } from "./api/bookings-routes.js";
import { boardsRoutes } from "./api/boards-routes.js";
import { errorHandler, HttpError } from "./api/http-error.js";
import { buildOpenApi } from "./api/openapi.js";
import { runsRoutes } from "./api/runs-routes.js";
import { FsArtifactStore } from "./artifacts/fs-artifact-store.js";
import { defaultCatalog, type Catalog } from "./catalog.js";
import type { SchedulerConfig } from "./config.js";
import { AgentQueues, type SchedulerContext } from "./context.js";
import { Dispatcher } from "./dispatch/dispatcher.js";
import { EventConsumer } from "./dispatch/event-consumer.js";
import { Reaper } from "./dispatch/reaper.js";
import { RunLifecycle } from "./dispatch/run-lifecycle.js";
import { LeaseStore } from "./leases/lease-store.js";
import { SchedulerMetrics } from "./metrics.js";
import { redisHealth } from "./redis/redis-info.js";
import { BoardRegistry } from "./store/board-registry.js";
import { BookingStore } from "./store/booking-store.js";
import { RunStore } from "./store/run-store.js";

export const SCHEDULER_VERSION = "0.1.0";

export interface SchedulerDeps {
  catalog?: Catalog;
  logger?: Logger;
}

export interface SchedulerApp {
  readonly app: Express;
  readonly context: SchedulerContext;
  /** Listens, starts the dispatcher, event consumer and reaper; resolves with the bound port. */
  start(): Promise<{ port: number; url: string }>;
  /** Stops accepting, lets in-flight requests finish, stops the loops, closes Redis. */
  stop(): Promise<void>;
}

export function createSchedulerApp(config: SchedulerConfig, deps: SchedulerDeps = {}): SchedulerApp {
  const log = deps.logger ?? pino({ name: "scheduler", level: "info" });
  const catalog = deps.catalog ?? defaultCatalog();
  // auto-pipelining: the many small commands issued in one tick leave in one write (far fewer syscalls under load)
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3, enableReadyCheck: true, enableAutoPipelining: true });
  redis.on("error", (err) => log.warn({ err: err.message }, "redis connection problem"));
  const keys = labKeys(config.namespace);
  const boards = new BoardRegistry(redis, keys);
  let dispatcher: Dispatcher | undefined;
  const context: SchedulerContext = {
    config,
    redis,
    keys,
    runs: new RunStore(redis, keys),
    boards,
    bookings: new BookingStore(redis, keys),
    leases: new LeaseStore(redis, keys),
    artifacts: new FsArtifactStore(config.artifactDir),
    queues: new AgentQueues(redis, keys),
    metrics: new SchedulerMetrics(redis, keys, boards),
    log,
    wake: (refreshBoards) => dispatcher?.wake(refreshBoards),
  };
  dispatcher = new Dispatcher(context);
  const lifecycle = new RunLifecycle(context);
  const events = new EventConsumer(context, lifecycle);
  const reaper = new Reaper(context, lifecycle);
  const timers = new Set<NodeJS.Timeout>();

  const app = express();
  app.disable("x-powered-by");
  app.get("/healthz", async (_req, res) => {
    const h = await redisHealth(redis);
    res.status(h.reachable ? 200 : 503).json({
      ok: h.reachable,
      redis: { reachable: h.reachable, ...(h.version ? { version: h.version } : {}), ...(h.error ? { error: h.error } : {}) },
      service: "scheduler",
      version: SCHEDULER_VERSION,
    });
  });
  app.use(requireToken(config.tokens));
  app.get("/metrics", async (_req, res) => {
    res.type(context.metrics.registry.contentType).send(await context.metrics.registry.metrics());
  });
  const openapi = buildOpenApi(SCHEDULER_VERSION);
  app.get("/api/v1/openapi.json", (_req, res) => void res.json(openapi));
  app.use("/api/v1", express.json({ limit: "2mb" }));
  app.use("/api/v1", runsRoutes(context, catalog, lifecycle));
  app.use("/api/v1", boardsRoutes(context));
  app.use("/api/v1", bookingsRoutes(context, timers));
  app.use("/api/v1", artifactsRoutes(context));
  app.use((_req, _res, next) => next(new HttpError(404, "no such route; see /api/v1/openapi.json")));
  app.use(errorHandler(log));

  let server: Server | undefined;
  let tick: NodeJS.Timeout | undefined;
  let sweeping = false;

  return {
    app,
    context,
    async start() {
      await mkdir(config.artifactDir, { recursive: true });
      await events.start();
      for (const end of await context.bookings.upcomingEnds()) scheduleBookingEnd(context, end, timers);
      tick = setInterval(() => {
        dispatcher?.wake();
        if (sweeping) return;
        sweeping = true;
        reaper
          .sweep()
          .catch((err: unknown) => log.error({ err }, "reaper sweep failed; retrying next tick"))
          .finally(() => (sweeping = false));
      }, config.tickMs);
      dispatcher?.wake();
      const s = app.listen(config.port, config.host);
      server = s;
      await new Promise<void>((resolve, reject) => {
        s.once("listening", resolve);
        s.once("error", reject);
      });
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : config.port;
      return { port, url: `http://${config.host}:${port}` };
    },
    async stop() {
      if (tick) clearInterval(tick);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      dispatcher?.stop();
      const closing = server
        ? new Promise<void>((resolve) => {
            server?.close(() => resolve());
            // followers of a live log hold their connection open: end idle ones, give busy ones a moment
            server?.closeIdleConnections();
            setTimeout(() => server?.closeAllConnections(), 3000).unref();
          })
        : Promise.resolve();
      await closing;
      await events.stop();
      await dispatcher?.idle();
      await lifecycle.drain();
      while (sweeping) await new Promise((r) => setTimeout(r, 20));
      await context.queues.close();
      redis.disconnect();
    },
  };
}
