import { hostname } from "node:os";
import { join } from "node:path";
import { LabError, labKeys, type AgentHello, type ArtifactRef, type Board, type LabKeys, UsageError } from "@hil/contracts";
import { EventWriter } from "@hil/lab-protocol";
import { createRedisClient, explainRedisError, type RedisClient } from "@hil/lab-protocol/redis";
import type { Disposable } from "../links/serial-link.js";
import { AgentCommandReader } from "./agent-command-reader.js";
import { AgentMetrics } from "./agent-metrics.js";
import { startMetricsServer, type MetricsServer } from "./metrics-server.js";
import { openTunnel } from "./tunnel-client.js";
import { BoardConsoles, type ConsoleOpener } from "./board-consoles.js";
import type { BoardProvider } from "./board-provider.js";
import { BoardRegistry } from "./board-registry.js";
import type { AgentConfig } from "./config.js";
import type { JobExecutor } from "./job-executor.js";
import { JobWorker } from "./job-worker.js";
import { RedisLeaseRenewer, type LeaseRenewer } from "./lease-renewer.js";
import { retryUntilAcked } from "./retry-until-acked.js";
import { LogShipper } from "./log-shipper.js";
import { OwnedClients } from "./owned-clients.js";
import { silentLogger, type AgentLogger } from "./logger.js";
import { redisLogin, redisLoginHint } from "./redis-login.js";

export const AGENT_VERSION = "0.1.0";

export interface LabAgentDeps {
  boards: BoardProvider;
  executor: JobExecutor;
  logger?: AgentLogger;
  /** Defaults to the agent's own Lua renewal on the shared lease format. */
  leases?: LeaseRenewer;
  /** Opens a board's console while no job holds it; without it the agent keeps no idle consoles and takes no commands. */
  consoles?: ConsoleOpener;
  /** A local file for an artifact, for flash commands. */
  artifactFile?: (ref: ArtifactRef) => Promise<string>;
  /** Powers a board off and on for the lab's recovery ladder (virtual boards); see BoardConsolesDeps. */
  powerCycle?: (boardId: string) => Promise<string>;
  /** Counters the agent's parts feed (flash, log lines); served when `config.metricsListen` is set (created then if absent), bound first thing in `start`. */
  metrics?: AgentMetrics;
}

/**
 * One bench machine's agent: registers its boards, keeps itself alive in Redis, renews the
 * leases of what it runs, consumes its own BullMQ queue, and answers cancel messages.
 */
export class LabAgent {
  private readonly keys: LabKeys;
  private readonly logger: AgentLogger;
  private readonly redis: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly bullConnection: RedisClient;
  /** Every client above, the command reader's, and BullMQ's copies of the worker's: a stop ends them all. */
  private readonly clients = new OwnedClients();
  private readonly registry: BoardRegistry;
  private readonly shipper: LogShipper;
  private readonly worker: JobWorker;
  private readonly consoles: BoardConsoles | undefined;
  private readonly commands: AgentCommandReader | undefined;
  private readonly startedAt = Date.now();
  private readonly subscriptions: Disposable[] = [];
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private stopped: Promise<void> | undefined;
  private lastRedisError: Error | undefined;
  /** The command connection was ready once: a later `ready` is a reconnect. */
  private connectedOnce = false;
  private readonly metrics: AgentMetrics | undefined;
  private metricsServer: MetricsServer | undefined;

  private constructor(
    private readonly config: AgentConfig,
    private readonly deps: LabAgentDeps,
  ) {
    this.keys = labKeys(config.namespace);
    this.logger = deps.logger ?? silentLogger;
    const onError = (raw: Error) => {
      const err = explainRedisError(raw);
      this.lastRedisError = err;
      this.logger.warn({ err: err.message }, "redis connection error");
    };
    const login = redisLogin(config);
    this.redis = this.clients.add(createRedisClient(config.redisUrl, { ...login.options, maxRetriesPerRequest: 3 }).on("error", onError));
    this.subscriber = this.clients.add(createRedisClient(config.redisUrl, login.options).on("error", onError));
    this.bullConnection = this.clients.add(createRedisClient(config.redisUrl, { ...login.options, maxRetriesPerRequest: null }).on("error", onError));
    // the agent's token signs every event it appends (docs/security.md, "Agents")
    const events = new EventWriter(this.redis, this.keys, config.name, config.token);
    if (!events.signs) this.logger.warn({}, "no agent token: events go unsigned, and a scheduler with HIL_AGENT_AUTH=required ignores them");
    this.registry = new BoardRegistry(this.redis, this.keys, config.name, events);
    this.redis.on("ready", () => {
      if (this.connectedOnce) void this.reconnected();
      this.connectedOnce = true;
    });
    this.metrics = deps.metrics;
    this.metrics?.probeRedis(() => this.redis.ping());
    this.shipper = new LogShipper(this.redis, this.keys, (err) => this.logger.warn({ err: err.message }, "log batch not written"), this.metrics, {
      maxRunLogLines: config.maxRunLogLines,
      maxBufferedLines: config.logBufferLines,
      spillFile: join(config.cacheDir, `log-spool-${config.name}-${process.pid}.jsonl`),
    });
    if (deps.consoles) {
      const consoles = new BoardConsoles({
        open: deps.consoles,
        shipper: this.shipper,
        ...(deps.artifactFile ? { artifactFile: deps.artifactFile } : {}),
        ...(deps.powerCycle ? { powerCycle: deps.powerCycle } : {}),
        ...(config.schedulerUrl && config.token ? { openTunnel: (id: string) => openTunnel(config.schedulerUrl!, config.token!, id) } : {}),
        logger: this.logger,
      });
      this.consoles = consoles;
      // the scheduler writes holder commands only for boards it records as this agent's; check again here
      this.commands = new AgentCommandReader(
        this.clients.add(createRedisClient(config.redisUrl, { ...login.options, maxRetriesPerRequest: null }).on("error", onError)),
        this.keys.agentCommands(config.name),
        (cmd) => {
          if (this.registry.get(cmd.board) === undefined) {
            this.logger.warn({ board: cmd.board, command: cmd.id }, "command for a board another agent owns; ignored");
            return Promise.resolve();
          }
          return consoles.execute(cmd);
        },
        this.logger,
      );
    }
    this.worker = new JobWorker({
      agent: config.name,
      keys: this.keys,
      connection: this.bullConnection,
      concurrency: 1,
      registry: this.registry,
      leases: deps.leases ?? new RedisLeaseRenewer(this.redis, this.keys),
      events,
      shipper: this.shipper,
      executor: deps.executor,
      logger: this.logger,
      leaseTtlMs: config.leaseTtlMs,
      renewEveryMs: config.heartbeatMs,
      ...(this.consoles ? { consoles: this.consoles } : {}),
    });
  }

  static async start(config: AgentConfig, deps: LabAgentDeps): Promise<LabAgent> {
    const metrics = deps.metrics ?? (config.metricsListen ? new AgentMetrics() : undefined);
    // bound before anything touches Redis: a port in use is a usage error at once, with nothing to undo
    const server = config.metricsListen && metrics ? await startMetricsServer(config.metricsListen, metrics.registry) : undefined;
    let agent: LabAgent;
    try {
      agent = new LabAgent(config, { ...deps, ...(metrics ? { metrics } : {}) });
    } catch (err) {
      await server?.close();
      throw err;
    }
    agent.metricsServer = server;
    if (server) agent.logger.info({ url: server.url }, "metrics listening");
    try {
      await agent.init();
    } catch (err) {
      await agent.stop().catch(() => {});
      const hint = [err as Error, agent.lastRedisError].flatMap((e) => (e ? [redisLoginHint(redisLogin(config), e)] : [])).find(Boolean);
      throw hint ? new UsageError(hint, { cause: err }) : err;
    }
    return agent;
  }

  get name(): string {
    return this.config.name;
  }

  boards(): Board[] {
    return this.registry.all();
  }

  get runningRuns(): string[] {
    return this.worker.runningRuns;
  }

  private async init(): Promise<void> {
    const boards = this.deps.boards.list().map((b) => ({ ...b, labels: { ...this.config.labels, ...b.labels } }));
    await this.shipper.init(boards.map((b) => b.id));
    const waiting = await this.registry.register(boards);
    if (waiting.length > 0) this.logger.warn({ boards: waiting }, "boards held by another live agent: waiting until it stops or reports them offline");
    // Alive before the first job can arrive, so the dispatcher never sees a worker without liveness.
    await this.heartbeat();
    this.worker.start();
    this.worker.concurrency = this.registry.all().length;
    this.openConsoles(this.registry.all());
    this.commands?.start();

    await this.subscriber.subscribe(this.keys.cancelChannel());
    this.subscriber.on("message", (_channel: string, runId: string) => {
      if (this.worker.abort(runId, new LabError("CANCELLED", `run ${runId} was cancelled`))) {
        this.logger.info({ runId }, "cancel received: aborting the run");
      }
    });

    this.subscriptions.push(
      this.deps.boards.onAdded((board) => void this.boardAdded(board)),
      this.deps.boards.onRemoved((id, reason) => void this.boardRemoved(id, reason)),
    );
    const stateChanges = this.deps.boards.onStateChanged?.((id, state, reason) => void this.boardUnusable(id, state, reason));
    if (stateChanges) this.subscriptions.push(stateChanges);
    // boards found while the agent was starting (adb discovery reports as devices answer): registered now
    const known = new Set([...this.registry.ids, ...this.registry.waitingIds]);
    for (const b of this.deps.boards.list()) if (!known.has(b.id) && b.state === "idle") void this.boardAdded(b);
    this.heartbeatTimer = setInterval(() => void this.tick(), this.config.heartbeatMs);
    this.logger.info({ boards: boards.length, queue: this.keys.agentQueue(this.config.name) }, "agent ready");
  }

  private async tick(): Promise<void> {
    // every tenth heartbeat re-announces the boards (see BoardRegistry.announce)
    const announce = ++this.ticks % 10 === 0 ? this.registry.announce() : Promise.resolve();
    try {
      await Promise.all([this.heartbeat(), this.worker.renewLeases(), this.claimWaiting(), announce]);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, "heartbeat failed; retrying next period");
    }
  }

  /**
   * Redis is back after a lost connection (a restart, the network): the boards are registered again with what
   * the agent is really doing on each (running with its run, or idle), at once rather than at the next periodic
   * announcement, so a board whose state write was lost is not left `running` (or gone, if Redis lost its data).
   */
  private async reconnected(): Promise<void> {
    if (this.stopped) return;
    this.logger.info({ boards: this.registry.ids.length }, "redis connection back: registering the boards again");
    try {
      await retryUntilAcked(
        "board re-registration",
        async () => {
          await this.registry.announce();
          await this.heartbeat();
        },
        { logger: this.logger, giveUp: () => this.stopped !== undefined },
      );
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, "boards not registered again (the agent is stopping)");
    }
  }

  private async heartbeat(): Promise<void> {
    const hello: AgentHello = {
      agent: this.config.name,
      host: hostname(),
      pid: process.pid,
      version: AGENT_VERSION,
      startedAt: this.startedAt,
      boards: this.registry.all(),
    };
    const unmatched = this.deps.boards.unmatched?.() ?? [];
    if (unmatched.length > 0) hello.unmatched = unmatched;
    await this.redis
      .multi()
      .set(this.keys.agent(this.config.name), JSON.stringify(hello), "PX", 3 * this.config.heartbeatMs)
      .sadd(this.keys.agents(), this.config.name)
      .exec();
  }

  /** Boards another agent held at registration: taken once that agent is gone or reported them offline. */
  private async claimWaiting(): Promise<void> {
    const taken = await this.registry.retryWaiting();
    if (taken.length === 0) return;
    this.worker.concurrency = this.registry.all().filter((b) => b.state !== "offline").length;
    this.openConsoles(this.registry.all().filter((b) => taken.includes(b.id)));
    this.logger.info({ boards: taken }, "boards released by their previous agent: registered here");
  }

  private async boardAdded(board: Board): Promise<void> {
    try {
      await this.shipper.init([board.id]);
      const waiting = await this.registry.register([{ ...board, state: "idle", labels: { ...this.config.labels, ...board.labels } }]);
      this.worker.concurrency = this.registry.all().filter((b) => b.state !== "offline").length;
      if (waiting.length > 0) this.logger.warn({ board: board.id }, "board held by another live agent: waiting until it stops or reports it offline");
      else {
        this.openConsoles([board]);
        this.logger.info({ board: board.id }, "board online");
      }
    } catch (err) {
      this.logger.error({ board: board.id, err: (err as Error).message }, "could not register a board");
    }
  }

  private async boardRemoved(id: string, reason: string): Promise<void> {
    this.worker.abortOnBoard(id, new LabError("BOARD_VANISHED", `board ${id} left the agent during the run (${reason})`));
    await this.consoles?.remove(id);
    try {
      await retryUntilAcked("board offline", () => this.registry.gone(id, reason), {
        logger: this.logger,
        context: { board: id },
        giveUp: () => this.stopped !== undefined,
      });
      this.logger.warn({ board: id, reason }, "board offline");
    } catch (err) {
      this.logger.error({ board: id, err: (err as Error).message }, "could not mark a board offline");
    }
  }

  /**
   * A board still here that nothing can use (an Android device offline, unauthorized, or gone from adb): its state
   * is written first (a job ending now then leaves it so), its idle console closes; it returns through boardAdded.
   */
  private async boardUnusable(id: string, state: "offline" | "unauthorized", reason: string): Promise<void> {
    if (this.registry.get(id) === undefined && !this.registry.waitingIds.includes(id)) return;
    this.worker.abortOnBoard(id, new LabError("BOARD_VANISHED", `board ${id} went ${state} during the run (${reason})`));
    const write = () => (state === "offline" ? this.registry.gone(id, reason) : this.registry.unusable(id, state));
    // started before the console closes (that may wait), awaited and retried below
    let pending: Promise<void> | undefined = write();
    pending.catch(() => undefined);
    await this.consoles?.remove(id);
    const once = (): Promise<void> => {
      const p = pending ?? write();
      pending = undefined;
      return p;
    };
    try {
      await retryUntilAcked(`board ${state}`, once, {
        logger: this.logger,
        context: { board: id },
        giveUp: () => this.stopped !== undefined,
      });
      this.worker.concurrency = Math.max(1, this.registry.all().filter((b) => b.state !== "offline" && b.state !== "unauthorized").length);
      this.logger.warn({ board: id, state, reason }, `board ${state}`);
    } catch (err) {
      this.logger.error({ board: id, err: (err as Error).message }, `could not mark a board ${state}`);
    }
  }

  /** Idle consoles for boards this agent registered (not those another agent still holds). */
  private openConsoles(boards: Board[]): void {
    if (!this.consoles) return;
    for (const b of boards) if (b.state !== "offline") void this.consoles.start(b.id);
  }

  /** Graceful stop: no new jobs, running ones handed back as infra errors, boards offline, liveness gone. */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    for (const s of this.subscriptions) s.dispose();
    // Redis refusing our login (a revoked token) would hold a graceful stop forever: there is nothing
    // to hand back through it, so abort what runs and go.
    const lockedOut = this.redis.status !== "ready" && /WRONGPASS|NOAUTH/.test(this.lastRedisError?.message ?? "");
    try {
      if (lockedOut) {
        this.logger.error({ err: this.lastRedisError?.message }, "stopping without handing back: Redis refuses this agent's login (token revoked?)");
        this.bullConnection.disconnect();
        await this.commands?.stop();
        await this.consoles?.closeAll();
        await this.worker.abandon(new LabError("AGENT_LOST", "agent stopped while Redis refused its login"));
        return;
      }
      // Handing back waits on Redis; one that is gone for good (or does not come back in time) must not hold the
      // stop for ever, nor leave connections retrying in a process that is meant to end.
      const handedBack = await within(this.handBack().then(() => true), STOP_PATIENCE_MS, false);
      if (handedBack) this.logger.info({}, "agent stopped");
      else {
        this.logger.warn({ waitedMs: STOP_PATIENCE_MS }, "stopping without handing everything back: Redis did not answer in time (the scheduler's reaper retries the runs)");
        await within(this.worker.abandon(new LabError("AGENT_LOST", "agent stopped while Redis did not answer")).catch(() => undefined), 2_000, undefined);
      }
    } finally {
      this.shipper.close();
      await this.metricsServer?.close();
      await this.deps.executor.close?.();
      await this.deps.boards.close();
      this.subscriber.disconnect();
      this.bullConnection.disconnect();
      const quitted = !lockedOut && (await within(this.redis.quit().then(() => true, () => false), 2_000, false));
      if (!quitted) this.redis.disconnect();
      // what the steps above left open (BullMQ's blocking copy when its close waited on a Redis that is gone)
      this.clients.endAll();
    }
  }

  /** The graceful half of a stop: no new jobs, running ones handed back as infra errors, lines flushed, boards offline. */
  private async handBack(): Promise<void> {
    await this.commands?.stop();
    // consoles first: a job handed back below then leaves its boards closed instead of reopening them
    await this.consoles?.closeAll();
    await this.worker.stop();
    if (!(await this.shipper.flush(10_000))) this.logger.warn({ lines: this.shipper.waitingLines }, "stopping with log lines Redis did not take");
    await this.registry.markAllOffline();
    await this.redis.del(this.keys.agent(this.config.name));
  }
}

/** How long a stop waits for Redis to take what the agent hands back. */
const STOP_PATIENCE_MS = 20_000;

/** `p`'s value, or `timedOut` when it has not settled within `ms` (it is left to settle on its own); rejects with `p`. */
async function within<T>(p: Promise<T>, ms: number, timedOut: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(timedOut), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
