import { JobSchema, LabError, toLabError, type Job, type JobResult, type LabKeys } from "@hil/contracts";
import { leaseTokenHash, type EventWriter } from "@hil/lab-protocol";
import { Worker, type Job as BullJob } from "bullmq";
import { z } from "zod";
import type { RedisClient } from "@hil/lab-protocol/redis";
import type { BoardConsoles } from "./board-consoles.js";
import type { BoardRegistry } from "./board-registry.js";
import type { JobExecutor } from "./job-executor.js";
import { LeaseDeadline, leaseMarginMs } from "./lease-deadline.js";
import type { LeaseRenewer } from "./lease-renewer.js";
import type { LogShipper } from "./log-shipper.js";
import type { AgentLogger } from "./logger.js";
import { retryUntilAcked } from "./retry-until-acked.js";

export interface JobWorkerDeps {
  agent: string;
  keys: LabKeys;
  /** A connection BullMQ may block on (maxRetriesPerRequest: null). */
  connection: RedisClient;
  concurrency: number;
  registry: BoardRegistry;
  leases: LeaseRenewer;
  events: EventWriter;
  shipper: LogShipper;
  executor: JobExecutor;
  logger: AgentLogger;
  leaseTtlMs: number;
  /** How often renewLeases runs (the heartbeat): the lease deadline leaves room for two renewals. */
  renewEveryMs?: number;
  /** Idle consoles: a job takes its boards' links from them and gives them back. */
  consoles?: Pick<BoardConsoles, "hold" | "release">;
}

interface RunningJob {
  job: Job;
  boards: string[];
  controller: AbortController;
  done: Promise<unknown>;
  /** Set once the job has started under its lease. */
  deadline?: LeaseDeadline;
}

/** How long a stopping agent keeps trying to write a job's lines and job-finished while Redis does not answer. */
const STOPPING_PATIENCE_MS = 10_000;

/** What the processor returns to BullMQ: the result, or why the job was not run. */
export type ProcessOutcome = JobResult | { dropped: string };

/**
 * Consumes the agent's own BullMQ queue. A job runs only while the scheduler's leases on its
 * boards still carry the job's token (otherwise it was cancelled or handed to another board);
 * the outcome goes back as events, and the boards are idle again before job-finished is sent so
 * the dispatcher can lease them the moment it hears of it. A job whose lease the agent cannot renew
 * stops before the lease would expire (LeaseDeadline), as an infrastructure error; job-finished is
 * written however long Redis takes to come back. Running jobs are keyed by run and attempt: a retry
 * of a run may arrive while the attempt before it still waits to report.
 */
export class JobWorker {
  private worker: Worker<unknown, ProcessOutcome> | undefined;
  private readonly running = new Map<string, RunningJob>();
  private stopping = false;
  /** Redis refuses the agent: reports are not retried any more. */
  private abandoned = false;

  constructor(private readonly deps: JobWorkerDeps) {}

  start(): void {
    const { keys, agent, connection, concurrency } = this.deps;
    this.worker = new Worker<unknown, ProcessOutcome>(keys.agentQueue(agent), (job) => this.process(job), {
      connection,
      prefix: keys.bullPrefix,
      concurrency: Math.max(1, concurrency),
      name: agent,
      removeOnComplete: { count: 1000 },
      removeOnFail: { count: 1000 },
    });
    this.worker.on("error", (err) => this.deps.logger.error({ err: err.message }, "queue worker error"));
  }

  set concurrency(n: number) {
    if (this.worker) this.worker.concurrency = Math.max(1, n);
  }

  get runningRuns(): string[] {
    return [...new Set([...this.running.values()].map((r) => r.job.runId))];
  }

  /** Aborts a run (cancel message, lost lease, board gone, agent stopping). */
  abort(runId: string, reason: LabError): boolean {
    let aborted = false;
    for (const r of this.running.values()) if (r.job.runId === runId) aborted = abortJob(r, reason) || aborted;
    return aborted;
  }

  abortOnBoard(boardId: string, reason: LabError): void {
    for (const r of this.running.values()) if (r.boards.includes(boardId)) abortJob(r, reason);
  }

  /** Extends the leases of every running job; a job whose lease is lost is aborted. */
  async renewLeases(): Promise<void> {
    await Promise.all(
      [...this.running.values()].map(async (r) => {
        const sentAt = Date.now();
        const lost = await this.deps.leases.renew(r.boards, r.job.leaseToken, this.deps.leaseTtlMs);
        if (lost.length > 0) {
          this.deps.logger.warn({ runId: r.job.runId, lost }, "lease lost: aborting the run");
          abortJob(r, new LabError("LEASE_LOST", `the lease on ${lost.join(", ")} was lost (run cancelled or reassigned)`));
        } else r.deadline?.renewed(sentAt);
      }),
    );
  }

  /** Stop taking jobs, hand back running ones as infrastructure errors (so they are retried), close. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (!this.worker) return;
    await this.worker.pause(true);
    for (const r of this.running.values()) {
      abortJob(r, new LabError("AGENT_LOST", "agent stopped while the run was on one of its boards; it will be retried"));
    }
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
    await this.worker.close();
  }

  /** Redis refuses the agent for good (its login): abort what runs and close without waiting on Redis. */
  async abandon(reason: LabError): Promise<void> {
    this.stopping = true;
    this.abandoned = true;
    for (const r of this.running.values()) abortJob(r, reason);
    await this.worker?.close(true);
  }

  private async process(bullJob: BullJob<unknown, ProcessOutcome>): Promise<ProcessOutcome> {
    const { logger, leases, registry } = this.deps;
    const parsed = JobSchema.safeParse(bullJob.data);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(job)"}: ${i.message}`);
      logger.error({ jobId: bullJob.id, issues }, "job data is not a Job this agent can read; dropped");
      await this.reportUnreadable(bullJob.data, issues);
      return { dropped: "invalid job data" };
    }
    const job = parsed.data;
    const boards = Object.values(job.boards);
    if (this.stopping) return { dropped: "agent stopping" };
    const key = `${job.runId}#${job.attempt}`;
    if (this.running.has(key)) {
      logger.warn({ runId: job.runId, attempt: job.attempt }, "run already executing here; duplicate delivery dropped");
      return { dropped: "duplicate" };
    }
    const missing = boards.filter((id) => registry.get(id) === undefined || registry.get(id)?.state === "offline");
    const controller = new AbortController();
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    const entry: RunningJob = { job, boards, controller, done };
    this.running.set(key, entry);
    // every report names the lease it ran under (by hash); the scheduler ignores one from another claim
    const leaseHash = leaseTokenHash(job.leaseToken);
    let held = false;
    try {
      const startEvent = { type: "job-started" as const, runId: job.runId, attempt: job.attempt, agent: this.deps.agent, leaseHash, at: Date.now() };
      let started: boolean;
      const sentAt = Date.now();
      if (missing.length === 0) started = await registry.startJob(boards, job.runId, job.leaseToken, startEvent);
      else {
        // A board it no longer has: still report the attempt (as an infrastructure error) if the lease is ours.
        started = await leases.holds(boards, job.leaseToken);
        if (started) await this.deps.events.publish(startEvent);
      }
      if (!started) {
        logger.info({ runId: job.runId, attempt: job.attempt, boards }, "job dropped: its lease is gone (cancelled or reassigned)");
        return { dropped: "lease gone" };
      }
      // the lease was checked at sentAt; the agent renews it to its own TTL (the scheduler leases with the same one)
      const margin = leaseMarginMs(this.deps.leaseTtlMs, this.deps.renewEveryMs);
      entry.deadline = new LeaseDeadline(sentAt, this.deps.leaseTtlMs, margin, (confirmedAt) => {
        const s = Math.round((Date.now() - confirmedAt) / 1000);
        logger.warn({ runId: job.runId, attempt: job.attempt, boards }, "lease not renewed in time: stopping the run before it expires");
        abortJob(entry, new LabError("LEASE_LOST", `agent ${this.deps.agent} could not renew the lease on ${boards.join(", ")} for ${s} s (Redis unreachable): it stopped the run before the lease expired; it will be retried`));
      });
      if (missing.length === 0 && this.deps.consoles) {
        held = true;
        await this.deps.consoles.hold(boards);
      }
      let result =
        missing.length > 0
          ? errorResult(job, new LabError("BOARD_VANISHED", `board ${missing.join(", ")} is not on agent ${this.deps.agent} any more`), 0)
          : await this.execute(job, controller);
      // a pass or fail is only worth sending while the lease it was earned under holds
      if (entry.deadline.passed && (result.outcome === "pass" || result.outcome === "fail")) {
        result = { ...result, outcome: "error", error: { code: "LEASE_LOST", message: `the lease on ${boards.join(", ")} may have expired before the run's end was reported; it will be retried` } };
      }
      entry.deadline.dispose();
      await this.flushLogs();
      registry.jobEnded(boards);
      const finished = { type: "job-finished" as const, agent: this.deps.agent, leaseHash, result };
      await retryUntilAcked("job-finished", () => registry.finishJob(boards, finished), {
        logger,
        context: { runId: job.runId, attempt: job.attempt, boards },
        giveUp: (failingForMs) => this.abandoned || (this.stopping && failingForMs > STOPPING_PATIENCE_MS),
        maxWaitMs: 5000,
      });
      logger.info(
        { runId: job.runId, attempt: job.attempt, boards, outcome: result.outcome, code: result.error?.code },
        "job finished",
      );
      return result;
    } finally {
      if (held) this.deps.consoles?.release(boards);
      entry.deadline?.dispose();
      this.running.delete(key);
      finish();
    }
  }

  /**
   * A job this agent cannot read (the scheduler is another version, its contract grew a field): said at once as an
   * infrastructure error of the attempt, naming the fields, so the run is retried elsewhere with the reason, instead
   * of its lease lapsing unexplained (AGENT_LOST) on every agent that has not been upgraded. Only the holder of the
   * job's lease reports, and only when the job's head (run, attempt, boards, lease token) can be read.
   */
  private async reportUnreadable(data: unknown, issues: string[]): Promise<void> {
    const head = JobHeadSchema.safeParse(data);
    if (!head.success) return;
    const { runId, attempt, boards, leaseToken } = head.data;
    try {
      if (!(await this.deps.leases.holds(Object.values(boards), leaseToken))) return;
      const message = `agent ${this.deps.agent} cannot read this job (${issues.join("; ")}): it runs another version than the scheduler; upgrade it`;
      const result: JobResult = { runId, attempt, outcome: "error", steps: [], cases: [], error: { code: "JOB_UNREADABLE", message }, durationMs: 0 };
      await this.deps.events.publish({ type: "job-finished", agent: this.deps.agent, leaseHash: leaseTokenHash(leaseToken), result });
    } catch (err) {
      this.deps.logger.warn({ runId, err: (err as Error).message }, "could not report an unreadable job; its lease will lapse instead");
    }
  }

  /** The run's lines before its job-finished, however long Redis is away; a stopping agent waits a little only. */
  private async flushLogs(): Promise<void> {
    const started = Date.now();
    while (!(await this.deps.shipper.flush(1000))) {
      if (this.abandoned || (this.stopping && Date.now() - started > STOPPING_PATIENCE_MS)) return;
    }
  }

  private async execute(job: Job, controller: AbortController): Promise<JobResult> {
    const { shipper } = this.deps;
    const started = Date.now();
    let result: JobResult;
    try {
      result = await this.deps.executor.execute(job, {
        signal: controller.signal,
        startSeq: (boardId) => shipper.nextSeq(boardId),
        onLog: (line) => void shipper.append(line),
        onStep: (step) =>
          void this.deps.events
            .publish({ type: "step-finished", runId: job.runId, attempt: job.attempt, agent: this.deps.agent, leaseHash: leaseTokenHash(job.leaseToken), step })
            .catch((err: Error) => this.deps.logger.warn({ err: err.message }, "could not publish step-finished")),
      });
    } catch (err) {
      result = errorResult(job, toLabError(err), Date.now() - started);
    }
    // Why the run stopped early decides what the scheduler sees, whatever the executor made of it.
    const reason: unknown = controller.signal.aborted ? controller.signal.reason : undefined;
    if (reason instanceof LabError) {
      if (reason.code === "CANCELLED") return { ...result, outcome: "cancelled", error: { code: reason.code, message: reason.message } };
      return { ...result, outcome: "error", error: { code: reason.code, message: reason.message } };
    }
    return result;
  }
}

function abortJob(r: RunningJob, reason: LabError): boolean {
  if (r.controller.signal.aborted) return false;
  r.controller.abort(reason);
  return true;
}

function errorResult(job: Job, err: LabError, durationMs: number): JobResult {
  return {
    runId: job.runId,
    attempt: job.attempt,
    // A test-side error (bad image, missing artifact) is a failure of the run, not of the lab.
    outcome: err.infra ? "error" : "fail",
    steps: [],
    cases: [],
    error: { code: err.code, message: err.message },
    durationMs,
  };
}

/** The part of a job any version of the contract has: enough to report on the attempt. */
const JobHeadSchema = z.object({ runId: z.string(), attempt: z.number().int().positive(), boards: z.record(z.string(), z.string()), leaseToken: z.string() });
