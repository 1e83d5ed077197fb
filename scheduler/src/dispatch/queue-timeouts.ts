import type { SchedulerContext } from "../context.js";
import { isTerminal } from "../store/run-store.js";
import type { RunLifecycle } from "./run-lifecycle.js";

const BATCH = 200;

function duration(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`;
}

/**
 * Ends runs that waited in the queue longer than their queue timeout (the request's, else the lab's) as
 * `timed-out` with the reason they waited, so no run waits for ever (e.g. on a board whose agent is gone).
 * The clock starts each time a run is queued: at submit, and again when a failed attempt is retried.
 * Every run has one entry in `queueChecks()`, scored with when to look next; a look either ends the run,
 * moves the entry to the run's deadline, or (a run that ended) drops it. Safe on every replica: the end
 * goes through the run-store compare-and-set.
 */
export class QueueTimeouts {
  constructor(
    private readonly ctx: SchedulerContext,
    private readonly lifecycle: RunLifecycle,
  ) {}

  async sweep(now: number): Promise<void> {
    const { redis, keys } = this.ctx;
    const ids = await redis.zrangebyscore(keys.queueChecks(), "-inf", now, "LIMIT", 0, BATCH);
    for (const id of ids) {
      try {
        await this.check(id, now);
      } catch (err) {
        this.ctx.log.error({ err, run: id }, "queue-timeout check failed; retrying next tick");
      }
    }
  }

  private async check(id: string, now: number): Promise<void> {
    const { redis, keys } = this.ctx;
    const [s, plan] = await Promise.all([this.ctx.runs.get(id), this.ctx.runs.plan(id).catch(() => undefined)]);
    if (!s || isTerminal(s.run.state)) {
      await redis.zrem(keys.queueChecks(), id);
      return;
    }
    const limit = plan?.queueTimeoutMs ?? this.ctx.config.queueTimeoutMs;
    if (s.run.state !== "queued") {
      // running now; a retry queues it again later, so look again no sooner than a full queue timeout from now
      await redis.zadd(keys.queueChecks(), now + limit, id);
      return;
    }
    const since = s.run.attempts[s.run.attempts.length - 1]?.endedAt ?? s.run.createdAt;
    if (now < since + limit) {
      await redis.zadd(keys.queueChecks(), since + limit, id);
      return;
    }
    const why = (await redis.hget(keys.waitingReasons(), id)) ?? s.run.waitingFor;
    const message = `the run waited in the queue for ${duration(now - since)}, past its queue timeout of ${duration(limit)}${why ? `; it was waiting for: ${why}` : ""}`;
    await this.lifecycle.stop(id, "timed-out", message, "QUEUE_TIMEOUT");
    await redis.zrem(keys.queueChecks(), id);
  }
}
