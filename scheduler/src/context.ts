import { Queue } from "bullmq";
import type { RedisClient } from "@hil/lab-protocol/redis";
import type { Logger } from "pino";
import type { LabKeys } from "@hil/contracts";
import type { FsArtifactStore } from "./artifacts/fs-artifact-store.js";
import type { BoardLogArchive } from "./logs/board-log-archive.js";
import type { AuditLog } from "./auth/audit-log.js";
import type { RedisAclSync } from "./auth/redis-acl.js";
import type { RateLimiter } from "./auth/rate-limiter.js";
import type { TokenStore } from "./auth/token-store.js";
import type { UserStore } from "./auth/user-store.js";
import type { SchedulerConfig } from "./config.js";
import type { LeaseStore } from "./leases/lease-store.js";
import type { RedisOutageWatch } from "./dispatch/redis-outage-watch.js";
import type { SchedulerMetrics } from "./metrics.js";
import type { BoardRegistry } from "./store/board-registry.js";
import type { BookingStore } from "./store/booking-store.js";
import type { BoardHealthHooks } from "./health/health-hooks.js";
import type { RunStore } from "./store/run-store.js";
import type { WebhookOutbox } from "./webhooks/webhook-outbox.js";
import type { WebhookStore } from "./webhooks/webhook-store.js";

/** Everything the scheduler's parts share; built once by createSchedulerApp. */
export interface SchedulerContext {
  readonly config: SchedulerConfig;
  readonly redis: RedisClient;
  readonly keys: LabKeys;
  readonly runs: RunStore;
  readonly boards: BoardRegistry;
  readonly bookings: BookingStore;
  readonly leases: LeaseStore;
  readonly artifacts: FsArtifactStore;
  readonly queues: AgentQueues;
  readonly metrics: SchedulerMetrics;
  /** Webhooks registered through the API (per principal). */
  readonly webhookStore: WebhookStore;
  /** Queues and sends the signed `run.finished` deliveries (docs/webhooks.md). */
  readonly webhooks: WebhookOutbox;
  readonly tokens: TokenStore;
  /** Failed credential checks per client address: one budget for the REST API and the gateway attached to it. */
  readonly failedAuth: RateLimiter;
  readonly users: UserStore;
  readonly audit: AuditLog;
  /** Redis ACL users that follow agent tokens (it listens to `tokens` itself). */
  readonly redisAcl: RedisAclSync;
  readonly log: Logger;
  /** Board log streams copied to files before their cap trims them; read when a reader resumes below the stream. */
  readonly boardLogs: BoardLogArchive;
  /** When Redis was last unresponsive (seen by the reaper): lost leases then are not the boards' fault. */
  readonly outages: RedisOutageWatch;
  /** Health checks, the recovery ladder and board history (docs/scheduler.md, "Board health"). */
  readonly health?: BoardHealthHooks;
  /** Asks the dispatcher for a pass soon (coalesced); `refreshBoards` when boards, agents, bookings or quarantine changed. */
  wake(refreshBoards?: boolean): void;
}

/** One BullMQ Queue per agent, created on first use, sharing the scheduler's connection. */
export class AgentQueues {
  private readonly queues = new Map<string, Queue>();
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LabKeys,
  ) {}

  get(agent: string): Queue {
    let q = this.queues.get(agent);
    if (!q) {
      q = new Queue(this.keys.agentQueue(agent), { connection: this.redis, prefix: this.keys.bullPrefix });
      this.queues.set(agent, q);
    }
    return q;
  }

  /** Takes a job that has not started out of the agent's queue (best effort; a started job is dropped by its agent). */
  async remove(agent: string, jobId: string): Promise<void> {
    try {
      await this.get(agent).remove(jobId);
    } catch {
      // locked by a worker: the agent aborts it through the cancel channel or its lost lease
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
