import { mkdir } from "node:fs/promises";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import express, { type Express } from "express";
import { pino, type Logger } from "pino";
import { labKeys } from "@hil/contracts";
import { artifactsRoutes } from "./api/artifacts-routes.js";
import helmet from "helmet";
import { authorize } from "./api/authorize.js";
import { identityRoutes } from "./api/identity-routes.js";
import { AuditLog } from "./auth/audit-log.js";
import { RedisAclSync } from "./auth/redis-acl.js";
import { RateLimiter } from "./auth/rate-limiter.js";
import { TokenStore } from "./auth/token-store.js";
import { UserStore } from "./auth/user-store.js";
import { bookingsRoutes, scheduleBookingEnd } from "./api/bookings-routes.js";
import { boardCommandRoutes } from "./api/board-command-routes.js";
import { boardHolder } from "./consoles/board-commands.js";
import { SerialTunnels } from "./consoles/serial-tunnels.js";
import { boardsRoutes } from "./api/boards-routes.js";
import { errorHandler, HttpError } from "./api/http-error.js";
import { buildOpenApi } from "./api/openapi.js";
import { runsRoutes } from "./api/runs-routes.js";
import { ArtifactSweeper, RunArtifactReferences } from "./artifacts/artifact-sweeper.js";
import { FsArtifactStore } from "./artifacts/fs-artifact-store.js";
import { defaultCatalog, type Catalog } from "./catalog.js";
import type { SchedulerConfig } from "./config.js";
import { AgentQueues, type SchedulerContext } from "./context.js";
import { Dispatcher } from "./dispatch/dispatcher.js";
import { EventConsumer } from "./dispatch/event-consumer.js";
import { Reaper } from "./dispatch/reaper.js";
import { RedisOutageWatch } from "./dispatch/redis-outage-watch.js";
import { RunLifecycle } from "./dispatch/run-lifecycle.js";
import { BoardLogArchive } from "./logs/board-log-archive.js";
import { LeaseStore } from "./leases/lease-store.js";
import { SchedulerMetrics } from "./metrics.js";
import { webhooksRoutes } from "./api/webhooks-routes.js";
import { WebhookOutbox } from "./webhooks/webhook-outbox.js";
import { WebhookStore } from "./webhooks/webhook-store.js";
import { createRedisClient, explainRedisError, redisHealth } from "@hil/lab-protocol/redis";
import { BoardRegistry } from "./store/board-registry.js";
import { BookingStore } from "./store/booking-store.js";
import { RunStore } from "./store/run-store.js";
import { BoardHealth } from "./health/board-health.js";
import { KnownGoodImages } from "./health/known-good-images.js";

export const SCHEDULER_VERSION = "0.1.0";

/** Something served on the scheduler's HTTP server beside the API (the dashboard gateway); closed before Redis. */
export interface ServerAttachment {
  close(): Promise<void>;
}

export interface SchedulerDeps {
  catalog?: Catalog;
  logger?: Logger;
  /** Attached to the HTTP server once it listens, when `config.dashboardGateway` is on (the scheduler cannot import the dashboard: it depends on the scheduler). */
  attach?: (server: Server, context: SchedulerContext) => ServerAttachment;
  /** The dashboard's pages, served before the API's own headers and route policy (public: the page signs in itself). */
  web?: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
  /** Known-good images by board kind for health checks and reflash (`hil scheduler` gives the ESP32 one); see KnownGoodImages. */
  knownGoodImages?: Readonly<Record<string, Uint8Array>>;
}

export interface SchedulerApp {
  readonly app: Express;
  readonly context: SchedulerContext;
  /** Artifact garbage collection; started and stopped with the app, `sweep()` may be called any time. */
  readonly artifactSweeper: ArtifactSweeper;
  /** Listens, starts the dispatcher, event consumer and reaper; resolves with the bound port. */
  start(): Promise<{ port: number; url: string }>;
  /** Stops accepting, lets in-flight requests finish, stops the loops, closes Redis. */
  stop(): Promise<void>;
}

export function createSchedulerApp(config: SchedulerConfig, deps: SchedulerDeps = {}): SchedulerApp {
  const log = deps.logger ?? pino({ name: "scheduler", level: "info" });
  const catalog = deps.catalog ?? defaultCatalog();
  // auto-pipelining: the many small commands issued in one tick leave in one write (far fewer syscalls under load)
  const redis = createRedisClient(config.redisUrl, { maxRetriesPerRequest: 3, enableReadyCheck: true, enableAutoPipelining: true });
  redis.on("error", (err: Error) => log.warn({ err: explainRedisError(err).message }, "redis connection problem"));
  const keys = labKeys(config.namespace);
  const tokens = new TokenStore(redis, keys, config.tokens);
  const boards = new BoardRegistry(redis, keys);
  const metrics = new SchedulerMetrics(redis, keys, boards);
  const webhookStore = new WebhookStore(redis, keys);
  const webhooks = new WebhookOutbox({ redis, keys, config, store: webhookStore, log, registry: metrics.registry });
  let dispatcher: Dispatcher | undefined;
  const runs = new RunStore(redis, keys);
  const artifacts = new FsArtifactStore(config.artifactDir);
  const images = new KnownGoodImages(artifacts, deps.knownGoodImages ?? {}, config.healthImageEsp32 !== undefined ? { esp32: config.healthImageEsp32 } : {});
  const health = new BoardHealth({ redis, keys, boards, runs, config, log, wake: (refreshBoards) => dispatcher?.wake(refreshBoards) }, catalog, images);
  const context: SchedulerContext = {
    config,
    redis,
    keys,
    runs,
    boards,
    bookings: new BookingStore(redis, keys, (id) => log.warn({ booking: id }, "stored booking is not valid; skipped")),
    leases: new LeaseStore(redis, keys),
    artifacts,
    queues: new AgentQueues(redis, keys),
    metrics,
    webhookStore,
    webhooks,
    tokens,
    failedAuth: new RateLimiter(config.authFailLimit, 60_000),
    redisAcl: new RedisAclSync({ redis, keys, namespace: config.namespace, tokens, log, mode: config.redisAcl }),
    users: new UserStore(redis, keys),
    audit: new AuditLog(redis, keys, config.auditMax, (err) => log.error({ err: err.message }, "audit entry not written")),
    log,
    boardLogs: new BoardLogArchive(redis, keys, (id) => artifacts.boardDir(id), { retentionMs: config.retentionMs, warn: (f, m) => log.warn(f, m) }),
    // a Redis answer slower than a third of a lease is an outage; leases expire up to one TTL after it ends
    outages: new RedisOutageWatch(Math.max(1000, config.leaseTtlMs / 3), 2 * config.leaseTtlMs + config.tickMs),
    wake: (refreshBoards) => dispatcher?.wake(refreshBoards),
    health,
  };
  dispatcher = new Dispatcher(context);
  const lifecycle = new RunLifecycle(context);
  health.useRunStopper((runId, why) => lifecycle.stop(runId, "cancelled", why));
  const events = new EventConsumer(context, lifecycle);
  const reaper = new Reaper(context, lifecycle);
  // bookings name no artifacts yet; their ArtifactReferences source joins this list when they do
  const sweeper = new ArtifactSweeper(context.artifacts, [new RunArtifactReferences(redis, keys)], { retentionMs: config.artifactRetentionMs }, log);
  const timers = new Set<NodeJS.Timeout>();
  const tunnels = new SerialTunnels(context);

  const app = express();
  app.disable("x-powered-by");
  if (deps.web && config.dashboardGateway) app.use(deps.web);
  // the API serves JSON, SSE and files only: nothing may be framed, sniffed or run as a page
  app.use(helmet({ contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } } }));
  app.get("/healthz", async (_req, res) => {
    const h = await redisHealth(redis);
    res.status(h.reachable ? 200 : 503).json({
      ok: h.reachable,
      redis: { reachable: h.reachable, ...(h.version ? { version: h.version } : {}), ...(h.error ? { error: h.error } : {}) },
      service: "scheduler",
      version: SCHEDULER_VERSION,
    });
  });
  app.use(
    authorize({
      tokens: context.tokens,
      audit: context.audit,
      owners: {
        run: async (id) => (/^[a-z0-9-]{1,64}$/.test(id) ? (await context.runs.get(id))?.run.submitter : undefined),
        booking: async (id) => (/^[a-z0-9-]{1,64}$/.test(id) ? (await context.bookings.get(id))?.holder : undefined),
        "board-holder": (id) => boardHolder(context, id),
      },
      failedAuth: context.failedAuth,
      submit: new RateLimiter(config.submitLimit, 60_000),
    }),
  );
  app.get("/metrics", async (_req, res) => {
    res.type(context.metrics.registry.contentType).send(await context.metrics.registry.metrics());
  });
  const openapi = buildOpenApi(SCHEDULER_VERSION);
  app.get("/api/v1/openapi.json", (_req, res) => void res.json(openapi));
  app.use("/api/v1", express.json({ limit: "2mb" }));
  app.use("/api/v1", runsRoutes(context, catalog, lifecycle));
  app.use("/api/v1", boardsRoutes(context));
  app.use("/api/v1", boardCommandRoutes(context, tunnels));
  app.use("/api/v1", bookingsRoutes(context, timers));
  app.use("/api/v1", artifactsRoutes(context));
  app.use("/api/v1", identityRoutes(context));
  app.use("/api/v1", webhooksRoutes(context));
  app.use((_req, _res, next) => next(new HttpError(404, "no such route; see /api/v1/openapi.json")));
  app.use(errorHandler(log));

  let server: Server | undefined;
  let attached: ServerAttachment | undefined;
  let tick: NodeJS.Timeout | undefined;
  let sweeping = false;

  return {
    app,
    context,
    artifactSweeper: sweeper,
    async start() {
      await mkdir(config.artifactDir, { recursive: true });
      // agent users first: agents waiting to log in get in before any job is dispatched to them
      await context.redisAcl.start();
      await events.start();
      webhooks.start();
      sweeper.start(config.artifactSweepMs);
      await health.load();
      for (const end of await context.bookings.upcomingEnds()) scheduleBookingEnd(context, end, timers);
      tick = setInterval(() => {
        dispatcher?.wake();
        health.tick().catch((err: unknown) => log.error({ err }, "board health tick failed; retrying next tick"));
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
      tunnels.attach(s, app);
      if (deps.attach && config.dashboardGateway) attached = deps.attach(s, context);
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : config.port;
      return { port, url: `http://${config.host}:${port}` };
    },
    async stop() {
      if (tick) clearInterval(tick);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      dispatcher?.stop();
      tunnels.closeAll();
      await attached?.close();
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
      await health.idle();
      await lifecycle.drain();
      await webhooks.stop();
      await sweeper.stop();
      while (sweeping) await new Promise((r) => setTimeout(r, 20));
      await context.queues.close();
      context.redisAcl.stop();
      redis.disconnect();
    },
  };
}
