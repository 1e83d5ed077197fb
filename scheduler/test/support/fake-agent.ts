// A small in-test agent: real BullMQ Worker, real Redis, the shared data model and protocol (board
// claims, signed events, hashed lease tokens). It records when each run held each board so tests can
// look for double leasing. It signs with the config token `agentToken(name)` the harness gives the
// scheduler, unless told otherwise.
import { Worker, type Job as BullJob } from "bullmq";
import { Redis } from "ioredis";
import { labKeys, type AgentEvent, type Board, type Job, type JobResult, type LabKeys } from "@hil/contracts";
import { claimBoards, EventWriter, LeaseStore, leaseTokenHash } from "@hil/lab-protocol";
import { sleep } from "@hil/test-kit";
import { agentToken } from "./harness.js";

export interface FakeBoard {
  id: string;
  profile: string;
  labels?: Record<string, string>;
}

export interface Holding {
  runId: string;
  attempt: number;
  board: string;
  agent: string;
  start: number;
  end: number;
}

export type Behaviour = (job: Job, signal: AbortSignal) => Promise<Pick<JobResult, "outcome"> & Partial<JobResult>>;


export class FakeAgent {
  readonly keys: LabKeys;
  readonly holdings: Holding[] = [];
  readonly jobsSeen: Job[] = [];
  private readonly redis: Redis;
  private readonly leases: LeaseStore;
  private readonly events: EventWriter;
  private worker?: Worker;
  private beat?: NodeJS.Timeout;
  private readonly running = new Map<string, { boards: string[]; token: string; abort: AbortController }>();
  private sub?: Redis;
  private workerConn?: Redis;
  private dead = false;

  constructor(
    readonly url: string,
    namespace: string,
    readonly name: string,
    readonly boards: FakeBoard[],
    private readonly behaviour: Behaviour = async () => {
      await sleep(50);
      return { outcome: "pass" };
    },
    /** The token it signs its events with (null: unsigned). */
    token: string | null = agentToken(name),
  ) {
    this.keys = labKeys(namespace);
    this.redis = new Redis(url, { maxRetriesPerRequest: null });
    this.leases = new LeaseStore(this.redis, this.keys);
    this.events = new EventWriter(this.redis, this.keys, name, token ?? undefined);
  }

  async start(): Promise<void> {
    await this.register();
    this.beat = setInterval(() => void this.heartbeat().catch(() => {}), 500);
    this.sub = this.redis.duplicate();
    await this.sub.subscribe(this.keys.cancelChannel());
    this.sub.on("message", (_ch, runId: string) => this.running.get(runId)?.abort.abort());
    this.worker = new Worker(this.keys.agentQueue(this.name), (job: BullJob<Job>) => this.process(job.data), {
      connection: (this.workerConn = new Redis(this.url, { maxRetriesPerRequest: null })),
      prefix: this.keys.bullPrefix,
      concurrency: Math.max(1, this.boards.length),
      stalledInterval: 5000,
    });
    this.worker.on("error", () => {});
  }

  board(b: FakeBoard): Board {
    return { id: b.id, profile: b.profile, agent: this.name, identity: {}, state: "idle", labels: b.labels ?? {}, virtual: true, health: 100, updatedAt: Date.now() };
  }

  /**
   * Writes the hashes of the boards free for this agent and announces them (the real agent's way).
   * `alive: false` registers the boards of an agent that is not running (its boards are offline).
   * Returns the board ids left alone because another live agent holds them.
   */
  async register(alive = true): Promise<string[]> {
    const pipe = this.redis.multi();
    if (alive) pipe.set(this.keys.agent(this.name), JSON.stringify({ agent: this.name }), "PX", 3000);
    pipe.sadd(this.keys.agents(), this.name);
    await pipe.exec();
    const refused = new Set(await claimBoards(this.redis, this.keys, this.name, this.boards.map((b) => this.board(b))));
    for (const b of this.boards) if (!refused.has(b.id)) await this.emit({ type: "board-changed", agent: this.name, board: this.board(b) });
    return [...refused];
  }

  private async heartbeat(): Promise<void> {
    await this.redis.set(this.keys.agent(this.name), JSON.stringify({ agent: this.name }), "PX", 3000);
    for (const [, r] of this.running) await this.leases.renew(r.boards, r.token, 2000);
  }

  /** Appends a signed event (signed with this agent's token, whatever it says). */
  async emit(ev: AgentEvent): Promise<void> {
    await this.events.publish(ev);
  }

  private async process(job: Job): Promise<void> {
    this.jobsSeen.push(job);
    const boards = Object.values(job.boards);
    // a job whose leases are gone was cancelled or handed elsewhere: drop it
    if ((await this.leases.renew(boards, job.leaseToken, 2000)).length > 0) return;
    const abort = new AbortController();
    this.running.set(job.runId, { boards, token: job.leaseToken, abort });
    const start = Date.now();
    const leaseHash = leaseTokenHash(job.leaseToken);
    await this.emit({ type: "job-started", runId: job.runId, attempt: job.attempt, agent: this.name, leaseHash, at: start });
    let result: Pick<JobResult, "outcome"> & Partial<JobResult>;
    try {
      result = await this.behaviour(job, abort.signal);
    } catch (err) {
      result = { outcome: "error", error: { code: "INTERNAL", message: (err as Error).message } };
    }
    if (this.dead) return new Promise<void>(() => {});
    if (abort.signal.aborted) result = { outcome: "cancelled" };
    const end = Date.now();
    for (const b of boards) this.holdings.push({ runId: job.runId, attempt: job.attempt, board: b, agent: this.name, start, end });
    this.running.delete(job.runId);
    await this.emit({
      type: "job-finished",
      agent: this.name,
      leaseHash,
      result: { runId: job.runId, attempt: job.attempt, steps: [], cases: [], durationMs: end - start, ...result },
    });
  }

  /** Dies without a word: no more heartbeats or renewals, the worker is gone. */
  async kill(): Promise<void> {
    this.dead = true;
    if (this.beat) clearInterval(this.beat);
    for (const r of this.running.values()) r.abort.abort();
    await this.worker?.close(true).catch(() => {});
    this.sub?.disconnect();
  }

  async stop(): Promise<void> {
    await this.kill();
    this.workerConn?.disconnect();
    this.redis.disconnect();
  }
}
